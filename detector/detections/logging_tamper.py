"""Blinding the audit trail: trails stopped or changed, selectors narrowed, log stores
sabotaged, access logging switched off (C01–C04)."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN, CI, SERVICE, record
from detector.detections.base import EventRule, Example, register

_OK = pl.col("error_code").is_null()
_RP = pl.col("request_parameters").fill_null("")


def _api(source: str, *names: str) -> pl.Expr:
    return (pl.col("event_source") == source) & pl.col("event_name").is_in(list(names)) & _OK


@register
class TrailStoppedOrDeleted(EventRule):
    id = "cloudtrail_stopped_or_deleted"
    title = "CloudTrail trail stopped or deleted"
    severity = "high"
    capabilities = ("C01",)
    attack = ("T1562.008",)
    dedup_by = ("principal", "event_name")
    runbook = (
        "Confirm the change was planned; if not, restart logging (StartLogging), "
        "recreate the trail, and investigate the principal's recent activity."
    )
    reason_feature = "trail_change"
    reason_template = "{event_name} on trail {trail} by {principal} from {source_ip} ({user_agent})"

    def match(self, settings: Settings) -> pl.Expr:
        return _api("cloudtrail.amazonaws.com", "StopLogging", "DeleteTrail")

    events_of = ("StopLogging", "DeleteTrail")

    def findings(self, events: pl.DataFrame, settings: Settings):  # type: ignore[override]
        events = self.candidates(events).with_columns(
            trail=pl.coalesce(
                _RP.str.json_path_match("$.name"), _RP.str.json_path_match("$.trailName")
            )
        )
        return super().findings(events, settings)

    examples = (
        Example(
            "StopLogging",
            (record("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
        ),
        Example(
            "DeleteTrail",
            (record("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
        ),
        Example(
            "failed StopLogging",
            (
                record(
                    "StopLogging",
                    "cloudtrail.amazonaws.com",
                    {"name": "org-trail"},
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
        Example(
            "StartLogging",
            (record("StartLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
            fires=False,
        ),
    )


@register
class TrailUpdated(EventRule):
    id = "cloudtrail_updated"
    title = "CloudTrail trail settings changed outside deploy roles"
    severity = "medium"
    capabilities = ("C01",)
    attack = ("T1562.008",)
    dedup_by = ("principal",)
    runbook = "Compare the trail's destination bucket, KMS key and regions with the baseline."
    reason_feature = "trail_change"
    reason_template = "UpdateTrail by {principal}: {request_parameters}"
    events_of = ("UpdateTrail",)

    def match(self, settings: Settings) -> pl.Expr:
        return _api("cloudtrail.amazonaws.com", "UpdateTrail") & ~pl.col("principal").is_in(
            list(settings.ci_roles)
        )

    examples = (
        Example(
            "UpdateTrail by a human",
            (
                record(
                    "UpdateTrail",
                    "cloudtrail.amazonaws.com",
                    {"name": "org-trail", "s3BucketName": "attacker-bucket"},
                ),
            ),
        ),
        Example(
            "UpdateTrail by the CI role",
            (
                record(
                    "UpdateTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"}, identity=CI
                ),
            ),
            fires=False,
        ),
    )


_NARROWED = (
    _RP.str.contains(r'"includeManagementEvents"\s*:\s*false')
    | _RP.str.contains(r'"readWriteType"\s*:\s*"(ReadOnly|WriteOnly)"')
    | _RP.str.contains(r'"type"\s*:\s*"AWS::S3::Object"\s*,\s*"values"\s*:\s*\[\s*\]')
    | (pl.col("event_name") == "PutEventSelectors")
    & _RP.str.contains(r'"eventSelectors"\s*:\s*\[\s*\]')
)
_ADVANCED_NARROWED = (
    ~_RP.str.contains(r'"Management"')
    | ~_RP.str.contains(r"AWS::S3::Object")
    | _RP.str.contains(r'"field"\s*:\s*"readOnly"')
)


@register
class EventSelectorsNarrowed(EventRule):
    id = "cloudtrail_selectors_narrowed"
    title = "CloudTrail event selectors drop management or S3 data events"
    severity = "high"
    capabilities = ("C02",)
    attack = ("T1562.008",)
    dedup_by = ("principal",)
    runbook = (
        "Restore the trail's selectors (management events on, S3 data events for the "
        "sensitive buckets) and review what happened while logging was narrowed."
    )
    reason_feature = "event_selectors"
    reason_template = "{event_name} by {principal} narrows what is logged: {request_parameters}"
    events_of = ("PutEventSelectors", "PutAdvancedEventSelectors")

    def match(self, settings: Settings) -> pl.Expr:
        basic = _api("cloudtrail.amazonaws.com", "PutEventSelectors") & _NARROWED
        advanced = (
            _api("cloudtrail.amazonaws.com", "PutAdvancedEventSelectors") & _ADVANCED_NARROWED
        )
        return basic | advanced

    examples = (
        Example(
            "selectors drop management events, S3 values emptied",
            (
                record(
                    "PutEventSelectors",
                    "cloudtrail.amazonaws.com",
                    {
                        "trailName": "org-trail",
                        "eventSelectors": [
                            {
                                "readWriteType": "ReadOnly",
                                "includeManagementEvents": False,
                                "dataResources": [{"type": "AWS::S3::Object", "values": []}],
                                "excludeManagementEventSources": [],
                            }
                        ],
                    },
                ),
            ),
        ),
        Example(
            "advanced selectors with no S3 data events",
            (
                record(
                    "PutAdvancedEventSelectors",
                    "cloudtrail.amazonaws.com",
                    {
                        "trailName": "org-trail",
                        "advancedEventSelectors": [
                            {
                                "name": "mgmt",
                                "fieldSelectors": [
                                    {"field": "eventCategory", "equals": ["Management"]}
                                ],
                            }
                        ],
                    },
                ),
            ),
        ),
        Example(
            "full selectors",
            (
                record(
                    "PutEventSelectors",
                    "cloudtrail.amazonaws.com",
                    {
                        "trailName": "org-trail",
                        "eventSelectors": [
                            {
                                "readWriteType": "All",
                                "includeManagementEvents": True,
                                "dataResources": [
                                    {
                                        "type": "AWS::S3::Object",
                                        "values": ["arn:aws:s3:::acme-data/"],
                                    }
                                ],
                            }
                        ],
                    },
                ),
            ),
            fires=False,
        ),
    )


_LOG_STORE_CHANGE = (
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketPolicy",
    "PutBucketPolicy",
    "DeleteBucket",
)
_SHORT_EXPIRY = _RP.str.contains(r'"Days"\s*:\s*"?([0-9]|[12][0-9])"?[,}]')


@register
class LogStoreSabotage(EventRule):
    id = "log_store_sabotage"
    title = "Bucket that receives logs: short expiry, deny/deleted policy, or log deletion"
    severity = "high"
    capabilities = ("C03",)
    attack = ("T1562.008", "T1485")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Check the log bucket's lifecycle and policy; restore them and verify log "
        "delivery (CloudTrail status, access-log delivery) resumed."
    )
    reason_feature = "log_bucket_change"
    reason_template = "{event_name} on log bucket {bucket} by {principal}"
    events_of = (*_LOG_STORE_CHANGE, "DeleteObject", "DeleteObjects")
    skip_aws_services: ClassVar[bool] = True

    def match(self, settings: Settings) -> pl.Expr:
        log_bucket = pl.col("bucket").is_in(list(settings.log_buckets)).fill_null(False)
        log_objects = pl.col("key").str.starts_with("AWSLogs/").fill_null(False)
        config = pl.col("event_name").is_in(list(_LOG_STORE_CHANGE)) & (
            pl.col("event_name").is_in(["DeleteBucketPolicy", "DeleteBucket"])
            | ((pl.col("event_name") == "PutBucketPolicy") & _RP.str.contains('"Deny"'))
            | (pl.col("event_name").str.contains("Lifecycle") & _SHORT_EXPIRY)
        )
        deletes = pl.col("event_name").is_in(["DeleteObject", "DeleteObjects"])
        return _OK & ((log_bucket & config) | ((log_bucket | log_objects) & deletes))

    examples = (
        Example(
            "1-day expiry on the trail bucket",
            (
                record(
                    "PutBucketLifecycle",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-cloudtrail-logs",
                        "LifecycleConfiguration": {
                            "Rule": {
                                "ID": "cleanup",
                                "Status": "Enabled",
                                "Filter": {"Prefix": ""},
                                "Expiration": {"Days": 1},
                            }
                        },
                    },
                ),
            ),
        ),
        Example(
            "trail log objects deleted",
            (
                record(
                    "DeleteObject",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-cloudtrail-logs",
                        "key": "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/05/x.json.gz",
                    },
                ),
            ),
        ),
        Example(
            "CloudTrail service writing its logs",
            (
                record(
                    "PutObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-cloudtrail-logs", "key": "AWSLogs/111122223333/x.json.gz"},
                    identity=SERVICE,
                    sourceIPAddress="cloudtrail.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "365-day expiry on the trail bucket",
            (
                record(
                    "PutBucketLifecycle",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-cloudtrail-logs",
                        "LifecycleConfiguration": {"Rule": {"Expiration": {"Days": 365}}},
                    },
                ),
            ),
            fires=False,
        ),
    )


@register
class AccessLoggingDisabled(EventRule):
    id = "s3_access_logging_disabled"
    title = "S3 server access logging switched off"
    severity = "medium"
    capabilities = ("C04",)
    attack = ("T1562.008",)
    dedup_by = ("principal", "bucket")
    runbook = "Re-enable server access logging on the bucket and ask who turned it off."
    reason_feature = "bucket_logging"
    reason_template = "PutBucketLogging without LoggingEnabled on {bucket} by {principal}"
    events_of = ("PutBucketLogging",)

    def match(self, settings: Settings) -> pl.Expr:
        # Access-log lines carry no request body: only CloudTrail shows what was set.
        return (
            _api("s3.amazonaws.com", "PutBucketLogging")
            & pl.col("request_parameters").is_not_null()
            & ~_RP.str.contains('"LoggingEnabled"')
        )

    examples = (
        Example(
            "logging status emptied",
            (
                record(
                    "PutBucketLogging",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
                        "logging": "",
                    },
                ),
            ),
        ),
        Example(
            "logging enabled",
            (
                record(
                    "PutBucketLogging",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "BucketLoggingStatus": {
                            "LoggingEnabled": {
                                "TargetBucket": "acme-logs",
                                "TargetPrefix": "acme-data/",
                            }
                        },
                        "logging": "",
                    },
                    identity=ADMIN,
                ),
            ),
            fires=False,
        ),
    )
