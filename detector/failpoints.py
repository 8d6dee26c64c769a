"""Failpoints: named places where a test can make the process die, to prove crash safety.

``DETECTOR_FAILPOINTS="tail.after_commit:3"`` kills the process with SIGKILL the third time
it reaches ``hit("tail.after_commit")`` (several, comma-separated). Unset (always, outside
tests), ``hit`` is one dictionary lookup. SIGKILL, not an exception: nothing gets to clean up,
exactly like a power cut or the OOM killer.
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def _armed() -> dict[str, int]:
    spec = os.environ.get("DETECTOR_FAILPOINTS", "")
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, nth = item.partition(":")
        out[name] = int(nth or 1)
    return out


_ARMED = _armed()


def hit(name: str) -> None:
    """Die here if this failpoint is armed and this is its nth hit."""
    if name not in _ARMED:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == _ARMED[name]:
        os.kill(os.getpid(), signal.SIGKILL)
