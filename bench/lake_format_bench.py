"""What the Iceberg lake costs ingestion: backfill into each lake format, same input, same session.

    python bench/lake_format_bench.py [--rounds 3] [--commit-batches 32]

The delivery-shaped world of ``bench/ingest_bench.py`` (CloudTrail and access logs, ~1M
events in ~57k objects; generated once under bench/data/), backfilled in one process into a
fresh Parquet lake and a fresh Iceberg lake, alternately, ``--rounds`` times each, ingest
only and with detection. The runs alternate so that a machine slowing down mid-session
(this one does) weighs on both formats alike; the table gives the median and the range.
Results go to bench/results/lake_format.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import REPO, alternate, backfill, delivery_world, save_runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--commit-batches", type=int, default=32)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sources = delivery_world()
    groups = ("--commit-batches", str(args.commit_batches))
    formats = {fmt: ("--lake-format", fmt, *groups) for fmt in ("parquet", "iceberg")}
    runs = alternate(
        args.rounds,
        formats,
        lambda detect, extra: backfill(sources, 1, args.out, detect=detect, extra=extra),
    )
    save_runs("lake_format.json", runs)
    print(markdown(runs))


def markdown(runs: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| lake, delivery-shaped set | events | seconds, median (range) | events/s, median "
        "| Iceberg vs Parquet | commits: count, seconds (share of the run) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, rs in runs.items():
        seconds = [r["seconds"] for r in rs]
        median = statistics.median(seconds)
        base_key = key.replace("iceberg", "parquet")
        base = statistics.median(r["seconds"] for r in runs[base_key])
        versus = "" if key == base_key else f"{(median / base - 1) * 100:+.1f}% time"
        lines.append(
            f"| {key} | {rs[0]['events']:,} | {median:.1f} ({min(seconds):.1f}–{max(seconds):.1f}) "
            f"| {statistics.median(r['events_per_second'] for r in rs):,.0f} | {versus} "
            f"| {_commits(rs)} "
            f"| {max(r['peak_rss_mb'] for r in rs):,.0f} MB |"
        )
    return "\n".join(lines)


def _commits(rs: list[dict[str, float]]) -> str:
    """Median commit count and time, and their share of the median run."""
    if any(r.get("commit_seconds") is None for r in rs):
        return "-"
    count = statistics.median(r["commits"] for r in rs)
    seconds = statistics.median(r["commit_seconds"] for r in rs)
    share = seconds / statistics.median(r["seconds"] for r in rs)
    return f"{count:.0f}, {seconds:.2f} s ({share:.1%})"


if __name__ == "__main__":
    main()
