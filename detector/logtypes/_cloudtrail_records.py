"""CloudTrail records → canonical events, through tiers from fastest to most exact.

Every CloudTrail container (trail files, EventBridge envelopes, CloudWatch Logs payloads)
ends here:

1. native (``_cloudtrail_native``): whole Records arrays, or raw records cut out by a
   msgspec ``Raw`` scan, are typed by DuckDB's JSON reader in one query per batch;
2. exact (``_cloudtrail_exact``): what the native tier cannot read is decoded by msgspec,
   a whole array at once, else record by record so that only the bad records are rejected;
3. salvage: JSON that does not parse (truncated, damaged) is walked record by record; every
   complete record is kept and each damaged stretch rejected with the decoder's message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import cache

import msgspec
import pyarrow as pa

from detector.logtypes import _cloudtrail_native as native
from detector.logtypes._cloudtrail_exact import (
    NOT_A_RECORD,
    RAW_ARRAY,
    RECORD,
    RECORDS_ARRAY,
    Record,
    RecordBatch,
    screen,
    to_table,
)
from detector.logtypes._cloudtrail_fields import Canonical
from detector.logtypes._cloudtrail_native import NativeDecodeError, RawRecords
from detector.logtypes._json_split import array_elements
from detector.logtypes.base import ParseResult

DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What decoding bad bytes can raise (msgspec reports invalid UTF-8 in strings as the last,
and JSON nested deeper than it recurses as the first)."""


def finish(
    batch: RecordBatch,
    records: RawRecords | None = None,
    arrays: Sequence[tuple[str, memoryview]] = (),
) -> ParseResult:
    """Events from every tier: whole arrays and raw records natively, the rest exactly.

    ``arrays`` are trail files' Records arrays and ``records`` raw records (JSON lines,
    envelope details); both go to DuckDB in one query each, and whatever DuckDB cannot type
    falls back to msgspec (``batch``), which rejects exactly the records at fault.
    """
    tables: list[pa.Table] = []
    if arrays:
        try:
            tables.append(
                _accept_native(batch, native.arrays_to_table(list(arrays)), _array_raws(arrays))
            )
        except NativeDecodeError:
            for one in arrays:
                try:
                    result = native.arrays_to_table([one])
                    tables.append(_accept_native(batch, result, _array_raws([one])))
                except NativeDecodeError:
                    origin, arr = one
                    whole = arr.obj if isinstance(arr.obj, bytes) else bytes(arr)
                    decode_array(batch, bytes(arr), origin, salvage_from=whole)
    if records is not None and records.raws:
        try:
            result = native.records_to_table(records)
        except NativeDecodeError:
            for origin, items in records.segments():
                decode_lines(batch, items, origin)
        else:  # rows are in the order of the raw records
            tables.append(screen(batch, result, records.raws.__getitem__))
    if batch.records or not tables:
        tables.append(to_table(batch))
    events = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return ParseResult(events, batch.rejects)


def _array_raws(arrays: Sequence[tuple[str, memoryview]]) -> Callable[[str, int], bytes]:
    """Raw text of record ``index`` in a file's array, decoded only when a reject needs it."""
    cache: dict[str, list[msgspec.Raw]] = {}
    by_origin = dict(arrays)

    def raw_of(origin: str, index: int) -> bytes:
        if origin not in cache:
            cache[origin] = raw_elements(bytes(by_origin[origin]))
        raws = cache[origin]
        return bytes(raws[index]) if index < len(raws) else b""

    return raw_of


def raw_elements(array: bytes) -> list[bytes]:
    """The raw text of each element of a JSON array, however deeply nested, and cut by
    structure where msgspec will not read it (DuckDB accepts ``[1,]``; msgspec does not)."""
    try:
        return [bytes(r) for r in RAW_ARRAY.decode(array)]
    except DECODE_ERRORS:
        found = array_elements(array, array.find(b"["))
        return [array[a:z] for a, z in found.spans] if found else []


def _accept_native(
    batch: RecordBatch, result: Canonical, raw_of: Callable[[str, int], bytes]
) -> pa.Table:
    """Events of the native tier, with its flagged rows rejected (see ``screen``)."""
    origins = result.events.column("origin_object")
    positions = result.events.column("origin_index")
    return screen(batch, result, lambda row: raw_of(origins[row].as_py(), positions[row].as_py()))


TOO_DEEP = "record nested deeper than a JSON decoder recurses (about 1,000 levels)"


