// The client-credentials grant (RFC 6749 §4.4) for FieldSync's service account, with both
// client_secret_basic and client_secret_post, and its token at the demo API.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { INSECURE, oauthError } from "../lib/demo.mjs";

check("client credentials with client_secret_basic (oauth4webapi ClientSecretBasic) gets a bearer access token and no refresh token", async (demo) => {
  const tokens = await demo.clientCredentials({}, "basic");
  expectEqual(tokens.token_type, "bearer", "token_type (lowercased by oauth4webapi)");
  expect(tokens.access_token.split(".").length === 3, "the access token is a JWT", tokens.access_token);
  expect(tokens.expires_in > 0, "expires_in is positive", tokens);
  expect(tokens.refresh_token === undefined, "no refresh token for client credentials", tokens);
});

check("client credentials with client_secret_post (oauth4webapi ClientSecretPost) gets a bearer access token", async (demo) => {
  const tokens = await demo.clientCredentials({}, "post");
  expectEqual(tokens.token_type, "bearer", "token_type");
  expect(tokens.refresh_token === undefined, "no refresh token for client credentials", tokens);
});

check("the service account's token reads Tower RFIs (200) and writes one (201) on the demo API, Tower being the project the admin approved", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const written = await demo.api(token, "POST", "/api/projects/tower/rfis", { title: "From oauth4webapi" });
  expectEqual(written.status, 201, "POST tower RFIs");
  const read = await demo.api(token, "GET", "/api/projects/tower/rfis");
  expectEqual(read.status, 200, "GET tower RFIs");
  expect(Array.isArray(read.body) && read.body.some((rfi) => rfi.title === "From oauth4webapi"), "the RFI is listed", read.body);
  const depot = await demo.api(token, "GET", "/api/projects/depot/rfis");
  expectEqual(depot.status, 403, "GET depot RFIs, a project not approved");
});

check("a tampered access token (its signature changed) gets 401 with a Bearer invalid_token challenge from the demo API", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const [header, payload, signature] = token.split(".");
  // Flip the first character of the signature, which changes its first decoded byte.
  const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
  const tampered = await demo.api(`${header}.${payload}.${flipped}`, "GET", "/api/projects/tower/rfis");
  expectEqual(tampered.status, 401, "the tampered token's status");
  const bearer = tampered.challenges?.find((challenge) => challenge.scheme === "bearer");
  expectEqual(bearer?.parameters.error, "invalid_token", "the Bearer challenge's error");
  const forged = await demo.api(`${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url")), scope: "rfis:admin" })).toString("base64url")}.${signature}`, "GET", "/api/projects/tower/rfis");
  expectEqual(forged.status, 401, "a token whose claims were changed under the same signature");
});

check("a wrong client secret is refused with 401 and a WWW-Authenticate challenge (invalid_client), which oauth4webapi raises as WWWAuthenticateChallengeError", async (demo) => {
  await demo.installServiceAccount();
  const client = { client_id: demo.fieldsync.client_id };
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, oauth.ClientSecretBasic("not-the-secret"), {}, INSECURE);
  const error = await rejects(
    oauth.processClientCredentialsResponse(demo.as, client, response),
    (caught) => caught instanceof oauth.WWWAuthenticateChallengeError,
    "the token response",
  );
  expectEqual(error.status, 401, "the status");
  const body = await error.response.json().catch(() => null);
  expectEqual(body?.error, "invalid_client", "the error body's error");
});

check("a token response is not to be cached (RFC 6749 §5.1): Cache-Control no-store, JSON", async (demo) => {
  await demo.installServiceAccount();
  const { client, auth } = demo.client(demo.fieldsync);
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, {}, INSECURE);
  expect((response.headers.get("cache-control") ?? "").includes("no-store"), "Cache-Control has no-store", response.headers.get("cache-control"));
  expect((response.headers.get("content-type") ?? "").startsWith("application/json"), "Content-Type is JSON", response.headers.get("content-type"));
  await oauth.processClientCredentialsResponse(demo.as, client, response);
});

check("two client authentication methods in one request (Basic and client_secret in the body) are refused with invalid_request (RFC 6749 §2.3)", async (demo) => {
  await demo.installServiceAccount();
  const { client, auth } = demo.client(demo.fieldsync, "basic");
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, { client_secret: demo.fieldsync.client_secret }, INSECURE);
  await rejects(oauth.processClientCredentialsResponse(demo.as, client, response), oauthError("invalid_request"), "the token request");
});

check("an unsupported grant type (password) is refused with unsupported_grant_type", async (demo) => {
  const { client, auth } = demo.client(demo.fieldsync);
  const response = await oauth.genericTokenEndpointRequest(demo.as, client, auth, "password", { username: "jane", password: demo.user("jane").password }, INSECURE);
  await rejects(oauth.processGenericTokenEndpointResponse(demo.as, client, response), oauthError("unsupported_grant_type"), "the token request");
});

check("a public app may not use client credentials (FieldSync Mobile, no secret): refused, no token", async (demo) => {
  const { client, auth } = demo.client(demo.mobile);
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, {}, INSECURE);
  await rejects(
    oauth.processClientCredentialsResponse(demo.as, client, response),
    (error) => (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError) && error.status >= 400 && error.status < 500,
    "the token request",
  );
});
