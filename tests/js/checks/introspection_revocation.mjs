// RFC 7662 introspection by the token's own confidential app, and RFC 7009 revocation.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual } from "../lib/harness.mjs";
import { INSECURE } from "../lib/demo.mjs";

async function introspect(demo, token, method = "basic") {
  const { client, auth } = demo.client(demo.fieldsync, method);
  const response = await oauth.introspectionRequest(demo.as, client, auth, token, INSECURE);
  return oauth.processIntrospectionResponse(demo.as, client, response);
}

async function revoke(demo, token, method = "basic") {
  const { client, auth } = demo.client(demo.fieldsync, method);
  const response = await oauth.revocationRequest(demo.as, client, auth, token, INSECURE);
  return oauth.processRevocationResponse(response);
}

check("introspection (oauth4webapi introspectionRequest) by FieldSync of its active token: active, token_type Bearer, its scope, client_id and aud", async (demo) => {
  const { access_token: token } = await demo.clientCredentials({ scope: "rfis:read" });
  const answer = await introspect(demo, token);
  expectEqual(answer.active, true, "active");
  expectEqual(answer.token_type, "Bearer", "token_type");
  expectEqual(answer.scope, "rfis:read", "scope");
  expectEqual(answer.client_id, demo.fieldsync.client_id, "client_id");
  expect(answer.aud === demo.seed.default_audience || (Array.isArray(answer.aud) && answer.aud.includes(demo.seed.default_audience)), "aud is the API", answer.aud);
  expect(typeof answer.exp === "number" && answer.exp > Date.now() / 1000, "exp is in the future", answer.exp);
});

check("introspection with client_secret_post works the same (active token, token_type Bearer)", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const answer = await introspect(demo, token, "post");
  expectEqual(answer.active, true, "active");
  expectEqual(answer.token_type, "Bearer", "token_type");
});

check("revocation (oauth4webapi revocationRequest, RFC 7009) answers 200; introspection then says inactive, and the demo API refuses the token (401)", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  expectEqual((await introspect(demo, token)).active, true, "active before revocation");
  await revoke(demo, token);
  const answer = await introspect(demo, token);
  expectEqual(answer.active, false, "active after revocation");
  expectEqual(Object.keys(answer), ["active"], "an inactive token's introspection says nothing else");
  expectEqual((await demo.api(token, "GET", "/api/projects/tower/rfis")).status, 401, "the API's answer to the revoked token");
});

check("revoking a user's refresh token revokes the grant: its access token introspects inactive and the refresh token no longer refreshes", async (demo) => {
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.fieldsync, username: "jane" });
  expectEqual((await introspect(demo, tokens.access_token)).active, true, "the access token before");
  const refreshAnswer = await introspect(demo, tokens.refresh_token);
  expectEqual(refreshAnswer.active, true, "the refresh token before");
  await revoke(demo, tokens.refresh_token);
  expectEqual((await introspect(demo, tokens.access_token)).active, false, "the access token after");
  const response = await oauth.refreshTokenGrantRequest(demo.as, client, auth, tokens.refresh_token, INSECURE);
  let refused = false;
  try {
    await oauth.processRefreshTokenResponse(demo.as, client, response);
  } catch (error) {
    refused = error instanceof oauth.ResponseBodyError && error.error === "invalid_grant";
  }
  expect(refused, "the refresh token is refused with invalid_grant");
});

check("revoking an unknown token answers 200 (RFC 7009 §2.2), and introspecting one says inactive", async (demo) => {
  await revoke(demo, "not-a-token-this-server-issued");
  expectEqual((await introspect(demo, "not-a-token-this-server-issued")).active, false, "active");
});

check("introspection needs a confidential client: FieldSync Mobile (public) gets 401 invalid_client", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const { client, auth } = demo.client(demo.mobile);
  const response = await oauth.introspectionRequest(demo.as, client, auth, token, INSECURE);
  let refused = null;
  try {
    await oauth.processIntrospectionResponse(demo.as, client, response);
  } catch (error) {
    refused = error;
  }
  expect(refused instanceof oauth.WWWAuthenticateChallengeError, "a WWWAuthenticateChallengeError", refused?.message);
  expectEqual(refused.status, 401, "the status");
  expectEqual((await refused.response.json()).error, "invalid_client", "the error");
});

check("a client cannot revoke another client's token: FieldSync Mobile's revocation of FieldSync's token leaves it active", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const { client, auth } = demo.client(demo.mobile);
  const response = await oauth.revocationRequest(demo.as, client, auth, token, INSECURE);
  // RFC 7009 §2.1 lets the server refuse; answering 200 without revoking is what it does.
  await response.body?.cancel();
  expectEqual((await introspect(demo, token)).active, true, "the token's introspection after the other client's revocation");
  expectEqual((await demo.api(token, "GET", "/api/projects/tower/rfis")).status, 200, "the API still accepts it");
});
