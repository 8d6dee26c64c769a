"""CloudTrail events inside CloudWatch Logs subscription payloads.

A trail that sends to CloudWatch Logs, subscribed to Kinesis or Firehose, delivers gzipped
JSON ``{"messageType": "DATA_MESSAGE", "logEvents": [{"message": "<CloudTrail record>"}]}``.
``CONTROL_MESSAGE`` payloads are the service checking the subscription and hold no events.
Firehose may concatenate several payloads in one object; each is decoded in turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

import msgspec

from detector.logtypes import _cloudtrail_records as ctr
from detector.logtypes._cloudtrail_native import RawRecords
from detector.logtypes.base import Content, LogType, ParseResult, register
from detector.schema import SOURCE_CLOUDTRAIL


class LogEvent(msgspec.Struct):
    message: str = ""


class Payload(msgspec.Struct):
    messageType: str | None = None
    logGroup: str | None = None
    logEvents: list[LogEvent] = msgspec.field(default_factory=list)


_PAYLOAD = msgspec.json.Decoder(Payload)
_HEAD = re.compile(
    rb'\A\s*\{\s*"(messageType|owner|logGroup|logStream|subscriptionFilters'
    rb'|logEvents)"\s*:'
)
"""A payload's first key is one of its own: a CloudTrail record or EventBridge envelope that
merely contains a ``messageType`` field further on is not one."""
_BOUNDARY = re.compile(rb"\}\s*\{\s*\"messageType\"")


@register
class CloudWatchLogsCloudTrail(LogType):
    """CloudWatch Logs subscription payloads whose log events are CloudTrail records."""

    name = "cloudwatch_logs"
    source = SOURCE_CLOUDTRAIL
    priority = 5

    def sniff(self, head: bytes) -> bool:
        return _HEAD.match(head) is not None

    def parse(self, contents: Sequence[Content]) -> ParseResult:
        raw = RawRecords()
        batch = ctr.RecordBatch()
        skipped = 0
        for content in contents:
            skipped += _decode(raw, batch, content)
        result = ctr.finish(batch, raw)
        if skipped:
            result.skipped["cloudwatch_control_message"] = skipped
        return result


def _split_payloads(data: bytes) -> list[bytes]:
    """Firehose concatenates payloads as ``}{``; split where a new payload begins."""
    cuts = [m.start() + 1 for m in _BOUNDARY.finditer(data)]
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def _decode(raw: RawRecords, batch: ctr.RecordBatch, content: Content) -> int:
    origin = content.blob.uri
    skipped = 0
    offset = 0
    for part in _split_payloads(content.data.strip()):
        try:
            payload = _PAYLOAD.decode(part)
        except ctr.DECODE_ERRORS as exc:
            batch.reject(
                origin, "invalid_json", f"CloudWatch Logs payload: {exc}", part, None, None
            )
            continue
        if payload.messageType == "CONTROL_MESSAGE":
            skipped += 1
            continue
        lines = []
        for i, ev in enumerate(payload.logEvents):
            message = ev.message.encode("utf-8", "surrogatepass")
            if message.strip():
                lines.append((offset + i, message))
            else:
                batch.reject(
                    origin, "not_cloudtrail_record", "empty log event message", message, offset + i
                )
        offset += len(payload.logEvents)
        raw.extend(origin, lines)
    return skipped
