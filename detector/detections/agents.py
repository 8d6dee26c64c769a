"""Clients that should not be talking to our buckets (C13, rule part): penetration-testing
distributions and cloud attack tools, and bulk S3 copy clients (rclone, S3 Browser, …).
The per-principal "new agent family" anomaly lives with the baselines, not here."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN, SERVICE, access_line, data_event, record
from detector.detections.base import EventRule, Example, Finding, Severity, distinct, register

_AUDIT_TOOLS = r"(?i)(prowler|scoutsuite|cloudsploit)"
"""Posture scanners a security team runs on purpose: a weak signal (low, recorded; it joins an
attack sequence) unless a pentest agent comes with it."""


@register
class OffensiveUserAgent(EventRule):
    id = "offensive_user_agent"
    title = "Request from a penetration-testing distribution or cloud attack tool"
    severity = "high"
    capabilities = ("C13",)
    attack = ("T1595", "T1526", "T1078")
    dedup_by = ("principal", "agent_family")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Confirm with the security team whether an assessment is running (then allowlist "
        "its user agent or principal); otherwise treat the credentials as stolen: revoke "
        "sessions, rotate keys, review everything the principal did."
    )
    reason_feature = "user_agent"
    reason_template = "{event_name} by {principal}[ from {source_ip}] with agent {user_agent}"

    def match(self, settings: Settings) -> pl.Expr:
        return pl.col("is_offensive_agent")

    def severity_of(self, hits: pl.DataFrame) -> Severity | None:
        agents = distinct(hits, "user_agent")
        return "low" if agents and all(pl.Series(agents).str.contains(_AUDIT_TOOLS)) else None

    def habit_of(self, f: Finding) -> tuple[str, str] | None:
        """A posture scanner the principal runs routinely is its habit; attack tools are
        bad regardless of history (one incident per principal, not a stream)."""
        return ("agents", f.key[1]) if f.severity == "low" else None

    examples = (
        Example(
            "AWS CLI on Kali Linux",
            (
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    {"Host": "s3.amazonaws.com"},
                    userAgent="aws-cli/1.22.34 Python/3.9.12 Linux/5.16.0-kali7-amd64 "
                    "botocore/1.24.33",
                ),
            ),
        ),
        Example(
            "Pacu through boto3 on Parrot",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=ADMIN,
                    userAgent=(
                        "Boto3/1.26.8 Python/3.10.8 Linux/6.0.0-parrot1-amd64 Botocore/1.29.8 Pacu"
                    ),
                ),
            ),
        ),
        Example(
            "Prowler scan (low)",
            (
                record(
                    "GetBucketPolicy",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "policy": ""},
                    userAgent=(
                        "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 "
                        "lang/python#3.11 APN_1.0 Prowler/4.2.0"
                    ),
                ),
            ),
            severity="low",
        ),
        Example(
            "TruffleHog verifying a leaked key",
            (
                record(
                    "GetCallerIdentity",
                    "sts.amazonaws.com",
                    None,
                    userAgent="TruffleHog",
                    sourceIPAddress="45.83.64.12",
                ),
            ),
        ),
        Example(
            "ordinary AWS CLI",
            (record("ListBuckets", "s3.amazonaws.com", {"Host": "s3.amazonaws.com"}),),
            fires=False,
        ),
        Example(
            "AWS service",
            (
                record(
                    "GetObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "key": "x"},
                    identity=SERVICE,
                    sourceIPAddress="cloudtrail.amazonaws.com",
                    userAgent="cloudtrail.amazonaws.com",
                ),
            ),
            fires=False,
        ),
    )


@register
class BulkS3Client(EventRule):
    id = "bulk_s3_client"
    title = "Bulk S3 copy client (rclone, S3 Browser, Cyberduck…) on our buckets"
    severity = "medium"
    capabilities = ("C13",)
    attack = ("T1530", "T1567.002")
    dedup_by = ("principal", "agent_family")
    dedup_window = timedelta(hours=6)
    learns = True
    habit = ("agents", "agent_family")
    """Only when new for the principal (C13): a legacy user syncing with rclone every day
    is its habit."""
    runbook = (
        "Ask the principal's owner whether the tool is sanctioned (allowlist its agent "
        "if so); check bytes read and the destinations written since it appeared."
    )
    reason_feature = "user_agent"
    reason_template = (
        "{event_name}[ on {bucket}] by {principal}[ from {source_ip}] with bulk client {user_agent}"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return (
            pl.col("is_bulk_client")
            & (pl.col("event_source") == "s3.amazonaws.com")
            & pl.col("bucket").is_not_null()
            & ~pl.col("is_foreign_bucket")
        )

    examples = (
        Example(
            "rclone listing and reading, access log",
            access_lines=(
                access_line("REST.GET.BUCKET", key=None, user_agent="rclone/v1.66.0"),
                access_line(user_agent="rclone/v1.66.0", minute=1),
            ),
        ),
        Example(
            "S3 Browser in CloudTrail",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    identity=ADMIN,
                    userAgent="S3 Browser/11.5.7 (https://s3browser.com)",
                ),
            ),
        ),
        Example(
            "AWS SDK", (data_event("GetObject", "acme-data", "finance/ledger.xlsx"),), fires=False
        ),
        Example(
            "rclone against somebody else's bucket",
            (
                data_event(
                    "PutObject",
                    "partner-drop",
                    "feed.csv",
                    account="999988887777",
                    userAgent="rclone/v1.66.0",
                ),
            ),
            fires=False,
        ),
    )
