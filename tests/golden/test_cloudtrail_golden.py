"""Golden conformance tests: CloudTrail records against the records themselves.

The oracle is ``expected_columns``: plain dict walking over the original JSON record,
written from ``docs/schema.md`` (not by calling project code). Every parsed row is compared
column by column with it, and every canonical column is covered (access-log-only columns
must be null). Samples, under ``<repo>/../shared/testdata/cloudtrail/``:

* ``s3_object_level_events.jsonl``: 32 S3 data events from Panther, OTRF, Elastic and AWS
  docs; each ``event`` is wrapped as ``{"Records": [event]}`` (a trail file) and parsed;
* ``elastic-integrations/*.log``: one JSON record per line, parsed as they are;
* ``stratus-red-team-detonations/*.json``: bare JSON arrays (310 attack events);
* ``aws-cloudtrail-processing-library/``: the AWS library's robustness set (compact,
  pretty, gzip, all-null, missing and unknown fields, invalid JSON).

CloudTrail records are decoded by two tiers that must agree: the bulk (native) tier and
the exact record-by-record tier it falls back to on input it cannot type. Each per-record
test runs on both (``tier``): the exact tier is forced by making the native one give up.

Deliberate differences from the oracles are listed in ``tests/golden/README.md``.
"""

from __future__ import annotations

import gzip
import importlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from detector.blob import Blob, ObjectRef
from detector.logtypes import ParseResult, parse_blobs
from detector.schema import COLUMN_NAMES

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
CT = TESTDATA / "cloudtrail"
if not CT.is_dir():
    # Fail, never skip: a run without the real samples must not look like a passing one.
    pytest.fail(
        f"shared testdata not found at {TESTDATA}: the golden tests need "
        "../shared/testdata beside the project",
        pytrace=False,
    )

JSONL = CT / "s3_object_level_events.jsonl"
ELASTIC = CT / "elastic-integrations"
STRATUS = CT / "stratus-red-team-detonations"
LIBRARY = CT / "aws-cloudtrail-processing-library"
BAD_JSON = "SerializerTestFileBadJsonFormat.json"

Row = dict[str, Any]
Json = dict[str, Any]


# --- the oracle: a record's expected columns, by plain dict walking -----------------------
SSE_NAMES = {
    # x-amz-server-side-encryption values
    "AES256": "SSE-S3",
    "aws:kms": "SSE-KMS",
    "aws:kms:dsse": "DSSE-KMS",
    # additionalEventData.SSEApplied values
    "SSE_S3": "SSE-S3",
    "Default_SSE_S3": "SSE-S3",
    "SSE_KMS": "SSE-KMS",
    "Default_SSE_KMS": "SSE-KMS",
    "DSSE_KMS": "DSSE-KMS",
    "SSE_C": "SSE-C",
}
SSE = "x-amz-server-side-encryption"
SSE_C = "x-amz-server-side-encryption-customer-algorithm"
SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"

ACCESS_LOG_ONLY = (
    "operation", "bucket_owner", "access_point_arn", "http_status", "object_size",
    "total_time_ms", "turnaround_time_ms", "request_uri", "referrer", "acl_required",
    "source_region", "extra_fields",
)  # fmt: skip
RAW_JSON = ("request_parameters", "response_elements", "additional_event_data")


def _obj(v: Any) -> Json:
    return v if isinstance(v, dict) else {}


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    return int(float(v))


def _time(v: Any, fallback: Any = None) -> datetime | None:
    """eventTime, else Logstash's ``@timestamp`` (OTRF exports); None when neither parses
    ("ThisIsAWrongEventTime" in the AWS library's MissField file): such a record has no
    place in event-time windows and is quarantined as ``bad_event_time``."""
    for text in (v, fallback):
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except (TypeError, ValueError):
            continue
    return None


