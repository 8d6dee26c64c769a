"""Property-based fuzzing of the input parsers: whatever arrives, nothing raises, nothing is lost.

Random bytes never get past routing, so every strategy here starts from real structure
(CloudTrail records, EventBridge envelopes, CloudWatch Logs payloads, access-log lines,
queue messages, Kinesis records) and damages it. For every generated input:

1. nothing raises (``parse_notification`` may raise ``NotificationError`` only) and no
   reject is ``parser_error`` (a parser that raised, caught by the guard);
2. every record is accounted for: each record index (or non-empty line) of a file ends up
   exactly once, as an event or as a counted reject, unless the whole file was rejected;
   where damage makes the count unknowable, nothing is counted twice, no more is counted
   than could be there, and a shortfall is owned by a reject of unknown size;
3. events have the canonical schema and an event time in the sane range (2006 .. now + a
   day), and name the record they came from (an unmodified record always becomes one);
4. ``inflate`` never passes its cap and ``array_elements`` cuts any bytes into ordered spans
   inside them; Kinesis ``pack`` takes at least one record and packs or rejects each.

CI runs a small derandomized sample. To hunt for bugs, scale it up with fresh seeds::

    DETECTOR_FUZZ_SCALE=100 .venv/bin/python -m pytest -q tests/test_fuzz_parsers.py
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import ACCESS_KEY, CT_KEY, access_line, ct_record
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from detector.blob import Blob, ObjectRef
from detector.logtypes import ParseResult, parse_blobs, route
from detector.logtypes import cloudtrail as cloudtrail_type
from detector.logtypes._json_split import array_elements
from detector.logtypes._times import EARLIEST, FUTURE_SLACK
from detector.logtypes.base import GZIP_MAGIC, inflate, unwrap
from detector.logtypes.s3_access import MAX_LINE_BYTES
from detector.schema import EVENT_SCHEMA
from detector.sources.kinesis import pack
from detector.sources.notifications import Notice, NotificationError, parse_notification

SCALE = int(os.environ.get("DETECTOR_FUZZ_SCALE", "1"))
"""Multiplies every test's examples; above 1 the seeds are random rather than fixed."""
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
"""An exception a library swallows and prints (as pyarrow did, bug N) fails the test."""


def fuzz(examples: int) -> settings:
    """Fast and reproducible by default; ``DETECTOR_FUZZ_SCALE`` for long local runs."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        print_blob=True,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\r\n"
CAP = 1 << 20


EARLIEST_US = int(EARLIEST.timestamp() * 1_000_000)


def latest_us() -> int:
    """The latest event time a parser may let through, as microseconds since the epoch."""
    return int((datetime.now(UTC) + FUTURE_SLACK).timestamp() * 1_000_000)


def make_blob(key: str, data: bytes) -> Blob:
    return Blob(ObjectRef(f"s3://fuzz/{key}", key, len(data)), data)


# --- JSON values of every type, and raw text no encoder writes ---------------------------
_ODD = (
    *'\x00\x01\x1f\x7f\n\r\t"\\/\u2028\x85\ufeff\ufffd\ud800\udc00\udfff\U0001f600',
    "}{",
    "],[",
    '\\"',
)
"""Characters JSON encoders and decoders treat specially, and text that looks like JSON."""
TEXT = st.lists(st.characters(exclude_categories=()) | st.sampled_from(_ODD), max_size=8).map(
    "".join
)
NUMBERS = (
    st.integers()
    | st.integers(-(10**40), 10**40)
    | st.floats()
    | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
TIMES = st.sampled_from(
    [
        "2026-11-02T10:00:01Z",
        "2026-11-02T10:00:02.123Z",
        "2026-11-02 10:00:03.000000000",
        "2026-11-02T11:00:05+01:00",
        1793613606000,
        "1793613607000",
        1793613608,
        1793613608.5,
        "yesterday",
        "",
        " ",
        "2026-13-45T99:99:99Z",
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "+275760-09-13T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "2026-11-02T10:00:00.1234567891234Z",
        "2026-11-02T10:00:00+99:99",
        "1e12",
        "-1793613606",
        "99999999999999",
        10**30,
        -1,
        0,
        1.5e300,
        "2005-01-01T00:00:00Z",
        "2999-01-01T00:00:00Z",
        " 2026-11-02T10:00:00Z ",
        "2026-11-02T10:00:00\u0000",
        "2026-11-02",
    ]
) | st.from_regex(
    r"-?\d{1,6}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d{0,12})?"
    r"(Z|[+-]\d{2}:?\d{2})?",
    fullmatch=True,
)

RAW_VALUES: tuple[bytes, ...] = (
    b"[" * 1100 + b"]" * 1100,  # deeper than msgspec and json recurse
    b'{"a":' * 1100 + b"0" + b"}" * 1100,
    b"[" * 20_000 + b"]" * 20_000,
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"1" + b"0" * 400,
    b"-0",
    b"1E-400",
    rb'"\ud800"',
    rb'"\udc00\ud800"',
    rb'"\u0000"',
    b'"\x01\x1f"',
    b'"\xff\xfe"',
    b'"\xed\xa0\x80"',
    b'"\xc3"',
    b'"unterminated',
    b"tru",
    b"[1,]",
    b"{,}",
    b'"a" "b"',
    b"\r 1 \r",
    b"",
    b'{"eventVersion":"1.09","eventTime":"2026-11-02T10:00:00Z"',
)
"""Value text that json.dumps cannot write: too deep, out of range, not UTF-8, not JSON."""
RAW = st.integers(0, len(RAW_VALUES) - 1).map(lambda n: f"@@raw{n}@@")
RAW_ELEMENTS = tuple(r for r in RAW_VALUES if r not in (b"", b'"a" "b"'))
"""Raw values that are one array element each (an empty one or two values without a comma
between them could be read as zero or two)."""
UNBALANCED = (b'"unterminated', b'{"eventVersion":"1.09","eventTime":"2026-11-02T10:00:00Z"')
"""Raw values whose quote or bracket never closes: in an array, the elements after one may
be read as part of it, so how many there are is anybody's guess."""
VALUES = JSON | TIMES | RAW
UNBALANCED_RAW = {f"@@raw{n}@@" for n, raw in enumerate(RAW_VALUES) if raw in UNBALANCED}


def encode(value: Any, ascii_only: bool = True, indent: int | None = None) -> bytes:
    """JSON text of ``value``, raw placeholders replaced; lone surrogates written as such
    (``ascii_only=False``) become bytes that are not UTF-8."""
    text = json.dumps(
        value, ensure_ascii=ascii_only, indent=indent, separators=None if indent else (",", ":")
    )
    data = text.encode("utf-8", "surrogatepass")
    if b"@@raw" in data:
        for n, raw in enumerate(RAW_VALUES):
            data = data.replace(b'"@@raw%d@@"' % n, raw)
    return data


# --- CloudTrail records with damage -------------------------------------------------------
FIELD_PATHS: tuple[tuple[str | int, ...], ...] = tuple(
    tuple(int(p) if p.isdigit() else p for p in path.split("."))
    for path in [
        "eventVersion",
        "eventTime",
        "@timestamp",
        "eventID",
        "requestID",
        "eventName",
        "eventSource",
        "eventType",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "recipientAccountId",
        "vpcEndpointId",
        "eventCategory",
        "readOnly",
        "managementEvent",
        "userIdentity",
        "userIdentity.type",
        "userIdentity.arn",
        "userIdentity.accountId",
        "userIdentity.userName",
        "userIdentity.sessionContext",
        "userIdentity.sessionContext.sessionIssuer",
        "userIdentity.sessionContext.sessionIssuer.arn",
        "userIdentity.sessionContext.sessionIssuer.userName",
        "tlsDetails",
        "tlsDetails.tlsVersion",
        "resources",
        "resources.0",
        "resources.1.accountId",
        "resources.1.type",
        "resources.1.ARN",
        "requestParameters",
        "requestParameters.bucketName",
        "requestParameters.key",
        "requestParameters.Host",
        "requestParameters.x-amz-server-side-encryption",
        "requestParameters.x-amz-server-side-encryption-customer-algorithm",
        "responseElements",
        "responseElements.x-amz-server-side-encryption-aws-kms-key-id",
        "additionalEventData",
        "additionalEventData.bytesTransferredOut",
        "additionalEventData.bytesTransferredIn",
        "additionalEventData.SignatureVersion",
        "additionalEventData.SSEApplied",
    ]
)
DUP_KEYS = ("eventTime", "eventName", "userIdentity", "additionalEventData", "readOnly")


def put(node: Any, path: Sequence[str | int], value: Any, delete: bool = False) -> None:
    """Set (or delete) ``path`` in a record; a no-op where an earlier change removed it."""
    for step in path[:-1]:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.setdefault(step, {})
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        if delete:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if delete:
            del node[last]
        else:
            node[last] = value


