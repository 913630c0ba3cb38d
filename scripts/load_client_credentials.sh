#!/usr/bin/env bash
# A bounded load run of the client-credentials grant over HTTP, on loopback only:
# starts `cargo run --release --example server`, takes FieldSync's credentials from its JSON line
# (unbound service-account tokens need no install to be issued), then
# runs wrk (Debian package `wrk`) against POST /oauth/token for a fixed time and stops.
# Usage: scripts/load_client_credentials.sh [seconds=10] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-32}"
port=18090
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release --example server -q
out="$(mktemp)"
# One INFO line per grant would measure the terminal: log warnings only, unless told otherwise.
RUST_LOG="${RUST_LOG:-warn}" ./target/release/examples/server --addr "127.0.0.1:$port" >"$out" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
read -r client_id client_secret < <(python3 -c '
import json, sys
seed = json.loads(open(sys.argv[1]).readline())
app = next(a for a in seed["apps"] if a["name"] == "FieldSync")
print(app["client_id"], app["client_secret"])' "$out")
basic="$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
lua="$(mktemp --suffix=.lua)"
cat >"$lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors %d, tokens/s %.0f, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
LUA
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port/oauth/token"
