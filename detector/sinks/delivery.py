"""The outbox: durable, at-least-once delivery of committed alerts to every sink.

The lake is the source of truth: an alert is handed here only after it is durably committed
there, and the outbox keeps, per sink, an append-only fsynced journal of the alert ids it has
finished with, under ``<lake>/_delivery/``::

    <target_id>.jsonl        {"alert_id": …, "status": "delivered" | "skipped" | "filtered", …}
    <target_id>.dead.jsonl   {"alert_id": …, "reason": …, "at": …, "alert": {…}}

Each sink has its own queue and thread, so a slow or broken sink neither blocks the pipeline
(``submit`` only appends to queues) nor the other sinks. A thread sends its queue in order,
journals each success before taking the next alert, retries retryable failures with
exponential backoff (at least what ``Retry-After`` asked), and dead-letters the others. After
a crash or restart, ``start`` compares the committed alerts with the journals and sends
exactly those not yet done; an alert sent but not yet journalled when the process died is
sent again (SNS FIFO topics drop that duplicate by ``alert_id``). A sink seen for the first
time starts from now: history is journalled as ``skipped``, not replayed; and alerts a route
declines are journalled as ``filtered``, so widening a route later does not replay them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from detector.errors import DeliveryError, LakeError, UsageError
from detector.sinks.base import Route, Sink

log = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 900.0
"""A server may ask for a pause; past 15 minutes we try again anyway."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Journal:
    """An append-only JSON-lines file whose every append is on disk when it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> Iterator[dict[str, Any]]:
        """Records in order; a torn last line (a crash mid-write) is skipped."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    log.warning("%s line %d is damaged; ignored", self.path.name, n)
                    continue
                if isinstance(record, dict):
                    yield record

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(
            json.dumps(r, ensure_ascii=True, separators=(",", ":"), default=str) + "\n"
            for r in records
        )
        if self._file is None:
            created = not self.path.exists()
            if not created and _last_byte(self.path) not in (b"", b"\n"):
                text = "\n" + text  # end a torn line so ours stays readable
            self._file = self.path.open("a", encoding="utf-8")
            if created:
                _fsync_dir(self.path.parent)
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return b""
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _Lane:
    """One sink's journal, queue and sending thread."""

    def __init__(
        self, sink: Sink, route: Route, root: Path, backoff: float, backoff_cap: float
    ) -> None:
        self.sink = sink
        self.route = route
        self.journal = _Journal(root / f"{sink.target_id}.jsonl")
        self.dead_journal = _Journal(root / f"{sink.target_id}.dead.jsonl")
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.cond = threading.Condition()
        self.queue: deque[dict[str, Any]] = deque()
        self.filtered: list[str] = []
        """Ids the route declined, to journal: a route widened later must not replay them."""
        self.known: set[str] = set()
        """Ids journalled (delivered, skipped, filtered, dead) or queued: never queued again."""
        self.delivered = 0
        self.dead = 0
        self.last_error: str | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=f"sink-{sink.target_id}", daemon=True)

    def start(self, committed: list[dict[str, Any]]) -> None:
        at = _now()
        if not self.journal.exists():
            ids = list(dict.fromkeys(_id(a) for a in committed))
            self._startup_append([{"alert_id": i, "status": "skipped", "at": at} for i in ids])
            self.known.update(ids)
            log.info("sink %s is new: %d earlier alert(s) skipped", self.sink.label, len(ids))
        else:
            for journal in (self.journal, self.dead_journal):
                self.known.update(str(r["alert_id"]) for r in journal.read() if "alert_id" in r)
            self.offer(committed)
            ids, self.filtered = self.filtered, []
            self._startup_append([{"alert_id": i, "status": "filtered", "at": at} for i in ids])
            if self.queue:
                log.info(
                    "sink %s: %d committed alert(s) not yet delivered; sending",
                    self.sink.label,
                    len(self.queue),
                )
        self.thread.start()

    def _startup_append(self, records: list[dict[str, Any]]) -> None:
        try:
            self.journal.append(records)
        except OSError as exc:
            raise LakeError(
                f"cannot write delivery journal {self.journal.path}: {exc.strerror or exc}"
            ) from exc

    def offer(self, alerts: Iterable[dict[str, Any]]) -> None:
        with self.cond:
            for alert in alerts:
                aid = _id(alert)
                if aid in self.known:
                    continue
                self.known.add(aid)
                if self.route.accepts(alert):
                    self.queue.append(alert)
                else:
                    self.filtered.append(aid)
            self.cond.notify_all()

    def _journal_filtered(self) -> None:
        with self.cond:
            ids, self.filtered = self.filtered, []
        if ids:
            at = _now()
            self._finish(
                self.journal, [{"alert_id": i, "status": "filtered", "at": at} for i in ids]
            )

    def _run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                attempt = self._step(attempt)
            except Exception as exc:  # never let the lane die silently
                log.error(
                    "sink %s: delivery loop error %s; continuing",
                    self.sink.label,
                    type(exc).__name__,
                )
                self._pause(self.backoff_cap)

    def _step(self, attempt: int) -> int:
        """Try the head of the queue once; the next backoff attempt number."""
        with self.cond:
            self.cond.wait_for(lambda: self.queue or self.filtered or self.stopping)
            if self.stopping:
                return attempt
        self._journal_filtered()
        with self.cond:
            if not self.queue:
                return attempt
            alert = self.queue[0]
        error: DeliveryError | None = None
        try:
            self.sink.send(alert)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a sink bug: dead-letter the alert, keep the thread
            error = DeliveryError(f"sink failed: {type(exc).__name__}", False)
        if error is None:
            self._finish(
                self.journal,
                [{"alert_id": _id(alert), "status": "delivered", "at": _now()}],
                taken=True,
            )
            return 0
        self.last_error = error.reason
        if error.retryable:
            delay = min(self.backoff_cap, self.backoff * 2**attempt)
            if error.retry_after is not None:
                delay = max(self.backoff, min(error.retry_after, RETRY_AFTER_CAP))
            log.warning(
                "sink %s: alert %s not delivered (%s); retry %d in %.1fs",
                self.sink.label,
                _id(alert),
                error.reason,
                attempt + 1,
                delay,
            )
            self._pause(delay)
            return attempt + 1
        log.error("sink %s: alert %s dead-lettered: %s", self.sink.label, _id(alert), error.reason)
        self._finish(
            self.dead_journal,
            [{"alert_id": _id(alert), "reason": error.reason, "at": _now(), "alert": alert}],
            taken=True,
        )
        return 0

    def _finish(
        self, journal: _Journal, records: list[dict[str, Any]], taken: bool = False
    ) -> None:
        """Journal outcomes (retrying while the disk refuses); ``taken``: pop the head."""
        attempt = 0
        while True:
            try:
                journal.append(records)
                break
            except OSError as exc:
                journal.close()
                delay = min(self.backoff_cap, self.backoff * 2**attempt)
                attempt += 1
                log.error(
                    "sink %s: cannot write %s (%s); retry in %.1fs",
                    self.sink.label,
                    journal.path.name,
                    type(exc).__name__,
                    delay,
                )
                if self._pause(delay):
                    return
        if not taken:
            return
        with self.cond:
            self.queue.popleft()
            if journal is self.journal:
                self.delivered += 1
                self.last_error = None
            else:
                self.dead += 1
            self.cond.notify_all()

    def _pause(self, seconds: float) -> bool:
        """Sleep unless asked to stop; True when stopping."""
        with self.cond:
            return self.cond.wait_for(lambda: self.stopping, timeout=seconds)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


