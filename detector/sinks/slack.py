"""Slack incoming webhooks: a readable Block Kit message, with every log field made inert.

Alert fields come from logs, and logs are written by whoever calls S3: a user agent or an
object key can say ``<!channel>``, ``<https://evil|click here>`` or ``*URGENT*``. Slack reads
``<…>`` as mentions and links, so ``&``, ``<`` and ``>`` always become entities
(``escape_mrkdwn``); values are shown inside inline code spans (``inline_code``), where
Slack applies no bold, italics or strike, with backticks swapped for a look-alike so a value
cannot close its span, and control characters (newlines, bidi overrides) shown as escapes so
a value cannot fake extra lines. Sentences built from log values (the reasons) go in
``plain_text``, which Slack never formats. Every piece is capped to Slack's limits.

Delivery is one POST with the standard library. 2xx is delivered; 429 is retryable after
``Retry-After``; 408, 5xx and network errors are retryable; other statuses (a revoked or
archived hook, a payload Slack refuses) are not, and redirects are refused rather than
followed (urllib would turn the POST into a body-less GET that "succeeds").
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from detector.errors import DeliveryError, UsageError
from detector.sinks.base import Sink, digest, register

log = logging.getLogger(__name__)

HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
BLOCKS_MAX = 50
FALLBACK_MAX = 300
VALUE_MAX = 200
AGENT_MAX = 160
LIST_SHOWN = 5
REASONS_SHOWN = 10
REASON_MAX = 400
HUNT_MAX = 2800
TIMEOUT = 10.0

_SEVERITY_ICON = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
    "info": ":white_circle:",
}
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BACKTICK_LOOKALIKE = "\u02cb"  # ˋ modifier letter grave accent


def escape_mrkdwn(text: str) -> str:
    """``&``, ``<``, ``>`` as entities: enough to make ``<!channel>``, ``<@U1>`` and
    ``<https://x|y>`` inert, and all Slack asks (other entities would show literally).

    >>> escape_mrkdwn("<!channel> & <https://evil|click>")
    '&lt;!channel&gt; &amp; &lt;https://evil|click&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _visible(value: Any, keep_newlines: bool = False) -> str:
    """Text with lone surrogates replaced and control/bidi characters shown as escapes."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")

    def show(m: re.Match[str]) -> str:
        ch = m.group()
        if keep_newlines and ch == "\n":
            return ch
        return _NAMED.get(ch) or f"\\u{ord(ch):04x}"

    return _INVISIBLE.sub(show, text)


def _fit(text: str, limit: int) -> str:
    """Escape ``text`` and cut it (never inside an entity) to at most ``limit`` characters."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for ch in text:
        piece = _ENTITIES.get(ch, ch)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def inline_code(value: Any, limit: int = VALUE_MAX) -> str:
    """A log-derived value as an inline code span: escaped, unformattable, one line, capped.

    >>> inline_code("*a*`b`\\n<!here>")
    '`*a*ˋbˋ\\\\n&lt;!here&gt;`'
    """
    if value is None or value == "":
        return "-"
    text = _visible(value).replace("`", _BACKTICK_LOOKALIKE)
    return f"`{_fit(text, max(limit - 2, 2))}`"


def plain(value: Any, limit: int) -> str:
    """A value for a ``plain_text`` object (never formatted by Slack), escaped and capped."""
    return _fit(_visible(value), limit)


def _values(items: Any, shown: int, each: int) -> str:
    if isinstance(items, str):
        items = [items]
    values = [v for v in (items or []) if v not in (None, "")]
    text = ", ".join(inline_code(v, each) for v in values[:shown])
    if len(values) > shown:
        text += f" and {len(values) - shown} more"
    return text


