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
            yield self._entry(str(self.root), self.root.name)
            return
        yield from _walk(str(self.root.resolve()), "")

    def fetch_many(
        self, refs: Iterable[ObjectRef], max_bytes: int | None = None
    ) -> Iterator[Blob | SourceError]:
        for ref in refs:
            yield _read(ref, max_bytes)

    @staticmethod
    def _entry(path: str, key: str, real: str | None = None) -> ObjectRef | Reject:
        """The object at ``path`` (``real``: its resolved path, when known), or why it is not
        one (a per-entry reject)."""
        try:
            st = os.stat(path)
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
        real = real or str(Path(path).resolve())
        return ObjectRef(real, key, st.st_size, f"mtime:{st.st_mtime_ns}")


def _walk(folder: str, prefix: str) -> Iterator[ObjectRef | Reject]:
    """A resolved folder's files in sorted order, then its subfolders' (as ``os.walk`` goes,
    links to folders not followed). A file's path is known real unless it is a link, so only
    links are resolved: one ``stat`` per file, no path arithmetic."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield _reject(folder, "unreadable_folder", f"cannot list this folder: {exc.strerror}")
        return
    folders = []
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            is_folder = e.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            if not e.is_symlink():
                folders.append(e)
            continue
        link = e.is_symlink()
        yield LocalSource._entry(e.path, prefix + e.name, None if link else e.path)
    for e in folders:
        yield from _walk(e.path, prefix + e.name + "/")


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
        if max_bytes is not None and st.st_size > max_bytes:
            return Blob(ref, _read_all(fd, st.st_size, RAW_CAP), oversize=st.st_size)
        return Blob(ref, _read_all(fd, st.st_size))
    except OSError as exc:
        return SourceError(ref.uri, "read_failed", str(exc))
    finally:
        os.close(fd)


def _read_all(fd: int, size: int, limit: int | None = None) -> bytes:
    """Everything (or up to ``limit`` bytes) of a file of ``size`` bytes: one ``read`` of the
    size plus a byte (a regular file returns short only at its end), more only if it grew."""
    want = size + 1 if limit is None else min(size + 1, limit)
    first = os.read(fd, want)
    if len(first) < want:
        return first
    chunks = [first]
    got = len(first)
    while limit is None or got < limit:
        chunk = os.read(fd, 1 << 20 if limit is None else min(limit - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
