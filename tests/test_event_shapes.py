"""Event shapes the rules must read by meaning, one focused test per shape.

Each case goes through the path every detection example takes (``example_events``: a
CloudTrail file or access-log object, the real parser, ``enrich``) and then through every
registered event rule, so each test says which detection fires and that no other does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_detections import example_events

from detector.config import Settings
from detector.detections import load_all
from detector.detections._examples import (
    ADMIN,
    CI,
    FOREIGN,
    OTHER_OURS,
    OUR_ACCOUNT,
    access_line,
    data_event,
    example_settings,
    record,
)
from detector.detections.base import EventRule, Example
from detector.detections.logging_tamper import lifecycle_put, lifecycle_rule
from detector.features.enrich import enrich
from detector.logtypes import parse_blobs
from detector.rule_test import example_blobs

RULES = [d for d in load_all().values() if isinstance(d, EventRule)]


def fired(
    records: tuple[dict[str, Any], ...] = (),
    access_lines: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> set[str]:
    """Ids of the event rules that fire on these events (enriched with the same settings)."""
    settings = settings or example_settings()
    example = Example("shape", records, access_lines)
    events = example_events(example)
    if settings != example_settings():
        events = enrich(parse_blobs(example_blobs(example)).events, settings)
    return {d.id for d in RULES if d.findings(events, settings)}


def one(expected: str | None) -> set[str]:
    return {expected} if expected else set()


# --- 1. Security Hub suppression as muting (C32) ------------------------------------------
SH = "securityhub.amazonaws.com"
FINDING = {
    "Id": "arn:aws:guardduty:us-east-1:111122223333:detector/12abc/finding/f2c6e1a4b8d9",
    "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/guardduty",
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"FindingIdentifiers": [FINDING], "Workflow": {"Status": "SUPPRESSED"}}, True),
        ({"findingIdentifiers": [FINDING], "workflow": {"status": "SUPPRESSED"}}, True),
        ({"FindingIdentifiers": [FINDING], "Workflow": {"Status": "RESOLVED"}}, False),
        ({"FindingIdentifiers": [FINDING], "Workflow": {"Status": "NOTIFIED"}}, False),
        ({"FindingIdentifiers": [FINDING], "Workflow": {"Status": "NEW"}}, False),
        ({"FindingIdentifiers": [FINDING], "VerificationState": "FALSE_POSITIVE"}, False),
        (None, False),
    ],
    ids=["suppressed", "suppressed-camel", "resolved", "notified", "new", "no-workflow", "null"],
)
def test_batch_update_findings(params: dict[str, Any] | None, expected: bool) -> None:
    got = fired((record("BatchUpdateFindings", SH, params),))
    assert got == one("security_detector_blinded" if expected else None)


@pytest.mark.parametrize(("state", "expected"), [("ARCHIVED", True), ("ACTIVE", False)])
def test_update_findings_record_state(state: str, expected: bool) -> None:
    params = {
        "Filters": {"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]},
        "Note": {"Text": "x", "UpdatedBy": "alice"},
        "RecordState": state,
    }
    got = fired((record("UpdateFindings", SH, params),))
    assert got == one("security_detector_blinded" if expected else None)


def test_suppression_by_the_ci_role_is_tuning() -> None:
    params = {"FindingIdentifiers": [FINDING], "Workflow": {"Status": "SUPPRESSED"}}
    assert fired((record("BatchUpdateFindings", SH, params, identity=CI),)) == set()


# --- 2. Instance credentials (C15) ----------------------------------------------------------
SESSION = "i-786a3A8B5C0d92eF4"
INSTANCE = {
    "type": "AssumedRole",
    "principalId": f"AROAEXAMPLEEC2:{SESSION}",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/web/{SESSION}",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLEEC2",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/web",
            "userName": "web",
        },
        "ec2RoleDelivery": "2.0",
    },
}
AGENT_UA = "aws-sdk-go/1.51.30 (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.1142.0"
C15 = "instance_credentials_outside_vpc"


def instance_call(
    name: str = "GetObject",
    source: str = "s3.amazonaws.com",
    ip: str = "18.236.253.47",
    identity: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    identity = identity or INSTANCE
    if source == "s3.amazonaws.com":
        return data_event(name, "acme-data", "reports/q3.csv", identity=identity,
                          sourceIPAddress=ip, **extra)  # fmt: skip
    return record(name, source, {"instanceId": SESSION}, identity=identity, sourceIPAddress=ip,
                  **extra)  # fmt: skip


@pytest.mark.parametrize(
    "session", [SESSION, SESSION.lower(), SESSION.upper().replace("I-", "i-"), "I-0ABC1234DEF5"]
)
def test_instance_session_in_any_case_fires(session: str) -> None:
    arn = f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/web/{session}"
    identity = {**INSTANCE, "arn": arn, "principalId": f"AROAEXAMPLEEC2:{session}"}
    assert fired((instance_call(identity=identity),)) == {C15}


@pytest.mark.parametrize(
    "case",
    [
        {"identity": {**INSTANCE, "invokedBy": "ec2.amazonaws.com"}},
        {"identity": {**INSTANCE, "invokedBy": "ssm.amazonaws.com"}},
        {"identity": {**INSTANCE, "invokedBy": "athena.amazonaws.com"}},
        {"ip": "ec2.amazonaws.com"},
        {"ip": "AWS Internal"},
        {"userAgent": AGENT_UA},
        {"name": "UpdateInstanceInformation", "source": "ssm.amazonaws.com"},
        {"name": "ListInstanceAssociations", "source": "ssm.amazonaws.com"},
        {"name": "GetMessages", "source": "ec2messages.amazonaws.com"},
    ],
    ids=[
        "invokedBy-ec2",
        "invokedBy-ssm",
        "invokedBy-athena",
        "service-address",
        "aws-internal",
        "ssm-agent-user-agent",
        "ssm-UpdateInstanceInformation",
        "ssm-ListInstanceAssociations",
        "ec2messages",
    ],
)
def test_instance_session_by_aws_or_its_agent_does_not_fire(case: dict[str, Any]) -> None:
    """The service and agent calls are made from the instance's public address here: what
    keeps them silent is who makes them, not where from."""
    assert C15 not in fired((instance_call(**case),))


def test_same_instance_session_outside_the_agent_fires() -> None:
    assert fired((instance_call("DescribeInstances", "ec2.amazonaws.com"),)) == {C15}


def test_instance_session_through_a_foreign_endpoint_fires() -> None:
    call = instance_call(ip="172.31.5.9", vpcEndpointId="vpce-0f00ba4",
                         vpcEndpointAccountId=FOREIGN)  # fmt: skip
    # also C14: our credentials through another account's endpoint
    assert fired((call,)) == {C15, "vpc_endpoint_foreign_or_denied"}


def test_instance_session_inside_our_network_does_not_fire() -> None:
    call = instance_call(ip="10.0.1.20", vpcEndpointId="vpce-0123abcd",
                         vpcEndpointAccountId=OUR_ACCOUNT)  # fmt: skip
    assert fired((call,)) == set()


# --- 3. VPC endpoint path (C14) -------------------------------------------------------------
C14 = "vpc_endpoint_foreign_or_denied"
OUTSIDER = {"type": "AWSAccount", "principalId": "AROAEXAMPLEOUT:x", "accountId": FOREIGN}
PARTNER = "555566667777"


def through_endpoint(
    identity: dict[str, Any], ip: str, endpoint_owner: str, **extra: Any
) -> dict[str, Any]:
    return data_event("GetObject", "acme-data", "exports/customers.csv", identity=identity,
                      sourceIPAddress=ip, vpcEndpointId="vpce-0123abcd",
                      vpcEndpointAccountId=endpoint_owner, **extra)  # fmt: skip


@pytest.mark.parametrize(
    ("identity", "ip", "owner", "expected"),
    [
        (OUTSIDER, "10.0.7.44", OUR_ACCOUNT, True),
        (OUTSIDER, "10.0.7.44", OTHER_OURS, True),
        (ADMIN, "52.94.133.131", OUR_ACCOUNT, True),
        (ADMIN, "10.0.7.44", FOREIGN, True),
        (ADMIN, "10.0.7.44", OUR_ACCOUNT, False),
        ({**OUTSIDER, "accountId": OTHER_OURS}, "10.0.7.44", OUR_ACCOUNT, False),
        ({**OUTSIDER, "accountId": PARTNER}, "10.0.7.44", OUR_ACCOUNT, False),
        (OUTSIDER, "10.9.0.4", FOREIGN, False),
    ],
    ids=[
        "foreign-principal-our-endpoint",
        "foreign-principal-our-other-account-endpoint",
        "public-address-our-endpoint",
        "our-principal-foreign-endpoint",
        "ours-ours-private",
        "our-other-account-principal",
        "partner-principal",
        "foreign-principal-its-own-endpoint",
    ],
)
def test_vpc_endpoint_path(identity: dict[str, Any], ip: str, owner: str, expected: bool) -> None:
    settings = dataclasses.replace(example_settings(), partner_accounts=frozenset({PARTNER}))
    assert fired((through_endpoint(identity, ip, owner),), settings=settings) == one(
        C14 if expected else None
    )


def test_endpoint_of_the_recipient_account_is_ours_without_configuration() -> None:
    """Panther's VPCE external-principal shape (a network activity event), no org known."""
    event = through_endpoint(OUTSIDER, "10.0.0.1", "222222222222",
                             recipientAccountId="222222222222")  # fmt: skip
    event.update(eventType="AwsVpceEvent", eventCategory="NetworkActivity")
    assert fired((event,), settings=Settings()) == {C14}
    same = through_endpoint({**OUTSIDER, "accountId": "222222222222"}, "10.0.0.1", "222222222222",
                            recipientAccountId="222222222222")  # fmt: skip
    assert fired((same,), settings=Settings()) == set()


