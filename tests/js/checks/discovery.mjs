// RFC 8414 metadata and the key set, read with oauth4webapi.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual } from "../lib/harness.mjs";
import { INSECURE } from "../lib/demo.mjs";

check("RFC 8414: oauth4webapi discovers the metadata at /.well-known/oauth-authorization-server and its issuer is the issuer", async (demo) => {
  const issuer = new URL(demo.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...INSECURE });
  expectEqual(new URL(response.url).pathname, "/.well-known/oauth-authorization-server", "the metadata's path");
  // processDiscoveryResponse itself refuses a document whose issuer is not the one asked for.
  const as = await oauth.processDiscoveryResponse(issuer, response);
  expectEqual(as.issuer, demo.issuer, "issuer");
  for (const endpoint of ["authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"]) {
    expect(typeof as[endpoint] === "string" && as[endpoint].startsWith(demo.issuer), `${endpoint} is on the issuer`, as);
  }
});

check("the metadata offers PKCE S256 only, the iss authorization response parameter (RFC 9207), the code grant and the demo's scopes", async (demo) => {
  const { as } = demo;
  expectEqual(as.code_challenge_methods_supported, ["S256"], "code_challenge_methods_supported");
  expectEqual(as.authorization_response_iss_parameter_supported, true, "authorization_response_iss_parameter_supported");
  expect(as.response_types_supported?.includes("code"), "response_types_supported has code", as.response_types_supported);
  for (const grant of ["authorization_code", "refresh_token", "client_credentials"]) {
    expect(as.grant_types_supported?.includes(grant), `grant_types_supported has ${grant}`, as.grant_types_supported);
  }
  for (const method of ["client_secret_basic", "client_secret_post"]) {
    expect(as.token_endpoint_auth_methods_supported?.includes(method), `token_endpoint_auth_methods_supported has ${method}`, as.token_endpoint_auth_methods_supported);
  }
  expect(as.scopes_supported?.includes("rfis:read"), "scopes_supported has rfis:read", as.scopes_supported);
});

check("the JWKS at jwks_uri holds public signing keys only, each with a kid, and each imports as a WebCrypto verification key", async (demo) => {
  const response = await fetch(demo.as.jwks_uri, { headers: { accept: "application/json" } });
  expectEqual(response.status, 200, "the JWKS status");
  const jwks = await response.json();
  expect(Array.isArray(jwks.keys) && jwks.keys.length > 0, "the JWKS has keys", jwks);
  for (const key of jwks.keys) {
    expect(typeof key.kid === "string" && key.kid.length > 0, "each key has a kid", key);
    for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) {
      expect(!(secret in key), `no key carries the private member ${secret}`, Object.keys(key));
    }
    const algorithm =
      key.kty === "OKP" ? { name: key.crv } :
      key.kty === "EC" ? { name: "ECDSA", namedCurve: key.crv } :
      key.kty === "RSA" ? { name: key.alg?.startsWith("PS") ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: `SHA-${key.alg?.slice(2) || "256"}` } :
      null;
    expect(algorithm !== null, "the key type is one WebCrypto knows", key);
    const imported = await crypto.subtle.importKey("jwk", key, algorithm, true, ["verify"]);
    expectEqual(imported.type, "public", "the imported key's type");
  }
});
