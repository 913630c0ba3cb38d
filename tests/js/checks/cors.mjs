// CORS: the allowed browser origins may call the token endpoint across origins; no other origin
// may, and the authorization endpoint never answers another origin.

import { check, expect, expectEqual } from "../lib/harness.mjs";

const OTHER_ORIGIN = "https://evil.example.com";

async function preflight(url, origin, method = "POST") {
  const response = await fetch(url, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "content-type, authorization",
    },
  });
  await response.body?.cancel();
  return response;
}

check("a preflight OPTIONS on the token endpoint from an allowed origin (cors_origins) gets access-control-allow-origin naming that origin, POST allowed, no credentials", async (demo) => {
  expect(demo.seed.cors_origins.length > 0, "the seed names allowed origins", demo.seed);
  for (const origin of demo.seed.cors_origins) {
    const response = await preflight(demo.as.token_endpoint, origin);
    expect(response.status >= 200 && response.status < 300, "the preflight succeeds", response.status);
    expectEqual(response.headers.get("access-control-allow-origin"), origin, `access-control-allow-origin for ${origin}`);
    expect((response.headers.get("access-control-allow-methods") ?? "").toUpperCase().includes("POST"), "POST is allowed", response.headers.get("access-control-allow-methods"));
    expect(response.headers.get("access-control-allow-credentials") !== "true", "no credentials", response.headers.get("access-control-allow-credentials"));
  }
});

check("a preflight on the token endpoint from another origin gets no access-control-allow-origin", async (demo) => {
  const response = await preflight(demo.as.token_endpoint, OTHER_ORIGIN);
  expectEqual(response.headers.get("access-control-allow-origin"), null, "access-control-allow-origin");
});

check("a token request from an allowed origin is answered with access-control-allow-origin and Vary: Origin; from another origin without", async (demo) => {
  const [origin] = demo.seed.cors_origins;
  const send = (from) =>
    fetch(demo.as.token_endpoint, {
      method: "POST",
      headers: { origin: from, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: "nobody" }).toString(),
    });
  const allowed = await send(origin);
  await allowed.body?.cancel();
  expectEqual(allowed.headers.get("access-control-allow-origin"), origin, "access-control-allow-origin (allowed)");
  expect((allowed.headers.get("vary") ?? "").toLowerCase().includes("origin"), "Vary names Origin", allowed.headers.get("vary"));
  const other = await send(OTHER_ORIGIN);
  await other.body?.cancel();
  expectEqual(other.headers.get("access-control-allow-origin"), null, "access-control-allow-origin (other)");
});

check("the authorization endpoint never answers another origin: no access-control-allow-origin on its preflight or GET, even for an allowed origin", async (demo) => {
  for (const origin of [...demo.seed.cors_origins, OTHER_ORIGIN]) {
    for (const method of ["GET", "POST"]) {
      const response = await preflight(demo.as.authorization_endpoint, origin, method);
      expectEqual(response.headers.get("access-control-allow-origin"), null, `preflight (${method}) from ${origin}`);
    }
    const url = new URL(demo.as.authorization_endpoint);
    url.search = new URLSearchParams({ response_type: "code", client_id: demo.mobile.client_id }).toString();
    const response = await fetch(url, { headers: { origin }, redirect: "manual" });
    await response.body?.cancel();
    expectEqual(response.headers.get("access-control-allow-origin"), null, `GET from ${origin}`);
  }
});
