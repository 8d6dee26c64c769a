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
    "sessionContext": {"sessionIssuer": {"type": "Role",
                                         "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/admin",
                                         "userName": "admin"}},
}
APP = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEAPP:i-0abc1234def567890",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/orders-api/i-0abc1234def567890",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLEAPP",
    "sessionContext": {"sessionIssuer": {"type": "Role",
                                         "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/orders-api",
                                         "userName": "orders-api"}},
}
CI = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLECI:gha",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/github-actions-deploy/gha-123",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLECI",
    "sessionContext": {"sessionIssuer": {
        "type": "Role", "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/github-actions-deploy",
        "userName": "github-actions-deploy"}},
}
CI_ROLE = f"arn:aws:iam::{OUR_ACCOUNT}:role/github-actions-deploy"
SERVICE = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}


def record(event_name: str, event_source: str = "s3.amazonaws.com",
           request_parameters: dict[str, Any] | None = None, *,
           identity: dict[str, Any] | None = None, minute: int = 0, **extra: Any
           ) -> dict[str, Any]:
    """A CloudTrail record as AWS writes it, with unique ids and sensible defaults."""
    n = next(_ids)
    data_event = event_source == "s3.amazonaws.com" and event_name in {
        "GetObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "HeadObject",
        "ListObjects", "ListObjectsV2", "PutObjectAcl", "UploadPart"}
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
