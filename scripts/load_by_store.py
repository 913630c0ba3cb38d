#!/usr/bin/env python3
"""Bounded load runs on loopback, one per store, interleaved: the API call a resource server
makes most (GET /api/projects/tower/rfis with a service-account token: validate and decide)
and the client-credentials grant, against the demo server in release on memory, SQLite and
(when APPGRANT_TEST_POSTGRES_URL is set) PostgreSQL.

For each round and store it starts the server on that store, installs FieldSync's service
account through the HTTP routes a platform uses (a member's install request, the admin's
approval with the revision reviewed), takes a token, runs wrk (Debian package `wrk`) for a
fixed time against each endpoint, and stops the server. It prints a Markdown table of medians
over the rounds with the ratio of each store to memory.

Usage: scripts/load_by_store.py [seconds=10] [connections=32] [rounds=3]
With APPGRANT_BASELINE_SERVER=path/to/an/older/release/examples/server, that build runs on the
memory store in the same rounds too ("memory, baseline"), for a before/after ratio.
With APPGRANT_LOAD_STORES=memory,PostgreSQL only the stores named run (memory always does).
With APPGRANT_LOAD_PLOT=path.svg it also draws the medians as a bar chart (API calls and grants
per second by store), in plain SVG so that it needs nothing installed.
"""

import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples", "server"
)
WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000))
end
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(binary, database_url):
    port = free_port()
    args = [binary, "--addr", f"127.0.0.1:{port}"]
    if database_url:
        args += ["--database-url", database_url]
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    server = subprocess.Popen(args, stdout=subprocess.PIPE, env=env, text=True)
    seed = json.loads(server.stdout.readline())
    return server, seed, f"http://127.0.0.1:{port}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
    )


def call(opener, url, data=None, headers=None, method=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def service_token(base, seed):
    """Installs FieldSync's service account on the tower project, as Jane, over HTTP."""
    app = next(a for a in seed["apps"] if a["name"] == "FieldSync")
    jane = next(u for u in seed["users"] if u["username"] == "jane")
    session = browser()
    form = urllib.parse.urlencode({"username": "jane", "password": jane["password"]}).encode()
    call(session, f"{base}/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    client = urllib.parse.quote(app["client_id"], safe="")
    json_headers = {"Accept": "application/json", "Content-Type": "application/json"}
    status, _ = call(session, f"{base}/apps/{client}/request-install", b"", json_headers, "POST")
    if status == 404:
        # A build from before the library's admin pages: the demo's own install route.
        body = json.dumps({"projects": ["tower"]}).encode()
        status, answer = call(session, f"{base}/admin/api/apps/{client}/install", body, json_headers, "POST")
        assert status == 200, (status, answer)
        installation = {"status": "active"}
    else:
        review_url = f"{base}/admin/api/companies/{seed['company_id']}/apps/{client}"
        status, review = call(session, review_url)
        installation = json.loads(review)["installation"]
    if installation["status"] != "active":
        body = json.dumps({"revision": installation["revision"], "projects": ["tower"]}).encode()
        status, answer = call(session, f"{review_url}/approve", body, json_headers, "POST")
        assert status == 200, (status, answer)
    basic = f"{app['client_id']}:{app['client_secret']}"
    grant = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "company_id": seed["company_id"]}
    ).encode()
    auth = {
        "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    status, issued = call(browser(), f"{base}/oauth/token", grant, auth)
    assert status == 200, (status, issued)
    return json.loads(issued)["access_token"], auth, grant.decode()


def wrk(url, seconds, connections, script):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script + WRK_REPORT)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(lua.name)
    requests, errors, rate, p50 = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+)", out).groups()
    return {"errors": int(errors), "rate": float(rate), "p50": float(p50)}


def lua_headers(headers):
    return "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())


def run(binary, database_url, seconds, connections):
    server, seed, base = start(binary, database_url)
    try:
        token, auth, grant = service_token(base, seed)
        api = lua_headers({"Authorization": f"Bearer {token}", "Company-Id": seed["company_id"]})
        api_result = wrk(f"{base}/api/projects/tower/rfis", seconds, connections, api)
        issue = f'wrk.method = "POST"\nwrk.body = "{grant}"\n' + lua_headers(auth)
        grant_result = wrk(f"{base}/oauth/token", seconds, connections, issue)
        return api_result, grant_result
    finally:
        server.terminate()
        server.wait()


