// The authorization-code grant with PKCE S256 (RFC 6749 §4.1, RFC 7636), the `iss` response
// parameter (RFC 9207), and refresh-token rotation with reuse detection (RFC 9700 §4.14).

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { Browser, INSECURE, oauthError } from "../lib/demo.mjs";

check("authorization code + PKCE S256 (FieldSync, client_secret_basic): validateAuthResponse accepts the callback and the code exchanges for an access token and a refresh token", async (demo) => {
  const { tokens } = await demo.codeFlow({ app: demo.fieldsync, username: "jane" });
  expectEqual(tokens.token_type, "bearer", "token_type");
  expect(typeof tokens.refresh_token === "string", "a refresh token", tokens);
  expect(tokens.expires_in > 0, "expires_in is positive", tokens);
});

check("the authorization response carries iss = the issuer and the state (RFC 9207), which oauth4webapi checks by default", async (demo) => {
  const { client } = demo.client(demo.fieldsync);
  const { callback, state } = await demo.authorize({ app: demo.fieldsync, username: "jane" });
  expectEqual(callback.searchParams.get("iss"), demo.issuer, "iss in the callback");
  expectEqual(callback.searchParams.get("state"), state, "state in the callback");
  expect(callback.searchParams.has("code"), "a code in the callback", callback.href);
  expect(callback.href.startsWith(`${demo.fieldsync.redirect_uri}?`), "the callback is the registered redirect URI", callback.href);
  oauth.validateAuthResponse(demo.as, client, callback, state);
  // The same response from another issuer, or with iss stripped, is refused (mix-up defence).
  const forged = new URL(callback);
  forged.searchParams.set("iss", "http://127.0.0.1:1");
  expect(throws(() => oauth.validateAuthResponse(demo.as, client, forged, state)), "a callback with another iss is refused");
  const stripped = new URL(callback);
  stripped.searchParams.delete("iss");
  expect(throws(() => oauth.validateAuthResponse(demo.as, client, stripped, state)), "a callback without iss is refused");
});

function throws(fn) {
  try {
    fn();
    return false;
  } catch (error) {
    return error instanceof oauth.OperationProcessingError;
  }
}

check("the user's access token acts as the user: Jane's writes a Tower RFI (201) recorded as created by jane", async (demo) => {
  const { tokens } = await demo.codeFlow({ app: demo.fieldsync, username: "jane" });
  const created = await demo.api(tokens.access_token, "POST", "/api/projects/tower/rfis", { title: "Jane via oauth4webapi" });
  expectEqual(created.status, 201, "POST tower RFIs");
  expectEqual(created.body?.created_by, "jane", "created_by");
});

check("a code is single use: exchanging it a second time fails with invalid_grant", async (demo) => {
  const { client, auth } = demo.client(demo.fieldsync);
  const { callback, state, codeVerifier, redirectUri } = await demo.authorize({ app: demo.fieldsync, username: "jane" });
  const parameters = oauth.validateAuthResponse(demo.as, client, callback, state);
  const first = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, redirectUri, codeVerifier, INSECURE);
  await oauth.processAuthorizationCodeResponse(demo.as, client, first);
  const second = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, redirectUri, codeVerifier, INSECURE);
  await rejects(oauth.processAuthorizationCodeResponse(demo.as, client, second), oauthError("invalid_grant"), "the second exchange");
});

check("a code exchanged with another code_verifier than its challenge's fails with invalid_grant (PKCE)", async (demo) => {
  const { client, auth } = demo.client(demo.fieldsync);
  const { callback, state, redirectUri } = await demo.authorize({ app: demo.fieldsync, username: "jane" });
  const parameters = oauth.validateAuthResponse(demo.as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, redirectUri, oauth.generateRandomCodeVerifier(), INSECURE);
  await rejects(oauth.processAuthorizationCodeResponse(demo.as, client, response), oauthError("invalid_grant"), "the exchange");
});

check("a public client (FieldSync Mobile) exchanges its code with PKCE alone (oauth4webapi None()) and gets a refresh token", async (demo) => {
  const { tokens } = await demo.codeFlow({ app: demo.mobile, username: "john" });
  expect(typeof tokens.refresh_token === "string", "a refresh token", tokens);
  expectEqual((await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis")).status, 200, "John reads Tower RFIs");
  expectEqual((await demo.api(tokens.access_token, "GET", "/api/projects/depot/rfis")).status, 403, "John may not read Depot's");
});

check("refreshTokenGrantRequest rotates the refresh token: a new refresh token, and a new access token that works", async (demo) => {
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.fieldsync, username: "jane" });
  const response = await oauth.refreshTokenGrantRequest(demo.as, client, auth, tokens.refresh_token, INSECURE);
  const refreshed = await oauth.processRefreshTokenResponse(demo.as, client, response);
  expect(typeof refreshed.refresh_token === "string" && refreshed.refresh_token !== tokens.refresh_token, "a new refresh token", refreshed);
  expect(refreshed.access_token !== tokens.access_token, "a new access token");
  expectEqual((await demo.api(refreshed.access_token, "GET", "/api/projects/tower/rfis")).status, 200, "the new access token reads Tower RFIs");
});

