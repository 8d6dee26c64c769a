"""Data written into a bucket another account owns (C25): CopyObject, PutObject, multipart
copies and completions whose target bucket's account (CloudTrail ``resources[]``) is not one
of ours: the most direct exfiltration path, and invisible to bucket-side controls."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import (
    FOREIGN,
    OTHER_OURS,
    OUR_ACCOUNT,
    SERVICE_S3,
    data_event,
    s3_resources,
)
from detector.detections.base import EventRule, Example, register

_WRITES = ("CopyObject", "PutObject", "UploadPartCopy", "CompleteMultipartUpload")


def _copy(target: str, account: str, **extra: object) -> dict:
    """A CopyObject from our bucket into ``target`` owned by ``account``."""
    return data_event(
        "CopyObject",
        target,
        "customer-database.csv",
        params={"x-amz-copy-source": "acme-data/exports/customer-database.csv"},
        resources=s3_resources(
            target,
            account,
            "customer-database.csv",
            source=("acme-data", "exports/customer-database.csv", OUR_ACCOUNT),
        ),
        **extra,
    )


@register
class WriteToForeignBucket(EventRule):
    id = "write_to_foreign_bucket"
    title = "Object copied or written into a bucket owned by a foreign account"
    severity = "high"
    capabilities = ("C25",)
    attack = ("T1537", "T1567.002")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=1)
    runbook = (
        "Identify the destination account and the source objects (x-amz-copy-source); "
        "if not a sanctioned partner transfer, revoke the principal's sessions, block "
        "the bucket with an SCP/endpoint policy (aws:ResourceAccount), and scope the "
        "data lost."
    )
    reason_feature = "destination_account"
    reason_template = (
        "{event_name} into {bucket} (account {bucket_account_id}) by {principal}[ from {source_ip}]"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return (
            pl.col("event_name").is_in(list(_WRITES))
            & ~pl.col("is_error")
            & pl.col("is_foreign_bucket")
        )

    examples = (
        Example("copy out to an attacker's bucket", (_copy("attacker-exfil-1764604156", FOREIGN),)),
        Example(
            "multipart upload completed in a foreign bucket",
            (
                data_event(
                    "CompleteMultipartUpload",
                    "drop-zone-7731",
                    "dump.tar.gz",
                    account=FOREIGN,
                    params={
                        "uploadId": "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
                    },
                    bytes_in=9_800_000_000,
                ),
            ),
        ),
        Example("copy to our DR account", (_copy("acme-dr-copy", OTHER_OURS),), fires=False),
        Example("copy inside our account", (_copy("acme-archive", OUR_ACCOUNT),), fires=False),
        Example(
            "copy to a foreign bucket refused",
            (_copy("attacker-exfil-1764604156", FOREIGN, errorCode="AccessDenied"),),
            fires=False,
        ),
        Example(
            "S3 replication into a partner bucket",
            (
                _copy(
                    "partner-replica",
                    FOREIGN,
                    identity=SERVICE_S3,
                    sourceIPAddress="s3.amazonaws.com",
                ),
            ),
            fires=False,
        ),
    )
