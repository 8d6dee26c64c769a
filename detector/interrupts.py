"""Ctrl-C and SIGTERM for long runs: finish (or, pressed twice, abandon) the batch in hand.

The first SIGINT or SIGTERM only asks the run to stop: the batch in hand is finished and
committed, the state is saved, and the run ends with 128 + the signal number (130 for
Ctrl-C). A second one abandons the batch at once (``KeyboardInterrupt``): nothing of it is
committed, and the lake stays consistent because only manifest lines commit. Never a
traceback: the CLI turns ``KeyboardInterrupt`` into one line and exit status 130.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], object] | int | None


class StopRequest:
    """Set by the first SIGINT/SIGTERM while installed; a second one raises."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Handler] = {}

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def set(self, signum: int = signal.SIGTERM) -> None:
        """Ask for a stop (what the signal does; also for tests and idle timeouts)."""
        if self.signum is None:
            self.signum = signum
        self.event.set()

    @property
    def exit_code(self) -> int:
        """128 + the signal that asked for the stop (0 when none did)."""
        return 128 + self.signum if self.signum else 0

    def install(self) -> StopRequest:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.set(signum)
        log.warning(
            "%s received: finishing the batch in hand, then stopping (again to abandon it)",
            signal.Signals(signum).name,
        )


def reraise_if_interrupted(exc: BaseException) -> None:
    """Raise ``KeyboardInterrupt`` when ``exc`` only wraps one.

    A second Ctrl-C inside native code (DuckDB, polars) comes back as that library's own
    error caused by our ``KeyboardInterrupt``; guards that catch ``Exception`` to isolate a
    bad input must let the abandon through instead of logging it as a parser failure.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
