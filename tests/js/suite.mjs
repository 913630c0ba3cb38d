// The demo server (`examples/server`) driven by a client nobody on this project wrote:
// oauth4webapi (https://github.com/panva/oauth4webapi), a standards-following OAuth 2.0 client.
// Each check states a rule of the RFCs the server claims (see README.md beside this file) and
// holds the server to it through oauth4webapi's own request and response processing.
//
// Usage: node suite.mjs SERVER_BINARY [FILTER]
//   FILTER runs only the checks whose name contains it. VERBOSE=1 prints failures' stacks.
// Prints `ok: RULE` (or `FAILED: RULE` and why) per check; the last line is the summary,
// `oauth4webapi: N passed, N failed`. Exits 0 only when every check held.
//
// To add checks (DPoP, private_key_jwt, PAR…): write checks/NAME.mjs registering them with
// `check(name, async (demo) => …)` from lib/harness.mjs, using the helpers of lib/demo.mjs, and
// import it below.

import { run } from "./lib/harness.mjs";
import { Demo, startDemo } from "./lib/demo.mjs";

import "./checks/discovery.mjs";
import "./checks/client_credentials.mjs";
import "./checks/scopes.mjs";
import "./checks/resource_indicators.mjs";
import "./checks/authorization_code.mjs";
import "./checks/native_apps.mjs";
import "./checks/introspection_revocation.mjs";
import "./checks/protected_resource_metadata.mjs";
import "./checks/cors.mjs";
import "./checks/bearer_usage.mjs";
import "./checks/sender_constrained.mjs";
import "./checks/pushed_authorization.mjs";

const [binary, filter = ""] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node suite.mjs SERVER_BINARY [FILTER]");
  process.exit(2);
}

async function main() {
  const { child, seed } = await startDemo(binary);
  let exited = null;
  child.once("exit", (code, signal) => {
    exited = signal ?? code;
  });
  try {
    const demo = new Demo(seed);
    await demo.discover();
    const { failed } = await run(demo, filter);
    if (exited !== null) {
      console.error(`the demo server exited during the run (${exited})`);
      return 1;
    }
    return failed === 0 ? 0 : 1;
  } finally {
    child.kill();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    console.log("oauth4webapi: 0 passed, 1 failed");
    process.exitCode = 1;
  },
);
