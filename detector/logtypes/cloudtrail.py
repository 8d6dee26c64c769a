"""CloudTrail log files: ``{"Records": [...]}`` as S3 receives them (gzipped or plain).

Also accepted, because users export events this way: a bare JSON array of records (the
CloudTrail console and Stratus Red Team), and JSON lines with one record per line.
Digest and Insight files are recognised by their key and skipped, not parsed as events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from detector.logtypes import _cloudtrail_records as ctr
from detector.logtypes._cloudtrail_native import RawRecords
from detector.logtypes.base import Content, LogType, ParseResult, register, skip_rule
from detector.schema import SOURCE_CLOUDTRAIL

_TRAIL_KEY = re.compile(r"(^|/)CloudTrail/[^/]+/\d{4}/\d{2}/\d{2}/")
_RECORD_KEYS = (b'"eventVersion"', b'"eventTime"', b'"eventSource"', b'"userIdentity"')
_LINE_KEYS = (*_RECORD_KEYS, b'"@timestamp"', b'"eventID"', b'"eventName"')
"""A lone line holding one of these is a record (a one-event export), not stray JSON."""
_RECORDS_HEAD = re.compile(rb'^\{\s*"Records"\s*:')


class TrailFile(msgspec.Struct):
    Records: list[msgspec.Raw]


_TRAIL_FILE = msgspec.json.Decoder(TrailFile)
OWN_SCRATCH_BYTES = 4 << 20
"""Files this big are read natively as they are; smaller ones (CloudTrail delivers many
files of a few records) are cut into records and read together, one scratch file a batch."""

_TRAIL_PREFIX = re.compile(rb'\{\s*"Records"\s*:\s*\[')
_TRAIL_SUFFIX = re.compile(rb"\]\s*\}\s*$")


def _records_array(data: bytes) -> memoryview | None:
    """The ``[...]`` of a ``{"Records": [...]}`` file, without copying, if it has that shape.

    Shape only: whether the JSON inside is valid is for the reader to find out.
    """
    if data[:1] == b"[" and data.rstrip().endswith(b"]"):
        return memoryview(data)
    m = _TRAIL_PREFIX.match(data)
    if m is None:
        return None
    tail = _TRAIL_SUFFIX.search(data, len(data) - 64 if len(data) > 64 else 0)
    if tail is None:
        return None
    return memoryview(data)[m.end() - 1 : tail.start() + 1]


@skip_rule
def cloudtrail_side_files(key: str) -> str | None:
    """Digest files prove integrity and Insight files summarise; neither holds API events."""
    if "/CloudTrail-Digest/" in key or "_CloudTrail-Digest_" in key:
        return "cloudtrail_digest"
    if "/CloudTrail-Insight/" in key or "_CloudTrail-Insight_" in key:
        return "cloudtrail_insight"
    return None


@register
class CloudTrail(LogType):
    """CloudTrail log files from a trail's S3 bucket (or exported records)."""

    name = "cloudtrail"
    source = SOURCE_CLOUDTRAIL
    priority = 10

    def claims_key(self, key: str) -> bool:
        return _TRAIL_KEY.search(key) is not None

    def sniff(self, head: bytes) -> bool:
        if _RECORDS_HEAD.match(head):
            return True
        return head[:1] in (b"[", b"{") and any(k in head for k in _RECORD_KEYS)

    def parse(self, contents: Sequence[Content]) -> ParseResult:
        raw = RawRecords()
        batch = ctr.RecordBatch()
        arrays: list[tuple[str, memoryview]] = []
        for content in contents:
            _split_file(raw, batch, arrays, content)
        return ctr.finish(batch, raw, arrays)


def _split_file(
    raw: RawRecords, batch: ctr.RecordBatch, arrays: list[tuple[str, memoryview]], content: Content
) -> None:
    """Route a file to the fastest tier that can read it; damaged JSON goes to salvage."""
    data, origin = content.data, content.blob.uri
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    array = _records_array(stripped) if len(stripped) >= OWN_SCRATCH_BYTES else None
    if array is not None:
        arrays.append((origin, array))
        return
    if (
        stripped.startswith(b"[")
        or _RECORDS_HEAD.match(stripped)
        or (stripped.startswith(b"{") and b'"Records"' in stripped[:4096])
    ):
        decoder = ctr.RAW_ARRAY if stripped.startswith(b"[") else _TRAIL_FILE
        try:
            decoded = decoder.decode(stripped)
        except RecursionError:
            _split_deep(raw, batch, stripped, origin)
            return
        except ctr.DECODE_ERRORS:
            ctr.salvage_array(batch, stripped, origin)
            return
        records = decoded if isinstance(decoded, list) else decoded.Records
        one_line = b"\n" not in stripped and b"\r" not in stripped
        raw.extend(origin, list(enumerate(map(bytes, records))), one_line)
        return
    # JSON lines, numbered from the top of the object (blank lines count as lines)
    lines = [(i, ln) for i, ln in enumerate(data.split(b"\n")) if ln.strip()]
    if len(lines) > 1 or (lines and any(k in lines[0][1] for k in _LINE_KEYS)):
        raw.extend(origin, lines, one_line=b"\r" not in data)
        return
    batch.reject(
        origin, "no_records", "JSON without a Records array or CloudTrail records", data, None, None
    )


def _split_deep(raw: RawRecords, batch: ctr.RecordBatch, data: bytes, origin: str) -> None:
    """A file too deep for msgspec to skip through: cut its Records array by structure, so
    only the deep record is at risk (the native tier reads it; the exact one rejects it)."""
    items = ctr.split_array(batch, data, origin, ctr.resync_from(batch, origin))
    if items is None:
        ctr.salvage_array(batch, data, origin)
    else:
        raw.extend(origin, items)
