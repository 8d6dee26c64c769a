"""Unauthenticated requests that S3 served (C19, rule part): a bucket outside the configured
website buckets answering anonymous callers is exposed, whatever its settings claim. The
"new anonymous source" anomaly lives with the baselines."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ANONYMOUS, access_line, data_event
from detector.detections.base import (
    EventRule,
    Example,
    Finding,
    allowlisted,
    group_findings,
    register,
)


def is_anonymous() -> pl.Expr:
    """Access-log requester ``-``, or CloudTrail's unsigned identity (account ``anonymous``)."""
    cloudtrail_unsigned = (
        (pl.col("source") == "cloudtrail")
        & (pl.col("principal_type") == "AWSAccount")
        & pl.col("principal_arn").is_null()
        & (pl.col("principal_id").is_null() | (pl.col("principal_id") == ""))
    )
    return (
        (pl.col("principal_type") == "Anonymous")
        | (pl.col("account_id") == "anonymous")
        | cloudtrail_unsigned
    ).fill_null(False)


@register
class AnonymousAccess(EventRule):
    id = "anonymous_access_non_website"
    title = "Anonymous request served by a bucket that is not a website bucket"
    severity = "medium"
    capabilities = ("C19",)
    attack = ("T1530", "T1619")
    dedup_by = ("bucket",)
    dedup_window = timedelta(hours=24)
    runbook = (
        "Find what makes the bucket public (policy, ACL, Block Public Access off); if it "
        "is meant to be public add it to buckets.website, otherwise close it and list "
        "what the anonymous sources read."
    )
    reason_feature = "anonymous_request"
    reason_template = (
        "anonymous {action} of {bucket}/{object}[ from {source_ip}] succeeded ({user_agent})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        website = pl.col("bucket").is_in(list(settings.website_buckets)).fill_null(False)
        preflight = pl.col("operation").str.starts_with("REST.OPTIONS").fill_null(False)
        return (
            is_anonymous()
            & ~pl.col("is_error")
            & pl.col("bucket").is_not_null()
            & ~website
            & ~preflight
        )

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings))
        return group_findings(
            self,
            hits.with_columns(
                action=pl.coalesce("event_name", "operation"), object=pl.coalesce("key", pl.lit(""))
            ),
            settings,
        )

    examples = (
        Example(
            "anonymous GET served, access log",
            access_lines=(
                access_line(
                    "REST.GET.OBJECT",
                    "acme-data",
                    "exports/customers.csv",
                    requester=None,
                    ip="203.0.113.77",
                    user_agent="curl/8.5.0",
                ),
            ),
        ),
        Example(
            "anonymous listing served, CloudTrail",
            (
                data_event(
                    "ListObjects",
                    "acme-data",
                    None,
                    identity=ANONYMOUS,
                    sourceIPAddress="203.0.113.77",
                    userAgent="python-requests/2.31.0",
                ),
            ),
        ),
        Example(
            "anonymous GET on the website bucket",
            access_lines=(
                access_line(
                    "REST.GET.OBJECT",
                    "acme-www-static",
                    "index.html",
                    requester=None,
                    ip="203.0.113.77",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                ),
            ),
            fires=False,
        ),
        Example(
            "anonymous GET refused",
            access_lines=(
                access_line(
                    "REST.GET.OBJECT",
                    "acme-data",
                    "exports/customers.csv",
                    requester=None,
                    ip="203.0.113.77",
                    status=403,
                    error="AccessDenied",
                    bytes_sent=243,
                    object_size=0,
                ),
            ),
            fires=False,
        ),
        Example("signed GET", access_lines=(access_line(),), fires=False),
        Example(
            "CORS preflight (always unsigned)",
            access_lines=(
                access_line(
                    "REST.OPTIONS.PREFLIGHT",
                    "acme-data",
                    None,
                    requester=None,
                    ip="203.0.113.77",
                    bytes_sent=0,
                    object_size=0,
                    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                ),
            ),
            fires=False,
        ),
        Example(
            "S3 log delivery writing the access log",
            access_lines=(
                access_line(
                    "REST.PUT.OBJECT",
                    "acme-logs",
                    "acme-data/2026-11-05-10-00-00-0123456789ABCDEF",
                    requester="svc:logging.s3.amazonaws.com",
                    ip="-",
                    user_agent="-",
                ),
            ),
            fires=False,
        ),
    )
