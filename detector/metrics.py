"""Operational visibility for long runs: counters, Prometheus exposition, a status line.

One ``Metrics`` per process owns a private Prometheus registry (so tests and several runs
in one process don't collide). ``serve(port)`` exposes it over HTTP for scraping; the tail
loop also logs a one-line status every ``status_seconds`` from the same numbers.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class Metrics:
    """Counters and gauges of one run, named ``detector_*``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.objects = Counter("detector_objects", "Log objects ingested", registry=r)
        self.messages = Counter(
            "detector_messages", "Queue messages or stream records taken", registry=r
        )
        self.duplicates = Counter(
            "detector_duplicate_objects",
            "Objects delivered again and skipped (already in the lake)",
            registry=r,
        )
        self.events = Counter(
            "detector_events", "Events written to the lake", ["source"], registry=r
        )
        self.duplicate_events = Counter(
            "detector_duplicate_events",
            "Events dropped as copies of stored ones (CloudTrail "
            "redelivery, overlapping trails), by source",
            ["source"],
            registry=r,
        )
        self.detection_errors = Counter(
            "detector_detection_errors",
            "Detections that raised on a batch (the others ran)",
            ["detection"],
            registry=r,
        )
        self.rejects = Counter(
            "detector_rejects", "Inputs quarantined, by reason", ["reason"], registry=r
        )
        self.alerts = Counter(
            "detector_alerts", "Alerts raised, by severity", ["severity"], registry=r
        )
        self.batches = Counter("detector_batches", "Batches committed to the lake", registry=r)
        self.failures = Counter(
            "detector_batch_failures", "Batches that failed before commit (retried)", registry=r
        )
        self.event_lag = Gauge(
            "detector_event_lag_seconds",
            "Wall clock minus the newest event time processed",
            registry=r,
        )
        self.source_lag = Gauge(
            "detector_source_lag", "Queue or stream lag, by measure", ["measure"], registry=r
        )
        self.pending = Gauge(
            "detector_outbox_pending", "Alerts waiting for a sink", ["sink"], registry=r
        )
        self.latency = Histogram(
            "detector_batch_latency_seconds",
            "From input visible (message sent) to batch committed",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.newest_event: datetime | None = None
        self.started = time.monotonic()

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` for Prometheus on ``addr:port`` (a daemon thread)."""
        start_http_server(port, addr=addr, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", addr, port)

    def saw_events(self, counts: dict[str, int], newest: datetime | None) -> None:
        for source, n in counts.items():
            self.events.labels(source=source).inc(n)
        if newest is not None and (self.newest_event is None or newest > self.newest_event):
            self.newest_event = newest
        if self.newest_event is not None:
            self.event_lag.set((datetime.now(UTC) - self.newest_event).total_seconds())

    def snapshot(self) -> dict[str, Any]:
        """The numbers of the status line (and of the final summary of a tail run)."""
        return {
            "objects": int(_total(self.objects)),
            "messages": int(_total(self.messages)),
            "events": int(_total(self.events)),
            "rejects": int(_total(self.rejects)),
            "alerts": int(_total(self.alerts)),
            "batches": int(_total(self.batches)),
            "failures": int(_total(self.failures)),
            "duplicates": int(_total(self.duplicates)),
            "event_lag_s": round(_total(self.event_lag), 1) if self.newest_event else None,
            "source_lag": {k[0]: v for k, v in _samples(self.source_lag).items()},
            "outbox_pending": int(_total(self.pending)),
            "uptime_s": round(time.monotonic() - self.started, 1),
        }

    def status_line(self, name: str) -> str:
        s = self.snapshot()
        lag = "" if s["event_lag_s"] is None else f" event_lag={s['event_lag_s']}s"
        src = "".join(f" {k}={v:g}" for k, v in s["source_lag"].items())
        return (
            f"{name}: objects={s['objects']} events={s['events']} rejects={s['rejects']} "
            f"alerts={s['alerts']} batches={s['batches']} failures={s['failures']}"
            f"{lag}{src} outbox_pending={s['outbox_pending']}"
        )


def _samples(metric: Counter | Gauge) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(("_created",)):
                continue
            out[tuple(sample.labels.values())] = sample.value
    return out


def _total(metric: Counter | Gauge) -> float:
    return sum(_samples(metric).values())


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line, for log shippers (``--log-format json``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("status", "batch"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