def _bucket_account(rec: Json, bucket: str | None) -> str | None:
    """accountId of the AWS::S3::Bucket resource naming ``bucket``, else of the first one."""
    buckets = [
        r for r in rec.get("resources") or []
        if isinstance(r, dict) and r.get("type") == "AWS::S3::Bucket" and r.get("accountId")
    ]  # fmt: skip
    for r in buckets:
        arn = r.get("ARN") or ""
        if bucket and arn.startswith("arn:") and arn.split(":::", 1)[-1] == bucket:
            return str(r["accountId"])
    return str(buckets[0]["accountId"]) if buckets else None


def _sse(rp: Json, re_: Json, aed: Json) -> str | None:
    if rp.get(SSE_C) is not None or re_.get(SSE_C) is not None:
        return "SSE-C"
    named = next((v for v in (rp.get(SSE), re_.get(SSE), aed.get("SSEApplied")) if v), None)
    return SSE_NAMES.get(named) if isinstance(named, str) else None


def expected_columns(rec: Json) -> Row:
    """Every canonical column of one CloudTrail record, per docs/schema.md."""
    ui = _obj(rec.get("userIdentity"))
    issuer = _obj(_obj(ui.get("sessionContext")).get("sessionIssuer"))
    tls = _obj(rec.get("tlsDetails"))
    rp = _obj(rec.get("requestParameters"))
    re_ = _obj(rec.get("responseElements"))
    aed = _obj(rec.get("additionalEventData"))
    arn = _str(ui.get("arn"))
    bucket = _str(rp.get("bucketName"))
    tls_version = _str(tls.get("tlsVersion"))
    row: Row = {
        "source": "cloudtrail",
        "event_time": _time(rec.get("eventTime"), rec.get("@timestamp")),
        "event_id": rec.get("eventID"),
        "request_id": rec.get("requestID"),
        "event_name": rec.get("eventName"),
        "event_source": rec.get("eventSource"),
        "event_type": rec.get("eventType"),
        "aws_region": rec.get("awsRegion"),
        "principal_arn": arn,
        "principal_type": ui.get("type"),
        "principal_id": ui.get("principalId"),
        "account_id": ui.get("accountId"),
        "user_name": ui.get("userName") or issuer.get("userName"),
        "access_key_id": ui.get("accessKeyId"),
        "session_name": arn.split("/")[-1] if arn and ":assumed-role/" in arn else None,
        "session_issuer_arn": issuer.get("arn"),
        "invoked_by": ui.get("invokedBy"),
        "source_ip": rec.get("sourceIPAddress"),
        "user_agent": rec.get("userAgent"),
        "vpc_endpoint_id": rec.get("vpcEndpointId"),
        "vpc_endpoint_account_id": rec.get("vpcEndpointAccountId"),
        "tls_version": "TLSv" + tls_version[4:] if tls_version else None,
        "cipher_suite": tls.get("cipherSuite") or aed.get("CipherSuite"),
        "signature_version": aed.get("SignatureVersion"),
        "auth_method": aed.get("AuthenticationMethod"),
        "host_header": tls.get("clientProvidedHostHeader") or _str(rp.get("Host")),
        "bucket": bucket,
        "key": _str(rp.get("key")),
        "version_id": _str(rp.get("versionId")),
        "bucket_account_id": _bucket_account(rec, bucket),
        "recipient_account_id": rec.get("recipientAccountId"),
        "error_code": rec.get("errorCode"),
        "error_message": rec.get("errorMessage"),
        "bytes_out": _int(aed.get("bytesTransferredOut")),
        "bytes_in": _int(aed.get("bytesTransferredIn")),
        "read_only": rec.get("readOnly"),
        "management_event": rec.get("managementEvent"),
        "event_category": rec.get("eventCategory"),
        "sse": _sse(rp, re_, aed),
        "kms_key_id": rp.get(SSE_KMS_KEY) or re_.get(SSE_KMS_KEY),
    }
    row.update(dict.fromkeys(ACCESS_LOG_ONLY))
    return row


