"""JSON lines: one alert per line, appended to a file (flushed and fsynced) or to stdout.

The line is the alert dict as ``Alert.to_json`` writes it, so files from ``--alerts`` and
from this sink read the same way. A file is opened once, in append mode, and each line is on
disk before ``send`` returns: the outbox records an alert as delivered only after that.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from detector.errors import DeliveryError, UsageError
from detector.sinks.base import Sink, digest, register

_PERMANENT = {
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.ENOENT,
    errno.EROFS,
    errno.EPIPE,
}
"""Errors that waiting will not fix (unlike a full disk)."""


def _line(alert: dict[str, Any]) -> str:
    try:
        text = json.dumps(alert, separators=(",", ":"), ensure_ascii=False, default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(alert, separators=(",", ":"), ensure_ascii=True, default=str)
    return text + "\n"


@register
class JsonlSink(Sink):
    """Append alerts to ``PATH`` as JSON lines, or write them to stdout for ``-``."""

    name = "jsonl"

    def __init__(self, value: str) -> None:
        self._file: IO[str] | None = None
        if value == "-":
            self.path: Path | None = None
            self.target_id = "jsonl-stdout"
            self.label = "jsonl:stdout"
            return
        path = Path(value).expanduser().absolute()
        if path.is_dir():
            raise UsageError(f"sink jsonl: {path} is a directory")
        if not path.parent.is_dir():
            raise UsageError(f"sink jsonl: directory {path.parent} does not exist")
        self.path = path
        self.target_id = f"jsonl-{digest(str(path))}"
        self.label = f"jsonl:{path}"

    def send(self, alert: dict[str, Any]) -> None:
        """Write one line and make it durable; raise ``DeliveryError`` if the disk says no."""
        line = _line(alert)
        start: int | None = None
        try:
            if self.path is None:
                sys.stdout.write(line)
                sys.stdout.flush()
                return
            if self._file is None:
                self._file = self.path.open("a", encoding="utf-8")
            start = self._file.tell()
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self.close()
            if self.path is not None and start is not None:
                with contextlib.suppress(OSError):
                    os.truncate(self.path, start)  # no torn line before the retry's
            raise DeliveryError(
                f"{type(exc).__name__}: {exc.strerror or exc}", exc.errno not in _PERMANENT
            ) from None

    def close(self) -> None:
        """Close the file; the next ``send`` reopens it (e.g. after log rotation)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
