"""Recovery controls switched off before destruction: versioning suspended, MFA delete off,
default encryption, replication or lifecycle deleted, Object Lock retention weakened, or a
lifecycle rule set to expire the whole bucket within days (C05).

One change is medium; two or more different changes to one bucket by one principal in the
same batch is the ransomware preparation pattern and is raised to high, even for CI roles.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN, CI, SERVICE_S3, access_line, record
from detector.detections.base import (
    EventRule,
    Example,
    Finding,
    Reason,
    allowlisted,
    group_findings,
    register,
)
from detector.detections.logging_tamper import (
    LIFECYCLE_EVENTS,
    SHORT_DAYS,
    lifecycle_put,
    lifecycle_rule,
    log_bucket,
    whole_bucket_short_expiry,
)

_RP = pl.col("request_parameters").fill_null("")
_NAME = pl.col("event_name")
_S3 = pl.col("event_source") == "s3.amazonaws.com"
_LOCK_EVENTS = ("PutObjectLockConfiguration", "PutBucketObjectLockConfiguration")
_EVENTS = (
    "PutBucketVersioning",
    "DeleteBucketEncryption",
    "DeleteBucketReplication",
    "DeleteBucketLifecycle",
    *LIFECYCLE_EVENTS,
    *_LOCK_EVENTS,
)


def change_kind(settings: Settings) -> pl.Expr:
    """Which recovery control an event weakens, or null."""
    logs = log_bucket(settings)
    versioning = _NAME == "PutBucketVersioning"
    lock = _NAME.is_in(list(_LOCK_EVENTS)) & pl.col("request_parameters").is_not_null()
    return (
        pl.when(versioning & _RP.str.contains(r'"Status"\s*:\s*"Suspended"'))
        .then(pl.lit("versioning suspended"))
        .when(versioning & _RP.str.contains(r'(?i)"MfaDelete"\s*:\s*"Disabled"'))
        .then(pl.lit("MFA delete disabled"))
        .when(_NAME == "DeleteBucketEncryption")
        .then(pl.lit("default encryption deleted"))
        .when(_NAME == "DeleteBucketReplication")
        .then(pl.lit("replication deleted"))
        .when((_NAME == "DeleteBucketLifecycle") & ~logs)
        .then(pl.lit("lifecycle deleted"))
        .when(_NAME.is_in(LIFECYCLE_EVENTS) & ~logs & whole_bucket_short_expiry().is_not_null())
        .then(pl.lit(f"lifecycle expires the whole bucket within {SHORT_DAYS} days"))
        .when(
            lock
            & (
                ~_RP.str.contains(r'"DefaultRetention"')
                | _RP.str.contains(r'"Days"\s*:\s*"?[01]"?\s*[,}]')
            )
        )
        .then(pl.lit("object lock retention removed or cut to a day"))
    )


@register
class RecoveryControlsDisabled(EventRule):
    """Each call by what AWS does with it. ``DeleteBucketEncryption``,
    ``DeleteBucketReplication`` and ``DeleteBucketLifecycle`` need no body (the call removes
    the whole configuration) and fire from access-log lines too; a deleted lifecycle on a log
    bucket keeps logs longer and is left out. ``PutBucketVersioning``, ``PutBucketLifecycle``
    and ``PutObjectLockConfiguration`` set what their body says; with an absent body
    (requestParameters null: omitted by CloudTrail, never in access logs) the new state is
    unknown and not judged. A lifecycle rule counts only when ``Enabled`` and unfiltered (no
    prefix, no tags) with an expiration of current or noncurrent versions within
    ``SHORT_DAYS`` (the pattern of ransomware that encrypts with SSE-C, then lets lifecycle
    delete the originals); log buckets are ``log_store_sabotage``'s (C03).
    """

    id = "recovery_controls_disabled"
    title = "Bucket recovery controls disabled (versioning, MFA delete, encryption, replication)"
    severity = "medium"
    capabilities = ("C05",)
    attack = ("T1490", "T1485")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Ask the principal's owner whether the change was planned. If not, re-enable "
        "versioning/MFA delete, restore encryption, replication and lifecycle from IaC, "
        "and look for deletes or re-encryption of the bucket's objects that followed."
    )
    reason_feature = "recovery_controls"

    def match(self, settings: Settings) -> pl.Expr:
        return _S3 & ~pl.col("is_error") & change_kind(settings).is_not_null()

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        events = events.filter(_NAME.is_in(list(_EVENTS)))  # cheap pre-filter
        if events.is_empty():
            return []
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings))
        if hits.is_empty():
            return []
        key = [pl.col(c).cast(pl.String).fill_null("-") for c in self.dedup_by]
        hits = hits.with_columns(change=change_kind(settings)).with_columns(
            kinds=pl.col("change").n_unique().over(key)
        )
        ci = (
            pl.col("principal").is_in(list(settings.ci_roles))
            | pl.col("principal_arn").is_in(list(settings.ci_roles))
        ).fill_null(False)
        hits = hits.filter(~ci | (pl.col("kinds") >= 2))
        several = {
            tuple(r[:-1]) for r in hits.select(*key, "kinds").unique().iter_rows() if r[-1] >= 2
        }
        out = group_findings(self, hits, settings)
        for f in out:
            if f.key in several:
                f.severity = "high"
        return out

    def explain(self, hits: pl.DataFrame) -> list[Reason]:
        first = hits.row(0, named=True)
        changes = hits.get_column("change").unique(maintain_order=True).to_list()
        several = bool((hits.get_column("kinds") >= 2).any())
        text = (
            f"{', '.join(changes)} on bucket {first['bucket']} by {first['principal']} "
            f"from {first['source_ip']}"
        )
        if several:
            text += f" ({len(changes)} different recovery-control changes to one bucket)"
        return [
            Reason(self.reason_feature, "; ".join(changes), "no recovery-control changes", text)
        ]

    examples = (
        Example(
            "versioning suspended",
            (
                record(
                    "PutBucketVersioning",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "Host": "acme-data.s3.us-east-1.amazonaws.com",
                        "VersioningConfiguration": {
                            "Status": "Suspended",
                            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                        },
                        "versioning": "",
                    },
                ),
            ),
        ),
        Example(
            "MFA delete turned off",
            (
                record(
                    "PutBucketVersioning",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "VersioningConfiguration": {
                            "Status": "Enabled",
                            "MfaDelete": "Disabled",
                            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                        },
                        "versioning": "",
                    },
                    identity={
                        "type": "Root",
                        "principalId": "111122223333",
                        "arn": "arn:aws:iam::111122223333:root",
                        "accountId": "111122223333",
                    },
                ),
            ),
        ),
        Example(
            "encryption and replication deleted by the CI role (2 changes)",
            (
                record(
                    "DeleteBucketEncryption",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "encryption": ""},
                    identity=CI,
                ),
                record(
                    "DeleteBucketReplication",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "replication": ""},
                    identity=CI,
                    minute=2,
                ),
            ),
            severity="high",
        ),
        Example(
            "lifecycle deleted, seen in the access log",
            access_lines=(
                access_line(
                    "REST.DELETE.LIFECYCLE",
                    "acme-data",
                    None,
                    bytes_sent=0,
                    object_size=0,
                    status=204,
                    requester="arn:aws:sts::111122223333:assumed-role/admin/alice",
                ),
            ),
        ),
        Example(
            "object lock default retention removed",
            (
                record(
                    "PutObjectLockConfiguration",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-backups",
                        "ObjectLockConfiguration": {
                            "ObjectLockEnabled": "Enabled",
                            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                        },
                        "object-lock": "",
                    },
                ),
            ),
        ),
        Example(
            "lifecycle set to expire the whole bucket and its old versions in a day",
            (
                lifecycle_put(
                    "acme-data",
                    lifecycle_rule(
                        Expiration={"Days": 1},
                        NoncurrentVersionExpiration={"NoncurrentDays": 1},
                    ),
                ),
            ),
        ),
        Example(
            "whole-bucket 1-day expiry, rule disabled",
            (lifecycle_put("acme-data", lifecycle_rule("", "Disabled", Expiration={"Days": 1})),),
            fires=False,
        ),
        Example(
            "3-day expiry of tmp/ only",
            (lifecycle_put("acme-data", lifecycle_rule("tmp/", Expiration={"Days": 3})),),
            fires=False,
        ),
        Example(
            "whole-bucket 1-day expiry on a log bucket (log_store_sabotage's)",
            (lifecycle_put("acme-cloudtrail-logs", lifecycle_rule(Expiration={"Days": 1})),),
            fires=False,
        ),
        Example(
            "lifecycle put seen in the access log only (rules unknown)",
            access_lines=(
                access_line(
                    "REST.PUT.LIFECYCLE",
                    "acme-data",
                    None,
                    bytes_sent=0,
                    object_size=0,
                    requester="arn:aws:sts::111122223333:assumed-role/admin/alice",
                ),
            ),
            fires=False,
        ),
        Example(
            "versioning enabled",
            (
                record(
                    "PutBucketVersioning",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "VersioningConfiguration": {"Status": "Enabled"},
                        "versioning": "",
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "single encryption delete by the CI role",
            (
                record(
                    "DeleteBucketEncryption",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "encryption": ""},
                    identity=CI,
                ),
            ),
            fires=False,
        ),
        Example(
            "failed suspend",
            (
                record(
                    "PutBucketVersioning",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "VersioningConfiguration": {"Status": "Suspended"}},
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
        Example(
            "lifecycle deleted on the log bucket",
            (
                record(
                    "DeleteBucketLifecycle",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-cloudtrail-logs", "lifecycle": ""},
                    identity=ADMIN,
                ),
            ),
            fires=False,
        ),
        Example(
            "S3 service acting for a replication setup",
            (
                record(
                    "DeleteBucketReplication",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data"},
                    identity=SERVICE_S3,
                    sourceIPAddress="s3.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "object lock 30-day compliance retention",
            (
                record(
                    "PutObjectLockConfiguration",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-backups",
                        "ObjectLockConfiguration": {
                            "ObjectLockEnabled": "Enabled",
                            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
                        },
                    },
                ),
            ),
            fires=False,
        ),
    )