def decode_array(
    batch: RecordBatch,
    data: bytes,
    origin: str,
    first_index: int = 0,
    salvage_from: bytes | None = None,
) -> None:
    """Decode a JSON array of records into ``batch``; fall back tier by tier on bad input.

    ``salvage_from`` is the whole file the array was cut from, so that the positions in
    salvage messages are positions in the file.
    """
    try:
        records = RECORDS_ARRAY.decode(data)
    except (msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        try:
            raws = raw_elements(data)
        except DECODE_ERRORS:
            salvage_array(batch, salvage_from or data, origin, first_index)
            return
        decode_each(batch, [(first_index + i, r) for i, r in enumerate(raws)], origin)
        return
    except msgspec.DecodeError:
        salvage_array(batch, salvage_from or data, origin, first_index)
        return
    accept(
        batch,
        records,
        origin,
        range(first_index, first_index + len(records)),
        lambda: [bytes(r) for r in RAW_ARRAY.decode(data)],
    )


def accept(
    batch: RecordBatch,
    records: Sequence[Record],
    origin: str,
    indices: Sequence[int],
    raws: Callable[[], Sequence[bytes]],
) -> None:
    """Add decoded records, rejecting JSON objects that are not CloudTrail records at all.

    Any JSON object decodes (every field is optional); one with none of the identifying
    fields is some other document, e.g. a wrapper around a record.
    """
    raws = cache(raws)
    if all(r.eventTime is not None for r in records):
        batch.add(records, origin, indices, lambda k: raws()[k])
        return
    raw = raws()
    keep = [i for i, r in enumerate(records) if _is_record(r)]
    for i in sorted(set(range(len(records))) - set(keep)):
        batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD, raw[i], indices[i])
    batch.add(
        [records[i] for i in keep], origin, [indices[i] for i in keep], lambda k: raw[keep[k]]
    )


def _is_record(r: Record) -> bool:
    return any(
        v is not None for v in (r.eventVersion, r.eventTime, r.eventName, r.eventSource, r.eventID)
    )


def decode_lines(batch: RecordBatch, lines: Sequence[tuple[int, bytes]], origin: str) -> None:
    """Decode JSON lines (one record each) in one call, or one by one if any is bad."""
    try:
        records = RECORDS_ARRAY.decode(b"[" + b",".join(ln for _, ln in lines) + b"]")
    except DECODE_ERRORS:
        records = []
    if len(records) != len(lines):  # a bad line, or one that is not exactly one record
        decode_each(batch, lines, origin)
        return
    accept(batch, records, origin, [i for i, _ in lines], lambda: [ln for _, ln in lines])


def decode_each(
    batch: RecordBatch,
    raws: Sequence[tuple[int, bytes]],
    origin: str,
    text_was_repaired: bool = False,
) -> None:
    """Decode records one at a time, rejecting each one that does not fit."""
    good: list[Record] = []
    idx: list[int] = []
    good_raws: list[bytes] = []
    for i, raw in raws:
        if text_was_repaired and "\ufffd".encode() in raw:
            batch.reject(origin, "invalid_utf8", "record contains bytes that are not UTF-8", raw, i)
            continue
        try:
            record = RECORD.decode(raw)
        except RecursionError:
            batch.reject(origin, "too_deep", TOO_DEEP, raw, i)
        except msgspec.ValidationError as exc:
            batch.reject(origin, "bad_record_shape", str(exc), raw, i)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            reason = "invalid_json" if _is_utf8(raw) else "invalid_utf8"
            batch.reject(origin, reason, str(exc), raw, i)
        else:
            if _is_record(record):
                good.append(record)
                idx.append(i)
                good_raws.append(raw)
            else:
                batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD, raw, i)
    batch.add(good, origin, idx, good_raws.__getitem__)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_NEXT_RECORD = re.compile(r'\{\s*"eventVersion"\s*:')
"""Where a record begins (AWS writes eventVersion first): how salvage resynchronises."""

_ARRAY_START = re.compile(rb'"Records"\s*:\s*\[|^\s*\[')
_ARRAY_START_TEXT = re.compile(r'"Records"\s*:\s*\[|^\s*\[')
_RECORDS_HEAD = re.compile(rb'\{\s*"Records"\s*:')
_NEXT_ARRAY = re.compile(rb'\s*(?:\{\s*"Records"\s*:\s*)?\[')
"""Where a concatenated file's next document begins: a bare array, or a trail file's."""


