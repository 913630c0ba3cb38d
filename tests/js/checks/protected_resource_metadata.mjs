// RFC 9728: each of the demo's resource servers publishes its metadata and names it in its 401
// challenges (`resource_metadata`); oauth4webapi discovers it from the resource identifier.

import * as oauth from "oauth4webapi";
import { check, expect, expectEqual } from "../lib/harness.mjs";
import { INSECURE, challengesOf } from "../lib/demo.mjs";

/** The resource servers: identifier and a path it protects. */
function resources(demo) {
  const files = demo.seed.resources.find((resource) => resource !== demo.seed.default_audience);
  return [
    { resource: demo.seed.default_audience, path: "/api/projects/tower/rfis" },
    { resource: files, path: "/files/projects/tower" },
  ];
}

/** The 401 a request without a token gets, its challenges parsed by oauth4webapi. */
async function challenge(demo, path) {
  const response = await fetch(new URL(path, demo.issuer), { headers: { [demo.seed.company_header]: demo.seed.company_id } });
  return { status: response.status, challenges: await challengesOf(response) };
}

check("a request without a token gets 401 with a Bearer challenge whose resource_metadata is the resource's well-known metadata URL (both resource servers)", async (demo) => {
  for (const { resource, path } of resources(demo)) {
    const { status, challenges } = await challenge(demo, path);
    expectEqual(status, 401, `${path}'s status`);
    const bearer = challenges?.find((candidate) => candidate.scheme === "bearer");
    expect(bearer !== undefined, `${path} sends a Bearer challenge`, challenges);
    const expected = new URL(resource);
    expected.pathname = `/.well-known/oauth-protected-resource${expected.pathname}`;
    expectEqual(bearer.parameters.resource_metadata, expected.href, `${path}'s resource_metadata`);
    // An invalid token's challenge names it too.
    const refused = await demo.api("not-a-token", "GET", path);
    expectEqual(refused.status, 401, `${path}'s status for an invalid token`);
    const invalid = refused.challenges?.find((candidate) => candidate.scheme === "bearer");
    expectEqual(invalid?.parameters.error, "invalid_token", `${path}'s challenge error for an invalid token`);
    expectEqual(invalid?.parameters.resource_metadata, expected.href, `${path}'s resource_metadata for an invalid token`);
  }
});

check("resourceDiscoveryRequest + processResourceDiscoveryResponse (RFC 9728) read each resource server's metadata: resource is its identifier, authorization_servers the issuer, scopes_supported has rfis:read", async (demo) => {
  for (const { resource } of resources(demo)) {
    const identifier = new URL(resource);
    const response = await oauth.resourceDiscoveryRequest(identifier, INSECURE);
    // It refuses a document whose `resource` is not the identifier asked for.
    const metadata = await oauth.processResourceDiscoveryResponse(identifier, response);
    expectEqual(metadata.resource, resource, "resource");
    expectEqual(metadata.authorization_servers, [demo.issuer], "authorization_servers");
    expect(metadata.scopes_supported?.includes("rfis:read"), "scopes_supported has rfis:read", metadata.scopes_supported);
    if (metadata.bearer_methods_supported !== undefined) {
      expect(metadata.bearer_methods_supported.includes("header"), "bearer_methods_supported has header", metadata.bearer_methods_supported);
    }
  }
});

check("the metadata named in the challenge is the document oauth4webapi discovers, and its authorization server is the one discovered by RFC 8414", async (demo) => {
  const [{ resource, path }] = resources(demo);
  const { challenges } = await challenge(demo, path);
  const named = challenges.find((candidate) => candidate.scheme === "bearer").parameters.resource_metadata;
  const followed = await oauth.processResourceDiscoveryResponse(new URL(resource), await fetch(named, { headers: { accept: "application/json" } }));
  const [issuer] = followed.authorization_servers;
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), { algorithm: "oauth2", ...INSECURE }));
  expectEqual(as.issuer, demo.as.issuer, "the discovered issuer");
});
