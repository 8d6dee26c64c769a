"""Requests from Tor exit relays (C16) with no threat-intel file configured.

Code running in an AWS estate does not call S3 through Tor; a person rarely does. A request
from a long-running exit operator's network (``detector.tor_exits``) means someone hides
where they are while using these credentials, or probes the bucket anonymously. Fires from
the first event, like a listed address (``threat_intel_source_ip``), but at medium: the
built-in list is coarse and not a current feed. A presigned URL fetched from an exit is
low: the signer handed the URL on (to a customer's browser, say), so who fetched it says
little about the signer's credentials; a URL spread widely is ``presigned_url_fanout``.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import access_line, data_event, record
from detector.detections.base import EventRule, Example, Severity, register
from detector.detections.network import in_networks


@register
class TorExitCaller(EventRule):
    id = "tor_exit_source_ip"
    title = "Request from a Tor exit relay"
    severity = "medium"
    capabilities = ("C16",)
    attack = ("T1090.003", "T1078")
    dedup_by = ("principal",)
    dedup_window = timedelta(hours=6)
    runbook = (
        "Ask the principal's owner whether they used Tor; if not, treat the credentials as "
        "exposed: list what succeeded from the exit addresses, revoke sessions or rotate "
        "keys. Add a current exit list to [threat_intel] ip_files for precise matching."
    )
    reason_feature = "source_ip"
    reason_template = (
        "{event_name}[ on {bucket}] by {principal} from Tor exit network address {source_ip} "
        "(error: {error_code})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return in_networks(settings.tor_networks)

    def severity_of(self, hits: pl.DataFrame) -> Severity | None:
        presigned = (hits.get_column("auth_method") == "QueryString").fill_null(False)
        return "low" if presigned.all() else None

    examples = (
        Example(
            "a role's session reads an object from a Tor exit",
            (
                data_event(
                    "GetObject",
                    "acme-hr-documents",
                    "reviews/2026/alice.pdf",
                    bytes_out=81234,
                    sourceIPAddress="185.220.101.47",
                    userAgent="Mozilla/5.0 (Windows NT 10.0; rv:128.0) Firefox/128.0",
                ),
            ),
        ),
        Example(
            "an anonymous probe from a Tor exit (refused, still fires)",
            access_lines=(
                access_line(
                    requester=None,
                    ip="171.25.193.78",
                    status=403,
                    error="AccessDenied",
                    bytes_sent=243,
                    object_size=0,
                ),
            ),
        ),
        Example(
            "a customer's browser fetches a presigned URL from a Tor exit (low)",
            access_lines=(
                access_line(
                    ip="185.220.102.79",
                    auth="QueryString",
                    user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
                ),
            ),
            severity="low",
        ),
        Example(
            "a call from an ordinary hosting address",
            (
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    {"Host": "s3.amazonaws.com"},
                    sourceIPAddress="185.221.101.47",
                ),
            ),
            fires=False,
        ),
    )
