#!/usr/bin/env python3
"""Plot the cost of a client-credentials grant against the number of records in the store.

Reads criterion's estimates for the `scale/client_credentials_<size>` benchmarks of
`cargo bench --bench issuance` and writes docs/scale.png: the median time per grant (with its
95% confidence interval) for each store size, the 1.5x-the-smallest-store target, and, when they
were measured in the same run, grant/client_credentials and issue/access_token_eddsa for
reference.

Usage: python3 scripts/plot_scale.py [--criterion target/criterion] [--out docs/scale.png]
Needs matplotlib (`pip install matplotlib`); it is a developer tool, not part of CI.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALE_ID = re.compile(r"^client_credentials_(\d+)$")


def median_ns(estimates_path):
    """The median point estimate and its confidence interval, in nanoseconds."""
    median = json.loads(estimates_path.read_text())["median"]
    interval = median["confidence_interval"]
    return median["point_estimate"], interval["lower_bound"], interval["upper_bound"]


def scale_points(criterion_dir):
    points = []
    for bench_dir in sorted((criterion_dir / "scale").glob("*")):
        match = SCALE_ID.match(bench_dir.name)
        estimates = bench_dir / "new" / "estimates.json"
        if match and estimates.is_file():
            points.append((int(match.group(1)), *median_ns(estimates)))
    return sorted(points)


def reference(criterion_dir, group, function):
    estimates = criterion_dir / group / function / "new" / "estimates.json"
    return median_ns(estimates)[0] if estimates.is_file() else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion", type=Path, default=ROOT / "target" / "criterion")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scale.png")
    args = parser.parse_args()

    points = scale_points(args.criterion)
    if not points:
        sys.exit(
            f"no scale/client_credentials_* estimates under {args.criterion}; "
            "run `cargo bench --bench issuance -- scale/` first"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [size for size, *_ in points]
    medians = [median / 1000 for _, median, _, _ in points]
    below = [(median - low) / 1000 for _, median, low, _ in points]
    above = [(high - median) / 1000 for _, median, _, high in points]

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.errorbar(
        sizes,
        medians,
        yerr=[below, above],
        marker="o",
        capsize=4,
        label="scale/client_credentials_N (median, 95% CI)",
    )
    for size, median in zip(sizes, medians):
        ax.annotate(
            f"{median:.1f} µs",
            (size, median),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
        )
    ax.axhline(
        1.5 * medians[0],
        color="tab:red",
        linestyle="--",
        label=f"target: 1.5 × the {sizes[0]:,}-record store",
    )
    for group, function, style in [
        ("grant", "client_credentials", ":"),
        ("issue", "access_token_eddsa", "-."),
    ]:
        value = reference(args.criterion, group, function)
        if value is not None:
            ax.axhline(
                value / 1000,
                color="grey",
                linestyle=style,
                label=f"{group}/{function} (one app)",
            )
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{size:,}" for size in sizes])
    ax.set_ylim(bottom=0, top=max(1.5 * medians[0], max(medians)) * 1.25)
    ax.set_xlabel("apps, installations and users in the store")
    ax.set_ylabel("time per client-credentials grant (µs)")
    ax.set_title("Client-credentials grant cost against store size (in-memory store)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    for size, median in zip(sizes, medians):
        print(f"scale/client_credentials_{size}: {median:.2f} µs")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
