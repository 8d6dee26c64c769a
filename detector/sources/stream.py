"""The interface between continuous sources (SQS, Kinesis) and the tail loop.

A stream source hands the tail loop units of ``Work``: the log bytes it fetched (as blobs,
parsed exactly like backfill's), problems it already knows of (poison messages, missing
objects) as rejects for the quarantine, the object identities to record in the manifest, and
the position to checkpoint. The tail loop writes the work to the lake, detects, commits the
batch (manifest line with ``checkpoint``), hands new alerts to the sinks' outbox, and only
then calls ``ack``. If anything fails before the commit it calls ``release`` instead, and the
source must deliver the same data again later (SQS: visibility timeout; Kinesis: rewind to
the last committed sequence numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from detector.blob import Blob, ObjectRef
from detector.logtypes.base import Reject

if TYPE_CHECKING:
    from detector.lake import BatchFiles
    from detector.summary import BatchStats


def _nothing() -> None:
    return None


@dataclass
class Work:
    """One unit of input from a stream, with what to do once it is durable."""

    blobs: list[Blob] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    objects: list[ObjectRef] = field(default_factory=list)
    """Identities recorded in the manifest (re-delivered objects are then skipped)."""
    checkpoint: dict[str, Any] = field(default_factory=dict)
    """Stored in the batch's manifest line, committed atomically with its output."""
    ack: Callable[[], None] = _nothing
    """Called after the batch is committed and its alerts are durably queued."""
    release: Callable[[], None] = _nothing
    """Called when the batch could not be committed: deliver it again later."""
    received: float = 0.0
    """time.time() when the oldest part of this work became visible (for latency)."""
    messages: int = 0
    """Queue messages or stream records in this unit (for metrics)."""
    written: tuple[BatchFiles, BatchStats] | None = None
    """Already parsed and written (uncommitted) by a consumer elsewhere (a Ray actor); the
    tail loop then only commits it."""

    def merge(self, other: Work) -> None:
        """Fold ``other`` into this unit (the tail loop batches small units)."""
        first_ack, first_release = self.ack, self.release
        self.blobs += other.blobs
        self.rejects += other.rejects
        self.objects += other.objects
        for kind, value in other.checkpoint.items():
            if isinstance(value, dict) and isinstance(self.checkpoint.get(kind), dict):
                self.checkpoint[kind] = {**self.checkpoint[kind], **value}
            else:
                self.checkpoint[kind] = value
        self.received = (
            min(t for t in (self.received, other.received) if t)
            if (self.received or other.received)
            else 0.0
        )
        self.messages += other.messages

        def ack() -> None:
            first_ack()
            other.ack()

        def release() -> None:
            first_release()
            other.release()

        self.ack, self.release = ack, release


class StreamSource(Protocol):
    """A continuous source. ``poll`` blocks up to its own wait time and may return None."""

    name: str
    """For logs and metrics, e.g. ``sqs:my-queue`` (never a credential)."""

    def resume(self, checkpoints: list[dict[str, Any]]) -> None:
        """Continue from the committed ``checkpoint`` values, oldest first (manifest order)."""
        ...

    def poll(self) -> Work | None: ...

    def lag(self) -> dict[str, float]:
        """Gauges for metrics, e.g. ``{"queue_visible": 12}`` or ``{"behind_latest_ms": 800}``."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SkipsKnown(Protocol):
    """A source whose consumers write batches themselves (Ray): it must be told which
    objects are already committed, so a re-delivered notification is not read twice."""

    def skip_known(self, known: Callable[[str], bool]) -> None: ...
