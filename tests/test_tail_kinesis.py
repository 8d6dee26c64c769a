"""``detector run`` of a Kinesis pipeline end to end: two shards, both record shapes, sinks.

The bundled day's CloudTrail records go onto a two-shard stream in delivery order, half as
EventBridge envelopes and half as gzipped CloudWatch Logs subscription payloads; a pipeline
file (Slack webhook from the environment, SNS topic) runs the tail until idle. The lake must
hold every CloudTrail event once, the alerts must be backfill's, and a restart must read
nothing again. Metrics are scraped from the Prometheus port while it runs.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import SlackReceiver, committed_checkpoints, free_port
from test_tail_sqs import DEMO_CONFIG, SAMPLE, slack_alert_ids, sns_alert_ids, sns_to_queue

from detector.lake import read_events
from detector.sources.keydates import key_time

STREAM = "cloudtrail-events"
HASH_KEYS = ("0", str(2**127 + 1))
"""ExplicitHashKey values that land in the first and the second of two even shards."""


def trail_records() -> list[dict[str, Any]]:
    """The bundled day's CloudTrail records, file by file in delivery order."""
    files = sorted(
        (p for p in (SAMPLE / "AWSLogs").rglob("*.json.gz") if "/CloudTrail/" in str(p)),
        key=lambda p: (key_time(str(p.relative_to(SAMPLE))), p.name),
    )
    return [r for f in files for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]]


def envelope(record: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "version": "0",
            "id": record["eventID"],
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "account": record.get("recipientAccountId"),
            "time": record["eventTime"],
            "region": record.get("awsRegion"),
            "resources": [],
            "detail": record,
        }
    ).encode()


def cwl_payload(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress(
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "owner": "418295730164",
                "logGroup": "cloudtrail",
                "logStream": "418295730164_CloudTrail_us-east-1",
                "subscriptionFilters": ["kinesis"],
                "logEvents": [
                    {"id": str(i), "timestamp": 0, "message": json.dumps(r)}
                    for i, r in enumerate(records)
                ],
            }
        ).encode()
    )


def put_day(kinesis: Any) -> int:
    """Shard 0: one envelope per record; shard 1: payloads of 25 records. Returns records."""
    records = trail_records()
    entries: list[dict[str, Any]] = []
    for start in range(0, len(records), 50):
        chunk = records[start : start + 50]
        entries += [
            {"Data": envelope(r), "PartitionKey": "eb", "ExplicitHashKey": HASH_KEYS[0]}
            for r in chunk[:25]
        ]
        entries.append(
            {
                "Data": cwl_payload(chunk[25:]),
                "PartitionKey": "cwl",
                "ExplicitHashKey": HASH_KEYS[1],
            }
        )
    for i in range(0, len(entries), 400):
        resp = kinesis.put_records(StreamName=STREAM, Records=entries[i : i + 400])
        assert resp["FailedRecordCount"] == 0
    return len(records)


def pipeline_file(tmp_path: Path, lake: Path, topic: str, metrics_port: int) -> Path:
    path = tmp_path / "tail-kinesis.toml"
    path.write_text(f"""
[source]
kind = "kinesis"
stream = "{STREAM}"
start = "trim-horizon"

[lake]
path = "{lake}"

[detect]
config = "{DEMO_CONFIG}"
checkpoint_seconds = 5

[[sinks]]
kind = "slack"
value = "env:TEST_SLACK_WEBHOOK"
min_severity = "low"

[[sinks]]
kind = "sns"
value = "{topic}"

[run]
metrics_port = {metrics_port}
status_seconds = 1
log_format = "json"
""")
    return path


@pytest.fixture
def cloudtrail_reference(tmp_path: Path) -> set[str]:
    """Backfill of the same CloudTrail files: the alerts the tail must give."""
    out = tmp_path / "reference.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "detector.cli",
            "backfill",
            str(SAMPLE / "AWSLogs"),
            "--lake",
            str(tmp_path / "reference-lake"),
            "--config",
            str(DEMO_CONFIG),
            "--no-progress",
            "--alerts",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return {json.loads(line)["alert_id"] for line in out.read_text().splitlines()}


def test_kinesis_pipeline_end_to_end(
    aws: str, tmp_path: Path, cloudtrail_reference: set[str], slack_receiver: SlackReceiver
) -> None:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    n = put_day(kinesis)
    topic, subscriber = sns_to_queue()
    lake = tmp_path / "lake"
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "detector.cli",
        "run",
        str(pipeline_file(tmp_path, lake, topic, port)),
        "--until-idle",
        "4",
    ]
    env = {**os.environ, "TEST_SLACK_WEBHOOK": slack_receiver.url}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scraped = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            scraped = (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                .read()
                .decode()
            )
            if "detector_events_total{" in scraped:
                break
        except OSError:
            pass
        time.sleep(0.3)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert 'detector_events_total{source="cloudtrail"}' in scraped
    assert "detector_batch_latency_seconds_bucket" in scraped
    status = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("status" in s for s in status)  # JSON log lines with the status numbers
    assert slack_receiver.url not in out + err

    events = read_events(lake)
    assert events.num_rows == n
    assert len(set(events.column("event_id").to_pylist())) == n
    assert sorted(slack_alert_ids(slack_receiver)) == sorted(cloudtrail_reference)
    assert sorted(sns_alert_ids(subscriber)) == sorted(cloudtrail_reference)

    positions = {k: v for c in committed_checkpoints(lake) for k, v in c["kinesis"][STREAM].items()}
    assert len(positions) == 2

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_events(lake).num_rows == n  # the restart continued after the checkpoints
    assert len(slack_receiver.delivered()) == len(cloudtrail_reference)
