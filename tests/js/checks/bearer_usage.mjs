// RFC 6750 at the demo API, and RFC 6749 §3.2's empty parameters, around what oauth4webapi sends.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual } from "../lib/harness.mjs";
import { INSECURE, challengesOf, jwtClaims } from "../lib/demo.mjs";

const RFIS = "/api/projects/tower/rfis";

check("a request without a token gets 401 whose Bearer challenge has no error code (RFC 6750 §3.1)", async (demo) => {
  const response = await fetch(new URL(RFIS, demo.issuer), { headers: { [demo.seed.company_header]: demo.seed.company_id } });
  expectEqual(response.status, 401, "the status");
  const bearer = (await challengesOf(response))?.find((challenge) => challenge.scheme === "bearer");
  expect(bearer !== undefined, "a Bearer challenge");
  expectEqual(bearer.parameters.error, undefined, "the challenge's error");
});

check("the Authorization scheme is case-insensitive: `bearer` and `BEARER` work like `Bearer` (RFC 6750 §2.1, RFC 9110 §11.1)", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  for (const scheme of ["bearer", "BEARER"]) {
    const response = await fetch(new URL(RFIS, demo.issuer), {
      headers: { [demo.seed.company_header]: demo.seed.company_id, authorization: `${scheme} ${token}` },
    });
    await response.body?.cancel();
    expectEqual(response.status, 200, `the status with ${scheme}`);
  }
});

check("a token in the query string is not accepted (no tokens in URLs): 401", async (demo) => {
  const { access_token: token } = await demo.clientCredentials();
  const url = new URL(RFIS, demo.issuer);
  url.searchParams.set("access_token", token);
  const response = await fetch(url, { headers: { [demo.seed.company_header]: demo.seed.company_id } });
  await response.body?.cancel();
  expectEqual(response.status, 401, "the status");
});

check("token request parameters sent without a value count as omitted (RFC 6749 §3.2): empty scope and resource give the default token", async (demo) => {
  await demo.installServiceAccount();
  const { client, auth } = demo.client(demo.fieldsync);
  const response = await oauth.clientCredentialsGrantRequest(demo.as, client, auth, { scope: "", resource: "" }, INSECURE);
  const tokens = await oauth.processClientCredentialsResponse(demo.as, client, response);
  const claims = jwtClaims(tokens.access_token);
  expectEqual(claims.aud, demo.seed.default_audience, "aud");
  expectEqual(claims.scope, undefined, "the JWT's scope");
});
