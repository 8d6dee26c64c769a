"""The detector's error hierarchy.

    DetectorError
    ├── UsageError        bad command line or configuration: exit 2 before any work
    ├── SourceError       a log object could not be listed or read (counted, quarantined)
    ├── LakeError         the lake cannot be written or its manifest is corrupt: stop
    ├── InfrastructureError  our own environment failed (disk full, I/O error, permissions
    │                     on scratch space, out of memory): the batch is not committed and
    │                     its input is read again later; never a reject of the input
    └── DeliveryError     a sink could not deliver an alert (the outbox retries or
                          dead-letters it; it never reaches the pipeline)

Bad *input* is never an exception that reaches the pipeline: log types turn it into
``Reject`` values that go to quarantine, and the run goes on.
"""

from __future__ import annotations


class DetectorError(Exception):
    """Base of every error the detector raises on purpose."""


class UsageError(DetectorError):
    """The user asked for something impossible; say what and where, then exit 2."""


class SourceError(DetectorError):
    """A log object could not be listed or fetched."""

    def __init__(self, uri: str, reason: str, detail: str) -> None:
        super().__init__(f"{uri}: {reason}: {detail}")
        self.uri = uri
        self.reason = reason
        self.detail = detail


class LakeError(DetectorError):
    """The lake is unusable (unwritable, or a manifest that cannot be read)."""


class InfrastructureError(DetectorError):
    """Our own machine failed while working on input that may well be fine.

    Disk full (``ENOSPC``), I/O errors, permissions on scratch space or the lake, memory:
    none of these says anything about the log object, so it is never quarantined or marked
    ingested. The batch in hand is abandoned uncommitted; backfill stops (exit status 3) and
    the tail retries after a pause, so the same input is read again once the cause is fixed.
    """


def infrastructure(exc: BaseException, doing: str) -> InfrastructureError:
    """An ``InfrastructureError`` naming what we were doing and the OS's own words."""
    if isinstance(exc, MemoryError):
        return InfrastructureError(f"{doing}: out of memory")
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return InfrastructureError(f"{doing}: {exc.strerror}{where}")
    return InfrastructureError(f"{doing}: {type(exc).__name__}: {exc}")


class DeliveryError(DetectorError):
    """A sink could not deliver an alert.

    ``retryable`` tells the outbox whether trying again can help (throttling, a 5xx, a
    dropped connection) or not (a deleted topic, a revoked webhook): the first is retried with
    backoff, at the earliest after ``retry_after`` seconds when the service said so; the second
    is dead-lettered. ``reason`` is safe to log: it never holds a webhook URL or a credential.
    """

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class QueryError(UsageError):
    """The query cannot run: a syntax or name error, a refused statement, a bad parameter."""
