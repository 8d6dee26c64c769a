"""Evaluate the detector on worlds it was not tuned on: styles x seeds.

    .venv/bin/python bench/eval_worlds.py [--styles saas,enterprise,dataplatform]
        [--seeds tuning|evaluation|N,...] [--days 14] [--scale 1] [--out DIR] [--jobs 2]

For each style and seed: ``sample_logs/worlds/make_world.py`` writes the world, then

    detector backfill W/AWSLogs W/s3-access-logs --lake L --config W/detector.toml --alerts A
    detector evaluate W/labels.json A --lake L --json R

run as the CLI a user runs. Prints a Markdown table per style (recall, false alerts, traps
notified, time to detect; mean and worst), the missed attacks and the detections behind the
false alerts; writes everything as JSON (``--json``). Only look at tuning seeds while tuning
(``sample_logs/worlds/seeds.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "sample_logs" / "worlds"))

from seeds import EVALUATION_SEEDS, STYLES, TUNING_SEEDS  # noqa: E402

from detector.evaluate import evaluate, load_alerts, load_labels  # noqa: E402

BIN = Path(sys.executable).parent
MAKE_WORLD = REPO / "sample_logs" / "worlds" / "make_world.py"
SEVERITIES = ("info", "low", "medium", "high", "critical")
MEDIUM = SEVERITIES.index("medium")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def seeds_of(spec: str) -> list[int]:
    if spec == "tuning":
        return list(TUNING_SEEDS)
    if spec == "evaluation":
        return list(EVALUATION_SEEDS)
    return [int(s) for s in spec.split(",") if s.strip()]


def run(cmd: list[str], log: Path) -> float:
    began = time.perf_counter()
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed ({done.returncode}); see {log}")
    return time.perf_counter() - began


def one(style: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Generate, backfill and evaluate one world; the per-world row."""
    base = Path(args.out) / f"{style}-{seed}"
    world, lake, alerts, report = (
        base / "world",
        base / "lake",
        base / "alerts.jsonl",
        base / "eval.json",
    )
    base.mkdir(parents=True, exist_ok=True)
    log = base / "run.log"
    log.write_text("")
    for p in (alerts, report):
        p.unlink(missing_ok=True)
    if lake.exists():
        subprocess.run(["rm", "-rf", str(lake)], check=True)
    gen = run(
        [
            sys.executable,
            str(MAKE_WORLD),
            "--style",
            style,
            "--seed",
            str(seed),
            "--days",
            str(args.days),
            "--scale",
            str(args.scale),
            "--out",
            str(world),
        ],
        log,
    )
    detector = str(BIN / "detector")
    backfill = run(
        [
            detector,
            "backfill",
            str(world / "AWSLogs"),
            str(world / "s3-access-logs"),
            "--lake",
            str(lake),
            "--config",
            str(world / "detector.toml"),
            "--alerts",
            str(alerts),
            "--no-progress",
            "--engine",
            args.engine,
        ],
        log,
    )
    run(
        [
            detector,
            "evaluate",
            str(world / "labels.json"),
            str(alerts),
            "--lake",
            str(lake),
            "--json",
            str(report),
        ],
        log,
    )
    result = json.loads(report.read_text())
    manifest = json.loads((world / "MANIFEST.json").read_text())
    scenarios = load_labels(world / "labels.json")
    every = load_alerts(alerts)
    false = [a for a in every if evaluate(scenarios, [a], 1)["false_alerts"]]
    traps = [s for s in result["scenarios"] if s["kind"] == "trap"]
    notified = [
        s for s in traps if s["best_severity"] and severity_rank(s["best_severity"]) >= MEDIUM
    ]
    return {
        "style": style,
        "seed": seed,
        "events": manifest["events"],
        "world_bytes": manifest["bytes"],
        "generate_s": round(gen, 1),
        "backfill_s": round(backfill, 1),
        "attacks": result["attacks"],
        "detected": result["detected"],
        "recall": result["recall"],
        "false_alerts": result["false_alerts"],
        "false_alerts_medium_or_higher": result["false_alerts_medium_or_higher"],
        "false_alerts_per_million_benign_events": result["false_alerts_per_million_benign_events"],
        "benign_events": result["benign_events"],
        "traps": len(traps),
        "traps_notified": len(notified),
        "traps_notified_ids": [s["id"] for s in notified],
        "median_time_to_detect_s": result["median_time_to_detect_s"],
        "missed": [
            {"id": s["id"], "capabilities": s["capabilities"], "best_severity": s["best_severity"]}
            for s in result["scenarios"]
            if s["kind"] == "attack" and not s["detected"]
        ],
        "capabilities_missed": result["capabilities_missed"],
        "false_alerts_by_detection": dict(
            Counter(f"{a['detection']} ({a['severity']})" for a in false).most_common()
        ),
    }