@dataclass(frozen=True)
class Element:
    """One record-sized piece of a file, and what its event (if any) must look like."""

    text: bytes
    is_object: bool
    """A JSON object: nothing else may become an event."""
    event_id: str | None = None
    """The eventID an event made from it must carry (None: not checked)."""
    pristine: bool = False
    """An unmodified record: it must become an event."""
    intact: bool = True
    """Its quotes and brackets balance: it cannot swallow the elements after it."""


@st.composite
def elements(
    draw: st.DrawFn, i: int, ascii_only: bool = True, indent: int | None = None
) -> Element:
    """A CloudTrail record, pristine or with fields replaced, deleted or duplicated; or a
    JSON value that is no record (a list of records, a record as a string, raw junk)."""
    kind = draw(
        st.sampled_from(("record",) * 5 + ("pristine",) * 3 + ("value", "nested", "quoted", "raw"))
    )
    rec = ct_record(i)
    if kind == "pristine":
        return Element(encode(rec, ascii_only, indent), True, rec["eventID"], True)
    if kind == "record":
        changes = draw(
            st.lists(
                st.tuples(st.sampled_from(FIELD_PATHS), st.booleans(), VALUES),
                min_size=1,
                max_size=3,
            )
        )
        for path, delete, value in changes:
            put(rec, path, value, delete)
        text = encode(rec, ascii_only, indent)
        if draw(st.booleans()):
            key, value = draw(st.sampled_from(DUP_KEYS)), draw(VALUES)
            text = text[:-1] + b"," + encode(key) + b":" + encode(value, ascii_only) + b"}"
            changes.append(((key,), False, value))
        touched = any(path[0] == "eventID" for path, _, _ in changes)
        intact = not any(isinstance(v, str) and v in UNBALANCED_RAW for _, _, v in changes)
        return Element(text, True, None if touched else rec["eventID"], intact=intact)
    if kind == "value":
        value = draw(JSON)
        return Element(encode(value, ascii_only, indent), isinstance(value, dict))
    if kind == "nested":
        inner = [encode(ct_record(i + k)) for k in range(draw(st.integers(0, 2)))]
        return Element(b"[" + b",".join(inner) + b"]", False)
    if kind == "quoted":
        return Element(encode(encode(rec).decode()), False)
    raw = draw(st.sampled_from(RAW_ELEMENTS))
    return Element(raw, False, intact=raw not in UNBALANCED)


@dataclass(frozen=True)
class FileCase:
    """A generated log object and, by origin index, the elements it holds."""

    blob: Blob
    by_index: dict[int, Element]
    lines: bool = False
    """One element per line: damage to one cannot spill into the next."""

    def trusted(self) -> dict[int, Element]:
        """The elements whose accounting is exact: all of them, or in an array those before
        the first that is not intact (where it ends, and so what follows, is a guess)."""
        out: dict[int, Element] = {}
        for index, el in sorted(self.by_index.items()):
            if not (el.intact or self.lines):
                break
            out[index] = el
        return out


PREFIXES = (b"", BOM, b" \t", BOM + b"  ", b"\r\n", b"\n\n ")
SUFFIXES = (b"", b"\n", b"\r\n", b" \t\n\n")
RECORDS_WRAPPERS = (
    b'{"Records":%b}',
    b'{ "Records" : %b }\n',
    b'{"Foo":1,"Records":%b}',
    b'{\n  "Records": %b\n}',
)


def json_lines(
    draw: st.DrawFn, els: list[Element], prefix: bytes
) -> tuple[bytes, dict[int, Element]]:
    """Elements one per line (blank lines between some), keyed by their line number."""
    eol = draw(st.sampled_from((b"\n", b"\r\n")))
    lines: list[bytes] = []
    by_index: dict[int, Element] = {}
    first = prefix.count(b"\n")
    for el in els:
        if draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from((b"", b"  ", b"\t"))))
        by_index[first + len(lines)] = el
        lines.append(el.text)
    return prefix + eol.join(lines), by_index


def json_array(draw: st.DrawFn, els: list[Element]) -> bytes:
    sep = draw(st.sampled_from((b",", b", ", b",\n", b"\n,")))
    return b"[" + sep.join(el.text for el in els) + b"]"


@st.composite
def trail_files(draw: st.DrawFn, n: int) -> FileCase:
    """A CloudTrail file: ``{"Records": [...]}``, a bare array or JSON lines, each element a
    damaged record or worse; records dropped or duplicated; BOM, whitespace, gzip."""
    shape = draw(st.sampled_from(("records", "array", "lines")))
    ascii_only = draw(st.booleans())
    indent = None if shape == "lines" else draw(st.sampled_from((None, None, 1)))
    els = [draw(elements(i, ascii_only, indent)) for i in range(draw(st.integers(0, 6)))]
    for src, dst in draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=2)):
        if els:
            els.insert(dst % (len(els) + 1), els[src % len(els)])
    prefix = draw(st.sampled_from(PREFIXES))
    if shape == "lines":
        # A file whose first line is an array is an array file (and may be an empty one).
        assume(not els or not els[0].text.startswith(b"["))
        body, by_index = json_lines(draw, els, prefix)
    else:
        array = json_array(draw, els)
        body = prefix + (
            array if shape == "array" else draw(st.sampled_from(RECORDS_WRAPPERS)) % array
        )
        by_index = dict(enumerate(els))
    data = body + draw(st.sampled_from(SUFFIXES))
    gz = draw(st.booleans())
    key = f"{CT_KEY}f{n}.json" + (".gz" if gz else "")
    blob = make_blob(key, gzip.compress(data, mtime=0) if gz else data)
    return FileCase(blob, by_index, lines=shape == "lines")


def batches(files: Any, most: int = 3) -> st.SearchStrategy[list[FileCase]]:
    """One to ``most`` files, parsed together (as a batch of objects is)."""
    return (
        st.integers(1, most).flatmap(lambda k: st.tuples(*(files(n) for n in range(k)))).map(list)
    )


# --- checks -------------------------------------------------------------------------------
def parse(blobs: Sequence[Blob], **kwargs: int) -> ParseResult:
    """``parse_blobs`` with the properties every input must have (1 and 3)."""
    result = parse_blobs(list(blobs), **kwargs)
    crashes = [r for r in result.rejects if r.reason == "parser_error"]
    assert not crashes, f"a parser raised: {crashes[0].detail} on {crashes[0].raw[:300]!r}"
    events = result.events
    assert events.schema.equals(EVENT_SCHEMA), "events are not in the canonical schema"
    assert events.column("event_time").null_count == 0, "an event without an event time"
    if events.num_rows:
        earliest, latest = pc.min_max(events.column("event_time")).values()
        assert earliest.value >= EARLIEST_US and latest.value <= latest_us(), (
            f"an event time outside {EARLIEST} .. now + {FUTURE_SLACK}: {earliest}, {latest}"
        )
    assert events.column("origin_index").null_count == 0, "an event without an origin index"
    uris = {b.uri for b in blobs}
    keys = list(
        zip(
            events.column("origin_object").to_pylist(),
            events.column("origin_index").to_pylist(),
            strict=True,
        )
    )
    assert {o for o, _ in keys} <= uris, "an event names an object it did not come from"
    assert all(i >= 0 for _, i in keys), "an event with a negative origin index"
    twice = [k for k, n in Counter(keys).items() if n > 1]
    assert not twice, f"one record became several events: {twice}"
    for r in result.rejects:
        assert r.origin_object in uris and r.reason, r
        assert r.records is None or r.records >= 0, r
        assert r.origin_index is None or r.origin_index >= 0, r
        if r.records == 0 and r.origin_index is not None:
            assert (r.origin_object, r.origin_index) in keys, f"a flag on no kept event: {r}"
    return result


def events_of(result: ParseResult, uri: str, column: str = "event_id") -> dict[int, Any]:
    ev = result.events
    return {
        i: v
        for o, i, v in zip(
            ev.column("origin_object").to_pylist(),
            ev.column("origin_index").to_pylist(),
            ev.column(column).to_pylist(),
            strict=True,
        )
        if o == uri
    }


def whole_file_rejects(result: ParseResult, uri: str) -> list[str]:
    return [
        r.reason
        for r in result.rejects
        if r.origin_object == uri and r.origin_index is None and r.records != 0
    ]


def counted(result: ParseResult, uri: str) -> list[int]:
    """Origin indices of the events and counted rejects of one object (flags excluded)."""
    return [
        *events_of(result, uri),
        *(
            r.origin_index
            for r in result.rejects
            if r.origin_object == uri and r.origin_index is not None and r.records != 0
        ),
    ]


