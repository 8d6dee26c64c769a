"""Scratch files for readers that only take a path (DuckDB's JSON reader), leaving nothing.

On Linux a scratch file is unlinked the moment it is created and handed to the reader as
``/proc/self/fd/N``: the kernel frees it when the descriptor closes, so no kill, crash or
power cut leaves one behind. (Where there is no ``/proc``, it is a named file removed on
exit.) Memory-backed ``/dev/shm`` is used while it has room for the body twice over, else
the temporary directory; ``DETECTOR_SCRATCH_DIR`` chooses one folder instead.

A write that fails for lack of space moves on to the next folder; when none can take it,
or anything else fails (I/O error, permissions), the caller gets an ``InfrastructureError``:
our machine failed, not the input.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from types import TracebackType

from detector import failpoints
from detector.errors import infrastructure

_PROC_FD = "/proc/self/fd"
_FULL = (errno.ENOSPC, errno.EDQUOT)


def scratch_dirs() -> list[str]:
    """Where scratch files may go, best first."""
    chosen = os.environ.get("DETECTOR_SCRATCH_DIR")
    if chosen:
        return [chosen]
    dirs = []
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        dirs.append("/dev/shm")
    dirs.append(tempfile.gettempdir())
    return dirs


def _room(folder: str) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


class ScratchFiles:
    """``with ScratchFiles(bodies) as paths:`` one readable path per body, for the block."""

    def __init__(self, bodies: list[bytes | memoryview]) -> None:
        self.bodies = bodies
        self.paths: list[str] = []
        self._fds: list[int] = []
        self._named: list[str] = []

    def __enter__(self) -> list[str]:
        try:
            for body in self.bodies:
                self._add(body)
        except BaseException:
            self._close()
            raise
        return self.paths

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    def _add(self, body: bytes | memoryview) -> None:
        dirs = scratch_dirs()
        roomy = [d for d in dirs if _room(d) > 2 * len(body)] or dirs[-1:]
        failure: OSError | None = None
        for folder in roomy:
            try:
                self._write(folder, body)
                return
            except OSError as exc:
                failure = exc
                if exc.errno not in _FULL:
                    break
        assert failure is not None
        raise infrastructure(
            failure, f"writing {len(body):,} bytes of scratch space in {roomy[-1]}"
        ) from failure

    def _write(self, folder: str, body: bytes | memoryview) -> None:
        fd, path = tempfile.mkstemp(prefix="detector-ct-", suffix=".json", dir=folder)
        unlinked = os.path.isdir(_PROC_FD)
        if unlinked:
            os.unlink(path)
        try:
            failpoints.hit("scratch.write")
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            if not unlinked:
                os.unlink(path)
            raise
        self._fds.append(fd)
        if unlinked:
            self.paths.append(f"{_PROC_FD}/{fd}")
        else:
            self._named.append(path)
            self.paths.append(path)

    def _close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        for path in self._named:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._fds, self._named = [], []
