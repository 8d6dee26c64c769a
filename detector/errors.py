"""The detector's error hierarchy.

    DetectorError
    ├── UsageError        bad command line or configuration: exit 2 before any work
    ├── SourceError       a log object could not be listed or read (counted, quarantined)
    └── LakeError         the lake cannot be written or its manifest is corrupt: stop

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
