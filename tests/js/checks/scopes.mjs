// Scopes as least privilege: `tool:level` scopes at the token endpoint, and what the API then
// allows.

import { check, expect, expectEqual, rejects } from "../lib/harness.mjs";
import { jwtClaims, oauthError } from "../lib/demo.mjs";

check("client credentials with scope rfis:read gets a token whose scope is rfis:read (in the response and the JWT)", async (demo) => {
  const tokens = await demo.clientCredentials({ scope: "rfis:read" });
  expectEqual(tokens.scope, "rfis:read", "the token response's scope");
  expectEqual(jwtClaims(tokens.access_token).scope, "rfis:read", "the JWT's scope claim");
});

check("a token scoped rfis:read reads Tower RFIs (200) but may not write them: 403 insufficient_scope", async (demo) => {
  const { access_token: token } = await demo.clientCredentials({ scope: "rfis:read" });
  expectEqual((await demo.api(token, "GET", "/api/projects/tower/rfis")).status, 200, "GET with rfis:read");
  const write = await demo.api(token, "POST", "/api/projects/tower/rfis", { title: "beyond the scope" });
  expectEqual(write.status, 403, "POST with rfis:read");
  expectEqual(write.body?.error, "insufficient_scope", "the 403 body's error");
  const bearer = write.challenges?.find((challenge) => challenge.scheme === "bearer");
  expectEqual(bearer?.parameters.error, "insufficient_scope", "the Bearer challenge's error");
});

check("a token scoped directory:read is refused on the RFIs API, a tool outside its scope: 403 insufficient_scope", async (demo) => {
  const tokens = await demo.clientCredentials({ scope: "directory:read" });
  expectEqual(tokens.scope, "directory:read", "the token response's scope");
  const read = await demo.api(tokens.access_token, "GET", "/api/projects/tower/rfis");
  expectEqual(read.status, 403, "GET RFIs with directory:read");
  expectEqual(read.body?.error, "insufficient_scope", "the 403 body's error");
});

check("an unknown scope (photos:read, not a tool of the demo) is refused with invalid_scope, seen as oauth4webapi's ResponseBodyError", async (demo) => {
  const error = await rejects(demo.clientCredentials({ scope: "photos:read" }), oauthError("invalid_scope"), "the token request");
  expectEqual(error.status, 400, "the status");
});

check("a malformed scope (rfis:everything) is refused with invalid_scope", async (demo) => {
  await rejects(demo.clientCredentials({ scope: "rfis:everything" }), oauthError("invalid_scope"), "the token request");
});

check("a scope beyond the approved manifest (rfis:admin, manifest rfis Standard) is capped, and the response says what was granted", async (demo) => {
  const tokens = await demo.clientCredentials({ scope: "rfis:admin" });
  expectEqual(tokens.scope, "rfis:write", "the granted scope (rfis Standard is write)");
  expectEqual(jwtClaims(tokens.access_token).scope, tokens.scope, "the JWT's scope is the granted one");
});
