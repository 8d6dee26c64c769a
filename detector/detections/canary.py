"""Sensitive objects and canaries (C26): reads of credential-like keys, and any touch of the
configured decoy keys or prefixes, which nobody legitimate has a reason to open."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN, CI, SERVICE, access_line, data_event
from detector.detections.base import (
    EventRule,
    Example,
    Finding,
    allowlisted,
    group_findings,
    register,
)

CREDENTIAL_KEY = (
    r"(?i)((^|/)\.aws/credentials$|(^|/)id_(rsa|dsa|ecdsa|ed25519)$|(^|/)\.env(\.[^/]*)?$"
    r"|\.(pem|pfx|p12|kdbx)$|(^|/)\.git-credentials$|terraform\.tfstate(\.backup)?$)"
)
_READS = ("GetObject", "HeadObject", "SelectObjectContent", "GetObjectAttributes")
_COPIES = ("CopyObject", "UploadPartCopy")
_COPY_SOURCE = (
    pl.when(pl.col("event_name").is_in(_COPIES))
    .then(pl.col("request_parameters"))
    .str.json_path_match("$.x-amz-copy-source")
    .str.strip_chars_start("/")
    .str.replace(r"\?versionId=.*$", "")
)
_SOURCE_KEY = _COPY_SOURCE.str.replace(r"^[^/]*/", "")
_SERVICE_LINKED = (
    pl.col("session_issuer_arn").str.contains(":role/aws-service-role/").fill_null(False)
)
"""Service-linked roles (Macie scans, Storage Lens…) read objects on AWS's behalf."""


def touched_keys() -> list[pl.Expr]:
    """The object keys an event touches: its own key, and the source of a copy."""
    return [
        pl.col("key"),
        pl.when(pl.col("event_name").is_in(["CopyObject", "UploadPartCopy"])).then(_SOURCE_KEY),
    ]


class _ObjectRule(EventRule):
    """Reasons name the object read: the copy source for copies, else bucket/key."""

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings))
        copy = pl.col("event_name").is_in(["CopyObject", "UploadPartCopy"])
        own = pl.col("bucket") + pl.lit("/") + pl.col("key").fill_null("")
        return group_findings(
            self,
            hits.with_columns(
                object=pl.when(copy).then(pl.coalesce(_COPY_SOURCE, own)).otherwise(own)
            ),
            settings,
        )


