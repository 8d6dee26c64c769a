"""Ingest benchmark: backfill throughput and peak memory against the floor of the work.

    python bench/ingest_bench.py [--events 1000000] [--lines 1000000] [--out bench/out]
                                 [--world-style enterprise --world-days 28 --world-scale 3.6]
                                 [--only LABEL-PART]

Generates (once, cached under bench/data/) a delivery-shaped world (sample_logs/worlds: one
CloudTrail object per account, region and ~5 minutes, access logs in many small objects;
about 1M events in 60k objects by default), 1M CloudTrail events as ~200 large gzipped
files, the same volume as CloudTrail really delivers it (one small file per account/region
per 5 minutes), and 1M access-log lines in large files. For each set it measures:

* the floor: gunzip + ``orjson.loads`` of the CloudTrail files, or read + line split of the
  access logs, doing nothing else, in this process (the faster of two runs: warm cache);
* ``detector backfill --no-detect`` into a fresh lake, as a child process, with one worker and
  with two; events/s from the run's own summary and peak RSS from the kernel (wait4).

Results go to bench/results/ingest.json and a Markdown table on stdout (pasted in
bench/README.md); lakes are written under --out and removed after each run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
GENERATOR = REPO / "sample_logs" / "generate.py"
WORLDS = REPO / "sample_logs" / "worlds" / "make_world.py"
RESULTS = REPO / "bench" / "results"


def generate(name: str, args: list[str]) -> Path:
    out = DATA / name
    if (out / "MANIFEST.json").exists():
        return out
    print(f"generating {name} …", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out), "--no-digest", *args], check=True
    )
    return out


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.json")


def warm(floor: Callable[[Path], dict[str, float]]) -> Callable[[Path], dict[str, float]]:
    """The faster of two runs: the first may read from disk, the backfills read from the page
    cache (a floor measured cold made backfill look faster than it is)."""

    def best(root: Path) -> dict[str, float]:
        return min((floor(root) for _ in range(2)), key=lambda r: r["seconds"])

    return best


@warm
def floor_cloudtrail(root: Path) -> dict[str, float]:
    files = [
        p
        for p in files_under(root)
        if p.name.endswith(".json.gz") and "CloudTrail-Digest" not in str(p)
    ]
    started = time.perf_counter()
    events = 0
    for path in files:
        events += len(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    seconds = time.perf_counter() - started
    return {
        "events": events,
        "files": len(files),
        "seconds": seconds,
        "events_per_second": events / seconds,
    }


@warm
def floor_access(root: Path) -> dict[str, float]:
    files = files_under(root)
    started = time.perf_counter()
    lines = 0
    for path in files:
        lines += len(path.read_bytes().splitlines())
    seconds = time.perf_counter() - started
    return {
        "events": lines,
        "files": len(files),
        "seconds": seconds,
        "events_per_second": lines / seconds,
    }


def floor_both(root: Path) -> dict[str, float]:
    """Both floors over a world's two log trees: their events over their summed time."""
    ct, ac = floor_cloudtrail(root / "AWSLogs"), floor_access(root / "s3-access-logs")
    events, seconds = ct["events"] + ac["events"], ct["seconds"] + ac["seconds"]
    return {
        "events": events,
        "files": ct["files"] + ac["files"],
        "seconds": seconds,
        "events_per_second": events / seconds,
    }


def world(name: str, args: list[str]) -> Path:
    """A world of sample_logs/worlds: objects as AWS delivers them (cached)."""
    out = DATA / name
    if (out / "labels.json").exists():
        return out
    print(f"generating {name} …", file=sys.stderr)
    subprocess.run([sys.executable, str(WORLDS), "--out", str(out), *args], check=True)
    return out


def alternate(
    rounds: int,
    configs: dict[str, tuple[str, ...]],
    run: Callable[[bool, tuple[str, ...]], dict[str, float] | None],
) -> dict[str, list[dict[str, float]]]:
    """Each config (extra backfill arguments), ingest only and with detection, in turn,
    ``rounds`` times: a machine slowing down mid-session weighs on every config alike."""
    runs: dict[str, list[dict[str, float]]] = {}
    for n in range(rounds):
        for detect in (False, True):
            for name, extra in configs.items():
                r = run(detect, extra)
                if r is None:  # a config that needs detection
                    continue
                key = f"{name}{' + detection' if detect else ''}"
                runs.setdefault(key, []).append(r)
                seconds = r.get("seconds", r.get("wall_seconds", 0.0))
                print(
                    f"round {n + 1} {key}: {seconds:.1f} s, {r['events_per_second']:,.0f} events/s",
                    file=sys.stderr,
                )
    return runs


def save_runs(file: str, runs: dict[str, list[dict[str, float]]]) -> None:
    """A benchmark's runs, with the command that made them, in bench/results/``file``."""
    command = f"python bench/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / file).write_text(json.dumps({"command": command, "runs": runs}, indent=2) + "\n")


