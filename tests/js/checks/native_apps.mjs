// RFC 8252 §7.3: the native app registered http://127.0.0.1/callback; it listens on a loopback
// port the system gives it, and the server accepts that URI at any port.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { Browser, INSECURE, freePort, oauthError } from "../lib/demo.mjs";

/** The native app's registered redirect URI at `port`. */
function atPort(app, port) {
  const uri = new URL(app.redirect_uri);
  uri.port = String(port);
  return uri.href;
}

check("the native app (FieldSync Desktop, registered http://127.0.0.1/callback) is sent back to http://127.0.0.1:PORT/callback at the port it chose, and exchanges the code there with PKCE alone", async (demo) => {
  const app = demo.desktop;
  expectEqual(new URL(app.redirect_uri).port, "", "the registered URI has no port");
  const redirectUri = atPort(app, await freePort());
  const { tokens, callback } = await demo.codeFlow({ app, username: "john", redirectUri });
  expect(callback.href.startsWith(`${redirectUri}?`), "the callback is at the chosen port", callback.href);
  expect(typeof tokens.refresh_token === "string", "a refresh token", tokens);
  expectEqual((await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis")).status, 200, "John reads Tower RFIs");
});

check("the native app's code, issued for one loopback port, does not exchange with another port: invalid_grant", async (demo) => {
  const app = demo.desktop;
  const { client, auth } = demo.client(app);
  const { callback, state, codeVerifier, redirectUri } = await demo.authorize({ app, username: "john", redirectUri: atPort(app, 49152) });
  const parameters = oauth.validateAuthResponse(demo.as, client, callback, state);
  expect(redirectUri !== atPort(app, 49153), "two ports");
  const response = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, atPort(app, 49153), codeVerifier, INSECURE);
  await rejects(oauth.processAuthorizationCodeResponse(demo.as, client, response), oauthError("invalid_grant"), "the exchange at another port");
});

check("the native app's loopback redirect URI with another path is refused at the authorization endpoint, without a redirect", async (demo) => {
  const app = demo.desktop;
  const url = new URL(demo.as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: "http://127.0.0.1:49152/elsewhere",
    state: oauth.generateRandomState(),
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: "S256",
  }).toString();
  const browser = await new Browser(demo).signIn("john");
  const response = await browser.open(url.href);
  await response.body?.cancel();
  expectEqual(response.status, 400, "the authorization endpoint's status");
  expectEqual(response.headers.get("location"), null, "no redirect");
});

check("a web app's registered loopback URI is matched exactly: FieldSync Mobile at another port is refused without a redirect", async (demo) => {
  const app = demo.mobile;
  const url = new URL(demo.as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: atPort(app, 49152),
    state: oauth.generateRandomState(),
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: "S256",
  }).toString();
  const browser = await new Browser(demo).signIn("john");
  const response = await browser.open(url.href);
  await response.body?.cancel();
  expectEqual(response.status, 400, "the authorization endpoint's status");
  expectEqual(response.headers.get("location"), null, "no redirect");
});