def _id(alert: dict[str, Any]) -> str:
    aid = alert.get("alert_id") if isinstance(alert, dict) else None
    if not isinstance(aid, str) or not aid:
        raise ValueError("an alert to deliver needs a non-empty string alert_id")
    return aid


class Outbox:
    """Durable delivery of committed alerts to several sinks, each with its own route.

    ``root`` is ``<lake>/_delivery/``. Call ``start`` once with every committed alert, then
    ``submit`` each newly committed batch; on shutdown ``drain`` (bounded) and ``close``.
    """

    def __init__(
        self,
        root: Path,
        sinks: list[tuple[Sink, Route]],
        *,
        backoff: float = BACKOFF_START,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        ids = [s.target_id for s, _ in sinks]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            labels = sorted({s.label for s, _ in sinks if s.target_id in twice})
            raise UsageError(f"the same sink is given twice: {', '.join(labels)}")
        self.root = Path(root)
        self._lanes = [_Lane(s, r, self.root, backoff, backoff_cap) for s, r in sinks]
        self._started = False
        self._closed = False

    def start(self, committed: list[dict[str, Any]]) -> None:
        """Recover: queue committed alerts a known sink has not had; new sinks skip them."""
        if self._started:
            raise RuntimeError("Outbox.start called twice")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create {self.root}: {exc.strerror or exc}") from exc
        for alert in committed:
            _id(alert)
        self._started = True
        for lane in self._lanes:
            lane.start(committed)

    def submit(self, alerts: list[dict[str, Any]]) -> None:
        """Queue alerts just committed to the lake; returns at once, whatever the sinks do."""
        if not self._started or self._closed:
            raise RuntimeError("Outbox.submit needs start() first and no close()")
        for alert in alerts:
            _id(alert)
        for lane in self._lanes:
            lane.offer(alerts)

    def pending(self) -> dict[str, int]:
        """Alerts queued per sink (``target_id``), including the one being sent."""
        return {lane.sink.target_id: len(lane.queue) for lane in self._lanes}

    @property
    def delivered(self) -> dict[str, int]:
        """Alerts delivered per sink by this process (for metrics)."""
        return {lane.sink.target_id: lane.delivered for lane in self._lanes}

    @property
    def dead_lettered(self) -> dict[str, int]:
        """Alerts given up on per sink by this process (for metrics and alarms)."""
        return {lane.sink.target_id: lane.dead for lane in self._lanes}

    def status(self) -> dict[str, dict[str, Any]]:
        """Per sink: label, pending, delivered, dead-lettered, and the last error if failing."""
        return {
            lane.sink.target_id: {
                "label": lane.sink.label,
                "pending": len(lane.queue),
                "delivered": lane.delivered,
                "dead_lettered": lane.dead,
                "last_error": lane.last_error,
            }
            for lane in self._lanes
        }

    def drain(self, timeout: float) -> bool:
        """Wait until every queue is empty or ``timeout`` seconds pass; True when empty."""
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            with lane.cond:
                lane.cond.wait_for(
                    lambda lane=lane: not lane.queue or lane.stopping,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
        return all(not lane.queue for lane in self._lanes)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads (what is still queued is sent after the next ``start``)."""
        if self._closed:
            return
        self._closed = True
        for lane in self._lanes:
            lane.stop()
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            if lane.thread.is_alive():
                lane.thread.join(max(0.0, deadline - time.monotonic()))
            if not lane.thread.is_alive():
                lane.sink.close()
                lane.journal.close()
                lane.dead_journal.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
