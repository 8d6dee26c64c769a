"""Blinding the other detectors (C32): GuardDuty deleted, suspended or told to ignore (trusted
IP sets, archive filters, threat lists), Macie, Security Hub, Config and Access Analyzer
switched off or muted. Outright disables fire for everyone; tuning changes (lists, filters,
archive rules) are routine for the IaC pipeline, so CI roles are left out of those."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import CI, SERVICE, record
from detector.detections.base import EventRule, Example, Finding, register

_RP = pl.col("request_parameters").fill_null("")
_GD = "guardduty.amazonaws.com"
_SH = "securityhub.amazonaws.com"
_OFF = _RP.str.contains(r'(?i)"enable"\s*:\s*false|"status"\s*:\s*"DISABLED"')
_SUPPRESSED = r'(?i)"workflow"\s*:\s*\{[^{}]*"status"\s*:\s*"SUPPRESSED"'
"""``BatchUpdateFindings`` setting ``Workflow.Status`` to SUPPRESSED: Security Hub stops
updating the findings (RESOLVED, NOTIFIED and NEW are triage, not muting). Security Hub logs
the request's member names as in its API (``Workflow``/``Status``); keys are matched in any
case."""
_ARCHIVE_FILTER = r'(?i)"action"\s*:\s*"ARCHIVE"'
_ARCHIVED = r'(?i)"recordState"\s*:\s*"ARCHIVED"'
"""The older ``UpdateFindings`` (``Filters``, ``Note``, ``RecordState``) archiving every
finding that matches its filters."""
_DISABLES: tuple[tuple[str, str, pl.Expr | None], ...] = (
    (_GD, "UpdateDetector", _OFF),
    (_GD, "DisassociateFromMasterAccount", None),
    (_GD, "DisassociateFromAdministratorAccount", None),
    ("macie2.amazonaws.com", "DisableMacie", None),
    ("macie2.amazonaws.com", "UpdateMacieSession", _RP.str.contains(r'"status"\s*:\s*"PAUSED"')),
    (_SH, "DisableSecurityHub", None),
    ("access-analyzer.amazonaws.com", "DeleteAnalyzer", None),
    ("config.amazonaws.com", "StopConfigurationRecorder", None),
    ("config.amazonaws.com", "DeleteConfigurationRecorder", None),
    ("config.amazonaws.com", "DeleteDeliveryChannel", None),
)
_MUTES: tuple[tuple[str, str, pl.Expr | None], ...] = (
    *(
        (_GD, f"{verb}{kind}", None)
        for verb in ("Create", "Update", "Delete")
        for kind in ("IPSet", "ThreatIntelSet")
    ),
    (_GD, "CreateFilter", _RP.str.contains(_ARCHIVE_FILTER)),
    (_GD, "UpdateFilter", _RP.str.contains(_ARCHIVE_FILTER)),
    ("access-analyzer.amazonaws.com", "CreateArchiveRule", None),
    ("access-analyzer.amazonaws.com", "UpdateArchiveRule", None),
    (_SH, "BatchUpdateFindings", _RP.str.contains(_SUPPRESSED)),
    (_SH, "UpdateFindings", _RP.str.contains(_ARCHIVED)),
)


_GD_FINDING = (
    "arn:aws:guardduty:us-east-1:111122223333:detector/12abc34d567e8fa901bc2d34eexample/"
    "finding/f2c6e1a4b8d94e0a9b3c5d7e1f2a3b4c"
)
_GD_PRODUCT = "arn:aws:securityhub:us-east-1::product/aws/guardduty"


def _findings_update(status: str | None = None, **more: object) -> dict[str, object]:
    """``BatchUpdateFindings`` requestParameters as Security Hub logs them (API member names)."""
    rp: dict[str, object] = {
        "FindingIdentifiers": [
            {"Id": _GD_FINDING, "ProductArn": _GD_PRODUCT},
        ],
        "Note": {"Text": "reviewed", "UpdatedBy": "alice"},
        **more,
    }
    if status:
        rp["Workflow"] = {"Status": status}
    return rp


def _any_of(calls: tuple[tuple[str, str, pl.Expr | None], ...]) -> pl.Expr:
    out = pl.lit(False)
    for source, name, cond in calls:
        call = (pl.col("event_source") == source) & (pl.col("event_name") == name)
        out = out | (call & cond if cond is not None else call)
    return out.fill_null(False) & pl.col("error_code").is_null()


class _Blinding(EventRule):
    """Pre-filters to the security services' own events before the detailed checks."""

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        sources = {source for source, _, _ in (*_DISABLES, *_MUTES)}
        return super().findings(events.filter(pl.col("event_source").is_in(sources)), settings)