def check_accounting(result: ParseResult, case: FileCase) -> None:
    """Property 2: each record index once, as an event or a counted reject. A reject of
    unknown size (``records`` None) may stand for the indices after it up to the next
    counted one; a whole-file reject excuses what is missing. Past an element that is not
    intact only double counting is an error."""
    uri, trusted = case.blob.uri, case.trusted()
    got = counted(result, uri)
    twice = sorted(i for i, n in Counter(got).items() if n > 1)
    assert not twice, f"{uri}: indices counted twice: {twice}"
    if len(trusted) == len(case.by_index):
        stray = sorted(set(got) - set(trusted))
        assert not stray, f"{uri}: indices naming no record: {stray} (records at {sorted(trusted)})"
    if whole_file_rejects(result, uri):
        return
    open_ended = {
        r.origin_index for r in result.rejects if r.origin_object == uri and r.records is None
    }
    last, missing = None, []
    for i in sorted(trusted):
        if i in got:
            last = i
        elif last is None or last not in open_ended:
            missing.append(i)
    assert not missing, (
        f"{uri}: records neither parsed nor rejected: {missing}; "
        f"rejects {[(r.reason, r.origin_index) for r in result.rejects]}"
    )


def check_lineage(result: ParseResult, case: FileCase) -> None:
    """Property 3: an event comes from a JSON object at its origin index, with that
    object's eventID; unmodified records are never lost."""
    uri, trusted = case.blob.uri, case.trusted()
    made = events_of(result, uri)
    for index, event_id in made.items():
        el = trusted.get(index)
        if el is None:
            assert index in case.by_index or len(trusted) < len(case.by_index), (
                f"{uri}: event at index {index}, where there is no record"
            )
            continue
        assert el.is_object, f"{uri}: event at {index} made from a non-object: {el.text[:200]!r}"
        if el.event_id is not None:
            assert event_id == el.event_id, f"{uri}: event at {index} is another record's"
    if not whole_file_rejects(result, uri):
        lost = [i for i, el in trusted.items() if el.pristine and i not in made]
        assert not lost, f"{uri}: unmodified records at {lost} did not become events"


# --- CloudTrail ---------------------------------------------------------------------------
@fuzz(30)
@given(batches(trail_files), st.booleans(), st.sampled_from((1, CAP, 16 << 20)))
def test_cloudtrail_files_account_for_every_record(
    cases: list[FileCase], native_arrays: bool, chunk_bytes: int
) -> None:
    # native_arrays: read every Records array the way files of 4 MiB and more are read.
    threshold = 0 if native_arrays else cloudtrail_type.OWN_SCRATCH_BYTES
    with mock.patch.object(cloudtrail_type, "OWN_SCRATCH_BYTES", threshold):
        result = parse([c.blob for c in cases], chunk_bytes=chunk_bytes)
    for case in cases:
        check_accounting(result, case)
        check_lineage(result, case)


DAMAGE_BYTES = (
    b",",
    b"}",
    b"{",
    b"]",
    b"[",
    b"\n",
    b'"',
    b"\\",
    b"\x00",
    b"\xff",
    b"NaN",
    b"},{",
    b"][",
    b'{"Records":[',
    b" ",
    b"\r",
)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> tuple[bytes, int, bool]:
    """``data`` with bytes flipped, deleted, inserted, or cut short; a bound on how many
    records the damage can add (a flip or a cut splits one in two at most, with a reject of
    unknown size between, and an inserted byte can add one more); and whether bytes were
    deleted (which can take whole records away, leaving nothing to reject)."""
    added, deleted = 0, False
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("flip", "delete", "insert", "truncate")))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
            deleted = True
        elif op == "insert":
            piece = draw(st.sampled_from(DAMAGE_BYTES) | st.binary(min_size=1, max_size=8))
            data = data[:at] + piece + data[at:]
            added += len(piece)
        elif op == "truncate":
            data = data[:at]
        added += 2
    return data, added, deleted


def content_of(data: bytes) -> bytes:
    """What the parser reads: gzip inflated (as far as it goes), else the bytes as they are."""
    if data[:2] != GZIP_MAGIC:
        return data
    inflated = inflate(data, CAP)
    return b"" if inflated.reason == "decompression_bomb" else inflated.data


def nonblank_lines(data: bytes) -> list[int]:
    return [i for i, line in enumerate(data.split(b"\n")) if line.strip()]


@fuzz(40)
@given(
    st.sampled_from(("records", "array", "lines", "concatenated")),
    st.integers(1, 6),
    st.sampled_from(("plain", "gzip_then_damage", "damage_then_gzip")),
    st.data(),
)
def test_damaged_cloudtrail_bytes_never_overcount(
    shape: str, n: int, where: str, data: st.DataObject
) -> None:
    records = [encode(ct_record(i)) for i in range(n)]
    if shape == "lines":
        plain = b"\n".join(records)
    elif shape == "concatenated":  # two exports or trail files written back to back
        half = n // 2
        plain = (
            b'{"Records":['
            + b",".join(records[:half])
            + b"]}"
            + data.draw(st.sampled_from((b"", b"\n")))
            + b'{"Records":['
            + b",".join(records[half:])
            + b"]}"
        )
    else:
        array = b"[" + b",".join(records) + b"]"
        plain = array if shape == "array" else b'{"Records":' + array + b"}"
    if where == "gzip_then_damage":
        raw, added, deleted = data.draw(damaged(gzip.compress(plain, mtime=0)))
    else:
        raw, added, deleted = data.draw(damaged(plain))
        if where == "damage_then_gzip":
            raw = gzip.compress(raw, mtime=0)
    blob = make_blob(f"{CT_KEY}damaged.json" + (".gz" if where != "plain" else ""), raw)
    result = parse([blob])

    uri = blob.uri
    got = counted(result, uri)
    twice = sorted(i for i, k in Counter(got).items() if k > 1)
    assert not twice, f"indices counted twice: {twice}"
    event_ids = [e for e in events_of(result, uri).values() if e is not None]
    assert len(event_ids) == len(set(event_ids)), "one record became two events"
    content = content_of(raw)
    if not plain.startswith(content) and where == "gzip_then_damage":
        return  # a damaged deflate stream can inflate to anything: no count to hold it to
    most = n + added
    assert len(got) <= most, f"{len(got)} events and rejects from at most {most} records"
    stripped = content.lstrip(BOM + b" \t\r\n")
    if stripped[:1] == b"{" and b'"Records"' not in stripped[:4096]:
        # Still JSON lines: every non-blank line is an event or a reject, once.
        if not whole_file_rejects(result, uri):
            lines = nonblank_lines(content)  # numbered from the top of the object
            assert sorted(got) == lines, f"lines {lines}, accounted {sorted(got)}"
        return
    # Still an array: records missing from the count must be owned by a reject of unknown
    # size (the damage may have swallowed them) or one of the whole file.
    lost = n - len(got)
    array_shaped = stripped[:1] == b"[" or stripped[:1] == b"{"
    if lost > 0 and array_shaped and not deleted:
        unknown = [
            r
            for r in result.rejects
            if r.origin_object == uri and (r.records is None or r.origin_index is None)
        ]
        assert unknown, (
            f"{lost} of {n} records vanished without a reject of unknown size: "
            f"rejects {[(r.reason, r.origin_index) for r in result.rejects]}"
        )


# --- EventBridge and CloudWatch Logs envelopes ----------------------------------------------
CT_DETAIL_TYPE = "AWS API Call via CloudTrail"
_MISSING = object()


@st.composite
def envelopes(draw: st.DrawFn, i: int, ascii_only: bool = True) -> Element:
    """An EventBridge envelope whose ``detail`` is a record (or worse) and whose
    ``detail-type`` is right, another one, of the wrong type, or missing."""
    if draw(st.integers(0, 9)) == 0:
        value = draw(JSON)
        return Element(encode(value, ascii_only), False)
    detail = draw(elements(i, ascii_only))
    detail_type = draw(
        st.sampled_from(
            (CT_DETAIL_TYPE,) * 4
            + ("AWS Console Sign In via CloudTrail", "Object Created", _MISSING)
        )
        | JSON
    )
    fields = [b'"version":"0"', b'"id":"%d"' % i]
    if detail_type is not _MISSING:
        fields.append(b'"detail-type":' + encode(detail_type, ascii_only))
    fields += [
        b'"source":"aws.s3"',
        b'"account":"111122223333"',
        b'"time":"2026-11-02T10:00:00Z"',
        b'"region":"us-east-1"',
        b'"resources":[]',
    ]
    has_detail = draw(st.integers(0, 9)) > 0
    if has_detail:
        fields.append(b'"detail":' + detail.text)
    order = draw(st.permutations(range(len(fields)))) if draw(st.booleans()) else range(len(fields))
    text = b"{" + b",".join(fields[k] for k in order) + b"}"
    ours = detail_type in (CT_DETAIL_TYPE, "AWS Console Sign In via CloudTrail") and has_detail
    return Element(
        text,
        ours and detail.is_object,
        detail.event_id if ours else None,
        ours and detail.pristine,
        intact=detail.intact or not has_detail,
    )


@st.composite
def eventbridge_files(draw: st.DrawFn, n: int) -> FileCase:
    """Envelopes as JSON lines or as a JSON array, perhaps gzipped."""
    ascii_only = draw(st.booleans())
    els = [draw(envelopes(i, ascii_only)) for i in range(draw(st.integers(0, 5)))]
    prefix = draw(st.sampled_from(PREFIXES))
    lines = draw(st.booleans())
    if lines:
        assume(not els or not els[0].text.startswith(b"["))  # that would be an array file
        body, by_index = json_lines(draw, els, prefix)
    else:
        body, by_index = prefix + json_array(draw, els), dict(enumerate(els))
    data = body + draw(st.sampled_from(SUFFIXES))
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    return FileCase(make_blob(f"eventbridge/2026/11/02/f{n}", data), by_index, lines)


