"""Poison never stalls a tail: every queue body and stream record of any shape is quarantined
and acknowledged, good input beside it goes on, receive counts bound every retry (a message
that kills the process too), and a batch that fails after detection is retried on the state
of the last commit, not on one it already changed.

SQS and Kinesis run on the moto server; the retry test runs the tail loop in-process on a
list of units of work (the source is not what it tests).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import CT_KEY, REPO, ct_record, trail_file
from hostile_corpus import SQS_POISON, deep_json, gzip_bomb
from test_tail_kinesis import envelope
from test_tail_sqs import DEMO_CONFIG, event_rows, quiet_bucket, sample_objects

from detector import failpoints
from detector.blob import Blob, ObjectRef
from detector.detect import DetectionRun, DetectOptions
from detector.lake import read_events, read_quarantine
from detector.lakes import open_lake
from detector.sources.stream import Work
from detector.tail import Tail, TailOptions

POISON_REASONS = {"poison_message", "unknown_notification"}


def queue_state(queue: str) -> tuple[int, int]:
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
        "Attributes"
    ]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    )


def tail(
    kind: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "detector.cli",
            "tail",
            kind,
            *args,
            "--status-seconds",
            "0",
            "--until-idle",
            "3",
            "--no-detect",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_sqs_poison_of_every_shape_is_quarantined_and_good_messages_go_on(
    aws: str, tmp_path: Path
) -> None:
    s3, queue = quiet_bucket("logs")
    s3.put_object(
        Bucket="logs",
        Key=CT_KEY + "good.json.gz",
        Body=trail_file([ct_record(i) for i in range(20)]),
    )
    sqs = boto3.client("sqs")
    for body in SQS_POISON.values():
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"s3Bucket": "logs", "s3ObjectKey": [CT_KEY + "good.json.gz"]}),
    )
    lake = tmp_path / "lake"
    run = tail("sqs", "--queue-url", queue, "--lake", str(lake), "--wait", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert read_events(lake).num_rows == 20
    quarantine = read_quarantine(lake).to_pylist()
    bodies = {r["raw"].decode() for r in quarantine}
    # huge_key and control_chars name no valid object: poison too
    assert bodies == set(SQS_POISON.values())
    assert {r["reason"] for r in quarantine} <= POISON_REASONS
    assert queue_state(queue) == (0, 0)


def test_a_bomb_behind_a_notification_is_quarantined_beside_a_good_object(
    aws: str, tmp_path: Path
) -> None:
    s3, queue = quiet_bucket("logs")
    s3.put_object(
        Bucket="logs",
        Key=CT_KEY + "good.json.gz",
        Body=trail_file([ct_record(i) for i in range(20)]),
    )
    s3.put_object(Bucket="logs", Key=CT_KEY + "bomb.json.gz", Body=gzip_bomb(2 << 30))
    s3.put_object(Bucket="logs", Key=CT_KEY + "huge.json", Body=b"[" + b" " * (3 << 20))
    boto3.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(
            {
                "s3Bucket": "logs",
                "s3ObjectKey": [CT_KEY + k for k in ("good.json.gz", "bomb.json.gz", "huge.json")],
            }
        ),
    )
    lake = tmp_path / "lake"
    run = tail(
        "sqs", "--queue-url", queue, "--lake", str(lake), "--wait", "1", "--max-object-mb", "2"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert read_events(lake).num_rows == 20
    reasons = {
        r["origin_object"].rsplit("/", 1)[1]: r["reason"] for r in read_quarantine(lake).to_pylist()
    }
    assert reasons == {"bomb.json.gz": "decompression_bomb", "huge.json": "object_too_large"}
    assert queue_state(queue) == (0, 0)


def test_a_message_that_kills_the_process_is_quarantined_after_max_receives(
    aws: str, tmp_path: Path
) -> None:
    """No redrive policy: the receive count still bounds the crash loop."""
    s3, queue = quiet_bucket("logs")
    boto3.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    s3.put_object(Bucket="logs", Key=CT_KEY + "killer.json.gz", Body=trail_file([ct_record(1)]))
    boto3.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"s3Bucket": "logs", "s3ObjectKey": [CT_KEY + "killer.json.gz"]}),
    )
    lake = tmp_path / "lake"
    args = ("--queue-url", queue, "--lake", str(lake), "--wait", "1", "--max-receives", "2")
    kill = {"DETECTOR_FAILPOINTS": "parse.object:1"}  # dies reading the object
    for _ in range(2):
        died = tail("sqs", *args, env=kill)
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    last = tail("sqs", *args, env=kill)
    assert last.returncode == 0, last.stderr[-3000:]
    (reject,) = read_quarantine(lake).to_pylist()
    assert reject["reason"] == "repeated_failure"
    assert "received 3 times" in reject["detail"]
    assert queue_state(queue) == (0, 0)


def kinesis_stream(name: str = "trail") -> Any:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    return kinesis


KINESIS_POISON: dict[str, bytes] = {
    "bomb": gzip_bomb(512 << 20),
    "deep": deep_json(100_000),
    "garbage": b"\x00\xff\xfe not a record",
    "not_utf8": b'{"detail-type": "AWS API Call via CloudTrail", "detail": "\xff\xfe"}',
    "detail_text": json.dumps(
        {"detail-type": "AWS API Call via CloudTrail", "detail": "x"}
    ).encode(),
    "truncated_gzip": gzip.compress(envelope(ct_record(7)))[:40],
    "payload_wrong_types": gzip.compress(
        json.dumps({"messageType": "DATA_MESSAGE", "logEvents": "x"}).encode()
    ),
}


def test_kinesis_poison_records_cost_only_themselves(aws: str, tmp_path: Path) -> None:
    kinesis = kinesis_stream()
    good = [ct_record(i) for i in range(10)]
    records = (
        [envelope(r) for r in good[:5]]
        + list(KINESIS_POISON.values())
        + [envelope(r) for r in good[5:]]
    )
    for data in records:
        kinesis.put_record(StreamName="trail", Data=data, PartitionKey="p")
    lake = tmp_path / "lake"
    run = tail("kinesis", "--stream", "trail", "--lake", str(lake), "--max-object-mb", "64")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    ids = sorted(read_events(lake).column("event_id").to_pylist())
    assert ids == sorted(r["eventID"] for r in good)
    reasons = sorted(read_quarantine(lake).column("reason").to_pylist())
    assert len(reasons) == len(KINESIS_POISON)
    assert "decompression_bomb" in reasons and "truncated_gzip" in reasons
    again = tail("kinesis", "--stream", "trail", "--lake", str(lake))
    assert again.returncode == 0 and read_events(lake).num_rows == len(good)


# --- a failed commit is retried on the state of the last commit ----------------------------
class ListSource:
    """Units of work from a list; a released unit comes back first (as SQS would)."""

    name = "list"

    def __init__(self, units: list[list[Blob]]) -> None:
        self.units = list(units)

    def resume(self, checkpoints: list[dict[str, Any]]) -> None:
        return None

    def poll(self) -> Work | None:
        if not self.units:
            return None
        blobs = self.units.pop(0)
        work = Work(blobs=blobs, objects=[b.ref for b in blobs], messages=len(blobs))
        work.release = lambda: self.units.insert(0, blobs)
        return work

    def lag(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        return None


def sample_units(per_unit: int = 120) -> list[list[Blob]]:
    blobs = []
    for key, path in sample_objects():
        data = path.read_bytes()
        blobs.append(Blob(ObjectRef(str(path), key, len(data)), data))
    return [blobs[i : i + per_unit] for i in range(0, len(blobs), per_unit)]


def tail_in_process(lake: Path, fmt: str = "parquet") -> tuple[set[str], int]:
    """The sample day through the tail loop: (alert ids, batches that failed)."""
    detection = DetectionRun.open(open_lake(lake, fmt), DetectOptions(config=DEMO_CONFIG))
    runner = Tail(
        ListSource(sample_units()), TailOptions(lake, until_idle=0.0, status_seconds=0), detection
    )
    runner.run()
    failed = int(runner.metrics.snapshot()["failures"])
    alerts = read_quarantine(lake)  # the lake's own record, not the run's memory
    assert alerts.num_rows == 0
    return {a.alert_id for a in detection.alerts()}, failed


@pytest.fixture
def armed() -> Iterator[None]:
    yield
    failpoints.arm("")


@pytest.mark.parametrize(
    ("fmt", "failure"),
    [
        ("parquet", "lake.commit:7-7=enospc"),
        ("parquet", "lake.commit:8-8=eio"),
        ("iceberg", "lake.commit:7-7=enospc"),
        # after the events table committed: the half-made group is rolled back, then retried
        ("iceberg", "iceberg.after.events:3-3=eio"),
    ],
)
def test_a_failed_batch_is_retried_on_the_last_committed_state(
    tmp_path: Path, armed: None, fmt: str, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("detector.tail.RETRY_BACKOFF_MAX", 0.0)
    clean, failed = tail_in_process(tmp_path / "clean", fmt)
    assert len(clean) >= 5 and failed == 0
    failpoints.arm(failure)
    retried, failed = tail_in_process(tmp_path / "retried", fmt)
    assert failed == 1
    assert retried == clean
    assert lake_alert_ids(tmp_path / "retried") == lake_alert_ids(tmp_path / "clean") == clean
    assert event_rows(tmp_path / "retried") == event_rows(tmp_path / "clean")
    assert not list((tmp_path / "retried").rglob("*.tmp"))


def lake_alert_ids(lake: Path) -> set[str]:
    from detector.lake import read_alerts

    alerts = read_alerts(lake)
    assert alerts is not None, f"{lake} holds no alerts"
    return {
        i
        for i, status in zip(
            alerts.column("alert_id").to_pylist(), alerts.column("status").to_pylist(), strict=True
        )
        if status == "notify"
    }