def compare_record(rec: Json, row: Row) -> None:
    """Assert one parsed row against its record, reporting every mismatch at once."""
    expected = expected_columns(rec)
    bad = [
        f"  {col}: expected {exp!r}, got {row[col]!r}"
        for col, exp in expected.items()
        if row[col] != exp
    ]
    for col, key in zip(
        RAW_JSON, ("requestParameters", "responseElements", "additionalEventData"), strict=True
    ):
        original = rec.get(key)
        got = None if row[col] is None else json.loads(row[col])
        if got != original:
            bad.append(f"  {col}: expected {original!r}, got {row[col]!r}")
    assert not bad, "mismatched columns:\n" + "\n".join(bad)


def test_oracle_covers_every_column() -> None:
    covered = set(expected_columns({})) | set(RAW_JSON) | {"origin_object", "origin_index"}
    assert covered == set(COLUMN_NAMES)


# --- parsing helpers ----------------------------------------------------------------------
TIERS = ("native", "exact")


def _blob(uri: str, key: str, data: bytes) -> Blob:
    return Blob(ObjectRef(uri=uri, key=key, size=len(data)), data)


def parse_in_tier(blobs: Sequence[Blob], tier: str) -> ParseResult:
    """``parse_blobs``; for ``exact``, with every native (DuckDB) query made to give up.

    The native tier raises ``NativeDecodeError`` on input it cannot type and the parser then
    decodes record by record; making its one query function raise forces that path for
    well-formed input too. Fails (never passes vacuously) if the switch point moved.
    """
    if tier == "native":
        return parse_blobs(blobs)
    native = importlib.import_module("detector.logtypes._cloudtrail_native")
    if not hasattr(native, "_query") or not hasattr(native, "NativeDecodeError"):
        pytest.fail("native-tier switch point moved (_cloudtrail_native._query)")
    calls: list[object] = []

    def gives_up(*args: object, **kwargs: object) -> Any:
        calls.append(args)
        raise native.NativeDecodeError("forced by tests/golden: exercise the exact tier")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native, "_query", gives_up)
        result = parse_blobs(blobs)
    if not calls:
        pytest.fail("the native tier was not entered through _query: exact tier not forced")
    return result


@cache
def parse_path(path: Path, tier: str = "native") -> ParseResult:
    return parse_in_tier([_blob(str(path), path.name, path.read_bytes())], tier)


def rows_by_index(result: ParseResult) -> dict[int, Row]:
    rows = result.events.to_pylist()
    by_index = {r["origin_index"]: r for r in rows}
    assert len(by_index) == len(rows), "two events share one origin_index"
    return by_index


# --- s3_object_level_events.jsonl ---------------------------------------------------------
JSONL_CASES: list[Json] = [
    json.loads(ln) for ln in JSONL.read_text().splitlines() if ln.strip()
]  # fmt: skip


def jsonl_uri(n: int) -> str:
    return f"{JSONL}#L{n + 1}"


@cache
def parse_jsonl(tier: str = "native") -> ParseResult:
    """All 32 events at once, each as its own one-record trail file."""
    blobs = []
    for n, case in enumerate(JSONL_CASES):
        data = json.dumps({"Records": [case["event"]]}).encode()
        blobs.append(_blob(jsonl_uri(n), f"s3_object_level_events-L{n + 1}.json", data))
    return parse_in_tier(blobs, tier)


@pytest.mark.parametrize("tier", TIERS)
def test_jsonl_parses_cleanly(tier: str) -> None:
    result = parse_jsonl(tier)
    assert len(JSONL_CASES) == 32
    assert result.rejects == []
    assert result.skipped == {}
    assert result.events.num_rows == len(JSONL_CASES)
    assert set(result.events.column("origin_index").to_pylist()) == {0}


def _jsonl_id(n: int) -> str:
    case = JSONL_CASES[n]
    return f"L{n + 1}-{case['event'].get('eventName')}-{case['source'].split()[0]}"


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("n", range(len(JSONL_CASES)), ids=_jsonl_id)
def test_jsonl_record(n: int, tier: str) -> None:
    rows = [r for r in parse_jsonl(tier).events.to_pylist() if r["origin_object"] == jsonl_uri(n)]
    assert len(rows) == 1
    compare_record(JSONL_CASES[n]["event"], rows[0])