@fuzz(30)
@given(batches(eventbridge_files))
def test_eventbridge_envelopes_account_for_every_envelope(cases: list[FileCase]) -> None:
    result = parse([c.blob for c in cases])
    for case in cases:
        check_accounting(result, case)
        # Routing sniffs the first 4 KiB: without "detail-type" there, the file is read as
        # CloudTrail records, which envelopes are not (rejected, and counted, all the same).
        if getattr(route(unwrap(case.blob)), "name", None) == "eventbridge":
            check_lineage(result, case)


@dataclass(frozen=True)
class Payload:
    text: bytes
    events: list[Element]
    well_formed: bool
    control: bool


@st.composite
def payloads(draw: st.DrawFn, first: int) -> Payload:
    """A CloudWatch Logs subscription payload; log events whose messages are records (or
    not), and ``messageType``/``logEvents``/``message`` of the wrong type now and then."""
    events: list[Element] = []
    log_events: list[Any] = []
    well_formed = True
    for i in range(draw(st.integers(0, 4))):
        el = draw(elements(first + i))
        shape = draw(st.sampled_from(("message",) * 8 + ("missing", "wrong", "not_object")))
        if shape == "message":
            log_events.append(
                {
                    "id": str(i),
                    "timestamp": 1793613606000,
                    "message": el.text.decode("utf-8", "surrogateescape"),
                }
            )
            well_formed &= el.text.isascii() or _is_utf8(el.text)
            events.append(el)
        elif shape == "missing":
            log_events.append({"id": str(i)})
            events.append(Element(b"", False))
        elif shape == "wrong":
            log_events.append(
                {"id": str(i), "message": draw(JSON.filter(lambda v: not isinstance(v, str)))}
            )
            well_formed = False
        else:
            log_events.append(draw(JSON.filter(lambda v: not isinstance(v, dict))))
            well_formed = False
    message_type = draw(st.sampled_from(("DATA_MESSAGE",) * 6 + ("CONTROL_MESSAGE", _MISSING)))
    doc: dict[str, Any] = {} if message_type is _MISSING else {"messageType": message_type}
    doc |= {
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["all"],
        "logEvents": log_events,
    }
    if draw(st.integers(0, 9)) == 0:
        doc["logEvents"] = draw(JSON.filter(lambda v: not isinstance(v, list)))
        well_formed = False
    return Payload(
        encode(doc, draw(st.booleans())), events, well_formed, message_type == "CONTROL_MESSAGE"
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@fuzz(30)
@given(
    st.lists(payloads(0), min_size=1, max_size=3),
    st.sampled_from((b"", b"\n", b" ")),
    st.booleans(),
    st.booleans(),
)
def test_cloudwatch_payloads_account_for_every_log_event(
    parts: list[Payload], sep: bytes, gz: bool, bom: bool
) -> None:
    data = (BOM if bom else b"") + sep.join(p.text for p in parts)
    blob = make_blob("firehose/2026/11/02/cwl-1", gzip.compress(data, mtime=0) if gz else data)
    result = parse([blob])
    by_index: dict[int, Element] = {}
    for p in parts:
        if p.well_formed and not p.control:
            by_index |= {len(by_index) + k: el for k, el in enumerate(p.events)}
    case = FileCase(blob, by_index, lines=True)
    if all(p.well_formed and p.text.startswith(b'{"messageType"') for p in parts):
        check_accounting(result, case)
        check_lineage(result, case)
        controls = sum(p.control for p in parts)
        assert result.skipped.get("cloudwatch_control_message", 0) == controls
    else:  # a payload rejected whole shifts the indices after it: only the weak form holds
        got = counted(result, blob.uri)
        assert len(got) == len(set(got)), "log events counted twice"


# --- S3 server access logs ------------------------------------------------------------------
_ACCESS_TOKEN = re.compile(r'"[^"]*"|\S+')
ACCESS_TOKENS = st.sampled_from(
    [
        "-",
        '"',
        '""',
        '"a b"',
        "[",
        "]",
        "[02/Nov/2026:10:00:00",
        "+0000]",
        "REST.GET.OBJECT",
        "REST.PUT.OBJECT",
        "BATCH.DELETE.OBJECT",
        "S3.EXPIRE.OBJECT",
        "REST.GET.BUCKET",
        "%",
        "%zz",
        "%2525",
        "%E2%82",
        "a+b",
        "arn:aws:iam::1:user/x",
        "arn:aws:sts::1:assumed-role/r/s",
        "svc:x",
        "0" * 64,
        "99999999999999999999",
        "-1",
        "TLSV1.2",
        "data.s3.eu-west-1.amazonaws.com",
        '"GET /?list-type=2 HTTP/1.1"',
    ]
) | TEXT.map(lambda s: s.replace("\n", " ") or "x")
ACCESS_TIMES = st.sampled_from(
    [
        "[31/Feb/2026:10:00:00 +0000]",
        "[02/Nov/2026:25:61:61 +0000]",
        "[02/Nov/2026:10:00:00 +9999]",
        "[02/Nov/2026:10:00:00 -2400]",
        "[02/Xyz/2026:10:00:00 +0000]",
        "[02/Nov/99999:10:00:00 +0000]",
        "[02/Nov/0000:10:00:00 +0000]",
        "[]",
        "[02/Nov/2026:10:00:00]",
        "[2/Nov/2026:1:0:0 +0000]",
        "[02/nov/2026:10:00:00 +0000]",
        "[02/Nov/2026:10:00:00 +0530]",
        "[02/Nov/2026:10:00:00  +0000]",
    ]
)
LINE_BYTES = st.sampled_from(
    (b"\xff", b"\xc3", b"\x00", b"\r", b"\t", b'"', b"\xed\xa0\x80", b"\x0b", b"\x0c", b"\x85")
)


@st.composite
def access_lines(draw: st.DrawFn, i: int) -> tuple[bytes, bool]:
    """An access-log line, pristine or with tokens replaced, dropped, added, quoted or
    bracketed, a bad time, bytes that are not UTF-8, cut short or made very long."""
    if draw(st.integers(0, 2)) == 0:
        return access_line(i).encode(), True
    tokens = _ACCESS_TOKEN.findall(access_line(i))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("replace", "drop", "insert", "time", "fields", "extra")))
        j = draw(st.integers(0, len(tokens)))
        if op == "replace" and j < len(tokens):
            tokens[j] = draw(ACCESS_TOKENS)
        elif op == "drop" and j < len(tokens):
            del tokens[j]
        elif op == "insert":
            tokens.insert(j, draw(ACCESS_TOKENS))
        elif op == "time" and len(tokens) > 3:
            tokens[2:4] = draw(ACCESS_TIMES).split(" ")
        elif op == "fields":
            tokens = tokens[: draw(st.sampled_from((17, 18, 19, 25, 26, 27)))]
        elif op == "extra":
            tokens += draw(st.lists(ACCESS_TOKENS, min_size=1, max_size=3))
    line = " ".join(tokens).encode("utf-8", "surrogatepass")
    op = draw(st.sampled_from(("none", "none", "bytes", "cut", "long")))
    at = draw(st.integers(0, len(line)))
    if op == "bytes":
        line = line[:at] + draw(LINE_BYTES) + line[at:]
    elif op == "cut":
        line = line[:at]
    elif op == "long":
        line += b"x" * (MAX_LINE_BYTES - len(line) + draw(st.integers(-1, 1)))
    return line, False


def rows_by_line(events: pa.Table, uri: str | None = None) -> dict[int, dict[str, Any]]:
    """Each event as a dict by its line number, without its object's name."""
    time = events.schema.get_field_index("event_time")  # as a number: Python's years end at 9999
    events = events.set_column(time, "event_time", pc.cast(events.column(time), pa.int64()))
    rows = events.drop_columns(["origin_object"]).to_pylist()
    uris = events.column("origin_object").to_pylist()
    return {r["origin_index"]: r for r, u in zip(rows, uris, strict=True) if uri in (None, u)}


@dataclass(frozen=True)
class AccessCase:
    blob: Blob
    pristine: dict[int, bytes]
    """Line number → the line, for lines nothing was done to (each must become an event)."""


@st.composite
def access_files(draw: st.DrawFn, n: int) -> AccessCase:
    """Access-log lines, damaged and not, with blank lines, CRLF and bare CR between some,
    perhaps gzipped and the gzip cut short."""
    data, pristine, line_no = b"", {}, 0
    for i in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)) == 0:
            blank = draw(st.sampled_from((b"", b" ", b"\t", b"\r")))
            data += blank + b"\n"
            line_no += 1
        line, clean = draw(access_lines(i))
        sep = draw(st.sampled_from((b"\n",) * 6 + (b"\r\n", b"\r")))
        if clean and sep != b"\r" and not data.endswith(b"\r"):
            pristine[line_no] = line
        data += line + sep
        line_no += sep.count(b"\n")
    if draw(st.booleans()):
        data = data.rstrip(b"\n")
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
        if draw(st.integers(0, 3)) == 0:
            data = data[: draw(st.integers(2, len(data)))]
    return AccessCase(
        make_blob(f"{ACCESS_KEY}2026-11-02-10-00-0{n}-0123456789ABCDEF", data), pristine
    )