def split_array(
    batch: RecordBatch,
    data: bytes,
    origin: str,
    cut_short: Callable[[int, bytes], None] | None = None,
) -> list[tuple[int, bytes]] | None:
    """The elements of a file's records array(s), cut by structure, whatever they hold, and
    every byte accounted for: bytes after the array that are not another array (Firehose
    concatenates trail files) are rejected. When the file ends inside the array (a file cut
    short, or a bracket missing), the complete elements are returned and ``cut_short`` gets
    the rest with its first index; None without ``cut_short``, or when the brackets do not
    pair: only salvage by resynchronising can help then."""
    items: list[tuple[int, bytes]] = []
    pos = seen = 0
    while True:
        m = _ARRAY_START.search(data) if pos == 0 else _NEXT_ARRAY.match(data, pos)
        if m is None:
            if not items:
                batch.reject(
                    origin, "no_records", "no Records array in this JSON", data, None, None
                )
            return items
        found = array_elements(data, m.end() - 1)
        if found is None or not (found.closed or cut_short):
            return None
        before = data[: m.start()].strip()
        if pos == 0 and before not in (b"", b"{"):
            batch.reject(
                origin,
                "invalid_json",
                "unexpected bytes before the Records array",
                before,
                None,
                None,
            )
        elements = list(enumerate(found.spans, start=seen))
        seen += len(elements)
        if not found.closed and cut_short is not None:
            if elements:
                last, (a, _) = elements.pop()
                cut_short(last, data[a:])
            else:
                batch.reject(
                    origin, "invalid_json", "file ends inside the Records array", b"", None, None
                )
            return items + _elements(batch, data, origin, elements)
        items += _elements(batch, data, origin, elements)
        rest = data[found.end :].lstrip()
        if b'"Records"' in m.group(0):  # {"Records": [...]} closes with its brace
            rest = rest.removeprefix(b"}").lstrip()
        if not rest:
            return items
        if not (rest.startswith(b"[") or _RECORDS_HEAD.match(rest)):
            batch.reject(
                origin, "invalid_json", "unexpected bytes after the Records array", rest, None, None
            )
            return items
        pos = len(data) - len(rest)


_KEY_FRAGMENT = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:')
"""``"name": value`` where an array element should be: a record broken open by damage (a
brace lost or added), its fields spilling into the array."""


def _elements(
    batch: RecordBatch, data: bytes, origin: str, elements: list[tuple[int, tuple[int, int]]]
) -> list[tuple[int, bytes]]:
    """The elements' bytes with their indices; each ``"name": value`` fragment is rejected
    instead, as damage of unknown size (how many records it came from cannot be told)."""
    out = []
    for index, (a, z) in elements:
        if data[a] == 0x22 and _KEY_FRAGMENT.match(data, a):
            batch.reject(
                origin,
                "invalid_json",
                "a field outside any record (damage: a brace lost or added)",
                data[a:z],
                index,
                None,
            )
        else:
            out.append((index, data[a:z]))
    return out


def resync_from(batch: RecordBatch, origin: str) -> Callable[[int, bytes], None]:
    """What to do with the unclosed end of an array: salvage it by resynchronising."""
    return lambda index, rest: salvage_array(batch, b"[" + rest, origin, index, by_structure=False)


def salvage_array(
    batch: RecordBatch, data: bytes, origin: str, first_index: int = 0, by_structure: bool = True
) -> None:
    """Keep every record of a file that does not decode as a whole, rejecting each bad one.

    Cut by structure first (exact: each element is judged alone and keeps its index). Only
    when the brackets are broken too does reading resume at the next ``{"eventVersion":``
    after the damage; the damaged stretch is then one reject of unknown size.
    """
    items = split_array(batch, data, origin, resync_from(batch, origin)) if by_structure else None
    if items is not None:
        decode_each(batch, items, origin)
        return
    repaired = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        repaired = True
    m = _ARRAY_START_TEXT.search(text)
    if m is None:
        batch.reject(origin, "no_records", "no Records array in this JSON", data, None, None)
        return
    decoder = json.JSONDecoder()
    pos, n, i = m.end(), len(text), first_index
    raws: list[tuple[int, bytes]] = []
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            batch.reject(
                origin, "invalid_json", "file ends inside the Records array", b"", None, None
            )
            break
        if text[pos] == "]":
            rest = text[pos + 1 :].strip().removeprefix("}").strip()
            if rest:
                batch.reject(
                    origin,
                    "invalid_json",
                    "unexpected bytes after the Records array",
                    rest.encode(),
                    None,
                    None,
                )
            break
        try:
            _, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            resume = _NEXT_RECORD.search(text, pos + 1)
            stop = resume.start() if resume else n
            deep = isinstance(exc, RecursionError)
            what = TOO_DEEP if deep else f"{exc.msg} at char {exc.pos} of the file"
            batch.reject(
                origin,
                "too_deep" if deep else "invalid_json",
                f"{what}; record {i} rejected"
                + (
                    "; reading resumed at the next record"
                    if resume
                    else " with everything after it"
                ),
                text[pos:stop].encode(),
                i,
                1 if deep else None,
            )
            if resume is None:
                break
            pos, i = stop, i + 1
            continue
        if text[pos] == "{":
            raws.append((i, text[pos:end].encode()))
        else:  # a value outside any object: a fragment of damage, not a record
            batch.reject(
                origin,
                "invalid_json",
                f"not a record (a fragment of damage at char {pos} of the file)",
                text[pos:end].encode(),
                i,
                None,
            )
        pos, i = end, i + 1
    decode_each(batch, raws, origin, text_was_repaired=repaired)