def test_vpce_access_denied_still_fires() -> None:
    event = through_endpoint(ADMIN, "10.0.7.3", OUR_ACCOUNT, errorCode="VpceAccessDenied",
                             errorMessage="Access Denied")  # fmt: skip
    assert fired((event,)) == {C14}


# --- 4. Event selectors (C02) ---------------------------------------------------------------
C02 = "cloudtrail_selectors_narrowed"
MGMT = {"name": "m", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}


def s3(*more: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "s3",
        "fieldSelectors": [
            {"field": "eventCategory", "equals": ["Data"]},
            {"field": "resources.type", "equals": ["AWS::S3::Object"]},
            *more,
        ],
    }


def put_selectors(params: dict[str, Any] | None) -> dict[str, Any]:
    return record("PutEventSelectors", "cloudtrail.amazonaws.com", params)


ARN = "resources.ARN"


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ([s3()], True),
        ([{**MGMT, "fieldSelectors": [*MGMT["fieldSelectors"],
                                      {"field": "readOnly", "equals": ["true"]}]}, s3()], True),
        ([MGMT], True),
        ([MGMT, s3({"field": ARN, "startsWith": ["arn:aws:s3:::acme-data/reports/2026/"]})], True),
        ([MGMT, s3({"field": ARN, "equals": ["arn:aws:s3:::acme-data/secret.csv"]})], True),
        ([MGMT, s3({"field": ARN, "notStartsWith": ["arn:aws:s3:::acme-data/"]})], True),
        ([MGMT, s3({"field": "readOnly", "equals": ["false"]})], True),
        ([MGMT, s3({"field": "eventName", "equals": ["PutObject", "DeleteObject"]})], True),
        ([MGMT, s3({"field": "userIdentity.arn", "notStartsWith": ["arn:aws:sts::1:x"]})], True),
        ([], True),
        ([MGMT, s3()], False),
        ([MGMT, s3({"field": ARN, "startsWith": ["arn:aws:s3:::acme-data/"]})], False),
    ],
    ids=[
        "no-management",
        "management-reads-only",
        "no-s3",
        "s3-prefix",
        "s3-one-object",
        "s3-bucket-excluded",
        "s3-writes-only",
        "s3-some-event-names",
        "s3-principal-excluded",
        "emptied",
        "all-management-all-s3",
        "all-management-whole-bucket",
    ],
)  # fmt: skip
def test_advanced_event_selectors(selectors: list[dict[str, Any]], expected: bool) -> None:
    params = {"trailName": "org-trail", "advancedEventSelectors": selectors}
    assert fired((put_selectors(params),)) == one(C02 if expected else None)


