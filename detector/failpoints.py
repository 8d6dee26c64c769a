"""Failpoints: named places where a test can make the process die or its machine fail.

``DETECTOR_FAILPOINTS`` holds comma-separated ``NAME[:N][=ACTION]`` items:

* ``tail.after_commit:3`` kills the process with SIGKILL the third time it reaches
  ``hit("tail.after_commit")``. SIGKILL, not an exception: nothing gets to clean up, exactly
  like a power cut or the OOM killer.
* ``scratch.write=enospc`` makes every ``hit("scratch.write")`` from the first on (from the
  Nth with ``:N``, or only hits N to M with ``:N-M``) raise the operating system's error:
  ``enospc`` (disk full), ``eio`` (I/O error), ``eacces`` (permission denied), or ``memory``
  (MemoryError). A full disk stays full, so an error keeps firing unless a range ends it;
  this is how tests reach the paths for our own failures.
* ``ray.parse_task:2=parent`` kills the process's parent instead: a Ray worker's parent is
  its node's raylet, so the whole node dies (its workers with it).

Unset (always, outside tests), ``hit`` is one dictionary lookup. ``arm`` sets them for
in-process tests.
"""

from __future__ import annotations

import errno
import os
import signal

_ERRORS = {"enospc": errno.ENOSPC, "eio": errno.EIO, "eacces": errno.EACCES}
_counts: dict[str, int] = {}


def _armed(spec: str) -> dict[str, tuple[int, int | None, str]]:
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        item, _, action = item.partition("=")
        name, _, hits = item.partition(":")
        first, _, last = hits.partition("-")
        out[name] = (int(first or 1), int(last) if last else None, action or "kill")
    return out


_ARMED = _armed(os.environ.get("DETECTOR_FAILPOINTS", ""))


def arm(spec: str) -> None:
    """Arm failpoints in this process (``DETECTOR_FAILPOINTS`` syntax; "" disarms)."""
    global _ARMED
    _ARMED = _armed(spec)
    _counts.clear()


def hit(name: str) -> None:
    """Die (or fail) here if this failpoint is armed and its turn has come."""
    if name not in _ARMED:
        return
    _counts[name] = _counts.get(name, 0) + 1
    nth, last, action = _ARMED[name]
    if action in ("kill", "parent"):
        if _counts[name] == nth:
            os.kill(os.getppid() if action == "parent" else os.getpid(), signal.SIGKILL)
        return
    if _counts[name] < nth or (last is not None and _counts[name] > last):
        return
    if action == "memory":
        raise MemoryError(f"failpoint {name}")
    code = _ERRORS[action]
    raise OSError(code, os.strerror(code), f"failpoint {name}")
