"""Cut a JSON array into its elements without a recursive decoder.

Recursive decoders (msgspec, Python's json) give up on input nested about a thousand deep,
even to skip it, so one hostile record would cost its whole file. This scan finds the
top-level elements of an array with array arithmetic over the bytes instead (strings, their
escapes and bracket depth), whatever the nesting; each element is then decoded on its own,
and only the element that is too deep is rejected.

It checks structure only: whether each element is valid JSON is for its decoder to say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("{"), ord("[")]] = 1
_CLOSE = np.zeros(256, np.int8)
_CLOSE[[ord("}"), ord("]")]] = 1
_COMMA = ord(",")
_CLOSE_ARRAY = ord("]")
_PAIRS = {ord("{"): ord("}"), ord("["): ord("]")}
_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class ArraySpans:
    """The elements of one JSON array: their (start, end) offsets, where the array ends, and
    whether it closed (when it did not, the file ended inside it and the last element runs
    to the end of the data)."""

    spans: list[tuple[int, int]]
    end: int
    closed: bool


def array_elements(data: bytes, start: int) -> ArraySpans | None:
    """The elements of the array whose ``[`` is at ``data[start]``; None when the bytes
    there are not an array or a closing bracket inside it has no opening one."""
    if data[start : start + 1] != b"[":
        return None
    b = np.frombuffer(data, np.uint8)[start:]
    outside = _outside_strings(b)
    depth = np.cumsum((_OPEN[b] - _CLOSE[b]) * outside, dtype=np.int64)  # 1 inside the array
    closing = np.flatnonzero(depth == 0)
    closed = bool(closing.size)
    end = int(closing[0]) + 1 if closed else len(b)
    if depth[:end].min() < 0 or (closed and b[end - 1] != _CLOSE_ARRAY):
        return None  # brackets of the wrong kind: one is missing somewhere
    commas = np.flatnonzero((b[:end] == _COMMA) & (outside[:end] == 1) & (depth[:end] == 1))
    lows = [1, *(commas + 1).tolist()]
    highs = [*commas.tolist(), end - 1 if closed else end]
    spans = []
    for lo, hi in zip(lows, highs, strict=True):
        piece = data[start + lo : start + hi]
        stripped = piece.lstrip(_SPACE)
        if stripped.strip(_SPACE):
            first = start + lo + len(piece) - len(stripped)
            last = first + len(stripped.rstrip(_SPACE))
            cut_short = not closed and hi == highs[-1]
            if not cut_short and _PAIRS.get(data[first], data[last - 1]) != data[last - 1]:
                return None  # an element opened with one kind of bracket, closed with another
            spans.append((first, last))
    return ArraySpans(spans, start + end, closed)


def _outside_strings(b: np.ndarray) -> np.ndarray:
    """1 where a byte is outside every JSON string, else 0 (only brackets are asked about,
    and a bracket is never a quote, so a quote's own value does not matter)."""
    quotes = np.flatnonzero(b == _QUOTE)
    if quotes.size:
        # For each quote, the backslashes right before it: an odd run escapes it.
        last_plain = np.maximum.accumulate(np.where(b == _BACKSLASH, -1, np.arange(b.size)))
        before = quotes - 1
        run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)
        quotes = quotes[run % 2 == 0]
    real = np.zeros(b.size, np.int8)
    real[quotes] = 1
    return (1 - np.cumsum(real, dtype=np.int64) % 2).astype(np.int8)