def test_jsonl_sample_covers_the_interesting_fields() -> None:
    """The sample still holds what the brief promises (guards the oracle's reach)."""
    events = [c["event"] for c in JSONL_CASES]
    assert sum("vpcEndpointId" in e for e in events) == 10
    aed = [_obj(e.get("additionalEventData")) for e in events]
    assert sum("bytesTransferredOut" in a for a in aed) == 18
    sses = {expected_columns(e)["sse"] for e in events}
    assert {"SSE-KMS", "SSE-S3", "SSE-C"} <= sses
    assert any(expected_columns(e)["kms_key_id"] for e in events)
    assert any(expected_columns(e)["bucket_account_id"] for e in events)


def test_jsonl_literals() -> None:
    """A few values written out literally, so the oracle itself is checked too."""
    rows = {r["origin_object"]: r for r in parse_jsonl().events.to_pylist()}
    kms = rows[jsonl_uri(1)]  # Panther: CopyObject re-encrypting with a foreign KMS key
    assert kms["sse"] == "SSE-KMS"
    assert kms["kms_key_id"] == "arn:aws:kms:us-east-1:999999999999:key/attacker-key-id"
    assert kms["bucket_account_id"] is None  # only a KMS key resource has an accountId
    ssec = rows[jsonl_uri(5)]
    assert ssec["sse"] == "SSE-C"
    assert ssec["vpc_endpoint_id"] == "vpce-1a2b3c4d"
    otrf = rows[jsonl_uri(20)]  # OTRF export: no eventTime (Logstash's @timestamp instead)
    assert otrf["event_time"] == datetime(2020, 9, 14, 1, 0, 33, tzinfo=UTC)
    assert otrf["bytes_out"] == 500  # JSON 500.0
    assert otrf["bucket_account_id"] == "123456789123"
    assert otrf["session_issuer_arn"] == (
        "arn:aws:iam::123456789123:role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0"
    )
    copy = rows[jsonl_uri(29)]  # Elastic CopyObject: response AES256 + Default_SSE_S3
    assert copy["sse"] == "SSE-S3"
    assert copy["tls_version"] == "TLSv1.3"
    assert copy["bucket_account_id"] == "000000000"
    assert copy["bytes_out"] == 224
    outposts = rows[jsonl_uri(31)]  # AWS docs: S3 on Outposts, SSE-C, "Key" not "key"
    assert outposts["sse"] == "SSE-C"
    assert outposts["key"] is None
    assert outposts["bucket_account_id"] is None  # AWS::S3Outposts::Bucket is not S3::Bucket
    assert outposts["event_time"] == datetime(2020, 11, 30, 15, 44, 33, tzinfo=UTC)


# --- elastic-integrations/*.log -----------------------------------------------------------
ELASTIC_FILES = sorted(ELASTIC.glob("*.log"))


def _lines(path: Path) -> list[tuple[int, Json]]:
    text = path.read_text()
    return [(i, json.loads(ln)) for i, ln in enumerate(text.split("\n")) if ln.strip()]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("path", ELASTIC_FILES, ids=lambda p: p.name)
def test_elastic_file(path: Path, tier: str) -> None:
    result = parse_path(path, tier)
    records = _lines(path)
    assert result.rejects == []
    assert result.events.num_rows == len(records)
    rows = rows_by_index(result)
    for index, rec in records:
        compare_record(rec, rows[index])


# --- stratus-red-team-detonations/*.json --------------------------------------------------
STRATUS_FILES = sorted(STRATUS.glob("*.json"))


def test_stratus_total() -> None:
    blobs = [_blob(str(p), p.name, p.read_bytes()) for p in STRATUS_FILES]
    result = parse_blobs(blobs)
    expected = sum(len(json.loads(p.read_text())) for p in STRATUS_FILES)
    assert expected == 310
    assert result.rejects == []
    assert result.skipped == {}
    assert result.events.num_rows == expected
    for column in ("event_name", "event_time", "event_source"):
        assert result.events.column(column).null_count == 0, column


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("path", STRATUS_FILES, ids=lambda p: p.stem)
def test_stratus_file(path: Path, tier: str) -> None:
    result = parse_path(path, tier)
    records = json.loads(path.read_text())
    assert result.rejects == []
    assert result.events.num_rows == len(records)
    rows = rows_by_index(result)
    for index, rec in enumerate(records):
        compare_record(rec, rows[index])


