"""Buckets shared with accounts outside the organisation (C07): bucket policies granting a
foreign account, replication to a foreign account, access points across accounts."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import polars as pl

from detector.config import Settings
from detector.detections._examples import (
    CI,
    FOREIGN,
    OTHER_OURS,
    OUR_ACCOUNT,
    bucket_policy,
    record,
)
from detector.detections.base import (
    EventRule,
    Example,
    Finding,
    allowlisted,
    group_findings,
    register,
)
from detector.detections.exposure import accounts, foreign, policy_foreign

_RP = pl.col("request_parameters").fill_null("")
_S3 = pl.col("event_source").is_in(["s3.amazonaws.com", "s3-control.amazonaws.com"])
_OK = _S3 & ~pl.col("is_error")
_AP_BUCKET = _RP.str.json_path_match("$.CreateAccessPointRequest.Bucket")
_AP_NAME = _RP.str.json_path_match("$.name")


def _put_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return record("PutBucketPolicy", "s3.amazonaws.com", bucket_policy("acme-data", *statements))


class _Sharing(EventRule):
    """C07 base: ``events_of`` calls whose ``foreign_ids`` (accounts not ours) are not empty.
    The IaC pipeline re-applies sanctioned partner grants on every run: CI roles are left out
    (a change to who is granted is the permission-change anomaly's business, C08).

    Every call here sets what its body says: with an absent body (requestParameters null, as on
    access-log lines) the accounts granted are unknown, so the call is not judged."""

    severity = "high"
    capabilities: ClassVar[tuple[str, ...]] = ("C07",)
    attack: ClassVar[tuple[str, ...]] = ("T1537", "T1098")
    dedup_by = ("principal", "bucket")
    reason_feature = "cross_account_grant"
    events_of: ClassVar[tuple[str, ...]]

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        events = self.candidates(events)
        if events.is_empty():
            return []
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings))
        return group_findings(
            self,
            hits.with_columns(
                bucket=pl.coalesce("bucket", _AP_BUCKET, pl.lit("access point ") + _AP_NAME),
                foreign=self.foreign_ids(settings).list.join(", "),
            ),
            settings,
        )

    def match(self, settings: Settings) -> pl.Expr:
        ci = list(settings.ci_roles)
        is_ci = (pl.col("principal").is_in(ci) | pl.col("principal_arn").is_in(ci)).fill_null(False)
        return (
            _OK
            & pl.col("event_name").is_in(self.events_of)
            & ~is_ci
            & (self.foreign_ids(settings).list.len() > 0).fill_null(False)
        )

    def foreign_ids(self, settings: Settings) -> pl.Expr:
        raise NotImplementedError


@register
class ForeignPolicyGrant(_Sharing):
    id = "bucket_policy_foreign_account"
    title = "Bucket policy grants an account outside the organisation"
    runbook = (
        "Identify the account; if it is not a known partner, remove the statement and "
        "review what it read or wrote (CloudTrail in that bucket, access logs)."
    )
    reason_template = "Policy granting {foreign} (not one of ours)[ on {bucket}] by {principal}"

    events_of = ("PutBucketPolicy",)

    def foreign_ids(self, settings: Settings) -> pl.Expr:
        return policy_foreign(settings)

    examples = (
        Example(
            "foreign root gets s3:*",
            (
                _put_policy(
                    {
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [
                                f"arn:aws:iam::{FOREIGN}:root",
                                f"arn:aws:iam::{OTHER_OURS}:role/etl",
                            ]
                        },
                        "Action": "s3:*",
                        "Resource": ["arn:aws:s3:::acme-data/*"],
                    }
                ),
            ),
        ),
        Example(
            "bucket delegates to a foreign account's access points",
            (
                _put_policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": "*",
                        "Resource": ["arn:aws:s3:::acme-data", "arn:aws:s3:::acme-data/*"],
                        "Condition": {"StringEquals": {"s3:DataAccessPointAccount": FOREIGN}},
                    }
                ),
            ),
        ),
        Example(
            "vendor grant re-applied by the CI role",
            (
                record(
                    "PutBucketPolicy",
                    "s3.amazonaws.com",
                    bucket_policy(
                        "acme-data",
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/sync"},
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::acme-data/exports/*",
                        },
                    ),
                    identity=CI,
                ),
            ),
            fires=False,
        ),
        Example(
            "grant to our other account",
            (
                _put_policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{OTHER_OURS}:root"},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                ),
            ),
            fires=False,
        ),
        Example(
            "foreign account only in a Deny",
            (
                _put_policy(
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": FOREIGN},
                        "Action": "s3:*",
                        "Resource": "*",
                    }
                ),
            ),
            fires=False,
        ),
        Example(
            "CloudTrail's service principal, scoped to our account",
            (
                _put_policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::acme-data/AWSLogs/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": OUR_ACCOUNT}},
                    }
                ),
            ),
            fires=False,
        ),
    )


@register
class ForeignReplication(_Sharing):
    id = "replication_to_foreign_account"
    title = "Bucket replication to an account outside the organisation"
    runbook = "Delete the replication rule unless the destination account is a known partner."
    reason_template = "PutBucketReplication[ on {bucket}] by {principal} replicates to {foreign}"

    events_of = ("PutBucketReplication",)

    def foreign_ids(self, settings: Settings) -> pl.Expr:
        return foreign(
            accounts(
                _RP,
                r'"Account"\s*:\s*"\d{12}"|arn:aws[\w-]*:s3[\w-]*:[\w-]*:'
                r"\d{12}:",
            ),
            settings,
        )

    @staticmethod
    def _rule(account: str) -> dict:
        return {
            "bucketName": "acme-data",
            "ReplicationConfiguration": {
                "Role": f"arn:aws:iam::{OUR_ACCOUNT}:role/s3-replication",
                "Rule": [
                    {
                        "ID": "all",
                        "Status": "Enabled",
                        "Priority": 1,
                        "Filter": {"Prefix": ""},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {
                            "Bucket": "arn:aws:s3:::dr-copy",
                            "Account": account,
                            "AccessControlTranslation": {"Owner": "Destination"},
                        },
                    }
                ],
            },
            "replication": "",
        }

    examples = (
        Example(
            "replicate to a foreign account",
            (record("PutBucketReplication", "s3.amazonaws.com", _rule(FOREIGN)),),
        ),
        Example(
            "replicate to our DR account",
            (record("PutBucketReplication", "s3.amazonaws.com", _rule(OTHER_OURS)),),
            fires=False,
        ),
        Example(
            "denied",
            (
                record(
                    "PutBucketReplication",
                    "s3.amazonaws.com",
                    _rule(FOREIGN),
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
    )


@register
class ForeignAccessPoint(_Sharing):
    id = "access_point_foreign_account"
    title = "Access point on a foreign bucket, or its policy granting a foreign account"
    runbook = "Delete the access point unless the other account is a known partner."
    reason_template = "{event_name}[ on {bucket}] by {principal} involves account(s) {foreign}"

    events_of = ("CreateAccessPoint", "PutAccessPointPolicy")

    def foreign_ids(self, settings: Settings) -> pl.Expr:
        owners = accounts(
            pl.when(pl.col("event_name") == "CreateAccessPoint").then(_RP).otherwise(pl.lit("")),
            r'"(BucketAccountId|x-amz-account-id)"\s*:\s*"\d{12}"',
        )
        return pl.concat_list(foreign(owners, settings), policy_foreign(settings)).list.unique()

    examples = (
        Example(
            "access point on a foreign bucket",
            (
                record(
                    "CreateAccessPoint",
                    "s3.amazonaws.com",
                    {
                        "name": "share",
                        "x-amz-account-id": OUR_ACCOUNT,
                        "CreateAccessPointRequest": {
                            "Bucket": "partner-drop",
                            "BucketAccountId": FOREIGN,
                            "xmlns": "http://awss3control.amazonaws.com/doc/2018-08-20/",
                        },
                    },
                ),
            ),
        ),
        Example(
            "access point policy granting a foreign root (policy logged as a string)",
            (
                record(
                    "PutAccessPointPolicy",
                    "s3.amazonaws.com",
                    {
                        "name": "uploads-sync",
                        "x-amz-account-id": OUR_ACCOUNT,
                        "PutAccessPointPolicyRequest": {
                            "Policy": json.dumps(
                                {
                                    "Version": "2012-10-17",
                                    "Statement": [
                                        {
                                            "Effect": "Allow",
                                            "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
                                            "Action": ["s3:GetObject"],
                                            "Resource": (
                                                f"arn:aws:s3:us-east-1:{OUR_ACCOUNT}:"
                                                "accesspoint/uploads-sync/object/*"
                                            ),
                                        }
                                    ],
                                }
                            )
                        },
                        "Host": f"{OUR_ACCOUNT}.s3-control.us-east-1.amazonaws.com",
                    },
                ),
            ),
        ),
        Example(
            "access point in our account",
            (
                record(
                    "CreateAccessPoint",
                    "s3.amazonaws.com",
                    {
                        "name": "analytics",
                        "x-amz-account-id": OUR_ACCOUNT,
                        "CreateAccessPointRequest": {
                            "Bucket": "acme-data",
                            "VpcConfiguration": {"VpcId": "vpc-0abc"},
                        },
                    },
                ),
            ),
            fires=False,
        ),
    )
