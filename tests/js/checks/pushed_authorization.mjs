// RFC 9126 pushed authorization requests with oauth4webapi's pushedAuthorizationRequest: the
// client pushes its request (client-authenticated), sends the browser with the request_uri
// alone, and exchanges the code as usual.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { Browser, INSECURE } from "../lib/demo.mjs";

/** Pushes FieldSync's authorization request; returns what the flow needs afterwards. */
async function push(demo, extra = {}) {
  const { client, auth } = demo.client(demo.fieldsync);
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const parameters = {
    response_type: "code",
    redirect_uri: demo.fieldsync.redirect_uri,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    ...extra,
  };
  const response = await oauth.pushedAuthorizationRequest(demo.as, client, auth, parameters, INSECURE);
  const pushed = await oauth.processPushedAuthorizationResponse(demo.as, client, response);
  return { client, auth, codeVerifier, state, pushed };
}

/** Opens the authorization URL with the request_uri as jane, consents; returns the callback. */
async function authorizePushed(demo, requestUri) {
  const url = new URL(demo.as.authorization_endpoint);
  url.searchParams.set("client_id", demo.fieldsync.client_id);
  url.searchParams.set("request_uri", requestUri);
  const browser = await new Browser(demo).signIn("jane");
  let response = await browser.open(url.href);
  if (response.status === 200) {
    const page = await response.text();
    response = await browser.answerConsent(page, response.url, "allow");
  }
  return { response, browser, url };
}

check("metadata names the pushed authorization request endpoint (RFC 9126 §5)", async (demo) => {
  expect(typeof demo.as.pushed_authorization_request_endpoint === "string", "the endpoint", demo.as);
  expectEqual(demo.as.require_pushed_authorization_requests, false, "require_pushed_authorization_requests");
});

check("a pushed request (oauth4webapi pushedAuthorizationRequest) gets a request_uri that takes the browser through consent to a code, exchanged for tokens with the pushed scope", async (demo) => {
  const { client, auth, codeVerifier, state, pushed } = await push(demo, { scope: "rfis:read" });
  expect(pushed.request_uri.startsWith("urn:ietf:params:oauth:request_uri:"), "the request_uri's form", pushed);
  expect(pushed.expires_in > 0, "expires_in", pushed);
  const { response } = await authorizePushed(demo, pushed.request_uri);
  const location = response.headers.get("location");
  expect(location !== null, "a redirect back to the app", response.status);
  const parameters = oauth.validateAuthResponse(demo.as, client, new URL(location, demo.issuer), state);
  const tokens = await oauth.processAuthorizationCodeResponse(
    demo.as,
    client,
    await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, demo.fieldsync.redirect_uri, codeVerifier, INSECURE),
  );
  expectEqual(tokens.scope, "rfis:read", "the pushed scope");
});

check("a request_uri is used once: the second authorization with it gets an error page, not a redirect", async (demo) => {
  const { pushed } = await push(demo);
  await authorizePushed(demo, pushed.request_uri);
  const { response } = await authorizePushed(demo, pushed.request_uri);
  expectEqual(response.status, 400, "the second use");
  expect(response.headers.get("location") === null, "no redirect", response.headers.get("location"));
});

check("a push with an unregistered redirect_uri is refused with a JSON error (never a redirect)", async (demo) => {
  const { client, auth } = demo.client(demo.fieldsync);
  const response = await oauth.pushedAuthorizationRequest(demo.as, client, auth, {
    response_type: "code",
    redirect_uri: "https://attacker.example/callback",
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: "S256",
  }, INSECURE);
  const error = await rejects(oauth.processPushedAuthorizationResponse(demo.as, client, response), (caught) => caught instanceof oauth.ResponseBodyError, "the push");
  expectEqual(error.status, 400, "the status");
});

check("a push with a wrong client secret is refused (401 invalid_client)", async (demo) => {
  const client = { client_id: demo.fieldsync.client_id };
  const response = await oauth.pushedAuthorizationRequest(demo.as, client, oauth.ClientSecretBasic("wrong"), {
    response_type: "code",
    redirect_uri: demo.fieldsync.redirect_uri,
  }, INSECURE);
  expectEqual(response.status, 401, "the status");
});
