"""The ``detector`` command: thin argument handling over the library.

    detector backfill SOURCE... --lake DIR     ingest local folders or s3:// prefixes
    detector demo                              backfill the bundled sample_logs/
    detector hunt --lake LAKE QUERY|NAME      SQL or a saved hunt over the lake (DuckDB)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console

from detector import __version__
from detector.alerts import write_jsonl
from detector.detect import DetectionRun, DetectOptions
from detector.errors import DetectorError, UsageError
from detector.hunt import command as hunt_command
from detector.ingest import DEFAULT_BATCH_MB, IngestOptions, backfill
from detector.lake import Lake
from detector.progress import RunProgress
from detector.report import (
    alert_counts,
    render_alerts,
    render_evaluation,
    render_findings,
    render_summary,
)
from detector.summary import RunSummary

SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
SAMPLE_SUBDIRS = ("AWSLogs", "s3-access-logs")
DEMO_NEXT = (
    "The bundled sample is one day with five attacks in its last hours (sample_logs/README.md). "
    "For the full picture, generate the labelled 16-day world (27 attacks, 6 benign traps) "
    "and score it:\n"
    "  python3 sample_logs/generate.py --out /tmp/eval --scenarios\n"
    "  detector backfill /tmp/eval/AWSLogs /tmp/eval/s3-access-logs --lake /tmp/eval-lake "
    "--config /tmp/eval/detector.toml --alerts /tmp/eval/alerts.jsonl\n"
    "  detector evaluate /tmp/eval/labels.json /tmp/eval/alerts.jsonl --lake /tmp/eval-lake"
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector",
        description="Streaming anomaly detector for Amazon S3 security logs "
        "(CloudTrail and S3 server access logs).",
    )
    parser.add_argument("--version", action="version", version=f"detector {__version__}")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level on stderr (default: WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bf = sub.add_parser(
        "backfill", help="ingest log objects from local paths or s3:// prefixes into the lake",
        description="Read CloudTrail logs (trail files, EventBridge envelopes, CloudWatch Logs "
        "payloads) and S3 server access logs from local files/folders or s3://bucket/prefix "
        "(standard AWS configuration; AWS_ENDPOINT_URL for S3-compatible endpoints), parse "
        "them into the canonical schema, write the Parquet lake, and detect (rules on events, "
        "per-principal baselines on windows; --no-detect to skip). Re-running skips objects "
        "already ingested; detection state carries over between runs. Exit status: 0 on "
        "success (rejects are reported, not fatal), 1 when nothing could be processed, 2 on a "
        "usage error.",
    )
    bf.add_argument("sources", nargs="+", metavar="SOURCE",
                    help="local file or folder (recursive), or s3://bucket/prefix")
    _add_run_options(bf, lake_required=True)
    bf.add_argument("--since", type=_day, help="skip objects whose key date is before this day")
    bf.add_argument("--until", type=_day, help="skip objects whose key date is after this day")
    bf.add_argument("--no-detect", action="store_true",
                    help="ingest only: write the lake and skip detection")
    _add_detect_options(bf)

    demo = sub.add_parser(
        "demo", help="backfill the bundled sample_logs/ and show what was found",
        description="Ingest the bundled sample logs into a lake (a temporary one unless "
        "--lake is given) and print the run summary and a few findings.",
    )
    demo.add_argument("--logs", type=Path, default=SAMPLE_LOGS,
                      help=f"sample log folder (default: {SAMPLE_LOGS})")
    _add_run_options(demo, lake_required=False)
    _add_detect_options(demo)

    ev = sub.add_parser(
        "evaluate", help="score alerts against a labelled scenario set",
        description="Per scenario: detected (an alert of medium or higher names its events), "
        "time to detect, detections; overall: recall, false alerts by severity, false alerts "
        "per million benign events. LABELS is the labels.json that "
        "sample_logs/generate.py --scenarios writes; ALERTS the JSON lines of --alerts.",
    )
    ev.add_argument("labels", type=Path, metavar="LABELS")
    ev.add_argument("alerts", type=Path, metavar="ALERTS")
    ev.add_argument("--lake", type=Path, help="count benign events in this lake")
    ev.add_argument("--benign-events", type=int, help="benign event count, if no --lake")
    ev.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON")
    hunt_command.add_parser(sub)
    return parser


def _add_detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="TOML",
                   help="detector settings: our accounts, log/website buckets, decoys, "
                   "threat-intel IP files, allowlists (see README)")
    p.add_argument("--model", default="default",
                   help="model definition: a name in models/ or a .toml path (default: default)")
    p.add_argument("--state", metavar="FILE",
                   help="state checkpoint, a file or s3://bucket/key (default: "
                   "<lake>/state/detector.state); a later run continues from it")
    p.add_argument("--alerts", metavar="FILE",
                   help="also write this run's alerts as JSON lines to FILE (- for stdout)")


def _add_run_options(p: argparse.ArgumentParser, lake_required: bool) -> None:
    p.add_argument("--lake", type=Path, required=lake_required,
                   help="lake directory (created if missing)")
    p.add_argument("--workers", type=_positive, default=1,
                   help="worker processes for parsing (default: 1)")
    p.add_argument("--batch-mb", type=_positive, default=DEFAULT_BATCH_MB,
                   help=f"target batch size in MB, gzip counted unzipped "
                   f"(default: {DEFAULT_BATCH_MB}); bounds memory")
    p.add_argument("--summary", type=Path, metavar="FILE",
                   help="also write the run summary as JSON to FILE")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or status lines")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    console = Console()
    try:
        if args.command == "backfill":
            return _backfill(args, args.sources, args.lake, console)
        if args.command == "demo":
            return _demo(args, console)
        if args.command == "evaluate":
            return _evaluate(args, console)
        if args.command == "hunt":
            return hunt_command.run(args, console)
    except UsageError as exc:
        print(f"detector: error: {exc}", file=sys.stderr)
        return 2
    except DetectorError as exc:
        print(f"detector: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


def _backfill(args: argparse.Namespace, sources: Sequence[str], lake: Path,
              console: Console) -> int:
    return _run(args, sources, lake, console).exit_code


def _run(args: argparse.Namespace, sources: Sequence[str], lake: Path,
         console: Console) -> RunSummary:
    options = IngestOptions(lake=lake, since=getattr(args, "since", None),
                            until=getattr(args, "until", None), workers=args.workers,
                            batch_bytes=args.batch_mb << 20)
    detection = None
    if not getattr(args, "no_detect", False):
        detection = DetectionRun.open(Lake(lake), DetectOptions(args.config, args.model,
                                                                args.state))
    with RunProgress(enabled=not args.no_progress) as progress:
        summary = backfill(sources, options, progress, detection)
    if detection is not None:
        alerts = detection.alerts()
        summary.alerts = alert_counts(alerts)
        if args.alerts:
            write_jsonl(alerts, args.alerts)
    render_summary(summary, console)
    if detection is not None:
        render_alerts(detection.alerts(), console)
    if args.summary:
        summary.write_json(args.summary)
    return summary


def _demo(args: argparse.Namespace, console: Console) -> int:
    logs: Path = args.logs
    sources = [str(logs / d) for d in SAMPLE_SUBDIRS if (logs / d).is_dir()]
    for name in ("demo.toml", "detector.toml"):
        if args.config is None and (logs / name).is_file():
            args.config = logs / name
    if not sources:
        raise UsageError(f"{logs}: no sample logs here (expected {', '.join(SAMPLE_SUBDIRS)}/); "
                         "regenerate them with: make sample-logs")
    if args.lake is not None:
        summary = _run(args, sources, args.lake, console)
        render_findings(args.lake, console)
        console.print(DEMO_NEXT, markup=False, highlight=False)
        return summary.exit_code
    with tempfile.TemporaryDirectory(prefix="detector-demo-") as tmp:
        summary = _run(args, sources, Path(tmp), console)
        render_findings(Path(tmp), console)
    console.print(DEMO_NEXT, markup=False, highlight=False)
    return summary.exit_code


def _evaluate(args: argparse.Namespace, console: Console) -> int:
    from detector.evaluate import evaluate, load_alerts, load_labels
    from detector.lake import read_events

    scenarios = load_labels(args.labels)
    alerts = load_alerts(args.alerts)
    if args.lake is not None:
        ids = read_events(args.lake).select(["event_id", "request_id"]).to_pylist()
        attack = set().union(*(s.ids for s in scenarios if s.kind == "attack"))
        benign = sum(1 for r in ids if (r["event_id"] or r["request_id"]) not in attack)
    elif args.benign_events is not None:
        benign = args.benign_events
    else:
        raise UsageError("give --lake (to count benign events) or --benign-events N")
    result = evaluate(scenarios, alerts, benign)
    render_evaluation(result, console)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