def minutes(s: float | None) -> str:
    return "-" if s is None else f"{s / 60:.0f} min"


def table(style: str, rows: list[dict[str, Any]]) -> str:
    out = [
        f"### {style}",
        "",
        "| seed | events | attacks detected | recall | false alerts ≥ medium | "
        "false alerts / M benign events | traps notified | median time to detect |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['seed']} | {r['events']:,} | {r['detected']}/{r['attacks']} | "
            f"{r['recall']:.0%} | {r['false_alerts_medium_or_higher']} | "
            f"{r['false_alerts_per_million_benign_events']:.1f} | "
            f"{r['traps_notified']}/{r['traps']} | {minutes(r['median_time_to_detect_s'])} |"
        )
    if rows:
        ttd = [
            r["median_time_to_detect_s"] for r in rows if r["median_time_to_detect_s"] is not None
        ]
        mean = {
            k: statistics.fmean(r[k] for r in rows)
            for k in (
                "events",
                "detected",
                "attacks",
                "recall",
                "false_alerts_medium_or_higher",
                "false_alerts_per_million_benign_events",
                "traps_notified",
                "traps",
            )
        }
        out.append(
            f"| mean | {mean['events']:,.0f} | {mean['detected']:.1f}/{mean['attacks']:.0f} | "
            f"{mean['recall']:.0%} | {mean['false_alerts_medium_or_higher']:.1f} | "
            f"{mean['false_alerts_per_million_benign_events']:.1f} | "
            f"{mean['traps_notified']:.1f}/{mean['traps']:.0f} | "
            f"{minutes(statistics.fmean(ttd) if ttd else None)} |"
        )
        worst = lambda k, f=max: f(r[k] for r in rows)  # noqa: E731
        out.append(
            f"| worst | - | - | {worst('recall', min):.0%} | "
            f"{worst('false_alerts_medium_or_higher')} | "
            f"{worst('false_alerts_per_million_benign_events'):.1f} | "
            f"{worst('traps_notified')} | {minutes(max(ttd) if ttd else None)} |"
        )
    missed = [
        f"seed {r['seed']}: {m['id']} ({','.join(m['capabilities'])}"
        f"{'; best ' + m['best_severity'] if m['best_severity'] else ''})"
        for r in rows
        for m in r["missed"]
    ]
    out += ["", "Missed attacks:" + ("" if missed else " none"), *(f"- {m}" for m in missed)]
    top: Counter[str] = Counter()
    for r in rows:
        top.update(r["false_alerts_by_detection"])
    out += [
        "",
        "Top false-alert detections: "
        + (", ".join(f"{k} ×{n}" for k, n in top.most_common(8)) or "none"),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--styles", default=",".join(STYLES))
    ap.add_argument("--seeds", default="tuning", help="tuning, evaluation or a list: 1,2,7")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--out",
        default=str(REPO / "bench" / "out" / "worlds"),
        help="worlds, lakes and alerts (default bench/out/worlds)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="worlds processed at once")
    ap.add_argument(
        "--engine", default="local", help="backfill's --engine: local, or ray (a cluster per run)"
    )
    ap.add_argument("--json", help="result file (default <out>/eval_worlds.json)")
    args = ap.parse_args(argv)
    styles = [s for s in args.styles.split(",") if s]
    unknown = set(styles) - set(STYLES)
    if unknown:
        ap.error(f"unknown styles: {', '.join(sorted(unknown))}")
    units = [(st, sd) for st in styles for sd in seeds_of(args.seeds)]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda u: one(u[0], u[1], args), units))
    by_style = {st: [r for r in rows if r["style"] == st] for st in styles}
    print(f"## Evaluation worlds: seeds {args.seeds}, {args.days} days, scale {args.scale}\n")
    for st, rs in by_style.items():
        print(table(st, rs))
    path = Path(args.json) if args.json else Path(args.out) / "eval_worlds.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "seeds": args.seeds,
                "days": args.days,
                "scale": args.scale,
                "seconds": round(time.perf_counter() - began, 1),
                "worlds": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