def test_advanced_selectors_in_the_api_spelling() -> None:
    """The API (and the CloudTrail docs) spell members ``AdvancedEventSelectors``/``Field``/
    ``Equals``: read the same as CloudTrail's lowerCamel."""
    full = [
        {"Name": "m", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {
            "Name": "s3",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        },
    ]
    assert fired((put_selectors({"TrailName": "t", "AdvancedEventSelectors": full}),)) == set()
    narrowed = [full[0], {**full[1], "FieldSelectors": [
        *full[1]["FieldSelectors"], {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::b/x/"]}
    ]}]  # fmt: skip
    params = {"TrailName": "t", "AdvancedEventSelectors": narrowed}
    assert fired((put_selectors(params),)) == {C02}


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ([], True),
        ([{"readWriteType": "All", "includeManagementEvents": True,
           "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}], False),
        ([{"readWriteType": "All", "includeManagementEvents": True,
           "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::b/tmp/"]}]}],
         True),
        ([{"readWriteType": "ReadOnly", "includeManagementEvents": True,
           "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}], True),
    ],
    ids=["emptied", "all-buckets", "prefix-only", "reads-only"],
)  # fmt: skip
def test_classic_event_selectors(selectors: list[dict[str, Any]], expected: bool) -> None:
    params = {"trailName": "org-trail", "eventSelectors": selectors}
    assert fired((put_selectors(params),)) == one(C02 if expected else None)


def test_event_selectors_with_an_absent_body_are_not_judged() -> None:
    assert fired((put_selectors(None),)) == set()


# --- 5. Lifecycle rules by meaning (C03, C05) ----------------------------------------------
C03, C05 = "log_store_sabotage", "recovery_controls_disabled"
UNCONFIGURED = dataclasses.replace(example_settings(), log_buckets=frozenset())


@pytest.mark.parametrize(
    ("bucket", "is_log"),
    [
        ("acme-cloudtrail-logs", True),
        ("org-trail-logs-eu", True),
        ("acme-audit-2026", True),
        ("acme-s3-access-logs", True),
        ("acme-accesslogs", True),
        ("acme-s3-logs", True),
        ("logs.acme.example", True),
        ("acme-log-archive", True),
        ("acme-blogs", False),
        ("acme-catalogs-eu", False),
        ("acme-data", False),
    ],
)
def test_log_bucket_by_name_until_discovery(bucket: str, is_log: bool) -> None:
    put = lifecycle_put(bucket, lifecycle_rule(Expiration={"Days": 1}))
    # a non-log bucket's whole-bucket 1-day expiry is a recovery-control change instead
    assert fired((put,), settings=UNCONFIGURED) == {C03 if is_log else C05}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (lifecycle_rule(Expiration={"Days": 7}), {C03}),
        (lifecycle_rule(Expiration={"Days": 8}), set()),
        (lifecycle_rule("", "Disabled", Expiration={"Days": 1}), set()),
        (lifecycle_rule(NoncurrentVersionExpiration={"NoncurrentDays": 2}), {C03}),
        (lifecycle_rule(Expiration={"Date": "2025-06-01T00:00:00.000Z"}), {C03}),
        (lifecycle_rule(Expiration={"Date": "2027-06-01T00:00:00.000Z"}), set()),
        (lifecycle_rule(Expiration={"ExpiredObjectDeleteMarker": True}), set()),
        (lifecycle_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}), set()),
    ],
    ids=["7-days", "8-days", "disabled", "noncurrent", "past-date", "future-date",
         "delete-markers", "abort-uploads"],
)  # fmt: skip
def test_lifecycle_on_the_log_bucket(rule: dict[str, Any], expected: set[str]) -> None:
    assert fired((lifecycle_put("acme-cloudtrail-logs", rule),)) == expected