@fuzz(25)
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(*(access_files(n) for n in range(k)))))
def test_access_logs_account_for_every_line(cases: tuple[AccessCase, ...]) -> None:
    result = parse([c.blob for c in cases])
    for case in cases:
        uri = case.blob.uri
        content = content_of(case.blob.data)
        lines = content.split(b"\n")
        got = counted(result, uri)
        assert sorted(got) == nonblank_lines(content), (
            f"{uri}: non-blank lines {nonblank_lines(content)}, accounted {sorted(got)}"
        )
        request_ids = events_of(result, uri, "request_id")
        for index, request_id in request_ids.items():
            if request_id is not None:
                assert request_id.encode() in lines[index], (
                    f"{uri}: the event at line {index} carries request id {request_id!r}, "
                    f"which is not on that line: {lines[index][:200]!r}"
                )
        # Whichever path reads a line (Arrow's CSV reader for regular files, else a walk line
        # by line), it makes the same event of it: a line not UTF-8 sends this file down the
        # second path.
        alone = parse([make_blob(case.blob.key, content.rstrip(b"\n") + b"\n\xff\n")])
        for index, row in rows_by_line(alone.events).items():
            if index < len(lines):
                assert rows_by_line(result.events, uri).get(index) == row, (
                    f"{uri}: line {index} reads differently by the other path: {lines[index]!r}"
                )
        for index, line in case.pristine.items():
            if index < len(lines) and lines[index].startswith(line):  # not lost to a cut gzip
                request_id = line.split(b" ")[6].decode()
                assert request_ids.get(index) == request_id, f"{uri}: good line {index} lost"


# --- anything at all -------------------------------------------------------------------------
KEYS = st.sampled_from(
    [
        CT_KEY + "x.json.gz",
        CT_KEY + "x.json",
        f"{ACCESS_KEY}2026-11-02-10-00-00-0123456789ABCDEF",
        "exports/x.json",
        "exports/x.jsonl.gz",
        "AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz",
        "",
        "x",
    ]
)


@st.composite
def any_objects(draw: st.DrawFn, n: int) -> Blob:
    """Bytes of any kind under any key: random, gzip of random, a real log or a slice."""
    kind = draw(st.sampled_from(("random", "gzip", "slice", "whole", "bomb")))
    if kind == "random":
        data = draw(st.binary(max_size=300))
    elif kind == "gzip":
        data = gzip.compress(draw(st.binary(max_size=300)), mtime=0)
    elif kind == "bomb":
        data = gzip.compress(b"{" * 5000, mtime=0)
    else:
        source = draw(
            st.sampled_from(
                (
                    json.dumps({"Records": [ct_record(0), ct_record(1)]}).encode(),
                    "\n".join(access_line(i) for i in range(3)).encode(),
                    json.dumps(
                        {
                            "messageType": "DATA_MESSAGE",
                            "logEvents": [{"message": json.dumps(ct_record(0))}],
                        }
                    ).encode(),
                    json.dumps({"detail-type": CT_DETAIL_TYPE, "detail": ct_record(0)}).encode(),
                )
            )
        )
        if kind == "slice":
            a = draw(st.integers(0, len(source)))
            source = source[a : a + draw(st.integers(0, len(source)))]
        data = source
    key = draw(KEYS)
    return Blob(ObjectRef(f"s3://fuzz/{n}/{key}", key, len(data)), data)


@fuzz(40)
@given(
    st.integers(1, 4).flatmap(lambda k: st.tuples(*(any_objects(n) for n in range(k)))),
    st.sampled_from((1000, CAP)),
)
def test_any_bytes_under_any_key_never_crash_a_parser(
    blobs: tuple[Blob, ...], max_object_bytes: int
) -> None:
    parse(blobs, max_object_bytes=max_object_bytes)


# --- queue notifications ----------------------------------------------------------------------
NOTICE_VALUES = VALUES | st.sampled_from(
    [
        "ObjectCreated:Put",
        "ObjectRemoved:Delete",
        "aws.s3",
        "Notification",
        "Object Created",
        "s3:TestEvent",
        "my-bucket",
        "b",
        "x" * 300,
        "k" * 2000,
        "%ZZ",
        "a+b%20c",
        "%ED%A0%80",
        "a\ud800b",
        "\x00",
        float("inf"),
        float("nan"),
        -1,
        10**30,
        True,
        [],
        {},
    ]
)
NOTICE_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("Records",),
    ("Records", 0),
    ("Records", 0, "eventName"),
    ("Records", 0, "s3"),
    ("Records", 0, "s3", "bucket"),
    ("Records", 0, "s3", "bucket", "name"),
    ("Records", 0, "s3", "object"),
    ("Records", 0, "s3", "object", "key"),
    ("Records", 0, "s3", "object", "size"),
    ("Records", 0, "s3", "object", "eTag"),
    ("s3Bucket",),
    ("s3ObjectKey",),
    ("s3ObjectKey", 0),
    ("detail-type",),
    ("source",),
    ("detail",),
    ("detail", "bucket", "name"),
    ("detail", "object", "key"),
    ("detail", "object", "size"),
    ("Type",),
    ("Message",),
    ("Event",),
)


def _notice_docs(key: str) -> list[dict[str, Any]]:
    return [
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "logs"},
                        "object": {"key": key, "size": 123, "eTag": "abc"},
                    },
                }
            ]
        },
        {"s3Bucket": "logs", "s3ObjectKey": [key]},
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "logs"}, "object": {"key": key, "size": 5}},
        },
        {"Event": "s3:TestEvent"},
    ]


@st.composite
def notification_bodies(draw: st.DrawFn) -> str | bytes:
    """Queue message bodies: real notification shapes with fields replaced by any JSON
    value, wrapped in SNS envelopes to any depth; any JSON value; deep nesting; damage."""
    kind = draw(st.sampled_from(("shaped",) * 4 + ("value", "deep", "damaged")))
    if kind == "deep":
        depth = draw(st.sampled_from((999, 1000, 5000, 100_000)))
        inner = draw(
            st.sampled_from(
                ("[" * depth, "[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth)
            )
        )
        doc: Any = {"Type": "Notification", "Message": inner} if draw(st.booleans()) else inner
        return doc if isinstance(doc, str) else json.dumps(doc)
    if kind == "value":
        doc = draw(JSON)
    else:
        key = draw(st.just(CT_KEY + "x.json.gz") | TEXT)
        doc = draw(st.sampled_from(_notice_docs(key)))
        for path, delete, value in draw(
            st.lists(
                st.tuples(st.sampled_from(NOTICE_PATHS), st.booleans(), NOTICE_VALUES), max_size=3
            )
        ):
            put(doc, path, value, delete)
        for _ in range(draw(st.integers(0, 5))):
            message = json.dumps(doc) if draw(st.booleans()) else doc
            doc = {"Type": "Notification", "MessageId": "m", "Message": message}
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if kind == "damaged":
        raw, _, _ = draw(damaged(text.encode("utf-8", "surrogatepass")))
        return raw
    encoding = draw(st.sampled_from(("str", "utf-8", "utf-16", "utf-8-sig")))
    if encoding == "str":
        return text
    return text.encode(encoding, "surrogatepass")


@fuzz(150)
@given(notification_bodies())
def test_notifications_raise_only_notification_error(body: str | bytes) -> None:
    try:
        notice = parse_notification(body)
    except NotificationError as exc:
        assert exc.reason in ("poison_message", "unknown_notification")
        assert isinstance(exc.detail, str)
        return
    assert isinstance(notice, Notice)
    assert all(isinstance(x, str) for x in notice.ignored)
    for ref in notice.objects:
        assert isinstance(ref, ObjectRef) and isinstance(ref.key, str) and ref.key
        assert ref.uri.startswith("s3://") and ref.uri.endswith("/" + ref.key)
        assert isinstance(ref.size, int)
        ref.uri.encode("utf-8")  # S3 keys are UTF-8: one that is not names no object (bug M)


# --- gzip and the array splitter ---------------------------------------------------------------
@fuzz(150)
@given(
    st.lists(st.binary(max_size=200) | st.sampled_from((b"", b"\0" * 5000)), max_size=3),
    st.sampled_from(("clean", "zeros", "garbage", "magic", "truncated", "flipped")),
    st.integers(0, 11000),
    st.data(),
)
def test_inflate_never_passes_its_cap(
    members: list[bytes], tail: str, cap: int, data: st.DataObject
) -> None:
    stream = b"".join(
        gzip.compress(m, compresslevel=data.draw(st.integers(0, 9)), mtime=0) for m in members
    )
    whole = b"".join(members)
    if tail == "zeros":
        stream += b"\0" * data.draw(st.integers(1, 9))
    elif tail == "garbage":
        stream += data.draw(st.binary(min_size=1, max_size=9))
    elif tail == "magic":
        stream += GZIP_MAGIC + data.draw(st.binary(max_size=9))
    elif tail == "truncated" and stream:
        stream = stream[: data.draw(st.integers(0, len(stream) - 1))]
    elif tail == "flipped" and stream:
        at = data.draw(st.integers(0, len(stream) - 1))
        stream = (
            stream[:at] + bytes([stream[at] ^ data.draw(st.integers(1, 255))]) + stream[at + 1 :]
        )
    got = inflate(stream, cap)
    assert len(got.data) <= cap
    assert got.reason in (None, "truncated_gzip", "decompression_bomb")
    if tail == "clean" or (tail == "zeros" and members):  # zeros alone are no gzip at all
        if len(whole) <= cap:
            assert got.reason is None and got.data == whole
        else:
            assert got.reason == "decompression_bomb" and got.data == b""
    if tail in ("garbage", "magic", "truncated") and got.reason == "truncated_gzip":
        assert whole.startswith(got.data), "a cut stream kept bytes that were never in it"


JSON_NO_NAN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)


