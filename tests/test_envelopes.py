"""CloudTrail events as they arrive on Kinesis: EventBridge envelopes, CloudWatch Logs payloads."""

from __future__ import annotations

import gzip
import json

from conftest import ct_record

from detector.blob import Blob, ObjectRef
from detector.logtypes import parse_blobs


def blob(name: str, data: bytes) -> Blob:
    return Blob(ObjectRef(f"/x/{name}", name, len(data)), data)


def envelope(record: dict, detail_type: str = "AWS API Call via CloudTrail") -> dict:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "111122223333",
        "time": record.get("eventTime"),
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }


def test_eventbridge_lines_and_arrays() -> None:
    lines = [json.dumps(envelope(ct_record(i))) for i in range(3)]
    lines.append(json.dumps({"detail-type": "Object Created", "detail": {"bucket": {}}}))
    array = json.dumps([envelope(ct_record(10)), envelope(ct_record(11))]).encode()
    result = parse_blobs([blob("eb.jsonl", "\n".join(lines).encode()), blob("eb.json", array)])
    rows = result.events.to_pylist()
    assert sorted(r["request_id"] for r in rows) == [
        "REQ0000000000000",
        "REQ0000000000001",
        "REQ0000000000002",
        "REQ0000000000010",
        "REQ0000000000011",
    ]
    assert {r["source"] for r in rows} == {"cloudtrail"}
    assert rows[0]["principal_arn"] == "arn:aws:sts::111122223333:assumed-role/app/i-0abc"
    (reject,) = result.rejects
    assert reject.reason == "not_cloudtrail_event"
    assert reject.origin_index == 3
    assert "Object Created" in reject.detail


def cwl_payload(records: list[dict], message_type: str = "DATA_MESSAGE") -> dict:
    return {
        "messageType": message_type,
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-kinesis"],
        "logEvents": [
            {"id": str(i), "timestamp": 1, "message": json.dumps(r)} for i, r in enumerate(records)
        ],
    }


def test_cloudwatch_logs_payloads_gzipped_and_concatenated() -> None:
    one = json.dumps(cwl_payload([ct_record(i) for i in range(4)]))
    control = json.dumps(cwl_payload([], "CONTROL_MESSAGE"))
    two = json.dumps(cwl_payload([ct_record(20)]))
    data = gzip.compress((one + control + two).encode())  # Firehose concatenates payloads
    result = parse_blobs([blob("cwl.gz", data)])
    assert result.events.num_rows == 5
    assert result.events.column("origin_index").to_pylist() == [0, 1, 2, 3, 4]
    assert result.skipped == {"cloudwatch_control_message": 1}
    assert result.rejects == []


def test_cloudwatch_message_that_is_not_json_is_rejected_alone() -> None:
    payload = cwl_payload([ct_record(1), ct_record(2)])
    payload["logEvents"][1]["message"] = "not json {"
    result = parse_blobs([blob("cwl.json", json.dumps(payload).encode())])
    assert result.events.column("request_id").to_pylist() == ["REQ0000000000001"]
    (reject,) = result.rejects
    assert (reject.reason, reject.origin_index) == ("invalid_json", 1)


def test_cloudtrail_record_with_invalid_utf8_is_rejected_alone() -> None:
    good = json.dumps({"Records": [ct_record(1), ct_record(2), ct_record(3)]}).encode()
    bad = good.replace(b'"[aws-sdk-java/2.25.1]"', b'"caf\xe9"', 1)  # latin-1 byte in record 0
    result = parse_blobs([blob("AWSLogs/1/CloudTrail/us-east-1/2026/11/02/x.json", bad)])
    assert result.events.column("request_id").to_pylist() == [
        "REQ0000000000002",
        "REQ0000000000003",
    ]
    (reject,) = result.rejects
    assert (reject.reason, reject.origin_index, reject.records) == ("invalid_utf8", 0, 1)