check("reusing a rotated-out refresh token fails with invalid_grant, and revokes the family: the newest refresh token fails too (RFC 9700 reuse detection)", async (demo) => {
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.fieldsync, username: "jane" });
  const rotate = async (refreshToken) =>
    oauth.processRefreshTokenResponse(demo.as, client, await oauth.refreshTokenGrantRequest(demo.as, client, auth, refreshToken, INSECURE));
  const refreshed = await rotate(tokens.refresh_token);
  await rejects(rotate(tokens.refresh_token), oauthError("invalid_grant"), "reusing the old refresh token");
  await rejects(rotate(refreshed.refresh_token), oauthError("invalid_grant"), "the newest refresh token after the reuse");
});

check("a public client's refresh token rotates too (FieldSync Mobile, None())", async (demo) => {
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.mobile, username: "jane" });
  const response = await oauth.refreshTokenGrantRequest(demo.as, client, auth, tokens.refresh_token, INSECURE);
  const refreshed = await oauth.processRefreshTokenResponse(demo.as, client, response);
  expect(refreshed.refresh_token !== tokens.refresh_token, "a new refresh token", refreshed);
  const again = await oauth.refreshTokenGrantRequest(demo.as, client, auth, tokens.refresh_token, INSECURE);
  await rejects(oauth.processRefreshTokenResponse(demo.as, client, again), oauthError("invalid_grant"), "reusing the old one");
});

check("denying consent sends the browser back with error=access_denied, the state and iss, which validateAuthResponse raises as AuthorizationResponseError", async (demo) => {
  const { client } = demo.client(demo.mobile);
  const codeChallenge = await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier());
  const state = oauth.generateRandomState();
  const url = new URL(demo.as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: demo.mobile.client_id,
    redirect_uri: demo.mobile.redirect_uri,
    state,
    code_challenge: codeChallenge,
    code_challenge_method: "S256",
  }).toString();
  const browser = await new Browser(demo).signIn("john");
  const page = await browser.open(url.href);
  expectEqual(page.status, 200, "the consent page (a public client is always asked)");
  const answer = await browser.answerConsent(await page.text(), page.url, "deny");
  const callback = new URL(answer.headers.get("location"));
  const error = (() => {
    try {
      oauth.validateAuthResponse(demo.as, client, callback, state);
      return null;
    } catch (caught) {
      return caught;
    }
  })();
  expect(error instanceof oauth.AuthorizationResponseError, "an AuthorizationResponseError", callback.href);
  expectEqual(error.error, "access_denied", "the error");
});

/** The callback of an authorization request for `app` with `parameters`, as John's browser gets it. */
async function callbackOf(demo, app, parameters) {
  const url = new URL(demo.as.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: "code", client_id: app.client_id, redirect_uri: app.redirect_uri, ...parameters }).toString();
  const browser = await new Browser(demo).signIn("john");
  const response = await browser.open(url.href);
  await response.body?.cancel();
  const location = response.headers.get("location");
  expect(response.status >= 300 && response.status < 400 && location !== null, "the browser is sent back to the app", response.status);
  return new URL(location);
}

/** The AuthorizationResponseError oauth4webapi raises for `callback`. */
function authorizationError(demo, app, callback, state) {
  try {
    oauth.validateAuthResponse(demo.as, demo.client(app).client, callback, state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) return error;
    throw error;
  }
  throw new Error(`validateAuthResponse accepted ${callback.href}`);
}

check("a public client's authorization request without PKCE is sent back with error=invalid_request, its state and iss (validateAuthResponse: AuthorizationResponseError)", async (demo) => {
  const state = oauth.generateRandomState();
  const callback = await callbackOf(demo, demo.mobile, { state });
  expectEqual(authorizationError(demo, demo.mobile, callback, state).error, "invalid_request", "the error");
});

check("code_challenge_method=plain is refused: error=invalid_request (RFC 9700 §2.1.1)", async (demo) => {
  const state = oauth.generateRandomState();
  const verifier = oauth.generateRandomCodeVerifier();
  const callback = await callbackOf(demo, demo.mobile, { state, code_challenge: verifier, code_challenge_method: "plain" });
  expectEqual(authorizationError(demo, demo.mobile, callback, state).error, "invalid_request", "the error");
});

check("a code issued to one client does not exchange for another: FieldSync's code presented by FieldSync Mobile fails with invalid_grant", async (demo) => {
  const { callback, state, codeVerifier, redirectUri } = await demo.authorize({ app: demo.fieldsync, username: "jane" });
  const { client, auth } = demo.client(demo.mobile);
  const parameters = oauth.validateAuthResponse(demo.as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, redirectUri, codeVerifier, INSECURE);
  await rejects(oauth.processAuthorizationCodeResponse(demo.as, client, response), oauthError("invalid_grant"), "the exchange");
});

check("a refresh may narrow the scope (rfis:write -> rfis:read) but never widen it (rfis:admin: invalid_scope)", async (demo) => {
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.fieldsync, username: "jane", extra: { scope: "rfis:write" } });
  expectEqual(tokens.scope, "rfis:write", "the code flow's scope");
  const refresh = async (refreshToken, scope) =>
    oauth.processRefreshTokenResponse(
      demo.as,
      client,
      await oauth.refreshTokenGrantRequest(demo.as, client, auth, refreshToken, { ...INSECURE, additionalParameters: { scope } }),
    );
  const narrowed = await refresh(tokens.refresh_token, "rfis:read");
  expectEqual(narrowed.scope, "rfis:read", "the narrowed scope");
  const write = await demo.api(narrowed.access_token, "POST", "/api/projects/tower/rfis", { title: "narrowed" });
  expectEqual(write.status, 403, "writing with the narrowed token");
  await rejects(refresh(narrowed.refresh_token, "rfis:admin"), oauthError("invalid_scope"), "widening to rfis:admin");
});
