#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/) from the tests' inputs.

Run from fuzz/: `python3 make_corpus.py CSRF_TOKEN REVISION JWT`, where the three values come
from the harness itself (they depend on the fixed clock, deployment secret and keys):
`PRINT_SEED_STATE=1 cargo +nightly fuzz run consent_form -- -runs=1` prints the consent form
(its csrf_token), the same for json_bodies prints the installation's revision, and for
jwt_validation an issued token.
"""
import base64, hashlib, os, sys
from urllib.parse import urlencode

CLIENT_ID = "fuzz-app"
SECRET = "fuzz-secret-4q9Zr7Lm2Xc8Vb1Nk5Tj"
REDIRECT = "https://app.example.com/callback"
VERIFIER = "dBjftJeZ4CVP-mJ92K9NSaT3r8cqOJn2mFzRCLFbwGk0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
csrf, revision, jwt = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def write(target, name, data):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"corpus/{target}/{name}", "wb") as f:
        f.write(data)


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# token_request: selector byte (content type | endpoint << 3), header line, body.
FORM, JSON, NONE, PLAIN = 0, 1, 2, 3
TOKEN, REVOKE, INTROSPECT = 0, 1, 2
def token_seed(name, body, header=None, content=FORM, endpoint=TOKEN):
    selector = bytes([content | endpoint << 3])
    rest = (header + "\n" if header is not None else "") + body
    write("token_request", name, selector + rest.encode())

creds = {"client_id": CLIENT_ID, "client_secret": SECRET}
token_seed("cc_post", urlencode({"grant_type": "client_credentials", **creds}))
token_seed("cc_basic", "grant_type=client_credentials", basic(CLIENT_ID, SECRET))
token_seed("cc_bound", urlencode({"grant_type": "client_credentials", "company_id": "acme", "scope": "rfis:read directory:read", **creds}))
token_seed("cc_resource", urlencode({"grant_type": "client_credentials", "resource": "https://auth.example.com", **creds}))
token_seed("cc_wrong_secret", urlencode({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"}))
token_seed("cc_two_methods", urlencode({"grant_type": "client_credentials", **creds}), basic(CLIENT_ID, SECRET))
token_seed("cc_json", '{"grant_type":"client_credentials","client_id":"%s","client_secret":"%s"}' % (CLIENT_ID, SECRET), content=JSON)
token_seed("code", urlencode({"grant_type": "authorization_code", "code": "0123456789abcdef", "redirect_uri": REDIRECT, "code_verifier": VERIFIER}), basic(CLIENT_ID, SECRET))
token_seed("refresh", urlencode({"grant_type": "refresh_token", "refresh_token": "AQAAAAAAAAAB", "scope": "rfis:read", **creds}))
token_seed("public", urlencode({"grant_type": "authorization_code", "code": "x", "client_id": CLIENT_ID}))
token_seed("assertion", urlencode({"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt}))
token_seed("basic_encoded", "grant_type=client_credentials", basic("fuzz%2Dapp", "fuzz-secret-4q9Zr7Lm2Xc8Vb1Nk5Tj"))
token_seed("no_content_type", "grant_type=client_credentials", basic(CLIENT_ID, SECRET), content=NONE)
token_seed("revoke", urlencode({"token": jwt, **creds}), endpoint=REVOKE)
token_seed("introspect", "token=" + jwt, basic(CLIENT_ID, SECRET), endpoint=INTROSPECT)
token_seed("unsupported", urlencode({"grant_type": "password", "username": "jane", "password": "pw", **creds}))

# authorize_query: the tests' authorization request and its variants.
request = [("response_type", "code"), ("client_id", CLIENT_ID), ("redirect_uri", REDIRECT),
           ("state", "xyz"), ("code_challenge", CHALLENGE), ("code_challenge_method", "S256")]
def query(pairs):
    return urlencode(pairs)
write("authorize_query", "request", query(request))
write("authorize_query", "scope", query(request + [("scope", "rfis:read directory:read")]))
write("authorize_query", "resource", query(request + [("resource", "https://auth.example.com")]))
write("authorize_query", "oob", query([(k, "urn:ietf:wg:oauth:2.0:oob" if k == "redirect_uri" else v) for k, v in request]))
write("authorize_query", "wrong_redirect", query([(k, "https://evil.example/cb" if k == "redirect_uri" else v) for k, v in request]))
write("authorize_query", "token_response", query([(k, "token" if k == "response_type" else v) for k, v in request]))
write("authorize_query", "no_client", query(request[2:]))
write("authorize_query", "repeated_state", query(request + [("state", "abc")]))
write("authorize_query", "plain_pkce", query(request[:4] + [("code_challenge", VERIFIER), ("code_challenge_method", "plain")]))
write("authorize_query", "bad_scope", query(request + [("scope", "rfis:everything")]))

# consent_form: the shown form, allowed and denied, and tampered.
form = request + [("csrf_token", csrf)]
write("consent_form", "allow", urlencode(form + [("decision", "allow")]))
write("consent_form", "deny", urlencode(form + [("decision", "deny")]))
write("consent_form", "tampered_state", urlencode([(k, "abc" if k == "state" else v) for k, v in form] + [("decision", "allow")]))
write("consent_form", "no_token", urlencode(request + [("decision", "allow")]))
write("consent_form", "scope_added", urlencode(form + [("scope", "rfis:admin"), ("decision", "allow")]))

# json_bodies: selector byte (route), JSON body.
def json_seed(name, route, body):
    write("json_bodies", name, bytes([route]) + body.encode())
json_seed("approve", 0, '{"revision":%d,"projects":["tower"]}' % revision)
json_seed("deny", 1, '{"revision":%d}' % revision)
json_seed("approve_update", 2, '{"revision":%d}' % revision)
json_seed("projects", 3, '{"revision":%d,"projects":["tower","depot"]}' % revision)
json_seed("projects_stale", 3, '{"revision":%d,"projects":["depot"]}' % (revision + 1))
json_seed("uninstall", 4, "{}")
json_seed("no_revision", 0, '{"projects":["tower"]}')
json_seed("patch", 5, '{"name":"FieldSync 2","redirect_uris":["https://app.example.com/callback","https://app.example.com/cb2"],"profile":{"publisher":"Acme","homepage":"https://app.example.com"},"flows":"both"}')
json_seed("patch_unknown", 5, '{"nmae":"x"}')
json_seed("secret", 6, '{"overlap_seconds":3600}')
json_seed("manifest", 7, '{"company":{"directory":"read_only"},"project":{"rfis":"admin"}}')

# jwt_validation: an issued token, and the bytes claims are derived from.
write("jwt_validation", "token", jwt)
write("jwt_validation", "claims", bytes(range(0, 96)))
write("jwt_validation", "header_only", jwt.split(".")[0] + ".e30.")

# refresh_token: selector, key bytes, family, generation, seed, mutation.
write("refresh_token", "as_token", b"\x00" * 33 + b"AQAAAAAAAAAB" + b"A" * 100)
write("refresh_token", "made_up", bytes(32) + b"\x01" + b"\x10grant-0123456789" + bytes(range(20)))
write("refresh_token", "mutated", bytes(32) + b"\x02" + b"\x05abcde" + bytes(range(24)))
