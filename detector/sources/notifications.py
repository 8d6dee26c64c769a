"""Queue messages that say "a log object landed": every shape they come in, to object refs.

Pure: a message body in, the S3 objects it names out (or why it names none). Shapes:

- S3 event notifications (``{"Records": [{"eventSource": "aws:s3", ...}]}``), sent to the
  queue directly or through an SNS topic (the ``{"Type": "Notification", "Message": ...}``
  envelope, unless the subscription uses raw delivery);
- CloudTrail's own SNS notification (``{"s3Bucket": ..., "s3ObjectKey": [...]}``);
- EventBridge "Object Created" events (``detail-type`` / ``detail.object.key``);
- S3's ``s3:TestEvent``, sent when notifications are configured: ignored.

S3 event notifications and EventBridge events carry URL-encoded keys (spaces as ``+``);
CloudTrail's notification carries the key as is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from detector.blob import ObjectRef

MAX_SNS_NESTING = 3


class NotificationError(ValueError):
    """The message is not a notification we understand: it goes to quarantine."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Notice:
    """What one queue message asks for."""

    objects: list[ObjectRef] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Why parts of the message were ignored (test events, removals): counted, not errors."""


def parse_notification(body: str | bytes) -> Notice:
    """The objects a queue message names; ``NotificationError`` when it is not one.

    Whatever the body holds (any shape, depth, type or encoding), nothing else is raised:
    a message of an unexpected shape is poison for the quarantine, never a crash.
    """
    try:
        return _parse(_loads(body), depth=0)
    except NotificationError:
        raise
    except Exception as exc:
        raise NotificationError(
            "poison_message", f"notification of an unexpected shape ({type(exc).__name__}: {exc})"
        ) from None


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise NotificationError("poison_message", "JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotificationError("poison_message", f"message body is not JSON: {exc}") from None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a field of the wrong type is as
    good as missing; ``_ref`` then says what is lacking)."""
    return value if isinstance(value, dict) else {}


def _parse(doc: Any, depth: int) -> Notice:
    if not isinstance(doc, dict):
        raise NotificationError("poison_message", "message body is not a JSON object")
    if doc.get("Type") == "Notification" and "Message" in doc:
        if depth >= MAX_SNS_NESTING:
            raise NotificationError("poison_message", "SNS envelopes nested too deeply")
        message = doc["Message"]
        if isinstance(message, str):
            message = _loads(message)
        return _parse(message, depth + 1)
    if doc.get("Event") == "s3:TestEvent":
        return Notice(ignored=["s3:TestEvent"])
    if isinstance(doc.get("Records"), list):
        return _s3_event(doc["Records"])
    if "s3Bucket" in doc and "s3ObjectKey" in doc:
        return _cloudtrail(doc)
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        return _eventbridge(doc)
    raise NotificationError(
        "unknown_notification",
        f"not an S3, CloudTrail or EventBridge notification "
        f"(top-level keys: {', '.join(sorted(map(str, doc))[:8])})",
    )


_BUCKET = re.compile(r"[A-Za-z0-9._\-]{3,255}")
"""S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens today; legacy
us-east-1 buckets may also have capitals and underscores, up to 255 characters."""
MAX_KEY_BYTES = 1024
"""S3's longest object key, in UTF-8 bytes."""


def _ref(bucket: Any, key: Any, size: Any = 0, etag: Any = None) -> ObjectRef:
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise NotificationError("poison_message", "notification lacks a bucket name or key")
    if not _BUCKET.fullmatch(bucket):
        raise NotificationError("poison_message", "notification names no valid S3 bucket")
    try:
        key_bytes = key.encode("utf-8")
    except UnicodeEncodeError:
        raise NotificationError(
            "poison_message",
            "object key is not Unicode text (a lone surrogate): no S3 object has it",
        ) from None
    if len(key_bytes) > MAX_KEY_BYTES:
        raise NotificationError(
            "poison_message", f"object key longer than S3 allows ({MAX_KEY_BYTES} bytes)"
        )
    try:
        n = int(size or 0)
    except (TypeError, ValueError):
        n = 0
    tag = str(etag).strip('"') if etag else None
    return ObjectRef(f"s3://{bucket}/{key}", key, n, tag)


def _s3_event(records: list[Any]) -> Notice:
    notice = Notice()
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("s3"), dict):
            raise NotificationError("poison_message", "S3 event record without an s3 section")
        name = str(r.get("eventName", ""))
        if not name.startswith("ObjectCreated:"):
            notice.ignored.append(name or "unnamed event")
            continue
        s3 = r["s3"]
        bucket = _obj(s3.get("bucket")).get("name")
        obj = _obj(s3.get("object"))
        key = obj.get("key")
        notice.objects.append(
            _ref(
                bucket,
                unquote_plus(key) if isinstance(key, str) else key,
                obj.get("size"),
                obj.get("eTag"),
            )
        )
    return notice


def _cloudtrail(doc: dict[str, Any]) -> Notice:
    keys = doc["s3ObjectKey"]
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list):
        raise NotificationError("poison_message", "s3ObjectKey is not a list of keys")
    return Notice(objects=[_ref(doc["s3Bucket"], k) for k in keys])


def _eventbridge(doc: dict[str, Any]) -> Notice:
    if doc["detail-type"] != "Object Created":
        return Notice(ignored=[str(doc["detail-type"])[:100]])
    detail = _obj(doc.get("detail"))
    bucket = _obj(detail.get("bucket")).get("name")
    obj = _obj(detail.get("object"))
    key = obj.get("key")
    return Notice(
        objects=[
            _ref(
                bucket,
                unquote_plus(key) if isinstance(key, str) else key,
                obj.get("size"),
                obj.get("etag"),
            )
        ]
    )
