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
from detector.logtypes.base import Content, LogType, ParseResult, register, skip_rule
from detector.schema import SOURCE_CLOUDTRAIL

_TRAIL_KEY = re.compile(r"(^|/)CloudTrail/[^/]+/\d{4}/\d{2}/\d{2}/")
_RECORD_KEYS = (b'"eventVersion"', b'"eventTime"', b'"eventSource"', b'"userIdentity"')
_RECORDS_HEAD = re.compile(rb'^\{\s*"Records"\s*:')


class TrailFile(msgspec.Struct):
    Records: msgspec.Raw


_TRAIL_FILE = msgspec.json.Decoder(TrailFile)


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
        batch = ctr.RecordBatch()
        for content in contents:
            _decode_file(batch, content)
        return ParseResult(ctr.to_table(batch), batch.rejects)


def _decode_file(batch: ctr.RecordBatch, content: Content) -> None:
    data, origin = content.data, content.blob.uri
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        ctr.decode_array(batch, stripped, origin)
        return
    if _RECORDS_HEAD.match(stripped) or b'"Records"' in stripped[:4096]:
        try:
            records = _TRAIL_FILE.decode(stripped).Records
        except (msgspec.ValidationError, msgspec.DecodeError):
            ctr.salvage_array(batch, stripped, origin)
            return
        ctr.decode_array(batch, bytes(records), origin)
        return
    lines = [(i, ln) for i, ln in enumerate(stripped.split(b"\n")) if ln.strip()]
    if len(lines) > 1 or (lines and b'"eventTime"' in lines[0][1]):
        ctr.decode_lines(batch, lines, origin)
        return
    batch.reject(origin, "no_records", "JSON without a Records array or CloudTrail records",
                 data, None, None)
