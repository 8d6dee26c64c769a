"""Permanent deletes (C20, rule part): deleting a specific object version destroys it beyond
what versioning can restore. Lifecycle expiry (S3 itself) and AWS services are not people;
removing a delete marker is an undelete and not counted. Rate-based mass delete is an anomaly
detection elsewhere."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN_ARN, SERVICE_S3, access_line, data_event
from detector.detections.base import EventRule, Example, Reason, register

_VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
_UNDELETE = r'"x-amz-delete-marker"\s*:\s*"?true'


@register
class PermanentDelete(EventRule):
    id = "permanent_object_delete"
    title = "Object versions permanently deleted"
    severity = "medium"
    capabilities = ("C20",)
    attack = ("T1485", "T1490")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=1)
    runbook = (
        "Check whether the principal runs a sanctioned purge; if not, stop it (deny "
        "s3:DeleteObjectVersion), and recover from replication or backups what versions "
        "no longer exist."
    )
    reason_feature = "version_delete"

    def explain(self, hits: pl.DataFrame) -> list[Reason]:
        first = hits.row(0, named=True)
        n = hits.select(pl.struct("key", "version_id").n_unique()).item()
        text = (
            f"{n} object version(s) permanently deleted from {first['bucket']} by "
            f"{first['principal']} from {first['source_ip']} (first: {first['key']} "
            f"version {first['version_id']})"
        )
        return [Reason(self.reason_feature, f"{n} version(s)", "no permanent deletes", text)]

    def match(self, settings: Settings) -> pl.Expr:
        undelete = pl.col("response_elements").str.contains(_UNDELETE).fill_null(False)
        lifecycle = pl.col("operation").str.starts_with("S3.").fill_null(False) | (
            pl.col("principal_arn") == "AmazonS3"
        ).fill_null(False)
        return pl.col("is_version_delete") & ~pl.col("is_error") & ~undelete & ~lifecycle

    examples = (
        Example(
            "version deleted by the app role",
            (
                data_event(
                    "DeleteObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    params={"versionId": _VERSION},
                ),
            ),
        ),
        Example(
            "batch delete of versions, access log",
            access_lines=tuple(
                access_line(
                    "BATCH.DELETE.OBJECT",
                    "acme-data",
                    f"finance/ledger-{i}.xlsx",
                    requester=ADMIN_ARN,
                    ip="203.0.113.10",
                    status=204,
                    bytes_sent=0,
                    object_size=0,
                    version_id=f"{_VERSION}{i}",
                    minute=i,
                )
                for i in range(3)
            ),
        ),
        Example(
            "simple delete (leaves a delete marker)",
            (data_event("DeleteObject", "acme-data", "finance/ledger.xlsx"),),
            fires=False,
        ),
        Example(
            "delete marker removed (undelete)",
            (
                data_event(
                    "DeleteObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    params={"versionId": _VERSION},
                    responseElements={"x-amz-version-id": _VERSION, "x-amz-delete-marker": "true"},
                ),
            ),
            fires=False,
        ),
        Example(
            "lifecycle expiring noncurrent versions, access log",
            access_lines=(
                access_line(
                    "S3.EXPIRE.OBJECT",
                    "acme-data",
                    "finance/ledger.xlsx",
                    requester="AmazonS3",
                    ip="-",
                    status=200,
                    bytes_sent=0,
                    object_size=0,
                    version_id=_VERSION,
                    user_agent="-",
                ),
            ),
            fires=False,
        ),
        Example(
            "S3 acting as a service",
            (
                data_event(
                    "DeleteObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    params={"versionId": _VERSION},
                    identity=SERVICE_S3,
                    sourceIPAddress="s3.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "version delete refused",
            (
                data_event(
                    "DeleteObject",
                    "acme-data",
                    "finance/ledger.xlsx",
                    params={"versionId": _VERSION},
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
    )
