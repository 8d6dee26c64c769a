"""``detector hunt --shell``: a small SQL prompt over the same read-only views.

A statement runs when a line ends with ``;``; dot commands run at once. Errors print one
line and the session goes on; end of input (Ctrl-D) or ``.quit`` ends it. Results and
errors can carry log data: they are shown through ``detector.terminal`` (control characters
escaped, no markup).
"""

from __future__ import annotations

import shlex
import sys

import duckdb
from rich.console import Console

from detector.errors import DetectorError
from detector.hunt.output import TABLE_BATCH_ROWS, render_table
from detector.hunt.saved import get_hunt, load_hunts, parse_params
from detector.hunt.views import execute, table_names
from detector.terminal import say, visible

HELP = """SQL ending with ';' runs (one SELECT at a time, read-only).
.tables              the views
.schema VIEW         its columns and types
.hunts               the saved hunts
.run NAME [k=v ...]  run a saved hunt with parameters
.help                this text
.quit                leave (also Ctrl-D)"""


class Shell:
    def __init__(self, conn: duckdb.DuckDBPyConnection, console: Console) -> None:
        self.conn = conn
        self.console = console
        self.interactive = sys.stdin.isatty()

    def _read(self, prompt: str) -> str:
        return input(prompt if self.interactive else "")

    def loop(self) -> int:
        if self.interactive:
            say(
                self.console,
                "detector hunt shell: views "
                + ", ".join(table_names(self.conn))
                + "; .help for commands",
            )
        buffer: list[str] = []
        while True:
            try:
                line = self._read("hunt> " if not buffer else "  ...> ")
            except EOFError:
                if buffer:
                    self._do("\n".join(buffer))
                return 0
            except KeyboardInterrupt:
                self.console.print()
                buffer = []
                continue
            stripped = line.strip()
            if not buffer and stripped.startswith("."):
                if not self._dot(stripped):
                    return 0
                continue
            if not stripped and not buffer:
                continue
            buffer.append(line)
            if stripped.endswith(";"):
                self._do("\n".join(buffer))
                buffer = []

    def _do(
        self, sql: str, params: dict[str, object] | None = None, title: str | None = None
    ) -> None:
        batches = execute(self.conn, sql, params, batch_rows=TABLE_BATCH_ROWS)
        try:
            render_table(batches, self.console, limit=None, title=title)
        except DetectorError as exc:
            _error(exc)
        finally:
            batches.close()

    def _dot(self, line: str) -> bool:
        """Run a dot command; False to leave the shell."""
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command in (".quit", ".exit", ".q"):
            return False
        if command == ".help":
            self.console.print(HELP, markup=False, highlight=False)
        elif command == ".tables":
            say(self.console, "  ".join(table_names(self.conn)))
        elif command == ".schema" and rest:
            if rest not in table_names(self.conn):
                _error(f"no view named {rest!r} (.tables)")
            else:
                self._do(f'DESCRIBE "{rest}"')
        elif command == ".hunts":
            for hunt in load_hunts().values():
                say(self.console, hunt.usage())
                say(self.console, f"    {hunt.title}")
        elif command == ".run" and rest:
            try:
                name, *pairs = shlex.split(rest)
            except ValueError as exc:
                _error(exc)
                return True
            try:
                hunt = get_hunt(name)
                params = hunt.bind(parse_params(pairs))
            except DetectorError as exc:
                _error(exc)
            else:
                self._do(hunt.sql, params, hunt.title)
        else:
            _error(f"unknown command {line!r} (.help)")
        return True


def _error(message: object) -> None:
    print(f"error: {visible(message)}", file=sys.stderr)