def delivery_world() -> list[Path]:
    """The delivery-shaped enterprise world (~1M events in ~57k objects): its two log trees."""
    delivered = world(
        "world-enterprise-28d-x3.6",
        ["--style", "enterprise", "--seed", "7", "--days", "28", "--scale", "3.6"],
    )
    return [delivered / "AWSLogs", delivered / "s3-access-logs"]


def backfill(
    sources: list[Path],
    workers: int,
    out: Path,
    detect: bool = False,
    extra: tuple[str, ...] = (),
) -> dict[str, float]:
    name = "-".join(p.name for p in sources) + "-" + sources[0].parent.name
    lake = out / f"lake-{name}-{workers}{'-detect' if detect else ''}"
    shutil.rmtree(lake, ignore_errors=True)
    summary = out / f"summary-{name}-{workers}.json"
    cmd = [
        str(Path(sys.executable).with_name("detector")),
        "backfill",
        *map(str, sources),
        "--lake",
        str(lake),
        "--no-progress",
        "--workers",
        str(workers),
        "--summary",
        str(summary),
        *([] if detect else ["--no-detect"]),
        *extra,
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"backfill failed: {' '.join(cmd)}")
    s = json.loads(summary.read_text())
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "events": s["events"]["total"],
        "rejects": sum(r["rejects"] for r in s["rejects"].values()),
        "seconds": s["seconds"],
        "wall_seconds": wall,
        "events_per_second": s["events_per_second"],
        "commits": s.get("lake_commits", {}).get("count"),
        "commit_seconds": s.get("lake_commits", {}).get("seconds"),
        # wait4 reports the largest RSS of the child and of the workers it reaped.
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--world-style", default="enterprise")
    ap.add_argument("--world-days", type=int, default=28)
    ap.add_argument("--world-scale", type=float, default=3.6)
    ap.add_argument("--only", default="", help="run only the sets whose label contains this")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    n, m = str(args.events), str(args.lines)
    large = generate(
        f"ct-large-{n}",
        ["--cloudtrail-events", n, "--access-lines", "0", "--large-files", "5000", "--days", "7"],
    )
    small = generate(
        f"ct-delivery-{n}", ["--cloudtrail-events", n, "--access-lines", "0", "--days", "7"]
    )
    access = generate(
        f"access-{m}", ["--cloudtrail-events", "0", "--access-lines", m, "--days", "7"]
    )
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "command": "python bench/ingest_bench.py " + " ".join(sys.argv[1:]),
    }
    delivered = world(
        f"world-{args.world_style}-{args.world_days}d-x{args.world_scale}",
        ["--style", args.world_style, "--seed", "7", "--days", str(args.world_days),
         "--scale", str(args.world_scale)],
    )  # fmt: skip
    shaped = f"{args.world_style} world, {args.world_days} days"
    rows = []
    for label, roots, floor in (
        (f"Delivery-shaped ({shaped}): CloudTrail", [delivered / "AWSLogs"], floor_cloudtrail),
        (
            f"Delivery-shaped ({shaped}): access logs",
            [delivered / "s3-access-logs"],
            floor_access,
        ),
        (
            f"Delivery-shaped ({shaped}): both",
            [delivered / "AWSLogs", delivered / "s3-access-logs"],
            lambda _: floor_both(delivered),
        ),
        ("CloudTrail, ~200 large files", [large / "AWSLogs"], floor_cloudtrail),
        ("CloudTrail, delivery-sized files", [small / "AWSLogs"], floor_cloudtrail),
        ("S3 access logs, large files", [access / "s3-access-logs"], floor_access),
    ):
        if args.only and args.only not in label:
            continue
        base = floor(roots[0])
        one = backfill(roots, 1, args.out)
        two = backfill(roots, 2, args.out)
        detect = backfill(roots, 1, args.out, detect=True)
        rows.append(
            {"set": label, "floor": base, "workers_1": one, "workers_2": two, "detect_1": detect}
        )
        print(
            f"{label}: floor {base['events_per_second']:,.0f}/s, 1 worker "
            f"{one['events_per_second']:,.0f}/s, 2 workers {two['events_per_second']:,.0f}/s",
            file=sys.stderr,
        )
    results["rows"] = rows
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = [
        "| input | events | files | floor events/s | backfill 1 process events/s "
        "(× floor) | peak RSS | backfill 2 workers events/s (× floor) | peak RSS "
        "| with detection, 1 process events/s (× ingest-only) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        f, a, b, d = r["floor"], r["workers_1"], r["workers_2"], r["detect_1"]
        base = f["events_per_second"]
        one, two, det = a["events_per_second"], b["events_per_second"], d["events_per_second"]
        lines.append(
            f"| {r['set']} | {a['events']:,} | {f['files']:,} | {base:,.0f} "
            f"| {one:,.0f} ({one / base:.2f}×) | {a['peak_rss_mb']:,.0f} MB "
            f"| {two:,.0f} ({two / base:.2f}×) | {b['peak_rss_mb']:,.0f} MB "
            f"| {det:,.0f} ({det / one:.2f}×) | {d['peak_rss_mb']:,.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
