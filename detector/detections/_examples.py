"""Builders for detections' example events: realistic CloudTrail records in a few words."""

from __future__ import annotations

import itertools
from typing import Any

OUR_ACCOUNT = "111122223333"
OTHER_OURS = "444455556666"
FOREIGN = "999988887777"
_ids = itertools.count(1)

ADMIN = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEADMIN:alice",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/admin/alice",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLEADMIN",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/admin",
            "userName": "admin",
        }
    },
}
APP = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEAPP:i-0abc1234def567890",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/orders-api/i-0abc1234def567890",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLEAPP",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/orders-api",
            "userName": "orders-api",
        }
    },
}
CI = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLECI:gha",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/github-actions-deploy/gha-123",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLECI",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/github-actions-deploy",
            "userName": "github-actions-deploy",
        }
    },
}
CI_ROLE = f"arn:aws:iam::{OUR_ACCOUNT}:role/github-actions-deploy"
SERVICE = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}


def record(
    event_name: str,
    event_source: str = "s3.amazonaws.com",
    request_parameters: dict[str, Any] | None = None,
    *,
    identity: dict[str, Any] | None = None,
    minute: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A CloudTrail record as AWS writes it, with unique ids and sensible defaults."""
    n = next(_ids)
    data_event = event_source == "s3.amazonaws.com" and event_name in {
        "GetObject",
        "PutObject",
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "HeadObject",
        "ListObjects",
        "ListObjectsV2",
        "PutObjectAcl",
        "UploadPart",
    }
    rec: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": identity or ADMIN,
        "eventTime": f"2026-11-05T10:{minute // 60:02d}:{minute % 60:02d}Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.ubuntu.22",
        "requestParameters": request_parameters,
        "responseElements": None,
        "requestID": f"EXAMPLE{n:09d}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": event_name.startswith(("Get", "List", "Describe", "Head", "Lookup")),
        "eventType": "AwsApiCall",
        "managementEvent": not data_event,
        "recipientAccountId": OUR_ACCOUNT,
        "eventCategory": "Data" if data_event else "Management",
    }
    rec.update(extra)
    return rec


def example_settings() -> Any:
    """The environment every example assumes (our accounts, log and website buckets…)."""
    import ipaddress

    from detector.config import Settings

    return Settings(
        our_accounts=frozenset({OUR_ACCOUNT, OTHER_OURS}),
        website_buckets=frozenset({"acme-www-static"}),
        log_buckets=frozenset({"acme-cloudtrail-logs"}),
        decoys=("secrets/decoy-", "finance/payroll-2026-canary.xlsx"),
        threat_networks=(ipaddress.ip_network("198.51.100.0/24"),),
        ci_roles=frozenset({CI_ROLE}),
        source="example settings",
    )


# --- more builders (appended for the exposure, network, anonymous… families) -------------
ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
"""How CloudTrail logs an unsigned request (no ``arn``)."""
SERVICE_S3 = {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}
SAL_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
APP_ARN = f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/orders-api/i-0abc1234def567890"
ADMIN_ARN = f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/admin/alice"
CI_ARN = f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/github-actions-deploy/gha-123"


def s3_resources(
    bucket: str,
    account: str | None = OUR_ACCOUNT,
    key: str | None = None,
    source: tuple[str, str, str] | None = None,
) -> list[dict[str, Any]]:
    """``resources[]`` of an S3 data event; ``source`` = (bucket, key, account) of a copy."""
    out: list[dict[str, Any]] = []
    if source:
        out.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{source[0]}/{source[1]}"})
        out.append(
            {"accountId": source[2], "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{source[0]}"}
        )
    if key is not None:
        out.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
    bucket_res: dict[str, Any] = {"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
    if account:
        bucket_res["accountId"] = account
    out.append(bucket_res)
    return out


def data_event(
    event_name: str,
    bucket: str,
    key: str | None,
    *,
    account: str | None = OUR_ACCOUNT,
    params: dict[str, Any] | None = None,
    bytes_in: int = 0,
    bytes_out: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """An S3 object-level CloudTrail record with resources[] and additionalEventData
    (``key=None`` for bucket-level data events such as ListObjects)."""
    rp = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
        **({"key": key} if key is not None else {}),
        **(params or {}),
    }
    extra.setdefault("identity", APP)
    aed = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": bytes_in,
        "bytesTransferredOut": bytes_out,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": "EXAMPLEid2=",
        **extra.pop("additionalEventData", {}),
    }
    resources = extra.pop("resources", None) or s3_resources(bucket, account, key)
    return record(
        event_name,
        "s3.amazonaws.com",
        rp,
        managementEvent=False,
        eventCategory="Data",
        resources=resources,
        additionalEventData=aed,
        **extra,
    )


def access_line(
    operation: str = "REST.GET.OBJECT",
    bucket: str = "acme-data",
    key: str | None = "reports/2026/q3.csv",
    *,
    requester: str | None = APP_ARN,
    ip: str = "10.0.1.20",
    status: int = 200,
    error: str = "-",
    bytes_sent: int = 5120,
    object_size: int = 5120,
    user_agent: str = "aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM",
    version_id: str | None = None,
    minute: int = 0,
    auth: str = "AuthHeader",
) -> str:
    """A 27-field S3 server access log line as S3 writes it (key URL-encoded as S3 does)."""
    from urllib.parse import quote

    n = next(_ids)
    method = {
        "GET": "GET",
        "HEAD": "HEAD",
        "PUT": "PUT",
        "POST": "POST",
        "DELETE": "DELETE",
        "COPY": "PUT",
    }.get(operation.split(".")[1], "GET")
    once = operation.startswith(("BATCH.", "S3."))
    enc = "-" if key is None else quote(key, safe="/") if once else quote(quote(key, safe="/"))
    path = f"/{bucket}/{quote(key or '', safe='/')}"
    return (
        f"{SAL_OWNER} {bucket} [05/Nov/2026:10:{minute // 60:02d}:{minute % 60:02d} +0000] "
        f'{ip} {requester or "-"} SAL{n:013d} {operation} {enc} "{method} {path} HTTP/1.1" '
        f'{status} {error} {bytes_sent if bytes_sent else "-"} {object_size or "-"} 21 9 "-" '
        f'"{user_agent}" {version_id or "-"} hostid{n}= SigV4 TLS_AES_128_GCM_SHA256 '
        f"{auth} {bucket}.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1"
    )


def bucket_policy(bucket: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """PutBucketPolicy requestParameters as CloudTrail logs them (the policy as an object)."""
    return {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
        "bucketPolicy": {"Version": "2012-10-17", "Statement": list(statements)},
        "policy": "",
    }
