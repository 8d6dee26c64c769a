"""Progress of long runs: a live bar on a terminal, a periodic log line elsewhere (CI, files)."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from detector.terminal import visible

log = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 10.0


class RunProgress:
    """Counts objects, events and bytes; renders files done/total, events, MB and events/s."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self.objects = self.events = self.bytes = 0
        self.total = 0
        self.started = time.perf_counter()
        self._last_log = self.started
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> RunProgress:
        if self.live:
            self._bar = Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files"),
                TextColumn("{task.fields[stats]}", markup=False),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("ingest", total=None, stats="")
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(et, ev, tb)

    def set_total(self, objects: int) -> None:
        self.total = objects
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=objects)

    def advance(self, objects: int, events: int, nbytes: int) -> None:
        self.objects += objects
        self.events += events
        self.bytes += nbytes
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        stats = (
            f"{self.events:,} events  {self.bytes / 1e6:,.1f} MB  "
            f"{self.events / elapsed:,.0f} events/s"
        )
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.objects, stats=stats)
        elif self.enabled and time.perf_counter() - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = time.perf_counter()
            print(
                visible(f"ingest: {self.objects:,}/{self.total:,} files  {stats}"), file=sys.stderr
            )
