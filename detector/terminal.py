"""Log-derived text on a terminal: control characters made visible, never read as markup.

User agents, object keys, bucket names, ARNs and error messages come from whoever made the
request. On a terminal, an ESC sequence in them can clear the screen, hide text (``ESC[8m``),
draw a link (OSC 8) or write the clipboard (OSC 52); a BIDI override reorders what is read;
and rich reads ``[link=…]``, ``[conceal]`` or a stray ``[/x]`` as markup (the last one is an
error). So everything log-derived that reaches a terminal goes through ``visible`` (each
control character becomes a visible escape) and is handed to rich as ``Text``, which rich
never parses. Files (CSV, JSON lines, Parquet) keep the exact values.

    >>> visible("a\\x1b]52;c;SGVsbG8=\\x07b \\u202egnp.exe")
    'a\\\\x1b]52;c;SGVsbG8=\\\\x07b \\\\u202egnp.exe'
    >>> visible("[link=https://evil.example]x[/link] café 日本")
    '[link=https://evil.example]x[/link] café 日本'
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
BIDI_CONTROLS = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""Arabic letter mark, LRM, RLM, the embeddings and overrides (LRE RLE PDF LRO RLO) and the
isolates (LRI RLI FSI PDI): invisible, and they reorder the text around them."""


def _escape(code: int) -> str:
    char = chr(code)
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_TABLE = {
    code: _escape(code) for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS)
}


def visible(value: object) -> str:
    """``value`` as text with every C0, DEL, C1 and BIDI control written as an escape
    (``\\x1b``, ``\\n``, ``\\u202e``); other characters, ``é`` or ``日本`` included, are kept."""
    return str(value).translate(_TABLE)


def safe_text(value: object, style: str | Style = "") -> Text:
    """``value`` as rich ``Text``: control characters visible, brackets shown as they are."""
    return Text(visible(value), style=style)


def short_principal(principal: str | None) -> str:
    """An ARN's resource part (``role/name/session``), for a table's narrow column."""
    if not principal:
        return ""
    return principal.split(":")[-1] if principal.startswith("arn:") else principal


def say(console: Console, value: object, style: str | Style = "") -> None:
    """Print one line of log-derived text: no markup, no emoji codes, no highlighting, and
    no line breaks of ours (the terminal wraps it: a command stays one line to copy)."""
    console.print(safe_text(value, style), soft_wrap=True)


PIPE_WIDTH = 200
"""Columns of output that goes to a pipe or a file."""


class PipeConsole(Console):
    """A rich ``Console`` on which a closed pipe (``detector … | head``) raises
    ``BrokenPipeError`` for the CLI to end quietly with 141, like the rest of its output;
    rich's own handling exits with 1."""

    def __init__(self, **kwargs: Any) -> None:
        # Not on a terminal (a pipe, a file, CI), rich would wrap at 80 columns and cut
        # alert ids and principals; $COLUMNS still wins when set.
        stream = sys.stderr if kwargs.get("stderr") else sys.stdout
        if "width" not in kwargs and not os.environ.get("COLUMNS") and not stream.isatty():
            kwargs["width"] = PIPE_WIDTH
        super().__init__(**kwargs)

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written
        raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")


class SafeLogFormatter(logging.Formatter):
    """A text log formatter whose lines carry no control characters from their arguments.

    The message (a URI, a key, an error from a server) is escaped whole, newlines included,
    so one record is one line and cannot forge others; a traceback keeps its line breaks.
    (``detector.metrics.JsonLogFormatter`` needs none of this: ``json.dumps`` escapes every
    control and non-ASCII character.)
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = visible(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return _lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _lines(super().formatStack(stack_info))


def _lines(text: str) -> str:
    return "\n".join(visible(line) for line in text.split("\n"))
