// RFC 8707 resource indicators: `resource` names the resource server a token is for, and its
// JWT access token (RFC 9068) says so in `aud`, validated by oauth4webapi as a resource server
// would.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { INSECURE, oauthError } from "../lib/demo.mjs";

/** validateJwtAccessToken (RFC 9068) over a request carrying `token`, for `audience`. */
function validate(demo, token, audience) {
  const request = new Request(new URL("/api/projects/tower/rfis", demo.issuer), {
    headers: { authorization: `Bearer ${token}` },
  });
  return oauth.validateJwtAccessToken(demo.as, request, audience, INSECURE);
}

function files(demo) {
  const found = demo.seed.resources.find((resource) => resource !== demo.seed.default_audience);
  expect(found !== undefined, "the seed names a resource besides the default audience", demo.seed.resources);
  return found;
}

check("without resource, the access token is an RFC 9068 JWT whose aud is the default audience (the API, not the issuer); validateJwtAccessToken accepts it", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const claims = await validate(demo, token, demo.seed.default_audience);
  expectEqual(claims.aud, demo.seed.default_audience, "aud");
  expectEqual(claims.iss, demo.issuer, "iss");
  expectEqual(claims.client_id, demo.fieldsync.client_id, "client_id");
  expect(demo.seed.default_audience !== demo.issuer, "the default audience is not the issuer", demo.seed.default_audience);
});

check("with resource set to the file store, the access token's aud is the file store: validateJwtAccessToken accepts it for the file store and refuses it for the API", async (demo) => {
  const resource = files(demo);
  const { access_token: token } = await demo.clientCredentials({ resource });
  const claims = await validate(demo, token, resource);
  expectEqual(claims.aud, resource, "aud");
  await rejects(
    validate(demo, token, demo.seed.default_audience),
    (error) => error instanceof oauth.OperationProcessingError && error.code === oauth.JWT_CLAIM_COMPARISON,
    "validating it for the API",
  );
});

check("a token for the file store is accepted by the file store (200) and refused by the API (401), and a token for the API the other way round", async (demo) => {
  const { access_token: forFiles } = await demo.clientCredentials({ resource: files(demo) });
  const { access_token: forApi } = await demo.clientCredentials();
  expectEqual((await demo.api(forFiles, "GET", "/files/projects/tower")).status, 200, "file store with its token");
  expectEqual((await demo.api(forFiles, "GET", "/api/projects/tower/rfis")).status, 401, "API with the file store's token");
  expectEqual((await demo.api(forApi, "GET", "/api/projects/tower/rfis")).status, 200, "API with its token");
  expectEqual((await demo.api(forApi, "GET", "/files/projects/tower")).status, 401, "file store with the API's token");
});

check("an unknown resource (https://elsewhere.example.com) is refused with invalid_target", async (demo) => {
  const error = await rejects(
    demo.clientCredentials({ resource: "https://elsewhere.example.com" }),
    oauthError("invalid_target"),
    "the token request",
  );
  expectEqual(error.status, 400, "the status");
});

check("resource at the authorization endpoint: the code flow's access token has that resource as aud", async (demo) => {
  const resource = files(demo);
  const { tokens } = await demo.codeFlow({ app: demo.fieldsync, username: "jane", extra: { resource } });
  const claims = await validate(demo, tokens.access_token, resource);
  expectEqual(claims.aud, resource, "aud");
  expectEqual(claims.sub, "jane", "sub");
});

check("a code authorized for the file store does not exchange for another resource (the API): invalid_target", async (demo) => {
  const resource = files(demo);
  const { client, auth } = demo.client(demo.fieldsync);
  const { callback, state, codeVerifier, redirectUri } = await demo.authorize({ app: demo.fieldsync, username: "jane", extra: { resource } });
  const parameters = oauth.validateAuthResponse(demo.as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(demo.as, client, auth, parameters, redirectUri, codeVerifier, {
    ...INSECURE,
    additionalParameters: { resource: demo.seed.default_audience },
  });
  await rejects(oauth.processAuthorizationCodeResponse(demo.as, client, response), oauthError("invalid_target"), "the exchange");
});

check("a refresh of a grant for the file store keeps it (aud the file store) and may not switch to the API: invalid_target", async (demo) => {
  const resource = files(demo);
  const { tokens, client, auth } = await demo.codeFlow({ app: demo.fieldsync, username: "jane", extra: { resource } });
  const refresh = async (refreshToken, parameters) =>
    oauth.processRefreshTokenResponse(
      demo.as,
      client,
      await oauth.refreshTokenGrantRequest(demo.as, client, auth, refreshToken, { ...INSECURE, additionalParameters: parameters }),
    );
  const refreshed = await refresh(tokens.refresh_token, {});
  expectEqual((await validate(demo, refreshed.access_token, resource)).aud, resource, "the refreshed token's aud");
  await rejects(refresh(refreshed.refresh_token, { resource: demo.seed.default_audience }), oauthError("invalid_target"), "refreshing for the API");
});