@fuzz(150)
@given(
    st.lists(JSON_NO_NAN | st.sampled_from(RAW_VALUES[:3]), max_size=5),
    st.sampled_from((b",", b" , ", b",\n", b"\n,\t")),
    st.binary(max_size=5),
    st.sampled_from((b"", b"]", b"  ", b"}\n", b"garbage")),
    st.booleans(),
    st.booleans(),
)
def test_array_elements_finds_each_element(
    values: list[Any], sep: bytes, before: bytes, after: bytes, ascii_only: bool, cut: bool
) -> None:
    texts = [v if isinstance(v, bytes) else encode(v, ascii_only) for v in values]
    array = b"[ " + sep.join(texts) + b" ]"
    data = before + array + after
    if cut:  # an array cut short: the last element then runs to the end
        data = before + array[:-2]
    found = array_elements(data, len(before))
    assert found is not None
    spans = found.spans
    assert all(a < z for a, z in spans) and all(z <= a for (_, z), (a, _) in pairwise(spans)), (
        f"spans out of order: {spans}"
    )
    assert found.end == (len(data) if cut else len(before) + len(array))
    assert found.closed is not cut
    assert [data[a:z] for a, z in spans] == texts


JSONISH = st.lists(
    st.sampled_from((b"[", b"]", b"{", b"}", b",", b'"', b"\\", b" ", b"1", b"a", b"\n")),
    max_size=60,
).map(b"".join)


@fuzz(150)
@given(st.binary(max_size=5), JSONISH | st.binary(max_size=200), st.none() | st.integers(0, 210))
def test_array_elements_never_raises_and_stays_inside(
    before: bytes, body: bytes, start: int | None
) -> None:
    data = before + b"[" + body
    start = len(before) if start is None else start  # mostly where the "[" is; anywhere
    found = array_elements(data, start)
    if found is None:
        return
    spans, end = found.spans, found.end
    assert data[start : start + 1] == b"[" and start < end <= len(data)
    assert found.closed or end == len(data), "an array that did not close ends the data"
    # In order, inside the array, trimmed; around them only whitespace and commas (one at
    # least between two elements), and the closing bracket.
    edges = [start + 1, *(x for span in spans for x in span), end]
    assert edges == sorted(edges) and all(a < z for a, z in spans), f"spans out of order: {spans}"
    assert all(data[a:z] == data[a:z].strip(WHITESPACE) for a, z in spans), spans
    gaps = [data[edges[k] : edges[k + 1]] for k in range(0, len(edges), 2)]
    last = gaps[-1].rstrip(WHITESPACE)
    assert last.endswith(b"]") or not found.closed, f"closed by {last[-1:]!r}"
    gaps[-1] = last.removesuffix(b"]") if found.closed else last
    assert all(not gap.strip(WHITESPACE + b",") for gap in gaps), f"stray bytes: {gaps}"
    assert all(b"," in gap for gap in gaps[1:-1]), f"elements without a comma: {gaps}"


# --- Kinesis ---------------------------------------------------------------------------------
@st.composite
def kinesis_data(draw: st.DrawFn, i: int) -> bytes:
    """A record's Data: an envelope, a payload (keys in AWS's order or not), gzipped or not,
    damaged, random bytes, or nothing."""
    kind = draw(st.sampled_from(("envelope", "payload", "random", "empty")))
    if kind == "envelope":
        body = draw(envelopes(i)).text
    elif kind == "payload":
        body = draw(payloads(i)).text
        if draw(st.booleans()):
            body = body.replace(b'{"messageType"', b'{"owner":"1","messageType"', 1)
    elif kind == "random":
        body = draw(st.binary(max_size=100))
    else:
        body = b""
    if draw(st.booleans()):
        body = draw(st.sampled_from((BOM, b" \n", b""))) + body + b"\n"
    if draw(st.booleans()):
        body = gzip.compress(body, mtime=0)
    if draw(st.integers(0, 4)) == 0:
        body, _, _ = draw(damaged(body))
    return body


def _body(data: bytes, cap: int) -> bytes | None:
    """The body ``pack`` keeps of a record, or None when decompressing it fails."""
    if data[:2] == GZIP_MAGIC:
        inflated = inflate(data, cap)
        if inflated.reason is not None:
            return None
        data = inflated.data
    return data.strip().removeprefix(BOM).lstrip()


@fuzz(30)
@given(
    st.integers(0, 6).flatmap(lambda k: st.tuples(*(kinesis_data(i) for i in range(k)))),
    st.none() | st.integers(0, 3000),
    st.sampled_from((50, CAP)),
)
def test_kinesis_pack_accounts_for_every_record(
    datas: tuple[bytes, ...], budget: int | None, max_bytes: int
) -> None:
    records = [{"SequenceNumber": f"{1000 + i}", "Data": d} for i, d in enumerate(datas)]
    blobs, rejects, taken = pack("trail", "shardId-0", records, max_bytes, budget)
    assert (taken >= 1 if records else taken == 0) and taken <= len(records)
    origins = Counter(r.origin_object for r in rejects)
    assert all(n == 1 for n in origins.values()), f"a record rejected twice: {origins}"
    seqs = {f"kinesis://trail/shardId-0/{r['SequenceNumber']}": r for r in records}
    assert set(origins) <= set(list(seqs)[:taken]), "a reject for a record not taken"
    for origin, rec in list(seqs.items())[:taken]:
        if origin in origins:
            continue
        body = _body(rec["Data"], max_bytes)
        assert body is not None and any(
            body.replace(b"\n", b" ") in b.data or body in b.data for b in blobs
        ), f"record {origin} taken but neither packed nor rejected"
    parse(blobs)


# --- bugs found by these tests: the smallest input of each ------------------------------------
# Each test pins one bug the property tests found, with its smallest input; its docstring
# says what went wrong. All are fixed; they stay as regression tests.

TRAIL_KEY = CT_KEY + "bug.json"


def parse_one(data: bytes, key: str = TRAIL_KEY) -> ParseResult:
    return parse_blobs([make_blob(key, data)])


def ids_by_index(result: ParseResult) -> dict[int, str | None]:
    return dict(
        zip(
            result.events.column("origin_index").to_pylist(),
            result.events.column("event_id").to_pylist(),
            strict=True,
        )
    )


def reasons(result: ParseResult) -> list[tuple[str, int | None]]:
    return [(r.reason, r.origin_index) for r in result.rejects]


_A = '{"eventTime":"2026-11-02T10:00:00Z","eventID":"a"}'
_B = '{"eventTime":"2026-11-02T10:00:01Z","eventID":"b"}'
_C = '{"eventTime":"2026-11-02T10:00:02Z","eventID":"c"}'


def _payloads(*messages: list[str]) -> bytes:
    """CloudWatch Logs payloads back to back (as Firehose writes them), one per list."""
    return b"".join(
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "logEvents": [{"id": str(i), "message": m} for i, m in enumerate(ms)],
            }
        ).encode()
        for ms in messages
    )


@pytest.mark.parametrize("account", [b"1", b"1" + b"0" * 400])
def test_bug_a_resources_field_not_text_crashes_the_exact_tier(account: bytes) -> None:
    """BUG A. ``_bucket_accounts`` builds a String column of resources[].accountId (or type,
    ARN) as decoded; a number there makes polars raise (TypeError, or OverflowError for a
    huge one), and the guard quarantines the whole file as ``parser_error``. The exact tier
    runs whenever DuckDB cannot type a batch: here the element ``1`` makes it."""
    result = parse_one(
        b'{"Records":[1,{"eventTime":"2026-11-02T10:00:00Z","eventID":"b",'
        b'"resources":[{"accountId":' + account + b"}]}]}"
    )
    assert "parser_error" not in [r.reason for r in result.rejects]
    assert ids_by_index(result) == {1: "b"}


