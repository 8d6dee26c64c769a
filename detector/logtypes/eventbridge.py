"""CloudTrail events inside EventBridge envelopes (``detail-type: AWS API Call via CloudTrail``).

This is how CloudTrail events arrive through EventBridge rules, Kinesis streams and Firehose:
one envelope per line (or a JSON array of them), each carrying one CloudTrail record in
``detail``. Envelopes of other detail types (S3 "Object Created", say) are not API events and
are rejected with their detail type named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from detector.logtypes import _cloudtrail_records as ctr
from detector.logtypes._cloudtrail_native import RawRecords
from detector.logtypes.base import Content, LogType, ParseResult, register
from detector.schema import SOURCE_CLOUDTRAIL

CLOUDTRAIL_DETAIL_TYPES = frozenset(
    {
        "AWS API Call via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Service Event via CloudTrail",
        "AWS Console Action via CloudTrail",
        "AWS Insight via CloudTrail",
    }
)


class Envelope(msgspec.Struct):
    detail_type: str | None = msgspec.field(default=None, name="detail-type")
    detail: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPES = msgspec.json.Decoder(list[Envelope])
_ENVELOPE = msgspec.json.Decoder(Envelope)
_HEAD = re.compile(rb'"detail-type"\s*:')


@register
class EventBridgeCloudTrail(LogType):
    """EventBridge envelopes carrying CloudTrail records, as JSON lines or a JSON array."""

    name = "eventbridge"
    source = SOURCE_CLOUDTRAIL
    priority = 5

    def sniff(self, head: bytes) -> bool:
        return head[:1] in (b"{", b"[") and _HEAD.search(head) is not None

    def parse(self, contents: Sequence[Content]) -> ParseResult:
        raw = RawRecords()
        batch = ctr.RecordBatch()
        for content in contents:
            _decode(raw, batch, content)
        return ctr.finish(batch, raw)


def _decode(raw_records: RawRecords, batch: ctr.RecordBatch, content: Content) -> None:
    origin = content.blob.uri
    data = content.data
    items: list[tuple[int, bytes]]
    if data.lstrip().startswith(b"["):
        try:
            items = [(i, bytes(r)) for i, r in enumerate(ctr.RAW_ARRAY.decode(data))]
        except ctr.DECODE_ERRORS:
            found = ctr.split_array(batch, data.lstrip(), origin)
            if found is None:
                batch.reject(
                    origin,
                    "invalid_json",
                    "JSON array of envelopes with broken brackets",
                    data,
                    None,
                    None,
                )
                return
            items = found
    else:  # JSON lines, numbered from the top of the object
        items = [(i, ln) for i, ln in enumerate(data.split(b"\n")) if ln.strip()]
    try:
        envelopes = _ENVELOPES.decode(b"[" + b",".join(raw for _, raw in items) + b"]")
        pairs = list(zip(items, envelopes, strict=True))
    except ctr.DECODE_ERRORS:
        pairs = []
        for i, raw in items:
            try:
                pairs.append(((i, raw), _ENVELOPE.decode(raw)))
            except ctr.DECODE_ERRORS as exc:
                batch.reject(origin, "invalid_json", str(exc), raw, i)
    details: list[tuple[int, bytes]] = []
    for (i, raw), env in pairs:
        if env.detail_type not in CLOUDTRAIL_DETAIL_TYPES:
            batch.reject(
                origin,
                "not_cloudtrail_event",
                f"EventBridge detail-type {env.detail_type!r} is not a CloudTrail event",
                raw,
                i,
            )
        else:
            details.append((i, bytes(env.detail)))
    if details:
        raw_records.extend(origin, details)