@pytest.mark.parametrize(
    ("name", "event_name", "principal_arn", "request_parameters"),
    [
        (
            "cloudtrail-stop",
            "StopLogging",
            "arn:aws:iam::143434273843:user/christophe",
            {"name": "stratus-red-team-ct-stop-trail-buykxbqejv"},
        ),
        (
            "cloudtrail-delete",
            "DeleteTrail",
            "arn:aws:iam::847129010505:user/christophe",
            {"name": "stratus-red-team-cloudtraild-trail-kvrwohmiai"},
        ),
        (
            "cloudtrail-event-selectors",
            "PutEventSelectors",
            "arn:aws:iam::958312252124:user/christophe",
            {
                "eventSelectors": [
                    {
                        "dataResources": [
                            {"type": "AWS::S3::Object", "values": []},
                            {"type": "AWS::Lambda::Function", "values": []},
                        ],
                        "excludeManagementEventSources": [],
                        "includeManagementEvents": False,
                        "readWriteType": "ReadOnly",
                    }
                ],
                "trailName": "stratus-red-team-ctes-trail-khlvciwdor",
            },
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and not v.startswith("arn:") else None,
)
def test_stratus_defense_evasion(
    name: str, event_name: str, principal_arn: str, request_parameters: Json
) -> None:
    result = parse_path(STRATUS / f"aws.defense-evasion.{name}.json")
    (row,) = [r for r in result.events.to_pylist() if r["event_name"] == event_name]
    assert row["principal_arn"] == principal_arn
    assert row["principal_type"] == "IAMUser"
    assert row["user_name"] == "christophe"
    assert row["event_source"] == "cloudtrail.amazonaws.com"
    assert row["management_event"] is True
    assert row["read_only"] is False
    assert row["tls_version"] == "TLSv1.3"
    assert json.loads(row["request_parameters"]) == request_parameters


# --- aws-cloudtrail-processing-library ----------------------------------------------------
LIBRARY_FILES = sorted(p for p in LIBRARY.glob("Serializer*.json") if p.name != BAD_JSON)

# Deliberate difference from the AWS library: record 0 of these files has only unknown field
# names (eventVersionWrong, eventVersion1, ...), none of eventVersion/eventTime/eventName/
# eventSource/eventID. Such an object is not an event, so it is quarantined as
# not_cloudtrail_record (nothing lost) rather than kept as an all-null row.
LIBRARY_UNKNOWN_FIELDS = {
    "SerializerTestFileBadFieldName.json",
    "SerializerTestFileNewFieldName.json",
}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize(
    "path",
    [p for p in LIBRARY_FILES if p.name not in LIBRARY_UNKNOWN_FIELDS],
    ids=lambda p: p.name,
)
def test_library_file_counts(path: Path, tier: str) -> None:
    """Every record is an event, but those with no usable time (deliberately: see
    tests/golden/README.md), which are quarantined as ``bad_event_time``, one each."""
    records = json.loads(path.read_text())["Records"]
    untimed = [
        i for i, r in enumerate(records) if _time(r.get("eventTime"), r.get("@timestamp")) is None
    ]
    result = parse_path(path, tier)
    assert [(r.reason, r.origin_index, r.records) for r in result.rejects] == [
        ("bad_event_time", i, 1) for i in untimed
    ]
    assert result.events.num_rows == len(records) - len(untimed)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: p.name)
def test_library_file_fields(path: Path, tier: str) -> None:
    """Every row that is produced matches its record (whatever the row count)."""
    records = json.loads(path.read_text())["Records"]
    rows = rows_by_index(parse_path(path, tier))
    assert rows, "no rows at all"
    for index, row in rows.items():
        compare_record(records[index], row)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", sorted(LIBRARY_UNKNOWN_FIELDS))
def test_library_unknown_field_names_record_is_quarantined(name: str, tier: str) -> None:
    """What the parser does today with those files: nothing lost, nothing crashes."""
    path = LIBRARY / name
    records = json.loads(path.read_text())["Records"]
    result = parse_path(path, tier)
    (reject,) = result.rejects
    assert (reject.reason, reject.origin_index, reject.records) == ("not_cloudtrail_record", 0, 1)
    assert json.loads(reject.raw) == records[0]
    assert sorted(rows_by_index(result)) == [1]


def test_library_gzip_equals_plain() -> None:
    plain = parse_path(LIBRARY / "SerializerTestFileCompact.json")
    gz = parse_path(LIBRARY / "SerializerTestFileCompact.json.gz")
    assert gz.rejects == []
    assert json.loads(
        gzip.decompress((LIBRARY / "SerializerTestFileCompact.json.gz").read_bytes())
    ) == json.loads((LIBRARY / "SerializerTestFileCompact.json").read_text())
    assert gz.events.num_rows == plain.events.num_rows == 6
    assert gz.events.drop_columns(["origin_object"]).equals(
        plain.events.drop_columns(["origin_object"])
    )


def test_library_all_null_record_is_quarantined_for_its_time() -> None:
    """Record 0 has eventVersion "1.1" and every other field null, so no time: quarantined
    with its raw text; the other records are kept."""
    result = parse_path(LIBRARY / "SerializerAllFieldsNull.json")
    (reject,) = result.rejects
    assert (reject.reason, reject.origin_index) == ("bad_event_time", 0)
    assert json.loads(reject.raw)["eventVersion"] == "1.1"
    rows = rows_by_index(result)
    assert 0 not in rows
    assert rows[1]["event_name"] == "eventName2"


def test_library_wrong_event_time_is_quarantined() -> None:
    """MissField record 4 has eventTime "ThisIsAWrongEventTime": quarantined, raw kept."""
    result = parse_path(LIBRARY / "SerializerTestFileMissField.json")
    (reject,) = result.rejects
    assert (reject.reason, reject.origin_index) == ("bad_event_time", 3)
    assert b"ThisIsAWrongEventTime" in reject.raw
    rows = rows_by_index(result)
    assert 3 not in rows
    assert rows[2]["principal_arn"] is None  # userIdentity without type/arn


def test_library_bad_json_format() -> None:
    """SerializerTestFileBadJsonFormat.json: record 0's userIdentity lacks its ``}``.

    So record 0 swallows the rest of its own fields and JSON breaks where record 1 opens
    (``{`` where a key was expected; json.load: line 37 column 9, char 1293). Salvage rejects
    the damaged stretch (record 0, count unknown: records=None), resynchronises at the next
    ``{"eventVersion"``, and keeps record 1, which is valid on its own.
    """
    path = LIBRARY / BAD_JSON
    with pytest.raises(json.JSONDecodeError) as exc:
        json.loads(path.read_text())
    assert (exc.value.lineno, exc.value.colno, exc.value.pos) == (37, 9, 1293)
    records_text = path.read_text()
    result = parse_path(path)
    assert result.events.num_rows == 1
    (row,) = result.events.to_pylist()
    assert row["origin_index"] == 1
    assert row["event_name"] == "eventName2"
    (reject,) = result.rejects
    assert reject.reason == "invalid_json"
    assert reject.source == "cloudtrail"
    assert reject.origin_object == str(path)
    assert reject.origin_index == 0
    assert reject.records is None
    assert "char 1293" in reject.detail
    assert reject.raw.startswith(b'{\n            "eventVersion": "1.1"')
    assert b"eventName2" not in reject.raw
    assert records_text.count('"eventVersion"') == 2


@pytest.mark.parametrize("name", ["SQSMessageBody", "SQSMessageBodyWrongFormat"])
def test_library_sqs_bodies_are_not_logs(name: str) -> None:
    """SNS/SQS notification bodies name log files; they hold no events."""
    result = parse_path(LIBRARY / name)
    assert result.events.num_rows == 0
    (reject,) = result.rejects
    assert reject.reason == "unknown_format"