@pytest.mark.parametrize(
    "bad",
    [
        b'{"a":"\xff"}',  # ArrowInvalid in _raw_json
        b'{"bucketName":{"\xff":1}}',  # DecodeError in _decode_side
        b'{"bucketName":1e999}',  # ValidationError (number out of range) in _decode_side
    ],
)
def test_bug_b_what_msgspec_rejects_inside_request_parameters_crashes_the_exact_tier(
    bad: bytes,
) -> None:
    """BUG B. requestParameters (and responseElements, additionalEventData) are kept as
    ``msgspec.Raw``, which is not validated; ``to_table`` decodes them later without
    catching what msgspec raises on bytes that are not UTF-8 or a number out of range, and
    the guard quarantines the whole file as ``parser_error``, the good line 2 with it. The
    line ``1`` makes DuckDB give the batch to the exact tier (bytes that are not UTF-8 do
    so by themselves); JSON lines, EventBridge details and CloudWatch messages are hit."""
    result = parse_one(
        b'1\n{"eventTime":"2026-11-02T10:00:00Z","eventID":"a",'
        b'"requestParameters":' + bad + b"}\n"
        b'{"eventTime":"2026-11-02T10:00:01Z","eventID":"b"}'
    )
    assert "parser_error" not in [r.reason for r in result.rejects]
    assert ids_by_index(result).get(2) == "b"


def test_bug_c_a_duckdb_error_message_cut_inside_a_character_crashes_the_native_tier() -> None:
    """BUG C. DuckDB quotes the first bytes of a record it rejects (here for its duplicate
    key) and cuts the quote inside the two-byte "é"; the Python binding then raises
    UnicodeDecodeError, not ``duckdb.Error``, so ``_query`` never turns it into
    ``NativeDecodeError``, the exact tier never runs, and the guard quarantines the whole
    file as ``parser_error``, line 1 with it."""
    dup = '{"eventTime":"2026-11-02T10:00:01Z","eventTime":"ééééééééé"}'.encode()
    result = parse_one(dup + b'\n{"eventTime":"2026-11-02T10:00:01Z","eventID":"b"}')
    assert "parser_error" not in [r.reason for r in result.rejects]
    assert ids_by_index(result)[1] == "b"


@pytest.mark.parametrize(
    ("key", "data", "good"),
    [
        # one blank message: neither an event nor a reject
        ("firehose/bug", _payloads([""]), {}),
        ("firehose/bug", _payloads([" "]), {}),
        # a blank message, then a record: the batch's index column is one too long; crash
        ("firehose/bug", _payloads([""], [_C]), {1: "c"}),
        # a message holding two records: one too short; crash (the same with JSON lines)
        ("firehose/bug", _payloads([f"{_A},{_B}"]), {}),
        (TRAIL_KEY, f"{_A},{_B}\n{_C}".encode(), {1: "c"}),
        # both: the lengths agree again, and a, b (message 1) are reported as 0 and 1
        ("firehose/bug", _payloads([""], [f"{_A},{_B}"]), {}),
    ],
)
def test_bug_d_lines_and_records_fall_out_of_step_in_the_exact_tier(
    key: str, data: bytes, good: dict[int, str]
) -> None:
    """BUG D. ``decode_lines`` joins one file's (or payload's) lines into a JSON array and
    pairs the decoded records with the line numbers by position. A blank CloudWatch
    message adds no element and a line ``{...},{...}`` adds two, so the pairing is off:
    a record is lost silently, the batch crashes on columns of different lengths (and is
    quarantined as ``parser_error``), or events are reported at the wrong index."""
    result = parse_one(data, key)
    assert "parser_error" not in [r.reason for r in result.rejects]
    assert ids_by_index(result) == good, reasons(result)
    assert result.rejects, "a line that is not one record must be rejected"


@pytest.mark.parametrize(
    "data",
    [
        # two exports written back to back: the second record is dropped without a reject
        b'[{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"a"}]'
        b'[{"eventVersion":"1","eventTime":"2026-11-02T10:00:01Z","eventID":"b"}]',
        # two trail files concatenated, as Firehose concatenates objects
        b'{"Records":[{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"a"}]}'
        b'{"Records":[{"eventVersion":"1","eventTime":"2026-11-02T10:00:01Z","eventID":"b"}]}',
        # JSON lines whose first line is an array: every line is dropped without a reject
        b'[]\n{"eventVersion":"1","eventTime":"2026-11-02T10:00:01Z","eventID":"b"}',
        # a trail file whose head is damaged, then an intact one: salvage reads the second
        # array and drops the record before it without a reject (still failing)
        b'{\x00Records":[{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"b"}]}'
        b'{"Records":[{"eventVersion":"1","eventTime":"2026-11-02T10:00:01Z","eventID":"a"}]}',
    ],
)
def test_bug_e_salvage_drops_what_lies_outside_the_array_silently(data: bytes) -> None:
    """BUG E. A file that starts like an array but is not one JSON document goes to
    ``salvage_array``, which read the first array it finds, stopped at its first top-level
    ``]`` and ignored the rest, and ignores what comes before it: the record ``b`` is
    neither an event nor a reject (``_split_deep`` rejected such a rest as "unexpected bytes
    after the Records array"; salvage did not)."""
    result = parse_one(data)
    assert "b" in ids_by_index(result).values() or result.rejects


@pytest.mark.parametrize(
    "second",
    [
        # a record whose first key is not eventVersion: salvage resumes past it
        b'{"eventTime":"2026-11-02T10:00:00Z","eventID":"b"}',
        # an array holding a record: salvage resumes inside it, makes an event of the inner
        # record at index 1, then takes the inner "]" for the end of the file and drops "c"
        b'[{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"b"}]',
    ],
)
@pytest.mark.parametrize("end", [b"]", b""], ids=["closed", "cut_short"])
def test_bug_f_salvage_misnumbers_the_records_after_a_damaged_one(
    second: bytes, end: bytes
) -> None:
    """BUG F. After a record Python's json cannot read (a raw control character), salvage
    resumes at the next ``{"eventVersion":`` by regex and numbers that record one past the
    damaged one, however many elements lay between: record ``c`` (index 2) is reported at
    index 1, or lost. Salvage now cuts a file by structure first, but still resumes by
    regex when the array never closes (a file cut short, as a truncated gzip leaves it):
    the ``cut_short`` cases still fail."""
    result = parse_one(
        b'[{"eventVersion":"\x01"},'
        + second
        + b',{"eventVersion":"1","eventTime":"2026-11-02T10:00:01Z","eventID":"c"}'
        + end
    )
    ids = ids_by_index(result)
    assert ids.get(2) == "c", f"events by index: {ids}; rejects: {reasons(result)}"
    if second.startswith(b"["):
        assert 1 not in ids, "an event made from an array"


def test_bug_f_salvage_counts_a_too_deep_stretch_as_one_record() -> None:
    """BUG F, second face. When ``"Records"`` is not the first key, a file too deep for
    msgspec goes to salvage; a record too deep for Python's json is rejected as
    ``too_deep`` with ``records=1``, and when no ``{"eventVersion":`` follows, "with
    everything after it": record ``b`` is inside that reject but counted nowhere."""
    deep = b"[" * 1100 + b"]" * 1100
    result = parse_one(
        b'{"Foo":1,"Records":[{"eventVersion":"1","x":' + deep + b"},"
        b'{"eventTime":"2026-11-02T10:00:00Z","eventID":"b"}]}'
    )
    assert ids_by_index(result) == {1: "b"} or any(r.records is None for r in result.rejects)


def test_bug_g_an_unclosed_element_of_a_deep_file_swallows_the_rest_uncounted() -> None:
    """BUG G. A file too deep for msgspec is cut into elements by ``array_elements``; when
    an element's brackets never close (element 1 here), it runs to the end of the file and
    swallows the records after it, yet ``_split_deep`` ignores that the array was cut
    short: element 1 is rejected as one record and record ``c`` is counted nowhere. Salvage
    says "file ends inside the Records array" (a reject of unknown size) in this case."""
    deep = b"[" * 1100 + b"]" * 1100
    result = parse_one(
        b'{"Records":[{"eventVersion":' + deep + b"},"
        b'{"eventVersion":{"x":1,"eventTime":"2026-11-02T10:00:00Z"},'
        b'{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"c"}]}'
    )
    assert "c" in ids_by_index(result).values() or any(r.records is None for r in result.rejects), (
        reasons(result)
    )


def test_bug_h_the_access_log_fast_path_breaks_lines_at_a_bare_cr() -> None:
    """BUG H. Arrow's CSV reader ends a row at a bare CR and skips blank lines; the fast path
    checks only that it got as many rows as the file has newlines, then numbers rows as
    lines. Line 0 holds two log lines joined by a CR and line 1 is blank, so the counts
    agree and the second log line is reported at line 1, a blank line: three events from
    two lines. (Without the blank line the file goes to the exact path, which does not
    break at a CR and makes one event of line 0.)"""
    first, second, third = (access_line(i).encode() for i in range(3))
    result = parse_one(
        first + b"\r" + second + b"\n\n" + third + b"\n",
        f"{ACCESS_KEY}2026-11-02-10-00-00-0123456789ABCDEF",
    )
    assert sorted(result.events.column("origin_index").to_pylist()) == [0, 2]