def _pack(lines: Iterable[str]) -> list[dict[str, Any]]:
    """mrkdwn lines into as few sections as Slack's 3000-character limit allows."""
    blocks: list[dict[str, Any]] = []
    current = ""
    for line in lines:
        line = line[:TEXT_MAX]
        if current and len(current) + 1 + len(line) > TEXT_MAX:
            blocks.append(_mrkdwn_section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_mrkdwn_section(current))
    return blocks


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _field(title: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": f"*{title}*\n{value}"[:FIELD_MAX], "verbatim": True}


def _severity(alert: dict[str, Any]) -> str:
    sev = alert.get("severity")
    if isinstance(sev, str) and sev in _SEVERITY_ICON:
        return f"{_SEVERITY_ICON[sev]} {sev.upper()}"
    return inline_code(sev)


def _number(value: Any) -> str:
    return (
        str(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else inline_code(value)
    )


def slack_message(alert: dict[str, Any]) -> dict[str, Any]:
    """The webhook payload for one alert: Block Kit blocks plus a ``text`` for notifications.

    Pure: same alert, same payload. Missing fields are left out (``hunt`` among them).
    """
    title = alert.get("title") or alert.get("detection") or "alert"
    severity = str(alert.get("severity") or "").upper()
    principal = alert.get("principal")
    fallback = f"{plain(severity, 20)} {plain(title, 150)}"
    if principal:
        fallback += f" by {inline_code(principal, 120)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": plain(title, HEADER_MAX), "emoji": False},
        },
    ]
    fields = [
        _field("Severity", _severity(alert)),
        _field("Detection", inline_code(alert.get("detection"))),
        _field("Principal", inline_code(principal, 500)),
        _field("Account", inline_code(alert.get("account_id"))),
        _field("First seen", inline_code(alert.get("first_seen"), 40)),
        _field("Last seen", inline_code(alert.get("last_seen"), 40)),
    ]
    if alert.get("count") is not None:
        fields.append(_field("Findings merged", _number(alert.get("count"))))
    if alert.get("score") is not None:
        fields.append(_field("Score", _number(alert.get("score"))))
    blocks.append({"type": "section", "fields": fields[:10]})

    reasons = [
        r.get("text") or r.get("feature") if isinstance(r, dict) else r
        for r in alert.get("reasons") or []
    ]
    reasons = [r for r in reasons if r]
    if reasons:
        bullets = [f"• {plain(r, REASON_MAX)}" for r in reasons[:REASONS_SHOWN]]
        if len(reasons) > REASONS_SHOWN:
            bullets.append(f"… and {len(reasons) - REASONS_SHOWN} more")
        text = "Why it fired:\n" + "\n".join(bullets)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "plain_text", "text": text[:TEXT_MAX], "emoji": False},
            }
        )

    evidence: list[str] = []
    for label, key, each in (
        ("Buckets", "buckets", VALUE_MAX),
        ("Source IPs", "source_ips", 64),
        ("User agents", "user_agents", AGENT_MAX),
        ("VPC endpoints", "vpc_endpoint_ids", 64),
    ):
        text = _values(alert.get(key), LIST_SHOWN, each)
        if text:
            evidence.append(f"*{label}:* {text}")
    ids = [v for v in alert.get("evidence_event_ids") or [] if v]
    if ids:
        total = alert.get("evidence_total")
        of = f" of {total}" if isinstance(total, int) and total > len(ids[:LIST_SHOWN]) else ""
        evidence.append(
            f"*Evidence ({len(ids[:LIST_SHOWN])}{of} events):* "
            + ", ".join(inline_code(v, 80) for v in ids[:LIST_SHOWN])
        )
    blocks.extend(_pack(evidence))

    if alert.get("runbook"):
        blocks.append(_mrkdwn_section(f"*Runbook:* {plain(alert['runbook'], TEXT_MAX - 20)}"))
    hunt = alert.get("hunt")
    if hunt:
        command = _visible(hunt, keep_newlines=True).replace("`", _BACKTICK_LOOKALIKE)
        blocks.append(_mrkdwn_section(f"*Dig further:*\n```{_fit(command, HUNT_MAX)}```"))
    if alert.get("alert_id"):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"alert {inline_code(alert['alert_id'], 80)}",
                        "verbatim": True,
                    }
                ],
            }
        )
    return {"text": fallback[:FALLBACK_MAX], "blocks": blocks[:BLOCKS_MAX]}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _excerpt(exc: urllib.error.HTTPError) -> str:
    """The start of the error body (Slack says e.g. ``invalid_payload``), printable only."""
    try:
        body = exc.read(200)
    except (OSError, http.client.HTTPException):
        return ""
    finally:
        exc.close()
    text = re.sub(r"[^\x20-\x7e]", "?", body.decode("ascii", "replace"))[:80]
    return f": {text}" if text else ""


@register
class SlackSink(Sink):
    """A Slack incoming webhook (``slack=https://hooks.slack.com/services/…``)."""

    name = "slack"
    secret_value = True

    def __init__(self, value: str) -> None:
        problem = "sink slack: the webhook must be an http(s) URL (or env:VAR / file:PATH)"
        if any(c.isspace() or not c.isprintable() for c in value):
            raise UsageError(problem)
        try:
            parts = urllib.parse.urlsplit(value)
            host = parts.hostname
        except ValueError:
            raise UsageError(problem) from None
        if parts.scheme not in ("http", "https") or not host:
            raise UsageError(problem)
        if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
            log.warning(
                "sink slack: the webhook is plain http; its URL is a credential and "
                "travels in clear text"
            )
        self._url = value
        h = digest(value)
        self.target_id = f"slack-{h}"
        self.label = f"slack:{host}/…/{h[:4]}"
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, alert: dict[str, Any]) -> None:
        """POST the Block Kit message; raise ``DeliveryError`` saying if a retry can help."""
        body = json.dumps(slack_message(alert), ensure_ascii=True).encode("ascii")
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "s3-anomaly-detector",
            },
        )
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            code = exc.code
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            detail = _excerpt(exc)
            if code == 429:
                raise DeliveryError(f"HTTP 429 rate limited{detail}", True, retry_after) from None
            raise DeliveryError(
                f"HTTP {code}{detail}",
                code >= 500 or code == 408,
                retry_after if code >= 500 else None,
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            name = cause if isinstance(cause, str) else type(cause).__name__
            raise DeliveryError(f"connection failed: {str(name)[:80]}", True) from None
