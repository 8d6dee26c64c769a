"""Local files and folders (recursive), e.g. a synced copy of a log bucket.

Only regular files are logs. Everything else a folder can hold is a counted reject of its
own, never a reason to stop or to hang: FIFOs, sockets and devices (opening a FIFO would
block forever), links that lead nowhere or in a loop, links to folders (not followed, so a
loop cannot be walked), and folders that cannot be listed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError
from detector.logtypes.base import RAW_CAP, Reject

NOT_LOGS = (".md", ".py", ".pyc", ".sql")
"""Files that sit beside logs in a folder (READMEs, scripts) and are never logs."""

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISDIR, "a link to a folder (not followed)"),
)


class LocalSource:
    """A file or a folder walked recursively in sorted order; dotfiles are ignored."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.root = Path(spec)
        if not self.root.exists():
            raise UsageError(f"{spec}: no such file or directory")

    def list(self) -> Iterator[ObjectRef | Reject]:
        if not self.root.is_dir():
            yield self._entry(self.root, self.root.name)
            return
        unlisted: list[OSError] = []
        for dirpath, dirnames, filenames in os.walk(self.root, onerror=unlisted.append):
            while unlisted:
                exc = unlisted.pop()
                yield _reject(
                    str(exc.filename or dirpath),
                    "unreadable_folder",
                    f"cannot list this folder: {exc.strerror}",
                )
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(NOT_LOGS):
                    continue
                path = Path(dirpath) / name
                yield self._entry(path, path.relative_to(self.root).as_posix())
        for exc in unlisted:
            yield _reject(
                str(exc.filename), "unreadable_folder", f"cannot list this folder: {exc.strerror}"
            )

    def fetch_many(
        self, refs: Iterable[ObjectRef], max_bytes: int | None = None
    ) -> Iterator[Blob | SourceError]:
        for ref in refs:
            yield _read(ref, max_bytes)

    @staticmethod
    def _entry(path: Path, key: str) -> ObjectRef | Reject:
        """The object at ``path``, or why it is not one (a per-entry reject)."""
        try:
            st = path.stat()
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP):
                why = "a link in a loop" if exc.errno == errno.ELOOP else "a link to nothing"
                return _reject(str(path), "broken_link", f"{why}: {exc.strerror}")
            return _reject(
                str(path),
                "access_denied" if exc.errno == errno.EACCES else "read_failed",
                f"cannot stat: {exc.strerror}",
            )
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
            return _reject(str(path), "not_a_regular_file", f"{kind}: not read")
        return ObjectRef(str(path.resolve()), key, st.st_size, f"mtime:{st.st_mtime_ns}")


def _reject(path: str, reason: str, detail: str) -> Reject:
    return Reject(path, reason, detail, records=None)


def _read(ref: ObjectRef, max_bytes: int | None) -> Blob | SourceError:
    """The file's bytes; only its head when it is over ``max_bytes``. Opened non-blocking and
    checked again, so a FIFO put in a file's place since listing cannot hang the run."""
    try:
        fd = os.open(ref.uri, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        return SourceError(ref.uri, "object_missing", str(exc))
    except PermissionError as exc:
        return SourceError(ref.uri, "access_denied", str(exc))
    except OSError as exc:
        return SourceError(ref.uri, "read_failed", str(exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return SourceError(ref.uri, "not_a_regular_file", "no longer a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            if max_bytes is not None and st.st_size > max_bytes:
                return Blob(ref, fh.read(RAW_CAP), oversize=st.st_size)
            return Blob(ref, fh.read())
    except OSError as exc:
        return SourceError(ref.uri, "read_failed", str(exc))
    finally:
        os.close(fd)