@pytest.mark.parametrize("key", [TRAIL_KEY, "eventbridge/2026/11/02/bug"])
def test_bug_i_json_lines_are_numbered_from_the_first_non_blank_line(key: str) -> None:
    """BUG I. The CloudTrail and EventBridge parsers strip leading whitespace before they
    split lines, so a file starting with blank lines has every origin_index off by their
    number; the access-log parser numbers lines from the top of the object."""
    record = b'{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"a"}'
    if key != TRAIL_KEY:
        record = b'{"detail-type":"AWS API Call via CloudTrail","detail":' + record + b"}"
    result = parse_one(b"\n\n" + record + b"\n" + record, key)
    assert sorted(ids_by_index(result)) == [2, 3]


@pytest.mark.parametrize("key", ["eventbridge/2026/11/02/bug", "firehose/2026/11/02/bug"])
def test_bug_j_a_bom_costs_eventbridge_and_cloudwatch_records(key: str) -> None:
    """BUG J. Routing strips a UTF-8 BOM before sniffing, so these files reach the
    EventBridge and CloudWatch Logs parsers, which do not strip it: two valid envelopes in
    an array become one ``invalid_json`` reject counted as one record, and a payload is
    rejected whole. (The CloudTrail parser and Kinesis ``pack`` strip it.)"""
    record = json.dumps(ct_record(0)).encode()
    if key.startswith("eventbridge"):
        envelope = b'{"detail-type":"AWS API Call via CloudTrail","detail":' + record + b"}"
        data, expected = b"[" + envelope + b"," + envelope + b"]", 2
    else:
        data, expected = (
            json.dumps(
                {"messageType": "DATA_MESSAGE", "logEvents": [{"message": record.decode()}]}
            ).encode(),
            1,
        )
    assert parse_one(data, key).events.num_rows == expected  # as it is without the BOM
    result = parse_one(BOM + data, key)
    assert result.events.num_rows == expected, reasons(result)


def test_bug_k_a_one_record_logstash_export_is_rejected_whole() -> None:
    """BUG K. A file of JSON lines is only read as such if it has two lines or its one line
    holds ``"eventTime"``; a one-record Logstash export (``@timestamp``, a supported form)
    is rejected whole as ``no_records``, while the same line twice makes two events."""
    line = b'{"eventVersion":"1.09","@timestamp":"2026-11-02T10:00:09.000Z","eventID":"a"}'
    assert parse_one(line + b"\n" + line).events.num_rows == 2
    assert ids_by_index(parse_one(line)) == {0: "a"}


def test_bug_l_the_exact_tier_flags_an_event_it_then_drops() -> None:
    """BUG L. The exact tier flags a bad byte count (``bad_field_type``, records=0: "kept
    the event with the value null") before it drops records without a usable time, so a
    record with both gets a flag on an event that does not exist besides its
    ``bad_event_time``. The native tier reports only ``bad_event_time``."""
    result = parse_one(
        b'[1,{"eventVersion":"1","additionalEventData":{"bytesTransferredOut":"x"}}]'
    )
    assert reasons(result) == [("bad_record_shape", 0), ("bad_event_time", 1)]


def test_bug_m_a_notification_key_that_is_not_unicode_text_is_not_poison() -> None:
    """BUG M. JSON may escape a lone surrogate (``"a\\ud800"``); ``parse_notification``
    returns it as an object key, which no S3 object can have. Fetching it makes boto3
    raise UnicodeEncodeError, which ``sources.s3.get_object`` does not catch (only
    ClientError/BotoCoreError): ``SqsSource.poll`` raises, the tail logs "polling failed"
    and the message comes back until it is dead-lettered, instead of being quarantined as
    poison at once."""
    with pytest.raises(NotificationError):
        parse_notification('{"s3Bucket":"logs","s3ObjectKey":["AWSLogs/a\\ud800.json.gz"]}')


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_bug_n_a_line_not_utf8_makes_arrow_print_a_traceback() -> None:
    """BUG N. The access-log fast path's invalid-row handler gets a line that is not UTF-8;
    pyarrow cannot decode it to call the handler, prints "Exception ignored in: ...
    on_invalid" with a UnicodeDecodeError traceback to stderr (once per such line), and
    the read fails over to the exact path. The result is right; the traceback is noise in
    every run that meets such a file."""
    data = (access_line(0) + "\n").encode() + b"\xff\n"
    result = parse_one(data, f"{ACCESS_KEY}2026-11-02-10-00-00-0123456789ABCDEF")
    assert reasons(result) == [("invalid_utf8", 1)]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"aws-sdk-java/2.25.1"', b'"ua\\"x"'),  # a quote escaped inside the user agent
        (b" REQ0000000000000 ", b' " '),  # a lone quote where the request id belongs
        (b" us-east-1", b' us-east-1 "" x'),  # an empty quoted extra field: extra_fields differ
        (b" 10.0.0.5 ", b"  10.0.0.5 "),  # two spaces: an empty field to Arrow, all shift by one
        (b"79a59df9", b"\t79a59df9"),  # a tab: whitespace to the regex, not to Arrow
        (b'2.25.1" - ', b'2.25.1"xyz - '),  # more right after a quoted field: one field or two
        (b"- - us-east-1", b"- - "),  # 26 fields and a space at the end: an empty 27th to Arrow
    ],
)
def test_bug_o_the_two_access_log_paths_split_fields_differently(old: bytes, new: bytes) -> None:
    """BUG O. A file whose lines are regular is read by Arrow's CSV reader, an irregular one
    line by line with a regex; the two split a quote inside a field differently, so the
    same line gives different fields (request id, user agent, host header, TLS version,
    bytes sent...) depending on whether another line of its file, here a line that is not
    UTF-8, is irregular. With the escaped quote the exact path also shifts every later
    field by one; with two spaces in a row the fast path does (source_ip "", principal_arn
    "10.0.0.5", request_id the principal ARN..., in every line of a file written so). Extra
    fields are joined differently too ("x" against " x")."""
    line = access_line(0).encode().replace(old, new)
    key = f"{ACCESS_KEY}2026-11-02-10-00-00-0123456789ABCDEF"
    fast = rows_by_line(parse_one(line + b"\n", key).events)
    exact = rows_by_line(parse_one(line + b"\n\xff\n", key).events)
    assert fast == exact


@pytest.mark.parametrize("year", [b"0000", b"1999", b"9999"])
def test_bug_p_access_log_times_are_not_held_to_the_sane_range(year: bytes) -> None:
    """BUG P. CloudTrail times outside 2006-03-14 .. now + 1 day are no time (the record is
    quarantined as ``bad_event_time``: "a time in the year 9999 would close every open
    window at once"); access-log times are not checked, so a line dated in the year 0,
    1999 or 9999 becomes an event."""
    line = access_line(0).encode().replace(b"/2026:", b"/" + year + b":")
    result = parse_one(line + b"\n", f"{ACCESS_KEY}2026-11-02-10-00-00-0123456789ABCDEF")
    assert result.events.num_rows == 0
    assert [i for _, i in reasons(result)] == [0]


def test_bug_r_salvage_counts_the_fragments_of_a_damaged_record_as_records() -> None:
    """BUG R. A file whose brackets do not balance is read value by value by Python's json
    decoder; when damage has cut into a record, the values it can still read are rejected
    one by one as ``bad_record_shape`` with ``records=1``: ``[{"eventVersion":"1.09",...}]``
    with its first 17 bytes lost counts as three records (``0``, ``9`` and ``","``) and a
    stretch of unknown size, where there was one."""
    result = parse_one(b'[09","a":"b"}]')
    claimed = result.events.num_rows + sum(r.records or 0 for r in result.rejects)
    assert claimed <= 1, reasons(result)


def test_bug_s_the_native_array_tier_cannot_quote_a_record_duckdb_read_leniently() -> None:
    """BUG S. Files of 4 MiB and more are read by DuckDB as whole arrays. DuckDB accepts a
    trailing comma (``[1,]``) where msgspec does not; when such a record must be quoted in a
    reject (here for its unusable eventTime), ``raw_elements`` re-reads the array with
    msgspec, which raises DecodeError; the guard quarantines the whole file as
    ``parser_error``, record ``b`` with it. (Smaller files are read by msgspec first and
    only the bad record is rejected.)"""
    data = (
        b'[{"eventVersion":"1","eventTime":[1,]},'
        b'{"eventVersion":"1","eventTime":"2026-11-02T10:00:00Z","eventID":"b"}]'
    )
    with mock.patch.object(cloudtrail_type, "OWN_SCRATCH_BYTES", 0):  # read as a big file is
        result = parse_one(data)
    assert "parser_error" not in [r.reason for r in result.rejects]
    assert ids_by_index(result) == {1: "b"}
