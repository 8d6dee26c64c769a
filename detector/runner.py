"""Builds a run from a ``Pipeline``: detection with its sinks, the stream source, the tail.

The I/O edge where the pieces meet; the CLI and ``detector run`` both come through here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from detector.alerts import Alert, alert_dicts
from detector.config import load_settings
from detector.detect import DetectionRun, DetectOptions
from detector.detections import load_all
from detector.errors import UsageError
from detector.hunt import evidence_hunt_command
from detector.incidents import NOTIFY
from detector.lake import ALERTS
from detector.lakes import AnyLake, address_of, open_lake, work_folder
from detector.metrics import Metrics
from detector.pipeline import Pipeline
from detector.report import alert_counts
from detector.scoring.model import load_model_spec
from detector.scoring.state import load as load_state
from detector.sinks import Outbox, Route, Sink, make_sink
from detector.sources import open_source
from detector.sources.stream import StreamSource
from detector.summary import RunSummary
from detector.tail import Tail, TailOptions

log = logging.getLogger(__name__)

DELIVERY = "_delivery"


def preflight(p: Pipeline) -> None:
    """Everything that can be checked before anything is created on disk: sources, sinks and
    their routes, settings, the model, an explicit state checkpoint. A mistake in any of
    them stops the run here, with no lake folder made."""
    if p.kind == "backfill":
        for spec in p.sources:
            open_source(spec)
    if p.engine == "ray":
        from detector.ray_engine import require_ray

        require_ray()
    if not p.detect:
        return
    routed_sinks(p)
    load_settings(p.config)
    spec = load_model_spec(p.model)
    if p.state is not None:
        load_state(p.state, spec)


def routed_sinks(p: Pipeline) -> list[tuple[Sink, Route]]:
    """The pipeline's sinks with their routes, each checked (a bad one is a UsageError)."""
    known = load_all()
    out = []
    for n, s in enumerate(p.sinks):
        sink = make_sink(s.kind, s.value)
        route = Route(s.min_severity, tuple(s.include) if s.include else None, tuple(s.exclude))
        route.check(known, f"sink {n + 1}")
        out.append((sink, route))
    return out


def open_detection(p: Pipeline, lake: AnyLake) -> DetectionRun | None:
    """Detection for the pipeline (None when switched off), its outbox started."""
    if not p.detect:
        return None
    sinks = routed_sinks(p)
    options = DetectOptions(p.config, p.model, p.state, p.checkpoint_seconds)
    if p.partitions:
        from detector.ray_partitions import PartitionPool

        options.partitions = PartitionPool(p.partitions, p.ray_address, p.workers)
    try:
        run = DetectionRun.open(lake, options)
    except BaseException:
        close_partitions(options.partitions)
        raise
    run.hunt_command = lambda alert: alert_hunt_command(alert, str(p.lake))
    if sinks:
        outbox = Outbox(work_folder(lake) / DELIVERY, sinks)
        committed = alert_dicts(lake.read_table(ALERTS))
        outbox.start([a for a in committed if a["status"] == NOTIFY])  # not recorded ones
        run.outbox = outbox
    return run


def close_partitions(partitions: object) -> None:
    """Stop the actors of a run's partitioned state (the pool's ``close``), if any."""
    close = getattr(partitions, "close", None)
    if close is not None:
        close()


def alert_hunt_command(alert: Alert, lake: str) -> str:
    """The evidence hunt over the alert's days, with a day to spare for findings merged
    into it later (a dedup window can cross midnight)."""
    last = datetime.fromisoformat(alert.last_seen.replace("Z", "+00:00")) + timedelta(days=1)
    return evidence_hunt_command(alert.alert_id, lake, alert.first_seen or None, last)


def close_detection(run: DetectionRun | None, drain_seconds: float) -> dict[str, Any]:
    """Give the sinks ``drain_seconds`` to deliver, then stop them; what is left is in the
    lake and goes out on the next start."""
    if run is not None:
        close_partitions(run.partitions)
    close = getattr(run.outbox, "close", None) if run else None
    if run is None or close is None:
        return {}
    outbox: Outbox = run.outbox  # type: ignore[assignment]
    if not outbox.drain(drain_seconds):
        log.warning(
            "sinks still have alerts queued; they are in the lake and are delivered "
            "on the next start: %s",
            outbox.pending(),
        )
    status = outbox.status()
    outbox.close()
    return status


def stream_factory(
    p: Pipeline, member: tuple[int, int] | None = None
) -> Callable[[], StreamSource]:
    """What opens the pipeline's stream source (picklable: Ray consumers open their own).
    ``member``: (consumer, consumers) of a Kinesis tail's consumers, which split the shards
    (an SQS queue's consumers all poll the one queue)."""
    if p.kind == "sqs":
        from detector.sources.sqs import SqsSource

        assert p.queue_url is not None
        return partial(
            SqsSource,
            p.queue_url,
            wait=p.wait_seconds,
            batch_messages=p.batch_messages,
            visibility_timeout=p.visibility_timeout,
            max_receives=p.max_receives,
            max_object_bytes=p.max_object_mb << 20,
        )
    if p.kind == "kinesis":
        from detector.sources.kinesis import KinesisSource

        assert p.stream is not None
        return partial(
            KinesisSource,
            p.stream,
            start=p.start,
            at_timestamp=p.start_timestamp,
            wait=min(float(p.wait_seconds), 1.0),
            max_object_bytes=p.max_object_mb << 20,
            member=member,
        )
    raise UsageError(f"{p.kind} is not a stream source")


def on_ray(p: Pipeline, source: StreamSource, lake: AnyLake) -> StreamSource:
    """The pipeline's consumers on the Ray cluster; this process's own ``source`` then only
    checks the queue and reports its lag."""
    from detector.ray_tail import RayConsumers

    try:
        return RayConsumers(
            source,
            [stream_factory(p, (i, p.consumers)) for i in range(p.consumers)],
            address_of(lake),
            p.max_object_mb << 20,
            p.ray_address,
            p.wait_seconds,
        )
    except BaseException:
        source.close()
        raise


def run_tail(p: Pipeline, drain_seconds: float = 10.0) -> tuple[RunSummary, Metrics, list[Alert]]:
    """Tail a queue or stream until stopped (signal) or idle for ``until_idle`` seconds."""
    preflight(p)
    source = stream_factory(p)()  # a queue or stream that is not there: before the lake is made
    metrics = Metrics()
    if p.metrics_port:
        metrics.serve(p.metrics_port)
    lake = open_lake(p.lake, p.lake_format, p.catalog_choice)
    if p.engine == "ray":
        source = on_ray(p, source, lake)
    detection = open_detection(p, lake)
    tail = Tail(
        source,
        TailOptions(
            p.lake,
            lake_format=p.lake_format,
            until_idle=p.until_idle,
            status_seconds=p.status_seconds,
            drain_seconds=drain_seconds,
            max_object_bytes=p.max_object_mb << 20,
        ),
        detection,
        metrics,
    )
    tail.install_signal_handlers()
    try:
        summary = tail.run()
    finally:
        close_detection(detection, 0.0)
    alerts = detection.alerts() if detection is not None else []
    summary.alerts = alert_counts(detection.signals() if detection is not None else [])
    return summary, metrics, alerts
