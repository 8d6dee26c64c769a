"""The ``detector`` command: thin argument handling over the library.

detector backfill SOURCE... --lake DIR     ingest local folders or s3:// prefixes
detector tail sqs --queue-url URL ...      follow S3 notifications on a queue
detector tail kinesis --stream NAME ...    follow CloudTrail events on a stream
detector run PIPELINE.toml                 run a pipeline file (pipelines/)
detector demo                              backfill the bundled sample_logs/
detector hunt --lake LAKE QUERY|NAME      SQL or a saved hunt over the lake (DuckDB)
detector evaluate LABELS ALERTS            score alerts against labelled scenarios
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from detector import __version__
from detector.defaults import (
    DEFAULT_BATCH_MB,
    DEFAULT_CHECKPOINT_SECONDS,
    DEFAULT_MAX_OBJECT_MB,
    ENGINES,
    NO_REGION,
)
from detector.errors import DetectorError, InfrastructureError, UsageError
from detector.lakes import FORMATS, GROUP_BATCHES, lake_location
from detector.logsetup import setup_logging
from detector.resources import resource_dir
from detector.terminal import PipeConsole, visible

SAMPLE_LOGS = resource_dir("sample_logs")


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
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level on stderr (default: WARNING; tail: INFO)",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="log lines as text or as JSON objects (default: text)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    bf = sub.add_parser(
        "backfill",
        help="ingest log objects from local paths or s3:// prefixes into the lake",
        description="Read CloudTrail logs (trail files, EventBridge envelopes, CloudWatch Logs "
        "payloads) and S3 server access logs from local files/folders or s3://bucket/prefix "
        "(standard AWS configuration; AWS_ENDPOINT_URL for S3-compatible endpoints), parse "
        "them into the canonical schema, write the lake (Iceberg tables), and detect (rules "
        "on events, per-principal baselines on windows; --no-detect to skip). Re-running "
        "skips objects already ingested; detection state carries over between runs. Ctrl-C "
        "finishes the batch in hand (twice: abandons it). Exit status: 0 on success (rejects are "
        "reported, not fatal), 1 when nothing could be processed, 2 on a usage error, 3 when "
        "our own machine failed (disk full, I/O error: the rest is read again next time), "
        "130 after Ctrl-C.",
    )
    bf.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="local file or folder (recursive), or s3://bucket/prefix",
    )
    _add_run_options(bf, lake_required=True)
    _add_engine_options(
        bf,
        "local (this machine, with --workers processes; the default) or ray (tasks on a "
        "Ray cluster; needs pip install '.[ray]'). This process still commits and detects, "
        "in the same order, so the lake and the alerts are the same either way",
        "--workers",
    )
    bf.add_argument("--since", type=_day, help="skip objects whose key date is before this day")
    bf.add_argument("--until", type=_day, help="skip objects whose key date is after this day")
    bf.add_argument(
        "--no-detect", action="store_true", help="ingest only: write the lake and skip detection"
    )
    _add_detect_options(bf)
    _add_sink_options(bf)

    tail = sub.add_parser(
        "tail",
        help="run continuously on a queue of S3 notifications or a Kinesis stream",
        description="Follow new log objects (SQS) or CloudTrail events (Kinesis) as they "
        "arrive, with the same parsing, lake and detection as backfill. The state and the "
        "stream positions are checkpointed in the lake; SIGTERM/SIGINT finish the batch in "
        "hand, checkpoint and exit 0; a restart continues where it stopped, losing no event "
        "and repeating no alert. Exit status: 0 when stopped by SIGTERM or --until-idle, "
        "130 after Ctrl-C, 2 on a usage error, 1 when the source cannot be reached.",
    )
    tail_sub = tail.add_subparsers(dest="stream_kind", required=True, metavar="SOURCE")
    sqs = tail_sub.add_parser(
        "sqs",
        help="S3 event notifications (direct, via SNS, CloudTrail's, EventBridge's)",
        description="Long-poll an SQS queue of notifications that log objects landed: S3 "
        "event notifications (direct or wrapped in SNS), CloudTrail's SNS notification, "
        "EventBridge 'Object Created' events; s3:TestEvent is ignored. Objects are fetched "
        "from S3; a message is deleted only after its events are committed to the lake and "
        "its alerts are queued for the sinks. Poison messages and missing objects are "
        "quarantined and deleted; objects that cannot be read are retried until the "
        "queue's redrive policy (or --max-receives) gives up on them.",
    )
    sqs.add_argument("--queue-url", required=True, help="the queue's URL")
    sqs.add_argument(
        "--wait", type=int, default=20, metavar="SECONDS", help="long-poll wait, 0-20 (default: 20)"
    )
    sqs.add_argument(
        "--batch-messages",
        type=_positive,
        default=100,
        metavar="N",
        help="messages taken per batch at most (default: 100)",
    )
    sqs.add_argument(
        "--visibility-timeout",
        type=_positive,
        metavar="SECONDS",
        help="visibility timeout for received messages (default: the queue's); "
        "extended while a batch is worked on",
    )
    _add_engine_options(
        sqs,
        "local (this process; the default) or ray (--consumers actors on a Ray cluster "
        "poll the queue, fetch, parse and write; needs pip install '.[ray]'). This process "
        "still commits, detects and has messages deleted only after the commit",
        "--consumers",
    )
    sqs.add_argument(
        "--consumers",
        type=_positive,
        default=1,
        metavar="N",
        help="with --engine ray: consumer actors polling the queue (default: 1)",
    )
    sqs.add_argument(
        "--max-receives",
        type=_positive,
        default=5,
        metavar="N",
        help="without a redrive policy, quarantine and delete a message that "
        "failed this many times (default: 5)",
    )
    kin = tail_sub.add_parser(
        "kinesis",
        help="CloudTrail events as EventBridge envelopes or CloudWatch Logs payloads",
        description="Read every shard of a Kinesis data stream (following splits and "
        "merges, parents before children). Records are EventBridge envelopes of CloudTrail "
        "events or gzipped CloudWatch Logs subscription payloads. Shard positions are "
        "committed with each batch; a restart continues after them. --from applies to the "
        "first start only (no committed position for the stream); later, a shard without a "
        "position (a new one) is read from its start, so nothing that arrived while the "
        "tail was down is skipped.",
    )
    kin.add_argument("--stream", required=True, help="stream name or ARN")
    kin.add_argument(
        "--from",
        dest="start",
        choices=["trim-horizon", "latest", "timestamp"],
        default="trim-horizon",
        help="where the first start begins (default: trim-horizon)",
    )
    kin.add_argument(
        "--timestamp",
        dest="start_timestamp",
        metavar="ISO8601",
        help="with --from timestamp: the first arrival time to read",
    )
    _add_engine_options(
        kin,
        "local (this process; the default) or ray (--consumers actors on a Ray cluster "
        "share the shards, each read by one of them, and fetch, parse and write; needs "
        "pip install '.[ray]'). This process still commits and detects, and a consumer's "
        "shard positions count only once committed",
        "--consumers",
    )
    kin.add_argument(
        "--consumers",
        type=_positive,
        default=1,
        metavar="N",
        help="with --engine ray: consumer actors sharing the shards (default: 1)",
    )
    for p in (sqs, kin):
        _add_lake_options(p, required=True)
        p.add_argument(
            "--until-idle",
            type=float,
            metavar="SECONDS",
            help="stop once nothing has arrived for this long, closing every "
            "window first (batch jobs, tests); default: run until signalled",
        )
        p.add_argument(
            "--no-detect",
            action="store_true",
            help="ingest only: write the lake and skip detection",
        )
        _add_detect_options(p)
        _add_sink_options(p)
        _add_ops_options(p)
        _add_max_object_option(p)
        _add_summary_option(p)

    run = sub.add_parser(
        "run",
        help="run a pipeline file (see pipelines/)",
        description="Run a pipeline definition: a backfill over S3 prefixes or local "
        "folders, an SQS tail or a Kinesis tail, with its lake, detection settings, sinks "
        "(routed by severity and detection) and metrics. Secrets such as Slack webhook URLs "
        "come from the environment (env:VAR) or a file (file:/path), never from the file.",
    )
    run.add_argument("pipeline", type=Path, metavar="PIPELINE", help="a pipeline .toml file")
    run.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="tails: stop once nothing has arrived for this long",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    demo = sub.add_parser(
        "demo",
        help="backfill the bundled sample_logs/ and show what was found",
        description="Ingest the bundled sample logs into a lake (a temporary one unless "
        "--lake is given) and print the run summary and a few findings.",
    )
    demo.add_argument(
        "--logs", type=Path, default=SAMPLE_LOGS, help=f"sample log folder (default: {SAMPLE_LOGS})"
    )
    _add_run_options(demo, lake_required=False)
    _add_detect_options(demo)

    ev = sub.add_parser(
        "evaluate",
        help="score alerts against a labelled scenario set",
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
    from detector import (
        alerts_command,
        check_command,
        detections_command,
        discover_command,
        lake_command,
        report_command,
    )
    from detector.hunt import command as hunt_command

    hunt_command.add_parser(sub)
    discover_command.add_parser(sub)
    lake_command.add_parser(sub)
    alerts_command.add_parser(sub)
    report_command.add_parser(sub)
    detections_command.add_parser(sub)
    check_command.add_parser(sub)
    return parser


def _add_detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        metavar="TOML",
        help="detector settings: our accounts, log/website buckets, decoys, "
        "threat-intel IP files, allowlists (see README)",
    )
    p.add_argument(
        "--model",
        default="default",
        help="model definition: a name in models/ or a .toml path (default: default)",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="state checkpoint, a file or s3://bucket/key (default: "
        "<lake>/state/detector.state); a later run continues from it",
    )
    p.add_argument(
        "--alerts",
        metavar="FILE",
        help="also write this run's alerts as JSON lines to FILE (- for stdout)",
    )


def _add_sink_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sink",
        action="append",
        default=[],
        metavar="KIND=VALUE",
        help="send alerts to slack=<webhook URL | env:VAR | file:PATH>, "
        "sns=<topic ARN> or jsonl=<path or ->; repeatable. Delivery is durable "
        "(queued in <lake>/_delivery/, retried, never blocking the pipeline)",
    )
    p.add_argument(
        "--min-severity",
        default="low",
        choices=["low", "medium", "high", "critical"],
        help="send only alerts of at least this severity to --sink (default: low)",
    )
    p.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=DEFAULT_CHECKPOINT_SECONDS,
        metavar="SECONDS",
        help="save the detection state at most this often, and at the end "
        f"(default: {DEFAULT_CHECKPOINT_SECONDS:g}); batches committed after the "
        "last checkpoint are replayed from the lake on restart",
    )


def _add_max_object_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-object-mb",
        type=_positive,
        default=DEFAULT_MAX_OBJECT_MB,
        metavar="MB",
        help="largest log object read, in MB once decompressed (default: "
        f"{DEFAULT_MAX_OBJECT_MB}); a larger one, or a gzip that inflates past it, "
        "is quarantined (object_too_large, decompression_bomb) unread",
    )


def _add_ops_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics-port",
        type=_positive,
        metavar="PORT",
        help="expose Prometheus metrics on 127.0.0.1:PORT/metrics",
    )
    p.add_argument(
        "--status-seconds",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="log a status line this often (default: 30; 0 for never)",
    )


def _add_summary_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--summary", type=Path, metavar="FILE", help="also write the run summary as JSON to FILE"
    )


def _add_engine_options(p: argparse.ArgumentParser, engines: str, cpus: str) -> None:
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help=f"where input is fetched, parsed and written: {engines}",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="with --engine ray: the cluster to join (auto, HOST:PORT or ray://HOST:PORT); "
        f"default: start one here with {cpus} CPUs. On a cluster of several machines the "
        "lake must be on S3 (workers write its files)",
    )
    p.add_argument(
        "--partitions",
        type=_positive,
        metavar="K",
        help="with --engine ray: hold the principals' detection state on K actors (hashed "
        "by principal) and judge their windows there, in parallel; alerts are the same as "
        "with the state here (default: the state stays in this process)",
    )


def _add_lake_options(p: argparse.ArgumentParser, required: bool) -> None:
    from detector.lake_command import add_catalog_arguments

    p.add_argument(
        "--lake",
        type=lake_location,
        required=required,
        help="lake directory (created if missing), or s3://bucket/prefix for an Iceberg lake "
        "on S3 (with --catalog)",
    )
    p.add_argument(
        "--lake-format",
        choices=FORMATS,
        help="format of a new lake: iceberg (the default: Iceberg tables with an embedded "
        "catalog, DIR/catalog.db) or parquet (the older layout); an existing lake keeps its own",
    )
    add_catalog_arguments(p)


def _add_run_options(p: argparse.ArgumentParser, lake_required: bool) -> None:
    _add_lake_options(p, lake_required)
    p.add_argument(
        "--commit-batches",
        type=_positive,
        default=GROUP_BATCHES,
        metavar="N",
        help=f"Iceberg lake: batches made visible by one commit (default: {GROUP_BATCHES}; "
        "also at most every 30 s and at the end); their alerts go out after it",
    )
    p.add_argument(
        "--workers", type=_positive, default=1, help="worker processes for parsing (default: 1)"
    )
    p.add_argument(
        "--batch-mb",
        type=_positive,
        default=DEFAULT_BATCH_MB,
        help=f"target batch size in MB, gzip counted unzipped "
        f"(default: {DEFAULT_BATCH_MB}); bounds memory",
    )
    _add_max_object_option(p)
    _add_summary_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar or status lines")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    setup_logging(args)
    # With --alerts - stdout carries only the alerts' JSON lines; the rest goes to stderr.
    console = PipeConsole(stderr=getattr(args, "alerts", None) == "-")
    try:
        try:
            return _dispatch(args, console)
        except UsageError as exc:
            print(f"detector: error: {visible(exc)}", file=sys.stderr)
            return 2
        except InfrastructureError as exc:
            print(f"detector: stopped: {visible(exc)}", file=sys.stderr)
            return 3
        except DetectorError as exc:
            print(f"detector: {visible(exc)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                "detector: interrupted; the batch in hand was abandoned (nothing of it is "
                "committed) and is read again on the next run",
                file=sys.stderr,
            )
            return 130
        except Exception as exc:
            aws = aws_problem(exc)
            if aws is None:
                raise
            print(f"detector: {visible(aws[1])}", file=sys.stderr)
            return aws[0]
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        # The reader went away (``| head``). Python's documented pattern: point stdout at
        # devnull so the final flush cannot fail again; exit 128 + SIGPIPE, quietly.
        with contextlib.suppress(OSError, ValueError):  # ValueError: no real stdout (tests)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    parser.error(f"unknown command {args.command}")
    return 2


COMMAND_MODULES = {
    "hunt": "detector.hunt.command",
    "discover": "detector.discover_command",
    "lake": "detector.lake_command",
    "alerts": "detector.alerts_command",
    "report": "detector.report_command",
    "detections": "detector.detections_command",
    "check": "detector.check_command",
}
"""Commands whose module has ``run(args, console)``, imported only when run."""


def _dispatch(args: argparse.Namespace, console: PipeConsole) -> int:
    """Run the parsed command; the libraries it needs are imported only now."""
    module = COMMAND_MODULES.get(args.command)
    if module is not None:
        return int(importlib.import_module(module).run(args, console))
    from detector import commands

    if args.command == "backfill":
        return commands.backfill_command(args, args.sources, args.lake, console)
    if args.command == "tail":
        return commands.tail(commands.pipeline_from_args(args), console, args.alerts, args.summary)
    if args.command == "run":
        return commands.run_file(args, console)
    if args.command == "demo":
        return commands.demo(args, console)
    if args.command == "evaluate":
        return commands.evaluate(args, console)
    raise UsageError(f"unknown command {args.command}")


_AWS_SETUP = {
    "NoRegionError": NO_REGION,
    "NoCredentialsError": "no AWS credentials: use an instance or task role, AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "PartialCredentialsError": "incomplete AWS credentials",
    "ProfileNotFound": "the AWS profile named by AWS_PROFILE does not exist",
}


def aws_problem(exc: BaseException) -> tuple[int, str] | None:
    """An AWS SDK error as (exit status, one line): configuration is a usage error (2), an
    endpoint that cannot be reached a failure (1); None for anything else."""
    if not type(exc).__module__.startswith("botocore"):
        return None
    name = type(exc).__name__
    if name in _AWS_SETUP:
        return 2, f"error: {_AWS_SETUP[name]}"
    return 1, f"AWS: {exc}"


if __name__ == "__main__":
    sys.exit(main())
