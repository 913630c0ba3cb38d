// RFC 7523 private_key_jwt and RFC 9449 DPoP, with oauth4webapi's own implementations: the
// demo's FieldSync Nightly authenticates with a JWT signed by its key (no shared secret) and
// must prove a DPoP key at every token request; its tokens then work at the API only with a
// fresh proof by that key.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { INSECURE, jwtClaims } from "../lib/demo.mjs";

/** FieldSync Nightly's private key, imported from the PEM its startup line printed. */
async function nightly(demo) {
  const app = demo.seed.apps.find((candidate) => candidate.token_endpoint_auth_method === "private_key_jwt");
  if (!app) throw new Error("the demo lists no private_key_jwt app");
  const der = Buffer.from(app.private_key_pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  await demo.installServiceAccount(app);
  return { app, client: { client_id: app.client_id }, auth: oauth.PrivateKeyJwt({ key, kid: app.private_key_kid }) };
}

async function dpopToken(demo, keyPair = undefined) {
  const { client, auth } = await nightly(demo);
  const pair = keyPair ?? (await oauth.generateKeyPair("ES256"));
  const DPoP = oauth.DPoP(client, pair);
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, { company_id: demo.seed.company_id }, { ...INSECURE, DPoP });
  const tokens = await oauth.processClientCredentialsResponse(demo.as, client, response);
  return { tokens, DPoP, pair };
}

check("metadata offers private_key_jwt with asymmetric algorithms only, and DPoP's algorithms", async (demo) => {
  expect(demo.as.token_endpoint_auth_methods_supported.includes("private_key_jwt"), "private_key_jwt offered", demo.as);
  const algs = demo.as.token_endpoint_auth_signing_alg_values_supported;
  expect(algs.includes("ES256") && !algs.includes("none") && !algs.some((alg) => alg.startsWith("HS")), "asymmetric only", algs);
  expect(demo.as.dpop_signing_alg_values_supported.includes("ES256"), "DPoP ES256", demo.as.dpop_signing_alg_values_supported);
});

check("a private_key_jwt client (oauth4webapi PrivateKeyJwt) with a DPoP proof (oauth4webapi DPoP) gets a DPoP token bound to its key", async (demo) => {
  const { tokens, pair } = await dpopToken(demo);
  expectEqual(tokens.token_type, "dpop", "token_type (lowercased by oauth4webapi)");
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  const thumbprint = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical))).toString("base64url");
  expectEqual(jwtClaims(tokens.access_token).cnf?.jkt, thumbprint, "the token's cnf.jkt is the key's RFC 7638 thumbprint");
});

check("the DPoP-bound token reads Tower RFIs with a proof (oauth4webapi protectedResourceRequest with DPoP), and is refused as a bearer token", async (demo) => {
  const { tokens, DPoP } = await dpopToken(demo);
  const read = await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis", undefined, { DPoP });
  expectEqual(read.status, 200, "GET tower RFIs with DPoP");
  const bearer = await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis");
  expectEqual(bearer.status, 401, "the same token as a bearer token");
});

check("the token is refused with a proof by another key: a stolen token and a thief's own key are not enough", async (demo) => {
  const { tokens } = await dpopToken(demo);
  const thief = oauth.DPoP({ client_id: "thief" }, await oauth.generateKeyPair("ES256"));
  const stolen = await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis", undefined, { DPoP: thief });
  expectEqual(stolen.status, 401, "GET with another key's proof");
  const dpop = stolen.challenges?.find((challenge) => challenge.scheme === "dpop");
  expect(dpop !== undefined, "a DPoP challenge is offered", stolen.challenges);
});

check("an app whose tokens must be DPoP-bound gets nothing without a proof (invalid_dpop_proof)", async (demo) => {
  const { client, auth } = await nightly(demo);
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, { company_id: demo.seed.company_id }, INSECURE);
  const error = await rejects(oauth.processClientCredentialsResponse(demo.as, client, response), (caught) => caught instanceof oauth.ResponseBodyError, "the token response");
  expectEqual(error.error, "invalid_dpop_proof", "the error");
});

check("a private_key_jwt client cannot authenticate with a secret, nor with an assertion signed by another key", async (demo) => {
  const { app, client } = await nightly(demo);
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const withSecret = await oauth.clientCredentialsGrantRequest(demo.as, client, oauth.ClientSecretBasic("guess"), {}, { ...INSECURE, DPoP });
  expectEqual(withSecret.status, 401, "with a secret");
  const other = await oauth.generateKeyPair("ES256");
  const forged = await oauth.clientCredentialsGrantRequest(demo.as, client, oauth.PrivateKeyJwt({ key: other.privateKey, kid: app.private_key_kid }), {}, { ...INSECURE, DPoP });
  expectEqual(forged.status, 401, "with another key's assertion");
  expectEqual((await forged.json()).error, "invalid_client", "the error");
});
