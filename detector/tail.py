"""The continuous tail: a stream source → the same parse, lake and detection as backfill.

For each unit of work the source hands over: skip objects already in the lake (notifications
are delivered at least once), parse the blobs, write the batch, detect, commit the batch with
the source's checkpoint, hand the new alerts to the outbox, and only then ``ack`` (delete the
queue messages / advance the shard positions). A failure before the commit ``release``s the
work, so the source delivers it again; a crash anywhere loses nothing (uncommitted files are
removed on restart and the input comes again) and repeats no alert (deterministic ids, the
state checkpoint and the replay of batches committed after it).

SIGTERM and SIGINT finish the batch in hand, save the state, give the sinks a few seconds to
deliver, and exit 0. ``until_idle`` makes a tail that stops by itself once no input has come
for that many seconds, closing every window first (as backfill does at its end).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc

from detector import failpoints
from detector.batch import commit_batch
from detector.dedup import SeenEvents
from detector.detect import DetectionRun
from detector.errors import SourceError, UsageError
from detector.ingest import Fetched, parse_and_write
from detector.interrupts import StopRequest
from detector.lake import BatchFiles, new_batch_id
from detector.lakes import AnyLake, open_lake
from detector.logtypes.base import DEFAULT_MAX_OBJECT_MB
from detector.metrics import Metrics
from detector.sources.stream import SkipsKnown, StreamSource, Work
from detector.summary import BatchStats, RunSummary

log = logging.getLogger(__name__)

DEFAULT_DEDUP_HOURS = 24.0
RETRY_BACKOFF_MAX = 30.0
MAX_ALERTS_IN_MEMORY = 10_000
"""A tail keeps this many recent alerts in memory for merging and the final report."""


@dataclass
class TailOptions:
    lake: Path
    lake_format: str | None = None
    """For a new lake: ``iceberg`` (the default) or ``parquet``."""
    until_idle: float | None = None
    """Stop (after closing every window) when nothing came for this many seconds."""
    status_seconds: float = 30.0
    """Log a status line this often (0: never)."""
    dedup_hours: float = DEFAULT_DEDUP_HOURS
    """Remember objects committed this long ago, to skip re-delivered notifications."""
    drain_seconds: float = 10.0
    """On shutdown, how long the sinks get to deliver what is queued."""
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20
    """Largest log object read (decompressed); larger ones are quarantined."""


@dataclass
class RecentObjects:
    """Identities of objects committed recently, bounded by age (not by the lake's size).

    SQS redelivers a message within its retention period at most; a day covers redelivery
    after crashes and visibility timeouts while keeping memory proportional to the rate.
    """

    horizon: timedelta
    _order: deque[tuple[float, bytes]] = field(default_factory=deque)
    _seen: set[bytes] = field(default_factory=set)

    @staticmethod
    def _digest(identity: str) -> bytes:
        return hashlib.blake2b(identity.encode(), digest_size=16).digest()

    def __contains__(self, identity: str) -> bool:
        return self._digest(identity) in self._seen

    def add(self, identity: str, at: float | None = None) -> None:
        d = self._digest(identity)
        if d not in self._seen:
            self._seen.add(d)
            self._order.append((at if at is not None else time.time(), d))

    def expire(self, now: float | None = None) -> None:
        cutoff = (now if now is not None else time.time()) - self.horizon.total_seconds()
        while self._order and self._order[0][0] < cutoff:
            self._seen.discard(self._order.popleft()[1])


class Tail:
    """One tail process over one stream source."""

    def __init__(
        self,
        source: StreamSource,
        options: TailOptions,
        detection: DetectionRun | None,
        metrics: Metrics | None = None,
    ) -> None:
        self.source = source
        self.options = options
        self.detection = detection
        self.metrics = metrics or Metrics()
        self.summary = RunSummary(sources=[source.name], lake=str(options.lake), kind="tail")
        self.stop = StopRequest()
        self.lake: AnyLake = (
            detection.lake
            if detection is not None
            else open_lake(options.lake, options.lake_format)
        )
        self.recent = RecentObjects(timedelta(hours=options.dedup_hours))
        if isinstance(source, SkipsKnown):  # consumers elsewhere skip what is committed
            source.skip_known(self.recent.__contains__)
        self.seen_events = SeenEvents(self.lake)
        if detection is not None and detection.max_raised is None:
            detection.max_raised = MAX_ALERTS_IN_MEMORY
        self._failures = 0
        self._errors_seen: dict[str, int] = {}

    # --- lifecycle ------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batch in hand, checkpoint, exit cleanly (a second
        one abandons the batch: nothing of it is committed or acknowledged)."""
        self.stop.install()

    def run(self) -> RunSummary:
        started = time.perf_counter()
        self._recover()
        idle_since = time.monotonic()
        status_at = time.monotonic()
        try:
            while not self.stop.is_set():
                work = self._poll()
                now = time.monotonic()
                if work is not None:
                    idle_since = now
                    self._process(work)
                elif (
                    self.options.until_idle is not None
                    and now - idle_since >= self.options.until_idle
                ):
                    log.info(
                        "%s: idle for %.0f s: closing windows and stopping",
                        self.source.name,
                        self.options.until_idle,
                    )
                    self._flush()
                    break
                if self.options.status_seconds and now - status_at >= self.options.status_seconds:
                    status_at = now
                    self._status()
        finally:
            self._shutdown()
        if self.stop.signum == signal.SIGINT:
            self.summary.interrupted = signal.SIGINT
        if self.detection is not None:
            self.summary.detection_errors = dict(self.detection.engine.stats.errors)
            self.summary.partitions = self.detection.partition_counts()
        self.summary.seconds = time.perf_counter() - started
        self.summary.commits = self.lake.commits
        self.summary.commit_seconds = self.lake.commit_seconds
        return self.summary

    def _poll(self) -> Work | None:
        """The source's next work; an unexpected failure (a network error, a bug) is logged
        and retried after a pause, never the end of the tail. A source that cannot be
        reached at all (``SourceError``: no such queue, access denied) ends it."""
        try:
            return self.source.poll()
        except (SourceError, UsageError):
            raise
        except Exception:
            self._failures += 1
            self.metrics.failures.inc()
            pause = min(RETRY_BACKOFF_MAX, 2.0 ** min(self._failures, 5))
            log.exception("%s: polling failed; trying again in %.0f s", self.source.name, pause)
            self.stop.wait(pause)
            return None

    def _recover(self) -> None:
        self.lake.lock()
        self.lake.recover()
        horizon = time.time() - self.recent.horizon.total_seconds()
        for identity, at in self.lake.recent_objects(horizon):
            self.recent.add(identity, at)
        self.source.resume(self.lake.checkpoints())

    def _shutdown(self) -> None:
        if self.detection is not None:
            self.detection.checkpoint()
            outbox = self.detection.outbox
            drain = getattr(outbox, "drain", None)
            if drain is not None and not drain(self.options.drain_seconds):
                log.warning(
                    "sinks still have alerts queued at shutdown; they are in the lake "
                    "and are delivered on the next start"
                )
        self.source.close()
        self._status()

    # --- one unit of work -----------------------------------------------------------
    def _process(self, work: Work) -> None:
        batch = work.written[0].batch if work.written is not None else new_batch_id()
        files: BatchFiles | None = None
        try:
            files, stats = self._write(batch, work)
            commit_batch(
                self.lake,
                files,
                stats,
                self.detection,
                self.seen_events,
                lambda: failpoints.hit("tail.before_commit"),
            )
            self.lake.publish()  # every batch: nothing is acknowledged before it is durable
            self.lake.housekeep(self._snapshots_kept())
        except UsageError:
            work.release()
            raise
        except Exception:
            self._failed(batch, work, files)
            return
        self._failures = 0
        failpoints.hit("tail.after_commit")
        if self.detection is not None:
            self.detection.committed(batch)
        work.ack()
        failpoints.hit("tail.after_ack")
        self._count(work, files, stats)

    def _snapshots_kept(self) -> timedelta:
        """Snapshots housekeeping keeps: two state checkpoints' worth (replay after a crash
        walks the batches since the last one), and at least two minutes."""
        every = self.detection.checkpoint_seconds if self.detection is not None else 0.0
        return max(timedelta(minutes=2), timedelta(seconds=2 * every))

    def _failed(self, batch: str, work: Work, files: BatchFiles | None) -> None:
        """Nothing of the batch is committed: remove what it wrote, put the engine back to
        the last commit if it saw the batch, hand the input back, pause before the retry."""
        log.exception("%s: batch failed before commit; its input will come again", self.source.name)
        if files is not None:
            self.lake.remove_files(files)
        self.seen_events = SeenEvents(self.lake)  # it may hold the failed batch's event ids
        if self.detection is not None and self.detection.uncommitted is not None:
            self.detection.reset()
        work.release()
        self._failures += 1
        self.metrics.failures.inc()
        pause = min(RETRY_BACKOFF_MAX, 2.0 ** min(self._failures, 5))
        log.warning("%s: retrying in %.0f s", self.source.name, pause)
        self.stop.wait(pause)

    def _write(self, batch: str, work: Work) -> tuple[BatchFiles, BatchStats]:
        if work.written is not None:  # a consumer elsewhere (Ray) wrote it already
            return work.written
        return write_work(
            self.lake, batch, work, self.recent.__contains__, self.options.max_object_bytes
        )

    def _flush(self) -> None:
        if self.detection is None:
            return
        final = BatchFiles(new_batch_id(), [], flush=True)
        final.files = self.detection.finish(final.batch)
        self.lake.commit(final)
        self.lake.publish()
        self.detection.committed(final.batch)
        for a in self.detection.last_new:
            if a.notifies:
                self.metrics.alerts.labels(severity=a.severity).inc()

    # --- accounting -----------------------------------------------------------------
    def _count(self, work: Work, files: BatchFiles, stats: BatchStats) -> None:
        now = time.time()
        for o in files.objects:
            self.recent.add(o.identity, now)
        self.recent.expire(now)
        self.summary.add(stats)
        m = self.metrics
        m.batches.inc()
        m.duplicates.inc(stats.skipped.get("already_ingested", 0))
        m.messages.inc(work.messages)
        m.objects.inc(stats.objects_read)
        for reason, n in stats.rejects.items():
            m.rejects.labels(reason=reason).inc(n)
        for source, n in stats.duplicates.items():
            m.duplicate_events.labels(source=source).inc(n)
        if self.detection is not None:
            errors = self.detection.engine.stats.errors
            for detection, n in errors.items():
                m.detection_errors.labels(detection=detection).inc(
                    max(0, n - self._errors_seen.get(detection, 0))
                )
            self._errors_seen = dict(errors)
        by_source: dict[str, int] = {}
        for (source, _), n in stats.events.items():
            by_source[source] = by_source.get(source, 0) + n
        m.saw_events(by_source, _newest(files))
        if work.received:
            m.latency.observe(max(0.0, now - work.received))
        if self.detection is not None:
            for a in self.detection.last_new:
                if a.notifies:
                    m.alerts.labels(severity=a.severity).inc()

    def _status(self) -> None:
        for measure, value in self.source.lag().items():
            self.metrics.source_lag.labels(measure=measure).set(value)
        pending = getattr(self.detection.outbox, "pending", None) if self.detection else None
        if pending is not None:
            for sink, n in pending().items():
                self.metrics.pending.labels(sink=sink).set(n)
        line = self.metrics.status_line(self.source.name)
        log.info(line, extra={"status": self.metrics.snapshot()})


def write_work(
    lake: AnyLake,
    batch: str,
    work: Work,
    known: Callable[[str], bool],
    max_object_bytes: int,
) -> tuple[BatchFiles, BatchStats]:
    """Parse a unit of work and write its data files (uncommitted), skipping the objects
    ``known`` names (committed recently: notifications come at least once)."""
    stats = BatchStats()
    fresh = []
    for blob in work.blobs:
        if known(blob.ref.identity):
            stats.skipped["already_ingested"] += 1
        else:
            fresh.append(blob)
    objects = [o for o in work.objects if not known(o.identity)]
    stats.objects_read = len(fresh)
    stats.bytes_read = sum(len(b.data) for b in fresh)
    fetched = Fetched(fresh, list(work.rejects), stats)
    files, stats = parse_and_write(fetched, lake, max_object_bytes, batch, objects)
    files.checkpoint = work.checkpoint
    return files, stats


def _newest(files: BatchFiles) -> datetime | None:
    newest = None
    for part in files.parts:
        if part.num_rows:
            t = pc.max(part.column("event_time")).as_py()
            if t is not None and (newest is None or t > newest):
                newest = t
    return newest