def test_lifecycle_configuration_event_name_and_rule_list() -> None:
    put = lifecycle_put(
        "acme-cloudtrail-logs",
        lifecycle_rule("tmp/", Expiration={"Days": 365}),
        lifecycle_rule("", "Disabled", Expiration={"Days": 1}),
        lifecycle_rule("AWSLogs/", Expiration={"Days": 3}),
    )
    put["eventName"] = "PutBucketLifecycleConfiguration"
    assert fired((put,)) == {C03}


def test_trail_prefix_in_any_bucket_and_tmp_prefix_elsewhere() -> None:
    trail = lifecycle_put("acme-archive", lifecycle_rule("AWSLogs/", Expiration={"Days": 5}))
    assert fired((trail,), settings=UNCONFIGURED) == {C03}
    scratch = lifecycle_put("acme-scratch", lifecycle_rule("tmp/", Expiration={"Days": 3}))
    assert fired((scratch,), settings=UNCONFIGURED) == set()


def test_lifecycle_absent_bodies_by_what_aws_does() -> None:
    """REST.PUT.LIFECYCLE carries no rules: not judged. DeleteBucketLifecycle removes every
    rule whatever its body: a recovery-control change on a data bucket, nothing on a log
    bucket (logs are kept longer)."""
    line = dict(bytes_sent=0, object_size=0, requester=ADMIN["arn"])
    put = access_line("REST.PUT.LIFECYCLE", "acme-cloudtrail-logs", None, **line)
    assert fired(access_lines=(put,)) == set()
    gone = access_line("REST.DELETE.LIFECYCLE", "acme-data", None, status=204, **line)
    assert fired(access_lines=(gone,)) == {C05}
    gone_logs = access_line("REST.DELETE.LIFECYCLE", "acme-s3-access-logs", None, **line)
    assert fired(access_lines=(gone_logs,), settings=UNCONFIGURED) == set()


