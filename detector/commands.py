"""What each ``detector`` command does once its arguments are parsed: the library calls,
progress and summaries. Kept apart from ``detector.cli`` so that parsing arguments (and
``detector --help``) imports none of the heavy libraries (Arrow, polars, DuckDB, boto3).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from detector.alerts import write_jsonl
from detector.defaults import (
    DEFAULT_BATCH_MB,
    DEFAULT_CHECKPOINT_SECONDS,
    DEFAULT_MAX_OBJECT_MB,
)
from detector.errors import UsageError
from detector.ingest import IngestOptions, backfill
from detector.interrupts import StopRequest
from detector.lakes import GROUP_BATCHES, open_lake
from detector.logsetup import setup_logging
from detector.pipeline import Pipeline, SinkSpec, load_pipeline, parse_timestamp, validate
from detector.progress import RunProgress
from detector.report import (
    alert_counts,
    render_alerts,
    render_evaluation,
    render_findings,
    render_summary,
)
from detector.runner import close_detection, open_detection, preflight
from detector.sinks import parse_sink_spec
from detector.summary import RunSummary
from detector.terminal import visible

SAMPLE_SUBDIRS = ("AWSLogs", "s3-access-logs")
DRAIN_SECONDS = 30.0
"""How long a backfill waits at its end for the sinks to deliver its alerts."""
DEMO_NEXT = (
    "The bundled sample is one day with five attacks in its last hours (sample_logs/README.md). "
    "For the full picture, generate the labelled 16-day world (27 attacks, 6 benign traps) "
    "and score it:\n"
    "  python3 sample_logs/generate.py --out /tmp/eval --scenarios\n"
    "  detector backfill /tmp/eval/AWSLogs /tmp/eval/s3-access-logs --lake /tmp/eval-lake "
    "--config /tmp/eval/detector.toml --alerts /tmp/eval/alerts.jsonl\n"
    "  detector evaluate /tmp/eval/labels.json /tmp/eval/alerts.jsonl --lake /tmp/eval-lake"
)


def pipeline_from_args(args: argparse.Namespace, sources: Sequence[str] = ()) -> Pipeline:
    """The command line's pipeline (the same structure a pipeline file gives)."""
    kind = "backfill" if args.command in ("backfill", "demo") else args.stream_kind
    p = Pipeline(
        kind=kind,
        lake=args.lake,
        lake_format=getattr(args, "lake_format", None),
        commit_batches=getattr(args, "commit_batches", GROUP_BATCHES),
        catalog=getattr(args, "catalog", None),
        catalog_uri=getattr(args, "catalog_uri", None),
        sources=list(sources),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        workers=getattr(args, "workers", 1),
        engine=getattr(args, "engine", "local"),
        ray_address=getattr(args, "ray_address", None),
        consumers=getattr(args, "consumers", 1),
        partitions=getattr(args, "partitions", None) or 0,
        batch_mb=getattr(args, "batch_mb", DEFAULT_BATCH_MB),
        max_object_mb=getattr(args, "max_object_mb", DEFAULT_MAX_OBJECT_MB),
        queue_url=getattr(args, "queue_url", None),
        wait_seconds=getattr(args, "wait", 20),
        batch_messages=getattr(args, "batch_messages", 100),
        max_receives=getattr(args, "max_receives", 5),
        visibility_timeout=getattr(args, "visibility_timeout", None),
        stream=getattr(args, "stream", None),
        start=getattr(args, "start", "trim-horizon"),
        start_timestamp=parse_timestamp(args.start_timestamp, "--timestamp")
        if getattr(args, "start_timestamp", None)
        else None,
        detect=not getattr(args, "no_detect", False),
        config=args.config,
        model=args.model,
        state=args.state,
        checkpoint_seconds=getattr(args, "checkpoint_seconds", DEFAULT_CHECKPOINT_SECONDS),
        sinks=[
            _sink_spec(s, getattr(args, "min_severity", "low")) for s in getattr(args, "sink", [])
        ],
        metrics_port=getattr(args, "metrics_port", None),
        status_seconds=getattr(args, "status_seconds", 30.0),
        until_idle=getattr(args, "until_idle", None),
        log_format=args.log_format,
    )
    validate(p, "command line")
    return p


def _sink_spec(text: str, min_severity: str) -> SinkSpec:
    kind, sep, value = text.partition("=")
    if not sep:
        parse_sink_spec(text)  # raises the one clear error for a malformed spec
    return SinkSpec(kind.strip().lower(), value, min_severity)


def backfill_command(
    args: argparse.Namespace, sources: Sequence[str], lake: Path, console: Console
) -> int:
    return _run(args, sources, lake, console).exit_code


def _run(
    args: argparse.Namespace,
    sources: Sequence[str],
    lake: Path,
    console: Console,
    kept: bool = True,
) -> RunSummary:
    args.lake = lake
    pipeline = pipeline_from_args(args, sources)
    return run_backfill(
        pipeline, console, not args.no_progress, args.alerts, args.summary, kept_lake=kept
    )


