"""Amazon SNS: the alert as JSON, with attributes subscribers can filter on.

The message is the alert dict as JSON (ASCII-only, so no byte can upset a subscriber's
decoder), kept under SNS's 256 KiB by trimming lists and long strings when needed and then
saying so with ``"truncated": true``. The subject is printable ASCII without line breaks and
at most 100 characters, as SNS (and e-mail subscribers) require. ``severity``, ``detection``
and ``alert_id`` go in message attributes, so a subscription filter policy such as
``{"severity": ["high", "critical"]}`` picks alerts without parsing them. A FIFO topic gets
``alert_id`` as its deduplication id, so a re-send after a crash is dropped by SNS itself.

The client comes from boto3's standard configuration (profiles, ``AWS_ENDPOINT_URL``…), in
the topic's own region, with botocore's adaptive retries for throttling; what still fails is
a ``DeliveryError``: retryable for throttling, 5xx, expired credentials and network errors;
not for a missing topic, a denied publish or a rejected parameter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from detector.errors import DeliveryError, UsageError
from detector.sinks.base import Sink, register

MESSAGE_MAX = 256 * 1024
ATTRIBUTES_BUDGET = 2 * 1024
"""SNS counts message attributes (and the subject) against the same 256 KiB."""
SUBJECT_MAX = 100
ATTRIBUTE_MAX = 256

TOPIC_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:sns:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:"
    r"[A-Za-z0-9_-]{1,256}(?:\.fifo)?"
)
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KMSThrottling",
    "KMSThrottlingException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_SHRINK_STEPS = ((20, 4096), (5, 1024), (3, 256), (1, 64), (0, 64))
"""(items kept per list, characters kept per string) tried in turn until the message fits."""
_KEEP = ("alert_id", "detection", "severity")


def sns_subject(alert: dict[str, Any]) -> str:
    """``[SEVERITY] title``: printable ASCII, one line, at most 100 characters."""
    text = (
        f"[{str(alert.get('severity') or 'alert').upper()}] "
        f"{alert.get('title') or alert.get('detection') or ''}"
    )
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\x20-\x7e]+", " ", text)
    text = re.sub(r" {2,}", " ", text).strip()
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 3].rstrip() + "..."
    return text or "S3 anomaly alert"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)


def _shrink(value: Any, items: int, chars: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + "..."
    if isinstance(value, list | tuple):
        return [_shrink(v, items, chars) for v in list(value)[:items]]
    if isinstance(value, dict):
        return {k: _shrink(v, items, chars) for k, v in value.items()}
    return value


def sns_message(alert: dict[str, Any], limit: int = MESSAGE_MAX - ATTRIBUTES_BUDGET) -> str:
    """The alert as JSON, trimmed to fit ``limit`` bytes and then marked ``"truncated"``.

    Lists lose their tail and long strings their end, step by step, so what is left is the
    head of every field; ``alert_id``, ``detection`` and ``severity`` are never cut.
    """
    text = _dumps(alert)
    if len(text) <= limit:
        return text
    for items, chars in _SHRINK_STEPS:
        small = _shrink(alert, items, chars)
        small.update({k: alert[k] for k in _KEEP if k in alert})
        small["truncated"] = True
        text = _dumps(small)
        if len(text) <= limit:
            return text
    small = {k: _shrink(alert.get(k), 0, 256) for k in _KEEP}
    return _dumps({**small, "truncated": True})


def _attribute(value: Any) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    text = str(value).encode("utf-8", "replace").decode("utf-8")[:ATTRIBUTE_MAX]
    return {"DataType": "String", "StringValue": text}


@register
class SnsSink(Sink):
    """An SNS topic (``sns=arn:aws:sns:REGION:ACCOUNT:NAME``)."""

    name = "sns"
    secret_value = True

    def __init__(self, value: str) -> None:
        match = TOPIC_ARN.fullmatch(value)
        if match is None:
            raise UsageError("sink sns: expected a topic ARN like arn:aws:sns:REGION:ACCOUNT:NAME")
        self.arn = value
        self.region = match.group("region")
        self.fifo = value.endswith(".fifo")
        name = value.rsplit(":", 1)[1].replace(".", "-")
        self.target_id = f"sns-{self.region}-{value.split(':')[4]}-{name}"
        self.label = f"sns:{value}"
        self._client: Any = None

    def _sns(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=15
            )
            self._client = boto3.session.Session().client(
                "sns", region_name=self.region, config=config
            )
        return self._client

    def send(self, alert: dict[str, Any]) -> None:
        """Publish one alert; raise ``DeliveryError`` saying if a retry can help."""
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {
            k: a
            for k in ("severity", "detection", "alert_id")
            if (a := _attribute(alert.get(k))) is not None
        }
        request: dict[str, Any] = {
            "TopicArn": self.arn,
            "Subject": sns_subject(alert),
            "Message": sns_message(alert),
            "MessageAttributes": attributes,
        }
        if self.fifo:
            request["MessageGroupId"] = str(alert.get("detection") or "alerts")[:128]
            if alert.get("alert_id"):
                request["MessageDeduplicationId"] = str(alert["alert_id"])[:128]
        try:
            self._sns().publish(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            retryable = code in _RETRYABLE_CODES or status >= 500 or status == 429
            raise DeliveryError(
                f"SNS {code or status}: {str(error.get('Message', ''))[:200]}", retryable
            ) from None
        except BotoCoreError as exc:
            # No credentials, an endpoint that does not answer, a timeout: all may pass.
            raise DeliveryError(f"SNS client: {type(exc).__name__}", True) from None