def main():
    seconds, connections, rounds = (int(a) for a in (sys.argv[1:] + ["10", "32", "3"][len(sys.argv) - 1 :])[:3])
    subprocess.run(["cargo", "build", "--release", "--example", "server", "-q"], cwd=ROOT, check=True)
    workdir = tempfile.mkdtemp(prefix="appgrant-load-")
    stores = [("memory", SERVER, None), ("SQLite", SERVER, f"sqlite://{workdir}/load.db")]
    if os.environ.get("APPGRANT_TEST_POSTGRES_URL"):
        stores.append(("PostgreSQL", SERVER, os.environ["APPGRANT_TEST_POSTGRES_URL"]))
    if os.environ.get("APPGRANT_BASELINE_SERVER"):
        stores.append(("memory, baseline", os.environ["APPGRANT_BASELINE_SERVER"], None))
    # APPGRANT_LOAD_STORES=memory,PostgreSQL runs only those (memory, the reference, always).
    only = os.environ.get("APPGRANT_LOAD_STORES")
    if only:
        wanted = {"memory"} | set(only.split(","))
        stores = [store for store in stores if store[0] in wanted]
    results = {name: {"api": [], "grant": []} for name, _, _ in stores}
    for round_number in range(rounds):
        for name, binary, url in stores:
            api, grant = run(binary, url, seconds, connections)
            results[name]["api"].append(api)
            results[name]["grant"].append(grant)
            print(
                f"round {round_number + 1} {name}: API {api['rate']:.0f}/s p50 {api['p50']:.2f} ms"
                f" ({api['errors']} errors), grant {grant['rate']:.0f}/s p50 {grant['p50']:.2f} ms"
                f" ({grant['errors']} errors)",
                file=sys.stderr,
            )
    median = lambda runs, key: statistics.median(run[key] for run in runs)
    print(f"\n{rounds} interleaved rounds, {seconds} s each, {connections} connections, medians:\n")
    print("| store | API calls/s | ratio to memory | p50 | grants/s | ratio to memory | p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base_api = median(results["memory"]["api"], "rate")
    base_grant = median(results["memory"]["grant"], "rate")
    for name, _, _ in stores:
        api, grant = results[name]["api"], results[name]["grant"]
        print(
            f"| {name} | {median(api, 'rate'):,.0f} | {median(api, 'rate') / base_api:.2f} |"
            f" {median(api, 'p50'):.2f} ms | {median(grant, 'rate'):,.0f} |"
            f" {median(grant, 'rate') / base_grant:.2f} | {median(grant, 'p50'):.2f} ms |"
        )
    if os.environ.get("APPGRANT_LOAD_PLOT"):
        medians = {
            name: {"API call": median(results[name]["api"], "rate"),
                   "grant": median(results[name]["grant"], "rate")}
            for name, _, _ in stores
        }
        title = f"Demo server over HTTP, by store: medians of {rounds} interleaved rounds of {seconds} s, {connections} connections"
        bar_chart(os.environ["APPGRANT_LOAD_PLOT"], title, medians)


def bar_chart(path, title, medians):
    """Writes a grouped bar chart of `medians` ({store: {"API call": rate, "grant": rate}})."""
    series = [("API call", "#2f6fb0"), ("grant", "#d98c2b")]
    width, height, left, bottom, top = 760, 380, 90, 70, 50
    plot_w, plot_h = width - left - 20, height - top - bottom
    peak = max(rate for rates in medians.values() for rate in rates.values())
    step = 10 ** (len(str(int(peak))) - 1)
    ceiling = step * (int(peak // step) + 1)
    group = plot_w / len(medians)
    bar = group * 0.8 / len(series)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>',
    ]
    for tick in range(0, int(ceiling) + 1, int(step)):
        y = top + plot_h - plot_h * tick / ceiling
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>')
    for index, (store, rates) in enumerate(medians.items()):
        x0 = left + index * group + group * 0.1
        for offset, (name, colour) in enumerate(series):
            rate = rates[name]
            h = plot_h * rate / ceiling
            x = x0 + offset * bar
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2:.1f}" '
                f'height="{h:.1f}" fill="{colour}"/>'
            )
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                f'text-anchor="middle" font-size="10">{rate:,.0f}</text>'
            )
        out.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{store}</text>'
        )
    for offset, (name, colour) in enumerate(series):
        x = left + offset * 130
        out.append(f'<rect x="{x}" y="{height - 28}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 18}" y="{height - 18}">{name}s per second</text>')
    out.append("</svg>")
    with open(path, "w") as svg:
        svg.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