@register
class CredentialObjectRead(_ObjectRule):
    id = "credential_object_read"
    title = "Credential-like object read (.aws/credentials, id_rsa, .env, *.pem, tfstate…)"
    severity = "medium"
    capabilities = ("C26",)
    attack = ("T1552.001", "T1530")
    dedup_by = ("principal", "bucket")
    learns = True
    habit = ("finding", "bucket")
    """A CI role reading its Terraform state every night is its habit; the first read by a
    principal that never does is the signal."""
    dedup_window = timedelta(hours=6)
    runbook = (
        "Check whether the principal has a reason to read the object; if not, rotate "
        "every secret it contains and review the principal's other reads."
    )
    reason_feature = "sensitive_key"
    reason_template = "{event_name} of {object} by {principal}[ from {source_ip}]"

    def match(self, settings: Settings) -> pl.Expr:
        ci = list(settings.ci_roles)
        is_ci = (pl.col("principal").is_in(ci) | pl.col("principal_arn").is_in(ci)).fill_null(False)
        read = pl.col("event_name").is_in(list(_READS)) & pl.col("key").str.contains(CREDENTIAL_KEY)
        copy = pl.col("event_name").is_in(
            ["CopyObject", "UploadPartCopy"]
        ) & _SOURCE_KEY.str.contains(CREDENTIAL_KEY)
        return (read | copy).fill_null(False) & ~pl.col("is_error") & ~is_ci & ~_SERVICE_LINKED

    examples = (
        Example(
            "AWS credentials file downloaded",
            (
                data_event(
                    "GetObject",
                    "acme-backups",
                    "home/deploy/.aws/credentials",
                    identity=ADMIN,
                    bytes_out=116,
                ),
            ),
        ),
        Example(
            "private key fetched, access log",
            access_lines=(
                access_line(
                    "REST.GET.OBJECT",
                    "acme-backups",
                    "home/deploy/.ssh/id_ed25519",
                    bytes_sent=411,
                    object_size=411,
                ),
            ),
        ),
        Example(
            "copy of a .env file to elsewhere",
            (
                data_event(
                    "CopyObject",
                    "acme-scratch",
                    "x",
                    params={"x-amz-copy-source": "acme-apps/billing/.env.production"},
                ),
            ),
        ),
        Example(
            "Terraform state read by the CI role",
            (data_event("GetObject", "acme-tfstate", "prod/terraform.tfstate", identity=CI),),
            fires=False,
        ),
        Example(
            "ordinary object",
            (data_event("GetObject", "acme-data", "reports/q3.csv"),),
            fires=False,
        ),
        Example(
            "read refused",
            (
                data_event(
                    "GetObject",
                    "acme-backups",
                    "home/deploy/.aws/credentials",
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
        Example(
            "environment.md is not .env",
            (data_event("GetObject", "acme-docs", "setup/.envrc.md"),),
            fires=False,
        ),
    )


@register
class DecoyAccess(_ObjectRule):
    id = "decoy_object_access"
    title = "Decoy (canary) object or prefix touched"
    severity = "critical"
    capabilities = ("C26",)
    attack = ("T1530", "T1619")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=1)
    runbook = (
        "Nobody should touch decoys: treat the principal (or the anonymous source) as "
        "compromised, revoke its sessions and keys, and trace how it found the decoy."
    )
    reason_feature = "decoy"
    reason_template = (
        "{event_name} of decoy {object} by {principal}[ from {source_ip}][ (error: {error_code})]"
    )

    def match(self, settings: Settings) -> pl.Expr:
        if not settings.decoys:
            return pl.lit(False)
        hit = pl.lit(False)
        for decoy in settings.decoys:
            for key in touched_keys():
                hit = hit | key.str.starts_with(decoy)
                hit = hit | (pl.col("bucket") + pl.lit("/") + key).str.starts_with(decoy)
        return hit.fill_null(False) & ~_SERVICE_LINKED

    examples = (
        Example(
            "decoy key read",
            (
                data_event(
                    "GetObject", "acme-data", "secrets/decoy-prod-db-password.txt", identity=ADMIN
                ),
            ),
        ),
        Example(
            "canary spreadsheet probed anonymously and refused, access log",
            access_lines=(
                access_line(
                    "REST.HEAD.OBJECT",
                    "acme-data",
                    "finance/payroll-2026-canary.xlsx",
                    requester=None,
                    ip="203.0.113.77",
                    status=403,
                    error="AccessDenied",
                    bytes_sent=0,
                    object_size=0,
                ),
            ),
        ),
        Example(
            "decoy copied out",
            (
                data_event(
                    "CopyObject",
                    "acme-scratch",
                    "loot.txt",
                    params={"x-amz-copy-source": "acme-data/secrets/decoy-api-keys.json"},
                ),
            ),
        ),
        Example(
            "neighbouring key",
            (data_event("GetObject", "acme-data", "secrets/prod-readme.txt", identity=ADMIN),),
            fires=False,
        ),
        Example(
            "AWS service touching the decoy",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "secrets/decoy-prod-db-password.txt",
                    identity=SERVICE,
                    sourceIPAddress="cloudtrail.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "Macie's service-linked role scanning",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "secrets/decoy-prod-db-password.txt",
                    identity={
                        "type": "AssumedRole",
                        "principalId": "AROAMACIE:AmazonMacieSession",
                        "arn": (
                            "arn:aws:sts::111122223333:assumed-role/"
                            "AWSServiceRoleForAmazonMacie/AmazonMacieSession"
                        ),
                        "accountId": "111122223333",
                        "sessionContext": {
                            "sessionIssuer": {
                                "type": "Role",
                                "arn": "arn:aws:iam::111122223333:role/aws-service-role/"
                                "macie.amazonaws.com/AWSServiceRoleForAmazonMacie",
                                "userName": "AWSServiceRoleForAmazonMacie",
                            }
                        },
                    },
                ),
            ),
            fires=False,
        ),
    )
