"""Per-event derived columns that rules and window features share, computed once per batch.

All of it is polars expressions over the canonical events; nothing loops per event. The
columns added are documented in docs/features.md (``enriched columns``).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from detector.config import Settings

READ = ("GetObject", "HeadObject", "SelectObjectContent", "GetObjectAttributes", "GetObjectTorrent")
WRITE = (
    "PutObject",
    "CopyObject",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "CreateMultipartUpload",
    "RestoreObject",
    "PutObjectRetention",
    "PutObjectLegalHold",
)
LIST = (
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "ListBuckets",
    "ListMultipartUploads",
    "ListParts",
)
DELETE = ("DeleteObject", "DeleteObjects")
PERMISSION = (
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutObjectAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "CreateAccessPoint",
    "PutAccessPointPolicy",
    "DeleteAccessPointPolicy",
    "PutMultiRegionAccessPointPolicy",
)
CONFIG = (
    "PutBucketVersioning",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutBucketReplication",
    "DeleteBucketReplication",
    "PutBucketLogging",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "PutBucketCors",
    "DeleteBucketCors",
    "PutBucketWebsite",
    "DeleteBucketWebsite",
    "PutBucketNotification",
    "PutBucketNotificationConfiguration",
    "PutObjectLockConfiguration",
    "PutBucketObjectLockConfiguration",
    "DeleteBucket",
    "CreateBucket",
    "PutBucketRequestPayment",
    "PutBucketAccelerateConfiguration",
)
RECON = (
    "ListBuckets",
    "GetBucketPolicy",
    "GetBucketAcl",
    "GetBucketLocation",
    "GetBucketVersioning",
    "GetBucketLogging",
    "GetBucketEncryption",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetPublicAccessBlock",
    "GetBucketTagging",
    "GetBucketReplication",
    "GetBucketLifecycle",
    "GetBucketLifecycleConfiguration",
    "GetBucketOwnershipControls",
    "GetObjectAcl",
    "GetBucketWebsite",
    "GetBucketCors",
)
OP_CLASSES: dict[str, str] = {
    **{n: "read" for n in READ},
    **{n: "write" for n in WRITE},
    **{n: "list" for n in LIST},
    **{n: "delete" for n in DELETE},
    **{n: "permission" for n in PERMISSION},
    **{n: "config" for n in CONFIG},
}
"""Operation class of each S3 API name; anything else is ``other``."""

DENIED_CODES = (
    "AccessDenied",
    "AllAccessDisabled",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "VpceAccessDenied",
)

_PRIVATE_V4 = (
    r"^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|127\.|169\.254\.|"
    r"100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)"
)
_IPV4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"

OFFENSIVE_AGENTS = (
    r"(?i)(kali|parrot|pentoo|pacu|scoutsuite|prowler|cloudsploit|weirdaal|s3scanner|"
    r"bucket[_-]?finder|nmap|sqlmap|metasploit|trufflehog|cloudfox|endgame|aws_?consoler)"
)
"""Pentest distributions, offensive tooling and credential scanners (TruffleHog verifies a
leaked key with ``GetCallerIdentity``), as they show in user agents."""
BULK_CLIENTS = (
    r"(?i)(rclone|s3 ?browser|cyberduck|s3cmd|s5cmd|mountpoint-s3|goofys|winscp|transmit|"
    r"forklift|mc/|minio)"
)
"""Bulk copy clients: normal for some people, a classic exfiltration tool for others."""


ROLE_PATH = r"(:role/)(?:[^/]+/)*([^/]+)$"
"""A role ARN's path (``role/aws-reserved/sso.amazonaws.com/X``): dropped from principal
keys, because access logs name the role without it and one role must be one principal."""


def normalise_role(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(ROLE_PATH, "${1}${2}")


SERVICE_ROLE = r":role/(aws-service-role/|AWSServiceRole)"
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
PUBLIC_ACCESS_PUTS = (
    "PutBucketPublicAccessBlock",
    "PutPublicAccessBlock",
    "PutAccountPublicAccessBlock",
)


def all_public_access_blocked() -> pl.Expr:
    """The request turns all four Block Public Access flags on (S3 reads the XML booleans
    ``true``/``TRUE`` alike)."""
    rp = pl.col("request_parameters").fill_null("")
    return pl.all_horizontal(
        *(rp.str.contains(rf'(?i)"{f}"\s*:\s*"?true"?') for f in PUBLIC_ACCESS_FLAGS)
    )


def judged_operation() -> pl.Expr:
    """The API name as newness judges it: none for a call that only closes access (Block
    Public Access all on), nor for the access log's body-less copy of such a put, which
    cannot say whether it opened or closed anything (CloudTrail's copy is judged)."""
    pab_put = pl.col("event_name").is_in(PUBLIC_ACCESS_PUTS).fill_null(False)
    bodyless = pl.col("source") == "s3_access"
    return (
        pl.when(pab_put & (all_public_access_blocked() | bodyless))
        .then(None)
        .otherwise(pl.col("event_name"))
    )


FETCH_SEPARATOR = "\x1f"
"""Between bucket, key and source address in ``presigned_fetch`` (a byte no key holds)."""
"""Service-linked roles: names AWS reserves for its own services (Config, Access Analyzer…)."""


def principal_key() -> pl.Expr:
    """Who a baseline is kept for: the role (not the session), the user, the service.

    IAM Identity Center (SSO) roles, and federated roles whose session names are e-mail
    addresses (Okta, Entra ID), are shared by people: there the session name (the
    person) is kept, so each person's habits are learned on their own.
    """
    anonymous = (pl.col("principal_type") == "Anonymous") | (pl.col("account_id") == "anonymous")
    sso = pl.col("session_issuer_arn").str.contains(":role/.*AWSReservedSSO_").fill_null(False)
    # SAML/OIDC roles of people (Okta, Entra ID…) name the person in the session: an e-mail.
    sso |= pl.col("session_name").str.contains("@", literal=True).fill_null(False)
    return (
        pl.when(anonymous)
        .then(pl.lit("anonymous"))
        .when(sso & pl.col("session_name").is_not_null())
        .then(normalise_role(pl.col("session_issuer_arn")) + pl.lit("/") + pl.col("session_name"))
        .when((pl.col("principal_type") == "AWSService") & pl.col("invoked_by").is_not_null())
        .then(pl.lit("service:") + pl.col("invoked_by"))
        .otherwise(
            normalise_role(
                pl.coalesce("session_issuer_arn", "principal_arn", "invoked_by", "principal_id")
            )
        )
    )


def agent_family() -> pl.Expr:
    """The client behind a user agent: ``aws-cli``, ``Boto3``, ``aws-sdk-java``, ``rclone``…"""
    ua = pl.col("user_agent").str.strip_chars("[]").str.strip_chars()
    return (
        pl.when(ua.str.contains(r"(?i)^signin\.amazonaws\.com|S3Console|console\.amazonaws"))
        .then(pl.lit("console"))
        .when(ua.str.contains(r"(?i)^AWS Internal|amazonaws\.com$"))
        .then(pl.lit("aws-internal"))
        .when(ua.str.contains(r"(?i)^(Mozilla|Opera)/"))
        .then(pl.lit("browser"))
        .otherwise(
            ua.str.extract(r"^([A-Za-z][\w .-]*?)/", 1)
            .fill_null(ua.str.extract(r"^([A-Za-z][\w.-]*)", 1))
            .fill_null(ua)
            .str.slice(0, 40)
        )
    )


UNUSED_BY_DETECTION = (
    "additional_event_data",
    "request_uri",
    "referrer",
    "extra_fields",
    "origin_object",
    "origin_index",
    "host_header",
    "total_time_ms",
    "turnaround_time_ms",
    "acl_required",
    "source_region",
    "bucket_owner",
    "access_point_arn",
    "access_key_id",
    "error_message",
    "object_size",
    "signature_version",
    "event_type",
)
"""Columns no detection reads: not copied into the detection frame (memory per batch)."""


def enrich(events: pa.Table | pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Canonical events plus the derived columns every detection and feature reads."""
    if isinstance(events, pa.Table):
        events = events.drop_columns([c for c in UNUSED_BY_DETECTION if c in events.schema.names])
    df = events if isinstance(events, pl.DataFrame) else pl.from_arrow(events)
    assert isinstance(df, pl.DataFrame)
    ip = pl.col("source_ip")
    is_ipv4 = ip.str.contains(_IPV4).fill_null(False)
    is_ipv6 = ip.str.contains(":").fill_null(False) & ~ip.str.contains(r"[g-zG-Z]").fill_null(True)
    known_org = bool(settings.our_accounts)
    event_name = pl.col("event_name")
    denied = pl.col("error_code").is_in(DENIED_CODES) | (pl.col("http_status") == 403)
    presigned = (pl.col("auth_method") == "QueryString").fill_null(False)
    # An AWS service acting for the principal (Athena, Glue, CloudFormation…) calls from the
    # service's own addresses: they say nothing about where the principal runs. CloudTrail
    # names the service in invokedBy; an access log only in the user agent.
    on_behalf = (
        pl.col("invoked_by").is_not_null()
        | pl.col("user_agent").str.contains(r"^(?:AWS Internal|[a-z0-9.-]+\.amazonaws\.com)$")
    ).fill_null(False)
    ours = list(settings.our_accounts | settings.partner_accounts)
    op_class = event_name.replace_strict(OP_CLASSES, default="other", return_dtype=pl.String)
    return df.with_columns(
        principal=principal_key(),
        op_class=op_class,
        is_recon=event_name.is_in(RECON).fill_null(False),
        is_aws_service=(
            (pl.col("principal_type") == "AWSService")
            | pl.col("session_issuer_arn").str.contains(SERVICE_ROLE)
            | pl.col("principal_arn").str.contains(r":assumed-role/AWSServiceRole")
            | ip.str.ends_with(".amazonaws.com")
            | (ip == "AWS Internal")
        ).fill_null(False),
        is_public_ip=(
            (is_ipv4 & ~ip.str.contains(_PRIVATE_V4).fill_null(False))
            | (is_ipv6 & ~ip.str.contains(r"(?i)^(fc|fd|fe80|::1)").fill_null(False))
        )
        & ~on_behalf,
        # A presigned URL is used by whoever holds it (a browser), not by the principal that
        # signed it: its address says nothing about where the principal's code runs.
        ip_prefix=pl.when(presigned | on_behalf)
        .then(None)
        .when(is_ipv4)
        .then(ip.str.replace(r"\.\d+$", ".0/24"))
        .when(is_ipv6)
        .then(ip.str.extract(r"^([0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*)", 1) + pl.lit("::/48")),
        agent_family=agent_family(),
        is_offensive_agent=pl.col("user_agent").str.contains(OFFENSIVE_AGENTS).fill_null(False),
        is_bulk_client=pl.col("user_agent").str.contains(BULK_CLIENTS).fill_null(False),
        is_foreign_bucket=(
            pl.col("bucket_account_id").is_not_null()
            & (
                ~pl.col("bucket_account_id").is_in(ours)
                if known_org
                else pl.col("bucket_account_id") != pl.col("recipient_account_id")
            )
        ).fill_null(False),
        is_foreign_vpce=(
            pl.col("vpc_endpoint_account_id").is_not_null()
            & (
                ~pl.col("vpc_endpoint_account_id").is_in(ours)
                if known_org
                else (pl.col("vpc_endpoint_account_id") != pl.col("recipient_account_id"))
                & (pl.col("vpc_endpoint_account_id") != pl.col("account_id"))
            )
        ).fill_null(False),
        is_presigned=(pl.col("auth_method") == "QueryString").fill_null(False),
        judged_operation=judged_operation(),
        # Buckets whose objects the principal itself read, wrote or deleted: listing a bucket
        # or a service writing query results for it is not using its data.
        data_bucket=pl.when(
            op_class.is_in(["read", "write", "delete"]).fill_null(False) & ~on_behalf
        ).then(pl.col("bucket")),
        # Which object a presigned URL fetched, and from where: one URL fetched from many
        # addresses is a leaked link (C31), many URLs each fetched once are customers.
        presigned_fetch=pl.when(presigned & pl.col("key").is_not_null())
        .then(pl.concat_str("bucket", "key", "source_ip", separator=FETCH_SEPARATOR))
        .otherwise(None),
        is_non_tls=(
            pl.col("tls_version").is_null()
            & pl.col("cipher_suite").is_null()
            & (pl.col("event_source") == "s3.amazonaws.com")
            & is_ipv4
            & (pl.col("source") == "s3_access")
            & pl.col("principal_arn").is_not_null()
        ).fill_null(False),
        is_sse_c=(pl.col("sse") == "SSE-C").fill_null(False),
        is_version_delete=(event_name.is_in(DELETE) & pl.col("version_id").is_not_null()).fill_null(
            False
        ),
        objects_deleted=pl.when(
            event_name.is_in(DELETE)
            & (pl.col("operation") != "REST.POST.MULTI_OBJECT_DELETE").fill_null(True)
        )
        .then(1)
        .otherwise(0),
        is_denied=denied.fill_null(False),
        is_error=(pl.col("error_code").is_not_null() | (pl.col("http_status") >= 400)).fill_null(
            False
        ),
        key_prefix=pl.col("key")
        .str.extract(r"^([^/]*/?[^/]*/)", 1)
        .fill_null(pl.col("key").str.extract(r"^([^/]*/)", 1)),
        hour=pl.col("event_time").dt.hour(),
        weekday=pl.col("event_time").dt.weekday(),
        evidence_id=pl.coalesce("event_id", "request_id"),
    )