@register
class GuardDutyDetectorDeleted(_Blinding):
    """``DeleteDetector`` needs no body: the call alone removes the detector and its findings."""

    id = "guardduty_detector_deleted"
    title = "GuardDuty detector deleted"
    severity = "critical"
    capabilities = ("C32",)
    attack = ("T1562.001",)
    dedup_by = ("principal", "aws_region")
    runbook = (
        "Recreate the detector (and its S3 protection) at once: deleting it also drops "
        "existing findings. Then review the principal's activity in the region."
    )
    reason_feature = "detector_change"
    reason_template = (
        "DeleteDetector {request_parameters} in {aws_region} by {principal}[ from {source_ip}]"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return _any_of(((_GD, "DeleteDetector", None),))

    examples = (
        Example(
            "detector deleted",
            (record("DeleteDetector", _GD, {"detectorId": "12abc34d567e8fa901bc2d34eexample"}),),
        ),
        Example(
            "detector deleted by the CI role (still fires)",
            (
                record(
                    "DeleteDetector",
                    _GD,
                    {"detectorId": "12abc34d567e8fa901bc2d34eexample"},
                    identity=CI,
                ),
            ),
        ),
        Example(
            "delete refused",
            (
                record(
                    "DeleteDetector",
                    _GD,
                    {"detectorId": "12abc34d567e8fa901bc2d34eexample"},
                    errorCode="AccessDeniedException",
                ),
            ),
            fires=False,
        ),
        Example(
            "detector read",
            (record("GetDetector", _GD, {"detectorId": "12abc34d567e8fa901bc2d34eexample"}),),
            fires=False,
        ),
    )


@register
class SecurityDetectorBlinded(_Blinding):
    """Disables (for everyone) and mutes (for everyone but CI roles) of the security services.

    Calls that switch a service off by themselves (``DisableMacie``, ``DisableSecurityHub``,
    ``DeleteAnalyzer``, ``StopConfigurationRecorder``…) fire whatever their body. Calls whose
    effect depends on their body fire only on a body that says so: ``UpdateDetector`` with
    ``enable: false`` or a feature ``DISABLED``, a GuardDuty filter with action ``ARCHIVE``,
    ``BatchUpdateFindings`` to ``SUPPRESSED``, ``UpdateFindings`` to ``ARCHIVED``. With an
    absent body (requestParameters null: CloudTrail omitted it) they are not judged, because
    AWS changes nothing a body does not name: ``UpdateDetector`` without ``enable`` leaves the
    detector as it was. Services acting on their own (``AWSService``, ``invokedBy``) are skipped.
    """

    id = "security_detector_blinded"
    title = "GuardDuty, Macie, Security Hub, Config or Access Analyzer disabled or muted"
    severity = "high"
    capabilities = ("C32",)
    attack = ("T1562.001",)
    dedup_by = ("principal", "event_name")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Undo the change (re-enable, remove the trusted IP set or archive filter/rule) "
        "unless it is a reviewed change, and check which findings it would suppress."
    )
    reason_feature = "detector_change"
    reason_template = (
        "{event_name} ({event_source}) in {aws_region} by {principal} from "
        "{source_ip}: {request_parameters}"
    )

    def match(self, settings: Settings) -> pl.Expr:
        ci = list(settings.ci_roles)
        is_ci = (pl.col("principal").is_in(ci) | pl.col("principal_arn").is_in(ci)).fill_null(False)
        return _any_of(_DISABLES) | (_any_of(_MUTES) & ~is_ci)

    examples = (
        Example(
            "GuardDuty suspended",
            (
                record(
                    "UpdateDetector",
                    _GD,
                    {"detectorId": "12abc34d567e8fa901bc2d34eexample", "enable": False},
                ),
            ),
        ),
        Example(
            "S3 protection switched off",
            (
                record(
                    "UpdateDetector",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "features": [{"name": "S3_DATA_EVENTS", "status": "DISABLED"}],
                    },
                ),
            ),
        ),
        Example(
            "attacker range added as trusted IPs",
            (
                record(
                    "CreateIPSet",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "name": "office",
                        "format": "TXT",
                        "location": "https://s3.amazonaws.com/x/trusted.txt",
                        "activate": True,
                    },
                ),
            ),
        ),
        Example(
            "archive filter for S3 findings",
            (
                record(
                    "CreateFilter",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "name": "noise",
                        "action": "ARCHIVE",
                        "rank": 1,
                        "findingCriteria": {
                            "criterion": {"type": {"eq": ["Exfiltration:S3/AnomalousBehavior"]}}
                        },
                    },
                ),
            ),
        ),
        Example(
            "Macie paused",
            (record("UpdateMacieSession", "macie2.amazonaws.com", {"status": "PAUSED"}),),
        ),
        Example(
            "Config recorder stopped by the CI role (still fires)",
            (
                record(
                    "StopConfigurationRecorder",
                    "config.amazonaws.com",
                    {"configurationRecorderName": "default"},
                    identity=CI,
                ),
            ),
        ),
        Example(
            "Security Hub disabled",
            (record("DisableSecurityHub", "securityhub.amazonaws.com", {}),),
        ),
        Example(
            "Security Hub findings suppressed (BatchUpdateFindings)",
            (
                record(
                    "BatchUpdateFindings",
                    _SH,
                    _findings_update("SUPPRESSED"),
                    responseElements={
                        "ProcessedFindings": [
                            {"Id": _GD_FINDING, "ProductArn": _GD_PRODUCT},
                        ],
                        "UnprocessedFindings": [],
                    },
                ),
            ),
        ),
        Example(
            "Security Hub findings archived (older UpdateFindings)",
            (
                record(
                    "UpdateFindings",
                    _SH,
                    {
                        "Filters": {
                            "ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}],
                            "ResourceType": [{"Value": "AwsS3Bucket", "Comparison": "EQUALS"}],
                        },
                        "Note": {"Text": "noise", "UpdatedBy": "alice"},
                        "RecordState": "ARCHIVED",
                    },
                ),
            ),
        ),
        Example(
            "Security Hub finding resolved",
            (record("BatchUpdateFindings", _SH, _findings_update("RESOLVED")),),
            fires=False,
        ),
        Example(
            "Security Hub finding owner notified",
            (record("BatchUpdateFindings", _SH, _findings_update("NOTIFIED")),),
            fires=False,
        ),
        Example(
            "Security Hub finding reopened, severity raised",
            (
                record(
                    "BatchUpdateFindings",
                    _SH,
                    _findings_update("NEW", Severity={"Label": "HIGH"}),
                ),
            ),
            fires=False,
        ),
        Example(
            "Security Hub finding note only",
            (record("BatchUpdateFindings", _SH, _findings_update()),),
            fires=False,
        ),
        Example(
            "Security Hub findings made active again (UpdateFindings)",
            (
                record(
                    "UpdateFindings",
                    _SH,
                    {
                        "Filters": {"Id": [{"Value": _GD_FINDING, "Comparison": "EQUALS"}]},
                        "Note": {"Text": "reopened", "UpdatedBy": "alice"},
                        "RecordState": "ACTIVE",
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "GuardDuty enabled",
            (
                record(
                    "UpdateDetector",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "enable": True,
                        "findingPublishingFrequency": "FIFTEEN_MINUTES",
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "notify-only filter",
            (
                record(
                    "CreateFilter",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "name": "watch",
                        "action": "NOOP",
                        "findingCriteria": {},
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "IP set managed by the CI role",
            (
                record(
                    "UpdateIPSet",
                    _GD,
                    {
                        "detectorId": "12abc34d567e8fa901bc2d34eexample",
                        "ipSetId": "0abc",
                        "activate": True,
                    },
                    identity=CI,
                ),
            ),
            fires=False,
        ),
        Example(
            "Access Analyzer archive rule by an AWS service",
            (
                record(
                    "CreateArchiveRule",
                    "access-analyzer.amazonaws.com",
                    {"analyzerName": "org", "ruleName": "svc"},
                    identity=SERVICE,
                    sourceIPAddress="cloudformation.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "refused DisableMacie",
            (
                record(
                    "DisableMacie", "macie2.amazonaws.com", {}, errorCode="AccessDeniedException"
                ),
            ),
            fires=False,
        ),
    )
