"""Hostile re-encryption (C21): objects written with a customer-provided key (SSE-C, the
"Codefinger" ransomware technique: S3 keeps no copy of the key) or with a KMS key that lives in
an account outside the organisation."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import FOREIGN, OTHER_OURS, SERVICE_S3, data_event
from detector.detections.base import (
    EventRule,
    Example,
    Finding,
    allowlisted,
    group_findings,
    register,
)

_WRITES = ("PutObject", "CopyObject", "CreateMultipartUpload", "UploadPartCopy")
_KMS_ACCOUNT = pl.col("kms_key_id").str.extract(r"^arn:aws[\w-]*:kms:[^:]*:(\d{12}):", 1)
_SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key-MD5": "ZjQrne1X/iTcskbY2m3example==",
}


def foreign_kms(settings: Settings) -> pl.Expr:
    """KMS key (a key ARN; aliases and bare ids name no account) from an account not ours, or,
    when our accounts are not configured, not the account that received the event."""
    other = (
        ~_KMS_ACCOUNT.is_in(list(settings.our_accounts))
        if settings.our_accounts
        else _KMS_ACCOUNT.ne(pl.col("recipient_account_id"))
    )
    return (_KMS_ACCOUNT.is_not_null() & other).fill_null(False)


@register
class HostileReencryption(EventRule):
    id = "hostile_reencryption"
    title = "Objects written with SSE-C or a foreign account's KMS key"
    severity = "high"
    capabilities = ("C21",)
    attack = ("T1486",)
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=1)
    runbook = (
        "Stop the principal (revoke sessions, deny s3:PutObject), check whether objects "
        "were overwritten in place (CopyObject onto themselves), restore prior versions; "
        "consider denying SSE-C by bucket policy (s3:x-amz-server-side-encryption-"
        "customer-algorithm)."
    )
    reason_feature = "encryption"
    reason_template = (
        "{event_name} of {bucket}[/{key}] by {principal} with {how}{in_place}[, from {source_ip}]"
    )

    def match(self, settings: Settings) -> pl.Expr:
        write = pl.col("event_name").is_in(list(_WRITES)) & ~pl.col("is_error")
        return write & (pl.col("is_sse_c") | foreign_kms(settings))

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        copy_source = pl.col("request_parameters").str.json_path_match("$.x-amz-copy-source")
        in_place = copy_source.str.strip_chars_start("/").str.replace(r"\?versionId=.*$", "") == (
            pl.col("bucket") + pl.lit("/") + pl.col("key")
        )
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings)).with_columns(
            how=pl.when(pl.col("is_sse_c"))
            .then(pl.lit("SSE-C (customer-held key)"))
            .otherwise(pl.lit("KMS key of account ") + _KMS_ACCOUNT.fill_null("?")),
            in_place=pl.when(in_place.fill_null(False))
            .then(pl.lit(", overwriting itself"))
            .otherwise(pl.lit("")),
        )
        return group_findings(self, hits, settings)

    examples = (
        Example(
            "in-place copy with SSE-C",
            (
                data_event(
                    "CopyObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    params={"x-amz-copy-source": "acme-data/finance/ledger.xlsx", **_SSE_C},
                ),
            ),
        ),
        Example(
            "upload with SSE-C",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "db/dump.sql",
                    params=_SSE_C,
                    bytes_in=52_000_000,
                    additionalEventData={"SSEApplied": "SSE_C"},
                ),
            ),
        ),
        Example(
            "copy under an attacker's KMS key",
            (
                data_event(
                    "CopyObject",
                    "acme-data",
                    "db/dump.sql",
                    params={
                        "x-amz-copy-source": "acme-data/db/dump.sql",
                        "x-amz-server-side-encryption": "aws:kms",
                        "x-amz-server-side-encryption-aws-kms-key-id": (
                            f"arn:aws:kms:us-east-1:{FOREIGN}:key/"
                            "1234abcd-12ab-34cd-56ef-1234567890ab"
                        ),
                    },
                ),
            ),
        ),
        Example(
            "KMS key of our other account",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "db/dump.sql",
                    params={
                        "x-amz-server-side-encryption": "aws:kms",
                        "x-amz-server-side-encryption-aws-kms-key-id": (
                            f"arn:aws:kms:us-east-1:{OTHER_OURS}:key/1234abcd"
                        ),
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "SSE-S3 upload",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "db/dump.sql",
                    params={"x-amz-server-side-encryption": "AES256"},
                ),
            ),
            fires=False,
        ),
        Example(
            "SSE-C upload refused",
            (
                data_event(
                    "PutObject", "acme-data", "db/dump.sql", params=_SSE_C, errorCode="AccessDenied"
                ),
            ),
            fires=False,
        ),
        Example(
            "S3 replication writing the replica",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "db/dump.sql",
                    params=_SSE_C,
                    identity=SERVICE_S3,
                    sourceIPAddress="s3.amazonaws.com",
                ),
            ),
            fires=False,
        ),
    )
