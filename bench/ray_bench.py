"""What ``--engine ray`` costs and gives: one process against Ray tasks, same input.

    python bench/ray_bench.py [--rounds 1]

The delivery-shaped world of ``bench/lake_format_bench.py`` (~1M events in ~57k objects),
backfilled into a fresh Iceberg lake by one process, and with ``--engine ray`` on a Ray
cluster started on this machine with 1 and with 2 worker CPUs; ingest only and with
detection. CPU is the whole machine's (user + system from /proc/stat over the run), so
Ray's own daemons (GCS, raylet, workers' start-up) are counted: run it on an idle machine.
Memory is the peak, sampled every 0.25 s, of the PSS summed over the run's process tree
(the driver and, on Ray, the cluster it started). The sampling itself costs a little CPU,
alike in every run. Results go to bench/results/ray.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import REPO, alternate, delivery_world, save_runs

TICKS = os.sysconf("SC_CLK_TCK")
RAY2 = ("--engine", "ray", "--workers", "2")
CONFIGS = {
    "one process": ("--engine", "local"),
    "ray, 1 worker CPU": ("--engine", "ray", "--workers", "1"),
    "ray, 2 worker CPUs": ("--engine", "ray", "--workers", "2"),
    "ray, 2 worker CPUs, 1 partition actor": (*RAY2, "--partitions", "1"),
    "ray, 2 worker CPUs, 2 partition actors": (*RAY2, "--partitions", "2"),
}
"""Partition actors hold detection state: those configs run with detection only."""


def machine_cpu_seconds() -> float:
    """User + system time of every CPU since boot (the first line of /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system = (int(x) for x in fields[:3])
    irq, softirq = int(fields[5]), int(fields[6])
    return (user + nice + system + irq + softirq) / TICKS


def process_cpu_seconds(pid: int) -> float:
    """User + system time of one process so far (the driver alone, not its cluster); 0
    once it is gone (sampled while it runs, so the last 0.25 s are missed)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_pss_mb(root: int) -> float:
    """Memory of ``root`` and all its descendants (Ray's GCS, raylet and workers started by
    the run): the sum of their PSS, which shares each shared page (the object store) out
    among its users instead of counting it in every one."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    kb = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        kb += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return kb / 1024


def run(
    sources: list[Path], out: Path, detect: bool, extra: tuple[str, ...]
) -> dict[str, float] | None:
    if "--partitions" in extra and not detect:
        return None
    lake, summary = out / "ray-bench-lake", out / "ray-bench-summary.json"
    shutil.rmtree(lake, ignore_errors=True)
    cmd = [str(Path(sys.executable).with_name("detector")), "backfill", *map(str, sources)]
    cmd += ["--lake", str(lake), "--no-progress", "--summary", str(summary), *extra]
    cmd += [] if detect else ["--no-detect"]
    cpu, started = machine_cpu_seconds(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = driver = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_pss_mb(proc.pid))
        driver = max(driver, process_cpu_seconds(proc.pid))
        time.sleep(0.25)
    if proc.returncode != 0:
        raise SystemExit(f"backfill failed: {' '.join(cmd)}")
    wall, cpu = time.perf_counter() - started, machine_cpu_seconds() - cpu
    s = json.loads(summary.read_text())
    shutil.rmtree(lake, ignore_errors=True)
    commits = s.get("lake_commits", {})
    return {
        "partitions": s.get("partitions"),
        "events": s["events"]["total"],
        "batches": s["batches"],
        "wall_seconds": wall,
        "events_per_second": s["events"]["total"] / wall,
        "cpu_seconds": cpu,
        "driver_cpu_seconds": driver,
        "peak_tree_pss_mb": peak,
        "commits": commits.get("count", 0),
        "commit_seconds": commits.get("seconds", 0.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--only", help="run only the configs whose name contains this text")
    args = ap.parse_args()
    configs = {k: v for k, v in CONFIGS.items() if args.only is None or args.only in k}
    if args.only is not None:
        configs.setdefault("one process", CONFIGS["one process"])  # the ratios' base
    args.out.mkdir(parents=True, exist_ok=True)
    sources = delivery_world()
    runs = alternate(
        args.rounds, configs, lambda detect, extra: run(sources, args.out, detect, extra)
    )
    save_runs("ray.json", runs)
    print(markdown(runs))


def markdown(runs: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| run | events | wall s | events/s | machine CPU-s | CPU × one process "
        "| driver CPU-s | peak memory (PSS, MB) | commits (s) | commit ms per batch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, rs in runs.items():
        r = min(rs, key=lambda x: x["wall_seconds"])
        base_key = "one process" + (" + detection" if "detection" in key else "")
        if base_key not in runs:
            continue
        base = min(runs[base_key], key=lambda x: x["wall_seconds"])
        lines.append(
            f"| {key} | {r['events']:,} | {r['wall_seconds']:.1f} | "
            f"{r['events_per_second']:,.0f} | {r['cpu_seconds']:.1f} | "
            f"{r['cpu_seconds'] / base['cpu_seconds']:.2f} | "
            f"{r.get('driver_cpu_seconds', 0.0):.1f} | {r['peak_tree_pss_mb']:,.0f} | "
            f"{r['commits']} ({r['commit_seconds']:.2f}) | "
            f"{1000 * r['commit_seconds'] / max(r['batches'], 1):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
