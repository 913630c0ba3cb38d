#!/usr/bin/env python3
"""Print the issuance benchmarks' medians and target ratios as a Markdown table.

Reads criterion's estimates (target/criterion/<group>/<function>/new/estimates.json) written by
`cargo bench --bench issuance`; the ratios are only meaningful when every id was measured in the
same run. Standard library only.

Usage: python3 scripts/bench_table.py [--criterion target/criterion]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IDS = [
    "sign/raw_ed25519",
    "sign/raw_hmac_sha256",
    "issue/access_token_eddsa",
    "issue/access_token_hs256",
    "verify/raw_ed25519",
    "validate/access_token_eddsa",
    "grant/client_credentials",
    "grant/authorization_code",
    "grant/refresh",
    "peer/oxide_auth_issue",
    "scale/client_credentials_100",
    "scale/client_credentials_10000",
    "scale/client_credentials_1000000",
]

SUPPLEMENTARY = [
    "grant/client_credentials_hs256",
    "peer/oxide_auth_client_credentials_sha256",
    "peer/oxide_auth_token_signer",
]

# (measured, baseline, target ratio, comparison): measured / baseline must be <= target.
TARGETS = [
    ("issue/access_token_eddsa", "sign/raw_ed25519", 1.3),
    ("issue/access_token_hs256", "sign/raw_hmac_sha256", 3.0),
    ("validate/access_token_eddsa", "verify/raw_ed25519", 1.3),
    ("grant/client_credentials", "issue/access_token_eddsa", 1.5),
    ("scale/client_credentials_1000000", "scale/client_credentials_100", 1.5),
]


def median_ns(criterion_dir, bench_id):
    estimates = criterion_dir / bench_id / "new" / "estimates.json"
    if not estimates.is_file():
        return None
    return json.loads(estimates.read_text())["median"]["point_estimate"]


def human(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def per_second(ns):
    rate = 1e9 / ns
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion", type=Path, default=ROOT / "target" / "criterion")
    args = parser.parse_args()

    medians = {
        bench_id: median_ns(args.criterion, bench_id) for bench_id in IDS + SUPPLEMENTARY
    }
    if all(value is None for value in medians.values()):
        sys.exit(f"no estimates under {args.criterion}; run `cargo bench --bench issuance`")

    print("| id | median | per second |")
    print("| --- | ---: | ---: |")
    for bench_id in IDS + SUPPLEMENTARY:
        value = medians[bench_id]
        note = " (supplementary)" if bench_id in SUPPLEMENTARY else ""
        if value is None:
            print(f"| `{bench_id}`{note} | not measured | |")
        else:
            print(f"| `{bench_id}`{note} | {human(value)} | {per_second(value)} |")

    print()
    print("| target | ratio | limit | met |")
    print("| --- | ---: | ---: | :---: |")
    for measured, baseline, limit in TARGETS:
        if medians[measured] is None or medians[baseline] is None:
            continue
        ratio = medians[measured] / medians[baseline]
        verdict = "yes" if ratio <= limit else "**no**"
        print(f"| `{measured}` / `{baseline}` | {ratio:.2f} | ≤ {limit} | {verdict} |")
    ours, peer = medians["grant/client_credentials"], medians["peer/oxide_auth_issue"]
    if ours is not None and peer is not None:
        verdict = "yes" if ours < peer else "**no**"
        print(
            f"| grants/s: `grant/client_credentials` ({per_second(ours)}) vs "
            f"`peer/oxide_auth_issue` ({per_second(peer)}) | {peer / ours:,.0f}× | > 1× "
            f"| {verdict} |"
        )


if __name__ == "__main__":
    main()