# --- 6. Other absent bodies ------------------------------------------------------------------
def test_put_bucket_logging_bodies() -> None:
    """Without LoggingEnabled AWS turns logging off; without a body nothing is known."""
    off = record("PutBucketLogging", "s3.amazonaws.com",
                 {"bucketName": "acme-data", "BucketLoggingStatus": {}, "logging": ""})  # fmt: skip
    assert fired((off,)) == {"s3_access_logging_disabled"}
    unknown = access_line("REST.PUT.LOGGING_STATUS", "acme-data", None, bytes_sent=0,
                          object_size=0, requester=ADMIN["arn"])  # fmt: skip
    assert fired(access_lines=(unknown,)) == set()


def test_log_bucket_policy_deny_by_meaning() -> None:
    deny_tls = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::acme-cloudtrail-logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    params = {"bucketName": "acme-cloudtrail-logs",
              "bucketPolicy": {"Version": "2012-10-17", "Statement": [deny_tls]}}  # fmt: skip
    assert fired((record("PutBucketPolicy", "s3.amazonaws.com", params),)) == set()
    deny_all = {**deny_tls, "Condition": {"StringNotEquals": {"aws:PrincipalArn": "x"}}}
    params["bucketPolicy"] = {"Version": "2012-10-17", "Statement": [deny_all]}
    assert fired((record("PutBucketPolicy", "s3.amazonaws.com", params),)) == {C03}


def test_instance_role_usual_public_network_is_its_habit() -> None:
    """C15 is judged against the role's usual network: the engine records a finding from a
    public /24 the role used on earlier days as ``habit``; a foreign endpoint never is."""
    rule = load_all()[C15]
    public = rule.findings(example_events(Example("s", (instance_call(ip="44.199.113.6"),))),
                           example_settings())  # fmt: skip
    assert [rule.habit_of(f) for f in public] == [("public_networks", "44.199.113.0/24")]
    call = instance_call(ip="172.31.5.9", vpcEndpointId="vpce-0f00ba4",
                         vpcEndpointAccountId=FOREIGN)  # fmt: skip
    foreign = rule.findings(example_events(Example("s", (call,))), example_settings())
    assert [rule.habit_of(f) for f in foreign] == [None]
    assert [rule.learns_on(f) for f in public + foreign] == [True, False]
