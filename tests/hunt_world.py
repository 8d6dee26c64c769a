"""A small handcrafted lake whose every saved-hunt answer is known (used by test_hunt*.py).

Accounts: ours 111122223333, foreign 999988887777. Principals: roles ``app`` and ``etl``,
user ``alice`` (ours), user ``mallory`` (foreign), anonymous callers. History on
2026-10-26..2026-11-01 (app 1000 and etl 2000 bytes out a day, through our VPC endpoint);
then on 2026-11-02 the events below, numbered by ``n`` (CloudTrail eventID and request id
derive from it, as in conftest's ``ct_record``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import CT_KEY, ct_record, trail_file

OURS = "111122223333"
FOREIGN = "999988887777"
APP = f"arn:aws:iam::{OURS}:role/app"
ETL = f"arn:aws:iam::{OURS}:role/etl"
ALICE = f"arn:aws:iam::{OURS}:user/alice"
MALLORY = f"arn:aws:iam::{FOREIGN}:user/mallory"
SESSIONS = {
    APP: f"arn:aws:sts::{OURS}:assumed-role/app/i-0abc",
    ETL: f"arn:aws:sts::{OURS}:assumed-role/etl/job-1",
}
KEYS = {APP: "ASIAAPP", ETL: "ASIAETL", ALICE: "AKIAALICE", MALLORY: "AKIAMALLORY"}
VPCE_OURS = "vpce-0ours"
VPCE_THEIRS = "vpce-0theirs"
DAY = "2026-11-02"
ALERT_ID = "a1b2c3d4e5f6a1b2c3d4e5f6"
DEFAULT_UA = "[aws-sdk-java/2.25.1]"


def event_id(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def request_id(n: int) -> str:
    return f"REQ{n:013d}"


def identity(who: str | None) -> dict[str, Any]:
    if who is None:
        return {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    account = who.split(":")[4]
    if who in SESSIONS:
        role = who.rsplit("/", 1)[1]
        return {
            "type": "AssumedRole",
            "principalId": f"AROA{role.upper()}:s",
            "arn": SESSIONS[who],
            "accountId": account,
            "accessKeyId": KEYS[who],
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": who, "userName": role}},
        }
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{who.rsplit('/', 1)[1].upper()}",
        "arn": who,
        "accountId": account,
        "accessKeyId": KEYS[who],
        "userName": who.rsplit("/", 1)[1],
    }


def ct(
    n: int,
    when: str | None,
    name: str = "GetObject",
    who: str | None = APP,
    *,
    bucket: str = "data",
    key: str | None = None,
    ip: str = "10.0.0.5",
    ua: str = DEFAULT_UA,
    vpce: tuple[str, str] | None = None,
    bucket_account: str = OURS,
    bytes_out: int | None = None,
    bytes_in: int | None = None,
    auth: str = "AuthHeader",
    error: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    data = name in ("GetObject", "PutObject", "DeleteObject", "DeleteObjects", "ListObjects")
    params: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com"}
    if key:
        params["key"] = key
    if version:
        params["versionId"] = version
    extra: dict[str, Any] = {
        "SignatureVersion": "SigV4",
        "AuthenticationMethod": auth,
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
    }
    if data:
        extra |= {"bytesTransferredOut": bytes_out or 0, "bytesTransferredIn": bytes_in or 0}
    rec = ct_record(
        n,
        userIdentity=identity(who),
        eventName=name,
        sourceIPAddress=ip,
        userAgent=ua,
        requestParameters=params,
        additionalEventData=extra,
        readOnly=name.startswith(("Get", "List")),
        managementEvent=not data,
        eventCategory="Data" if data else "Management",
        tlsDetails={
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{bucket}.s3.amazonaws.com",
        },
        resources=[
            {
                "accountId": bucket_account,
                "type": "AWS::S3::Bucket",
                "ARN": f"arn:aws:s3:::{bucket}",
            }
        ],
    )
    if when is None:
        del rec["eventTime"]
    else:
        rec["eventTime"] = when
    if vpce:
        rec["vpcEndpointId"], rec["vpcEndpointAccountId"] = vpce
    if error:
        rec["errorCode"], rec["errorMessage"] = error, "Access Denied"
    return rec


def sal(
    n: int,
    when: str,
    who: str | None = APP,
    *,
    bucket: str = "data",
    op: str = "REST.GET.OBJECT",
    key: str = "k/x",
    status: int = 200,
    bytes_sent: int = 0,
    ip: str = "10.0.0.5",
    ua: str = "aws-sdk-java/2.25.1",
    tls: bool = True,
    auth: str = "AuthHeader",
    version: str = "-",
) -> str:
    """One 27-field access-log line for request ``n`` (same request id as CloudTrail's)."""
    t = datetime.fromisoformat(when.replace("Z", "+00:00"))
    requester = "-" if who is None else SESSIONS.get(who, who)
    method = {"REST.GET.OBJECT": "GET", "BATCH.DELETE.OBJECT": "POST"}.get(op, "GET")
    cipher, version_tls = ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2") if tls else ("-", "-")
    return (
        f"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be {bucket} "
        f"[{t:%d/%b/%Y:%H:%M:%S} +0000] {ip} {requester} {request_id(n)} {op} {key} "
        f'"{method} /{bucket}/{key} HTTP/1.1" {status} - {bytes_sent or "-"} 5000 7 3 '
        f'"-" "{ua}" {version} hostid{n}= SigV4 {cipher} {auth} '
        f"{bucket}.s3.us-east-1.amazonaws.com {version_tls} - - us-east-1"
    )


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00Z"


def world() -> tuple[list[dict[str, Any]], list[str]]:
    records: list[dict[str, Any]] = []
    lines: list[str] = []
    start = datetime(2026, 10, 26, tzinfo=UTC)
    for k in range(7):
        day = (start + timedelta(days=k)).strftime("%Y-%m-%d")
        records.append(
            ct(
                1 + k,
                at("09:00", day),
                who=APP,
                key=f"h/{k}",
                vpce=(VPCE_OURS, OURS),
                bytes_out=1000,
            )
        )
        records.append(
            ct(
                11 + k,
                at("09:30", day),
                who=ETL,
                key=f"h/{k}",
                vpce=(VPCE_OURS, OURS),
                bytes_out=2000,
            )
        )
    records += [
        ct(21, at("10:00"), who=APP, key="k/21", vpce=(VPCE_OURS, OURS), bytes_out=1500),
        ct(22, at("10:01"), who=APP, key="k/22", bytes_out=500),
        ct(
            23,
            at("10:02"),
            who=ETL,
            key="k/23",
            ip="203.0.113.9",
            ua="rclone/v1.65.0",
            bytes_out=20000,
        ),
        ct(
            24,
            at("10:03"),
            who=APP,
            key="k/24",
            ip="10.0.0.6",
            vpce=(VPCE_THEIRS, FOREIGN),
            bytes_out=700,
        ),
        ct(
            25,
            at("10:04"),
            who=APP,
            bucket="partner-drop",
            key="in/25",
            vpce=(VPCE_OURS, OURS),
            bucket_account=FOREIGN,
            bytes_out=300,
        ),
        ct(
            26,
            at("10:05"),
            "PutObject",
            who=APP,
            bucket="partner-drop",
            key="in/26",
            vpce=(VPCE_OURS, OURS),
            bucket_account=FOREIGN,
            bytes_in=5000,
        ),
        ct(
            27,
            at("10:06"),
            who=MALLORY,
            key="k/27",
            ip="198.51.100.66",
            ua="aws-cli/2.15.0",
            bytes_out=9000,
        ),
        ct(
            28,
            at("10:07"),
            who=ALICE,
            key="k/28",
            ip="203.0.113.50",
            ua="Mozilla/5.0",
            auth="QueryString",
            bytes_out=800,
        ),
        ct(
            29,
            at("10:08"),
            who=None,
            bucket="www",
            key="index.html",
            ip="203.0.113.78",
            ua="curl/8.4.0",
            bytes_out=50,
        ),
    ]
    cli = "aws-cli/2.15.0"
    records += [
        ct(31, at("11:00"), "PutBucketPolicy", who=ALICE, ip="198.51.100.7", ua=cli),
        ct(32, at("11:01"), "PutBucketAcl", who=ALICE, ip="198.51.100.7", ua=cli),
        ct(33, at("11:02"), "PutBucketVersioning", who=ALICE, ip="198.51.100.7", ua=cli),
        ct(34, at("11:03"), "PutBucketLifecycle", who=ALICE, ip="198.51.100.7", ua=cli),
        ct(35, at("11:04"), "PutBucketLogging", who=ETL, ip="10.0.0.9", vpce=(VPCE_OURS, OURS)),
        ct(36, at("11:05"), "PutBucketEncryption", who=ETL, ip="10.0.0.9", vpce=(VPCE_OURS, OURS)),
        ct(
            37,
            at("11:06"),
            "DeleteBucketPublicAccessBlock",
            who=MALLORY,
            ip="198.51.100.66",
            ua=cli,
            error="AccessDenied",
        ),
        ct(38, at("11:07"), "GetBucketPolicy", who=ALICE, ip="198.51.100.7", ua=cli),
        ct(41, at("12:05"), "DeleteObject", who=ETL, key="k/d1"),
        ct(42, at("12:20"), "DeleteObject", who=ETL, key="k/d2", version="v1"),
        ct(43, at("12:40"), "DeleteObject", who=ETL, key="k/d3"),
        ct(44, at("13:10"), "DeleteObjects", who=ETL),
        ct(45, at("13:15"), "DeleteObject", who=APP, key="k/d5", error="AccessDenied"),
    ]
    lines += [
        sal(
            23,
            at("10:02"),
            ETL,
            key="k/23",
            ip="203.0.113.9",
            ua="rclone/v1.65.0",
            bytes_sent=20000,
        ),
        sal(27, at("10:06"), MALLORY, key="k/27", ip="198.51.100.66", bytes_sent=9000),
        sal(44, at("13:10"), ETL, op="BATCH.DELETE.OBJECT", key="k/a", status=204),
        sal(44, at("13:10"), ETL, op="BATCH.DELETE.OBJECT", key="k/b", status=204),
        sal(51, at("14:00"), APP, key="k/plain", ip="10.0.0.7", bytes_sent=42, tls=False),
        sal(
            52,
            at("14:01"),
            None,
            bucket="www",
            key="index.html",
            ip="203.0.113.77",
            ua="curl/8.4.0",
            bytes_sent=1234,
        ),
        sal(
            53,
            at("14:02"),
            ALICE,
            key="k/shared",
            ip="203.0.113.51",
            bytes_sent=64,
            auth="QueryString",
        ),
    ]
    return records, lines


def write_logs(root: Path) -> Path:
    """The world's CloudTrail file, access-log file, and one broken file (quarantined)."""
    records, lines = world()
    (root / CT_KEY).mkdir(parents=True, exist_ok=True)
    (root / CT_KEY / "world.json.gz").write_bytes(trail_file(records))
    (root / CT_KEY / "broken.json.gz").write_bytes(b"this is not gzip and not a log")
    access = root / "s3-access-logs" / "data"
    access.mkdir(parents=True, exist_ok=True)
    (access / "2026-11-02-14-05-00-0123456789ABCDEF").write_text("\n".join(lines) + "\n")
    return root


def add_alert(lake: Path) -> None:
    """One committed alert whose evidence is mallory's read (27) and an anonymous line (52)."""
    from detector.alerts import Alert, write_parquet
    from detector.lake import BatchFiles, Lake, new_batch_id

    alert = Alert(
        alert_id=ALERT_ID,
        detection="test",
        capabilities=["C01"],
        attack=[],
        title="t",
        severity="high",
        score=1.0,
        principal=MALLORY,
        account_id=FOREIGN,
        first_seen=at("10:06"),
        last_seen=at("14:01"),
        detected_at=at("14:01"),
        evidence_event_ids=[event_id(27), request_id(52)],
        evidence_total=2,
        buckets=["data"],
        source_ips=[],
        user_agents=[],
        vpc_endpoint_ids=[],
        reasons=[],
        runbook="",
    )
    batch = new_batch_id()
    rel = f"alerts/part-{batch}.parquet"
    write_parquet([alert], lake / rel)
    Lake(lake).commit(BatchFiles(batch, [], files=[rel]))


def add_untimed_event(lake: Path) -> None:
    """Event 60 without a time, committed as lakes written before ``bad_event_time`` held
    such events (under ``date=unknown``): the views must still read them."""
    import pyarrow as pa

    from detector.blob import Blob, ObjectRef
    from detector.lake import BatchFiles, Lake, new_batch_id
    from detector.logtypes import parse_blobs

    data = trail_file([ct(60, at("00:00"), "ListObjects", who=APP, vpce=(VPCE_OURS, OURS))])
    key = CT_KEY + "legacy.json.gz"
    events = parse_blobs([Blob(ObjectRef(key, key, len(data)), data)]).events
    column = events.schema.get_field_index("event_time")
    events = events.set_column(column, "event_time", pa.nulls(1, events.schema[column].type))
    batch = new_batch_id()
    rel = f"events/source=cloudtrail/date=unknown/part-{batch}-0.parquet"
    Lake(lake).write_file(rel, events)
    Lake(lake).commit(BatchFiles(batch, [], files=[rel]))


def build_lake(root: Path) -> Path:
    from detector.cli import main

    logs = write_logs(root / "logs")
    lake = root / "lake"
    summary = root / "summary.json"
    assert (
        main(
            [
                "backfill",
                str(logs),
                "--lake",
                str(lake),
                "--lake-format",
                "parquet",  # the hunts' fixture adds files the Parquet lake's way
                "--no-detect",
                "--no-progress",
                "--summary",
                str(summary),
            ]
        )
        == 0
    )
    counts = json.loads(summary.read_text())["events"]["by_source"]
    records, lines = world()
    assert counts == {"cloudtrail": len(records), "s3_access": len(lines)}
    add_untimed_event(lake)
    add_alert(lake)
    return lake
