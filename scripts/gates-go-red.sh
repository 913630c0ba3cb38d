#!/usr/bin/env bash
# Shows that the conformance-style gates can fail: the suites that drive the demo server with
# clients nobody here wrote (the `oauth2` crate: tests/http_oauth2_client.rs; oauth4webapi:
# tests/js) are run against deliberately broken demos (APPGRANT_DEMO_SABOTAGE, see
# examples/server/demo.rs `Sabotage`), and each must go red; then against the real demo,
# which must pass. Exits non-zero if any sabotage goes unnoticed.
#
# Usage: scripts/gates-go-red.sh   (builds the demo; needs `npm ci` in tests/js once)
set -uo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --all-features --example server || exit 1
server="${CARGO_TARGET_DIR:-target}/debug/examples/server"
(cd tests/js && [ -d node_modules ] || npm ci --no-audit --no-fund --silent)
unnoticed=0

run_suites() {
  local sabotage="$1"
  local js rust
  js="$(APPGRANT_DEMO_SABOTAGE="$sabotage" node tests/js/suite.mjs "$server" 2>/dev/null | tail -n 1)"
  local js_status=${PIPESTATUS[0]}
  rust="$(APPGRANT_DEMO_SABOTAGE="$sabotage" cargo test --quiet --all-features --test http_oauth2_client 2>&1 | grep -E '^test result' | tail -n 1)"
  local rust_status=$?
  # grep found a result line either way; the test binary's status is in the line itself.
  case "$rust" in *" 0 failed"*) rust_status=0 ;; *) rust_status=1 ;; esac
  echo "${sabotage:-none}: oauth4webapi [$js] exit $js_status; oauth2 crate [$rust]"
  if [ -z "$sabotage" ]; then
    [ "$js_status" -eq 0 ] && [ "$rust_status" -eq 0 ] || { echo "  the real demo must pass both"; unnoticed=1; }
  else
    [ "$js_status" -ne 0 ] || { echo "  oauth4webapi did not notice $sabotage"; unnoticed=1; }
    [ "$rust_status" -ne 0 ] || { echo "  the oauth2 crate tests did not notice $sabotage"; unnoticed=1; }
  fi
}

for sabotage in refresh-reuse wrong-audience tampered-tokens ""; do
  run_suites "$sabotage"
done
exit "$unnoticed"