def run_backfill(
    p: Pipeline,
    console: Console,
    progress_bar: bool,
    alerts_file: str | None = None,
    summary_file: Path | None = None,
    kept_lake: bool = True,
) -> RunSummary:
    """``kept_lake=False``: the lake is removed after the run (the default demo), so the
    alerts are not pointed at it for triage."""
    options = IngestOptions(
        lake=p.lake,
        since=p.since,
        until=p.until,
        workers=p.workers,
        engine=p.engine,
        ray_address=p.ray_address,
        batch_bytes=p.batch_mb << 20,
        max_object_bytes=p.max_object_mb << 20,
        lake_format=p.lake_format,
    )
    preflight(p)
    lake = open_lake(p.lake, p.lake_format, p.catalog_choice, p.commit_batches)
    detection = open_detection(p, lake)
    stop = StopRequest().install()
    try:
        with RunProgress(enabled=progress_bar) as progress:
            summary = backfill(p.sources, options, progress, detection, stop, lake)
    finally:
        stop.uninstall()
        delivery = close_detection(detection, DRAIN_SECONDS)
    if detection is not None:
        alerts = detection.alerts()
        summary.alerts = alert_counts(detection.signals())
        summary.detection_errors = dict(detection.engine.stats.errors)
        summary.partitions = detection.partition_counts()
        if alerts_file:
            write_jsonl(alerts, alerts_file)
    if summary_file:
        summary.write_json(summary_file)
    render_summary(summary, console)
    if detection is not None:
        render_alerts(detection.alerts(), console, p.lake if kept_lake else None, alerts_file)
    _report_delivery(delivery)
    _report_stop(summary)
    return summary


def _report_stop(summary: RunSummary) -> None:
    """One line on stderr when the run ended early, saying what happens to the rest."""
    if summary.interrupted:
        print(
            f"detector: interrupted; {summary.objects_not_ingested:,} object(s) not "
            "ingested are read on the next run",
            file=sys.stderr,
        )
    elif summary.stopped:
        print(
            f"detector: stopped: {visible(summary.stopped)}; "
            f"{summary.objects_not_ingested:,} object(s) not ingested are read again on the "
            "next run",
            file=sys.stderr,
        )


def _report_delivery(status: dict[str, dict[str, object]]) -> None:
    for sink in status.values():
        if sink["pending"] or sink["dead_lettered"]:
            print(
                f"detector: sink {sink['label']}: {sink['delivered']} delivered, "
                f"{sink['pending']} still queued (sent on the next run), "
                f"{sink['dead_lettered']} dead-lettered",
                file=sys.stderr,
            )


def tail(
    p: Pipeline, console: Console, alerts_file: str | None = None, summary_file: Path | None = None
) -> int:
    from detector.runner import run_tail

    summary, metrics, alerts = run_tail(p)
    if alerts_file:
        write_jsonl(alerts, alerts_file)
    if summary_file:
        summary.write_json(summary_file)
    render_summary(summary, console)
    console.print(metrics.status_line("tail"), markup=False, highlight=False)
    return 128 + signal.SIGINT if summary.interrupted == signal.SIGINT else 0


def run_file(args: argparse.Namespace, console: Console) -> int:
    p = load_pipeline(args.pipeline)
    if args.until_idle is not None:
        p.until_idle = args.until_idle
    if p.log_format == "json" and args.log_format != "json":
        args.log_format = "json"
        setup_logging(args)
    if p.kind == "backfill":
        return run_backfill(p, console, not args.no_progress).exit_code
    return tail(p, console)


def demo(args: argparse.Namespace, console: Console) -> int:
    logs: Path = args.logs
    sources = [str(logs / d) for d in SAMPLE_SUBDIRS if (logs / d).is_dir()]
    for name in ("demo.toml", "detector.toml"):
        if args.config is None and (logs / name).is_file():
            args.config = logs / name
    if not sources:
        raise UsageError(
            f"{logs}: no sample logs here (expected {', '.join(SAMPLE_SUBDIRS)}/); "
            "regenerate them with: make sample-logs"
        )
    if args.lake is not None:
        summary = _run(args, sources, args.lake, console)
        render_findings(args.lake, console)
        console.print(DEMO_NEXT, markup=False, highlight=False)
        return summary.exit_code
    with tempfile.TemporaryDirectory(prefix="detector-demo-") as tmp:
        summary = _run(args, sources, Path(tmp), console, kept=False)
        render_findings(Path(tmp), console)
    console.print(
        "This demo's lake was temporary and is gone. To triage these alerts and hunt in it, "
        "keep it: detector demo --lake ./demo-lake, then detector alerts list --lake "
        "./demo-lake",
        markup=False,
        highlight=False,
    )
    console.print(DEMO_NEXT, markup=False, highlight=False)
    return summary.exit_code


def evaluate(args: argparse.Namespace, console: Console) -> int:
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
