"""``detector tail sqs`` end to end against moto's S3/SQS/SNS server and a Slack receiver.

S3 itself sends the notifications here (moto emits real S3 event notifications, including
the s3:TestEvent), the consumer runs as a real subprocess through the CLI, and alerts are
checked where they land: the Slack receiver and an SQS queue subscribed to the SNS topic.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import CT_KEY, REPO, SlackReceiver, ct_record, has_a_commit, trail_file

from detector.lake import read_alerts, read_events, read_quarantine
from detector.sources.notifications import NotificationError, parse_notification
from detector.sources.sqs import SqsSource

SAMPLE = REPO / "sample_logs"
DEMO_CONFIG = SAMPLE / "demo.toml"
ALERT_ID = re.compile(r"\b[0-9a-f]{24}\b")


# --- notification shapes (pure) ------------------------------------------------------------
def s3_event(bucket: str, key: str, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": name,
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": key, "size": 10, "eTag": "abc"},
                },
            }
        ]
    }


def test_s3_event_keys_are_url_decoded() -> None:
    notice = parse_notification(json.dumps(s3_event("logs", "AWSLogs/a+b/c%2Bd%3D.gz")))
    assert [(o.uri, o.key, o.size, o.etag) for o in notice.objects] == [
        ("s3://logs/AWSLogs/a b/c+d=.gz", "AWSLogs/a b/c+d=.gz", 10, "abc")
    ]


def test_sns_wrapped_s3_event_and_cloudtrail_notification() -> None:
    wrapped = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": json.dumps(s3_event("logs", "k.gz")),
    }
    assert [o.uri for o in parse_notification(json.dumps(wrapped)).objects] == ["s3://logs/k.gz"]
    trail = {
        "Type": "Notification",
        "Message": json.dumps(
            {"s3Bucket": "trail", "s3ObjectKey": ["AWSLogs/1/CloudTrail/x+y.json.gz"]}
        ),
    }
    # CloudTrail's own notification carries keys as they are: no URL decoding.
    assert [o.key for o in parse_notification(json.dumps(trail)).objects] == [
        "AWSLogs/1/CloudTrail/x+y.json.gz"
    ]


def test_eventbridge_object_created_and_ignored_shapes() -> None:
    eb = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {
            "bucket": {"name": "logs"},
            "object": {"key": "a%20b.gz", "size": 5, "etag": "e1"},
        },
    }
    assert [o.key for o in parse_notification(json.dumps(eb)).objects] == ["a b.gz"]
    deleted = {**eb, "detail-type": "Object Deleted"}
    assert parse_notification(json.dumps(deleted)).ignored == ["Object Deleted"]
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "logs"}
    notice = parse_notification(json.dumps(test_event))
    assert (notice.objects, notice.ignored) == ([], ["s3:TestEvent"])
    removed = parse_notification(json.dumps(s3_event("logs", "k", "ObjectRemoved:Delete")))
    assert (removed.objects, removed.ignored) == ([], ["ObjectRemoved:Delete"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "poison_message"),
        ("[1, 2]", "poison_message"),
        (json.dumps({"hello": "world"}), "unknown_notification"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "poison_message"),
        (json.dumps({"Type": "Notification", "Message": "{broken"}), "poison_message"),
    ],
)
def test_bad_messages_are_named(body: str, reason: str) -> None:
    with pytest.raises(NotificationError) as err:
        parse_notification(body)
    assert err.value.reason == reason


# --- the consumer against the server -------------------------------------------------------
def notified_bucket(
    name: str = "logs", visibility: int = 30, redrive_to: str | None = None
) -> tuple[Any, str]:
    """A bucket whose ObjectCreated notifications go to a new queue; (s3 client, queue url)."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    attrs = {"VisibilityTimeout": str(visibility)}
    if redrive_to:
        dlq_arn = sqs.get_queue_attributes(QueueUrl=redrive_to, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attrs["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
        )
    queue = sqs.create_queue(QueueName=f"{name}-notifications", Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return s3, queue


def drain_works(source: SqsSource, polls: int = 5) -> list[Any]:
    works = []
    for _ in range(polls):
        w = source.poll()
        if w is not None:
            works.append(w)
    return works


def test_source_fetches_objects_and_quarantines_poison(aws: str) -> None:
    s3, queue = notified_bucket()
    s3.put_object(Bucket="logs", Key=CT_KEY + "a.json.gz", Body=trail_file([ct_record(1)]))
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody="{definitely not json")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(s3_event("logs", "gone.json.gz")))
    source = SqsSource(queue, wait=1)
    try:
        works = drain_works(source)
        blobs = [b for w in works for b in w.blobs]
        rejects = [r for w in works for r in w.rejects]
        assert [b.key for b in blobs] == [CT_KEY + "a.json.gz"]
        assert blobs[0].ref.etag and blobs[0].ref.size == len(blobs[0].data)
        assert sorted(r.reason for r in rejects) == ["object_missing", "poison_message"]
        poison = next(r for r in rejects if r.reason == "poison_message")
        assert poison.raw == b"{definitely not json" and poison.origin_object.startswith(
            "sqs:logs-notifications/"
        )
        for w in works:
            w.ack()
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    finally:
        source.close()


def test_unreadable_object_is_retried_then_given_up(aws: str) -> None:
    """Without a redrive policy a message that keeps failing is quarantined and deleted."""
    s3, queue = notified_bucket(visibility=1)
    s3.create_bucket(Bucket="locked")
    body = json.dumps({"s3Bucket": "no-such-bucket-here", "s3ObjectKey": ["x.json.gz"]})
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    source = SqsSource(queue, wait=1, max_receives=2)
    try:
        first = drain_works(source, polls=1)
        assert first and not first[0].rejects  # a missing *bucket* may come back: retried
        first[0].ack()
        time.sleep(1.5)
        second = drain_works(source, polls=2)
        assert [r.reason for w in second for r in w.rejects] == ["repeated_failure"]
        for w in second:
            w.ack()
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
    finally:
        source.close()


def test_visibility_is_extended_while_work_is_in_hand(aws: str) -> None:
    s3, queue = notified_bucket(visibility=2)
    s3.put_object(Bucket="logs", Key=CT_KEY + "a.json.gz", Body=trail_file([ct_record(1)]))
    source = SqsSource(queue, wait=1)
    other = SqsSource(queue, wait=1)
    try:
        works = [w for w in drain_works(source, 3) if w.blobs]
        assert works
        time.sleep(4)  # twice the visibility timeout: without extension it would reappear
        assert drain_works(other, 1) == []
        works[0].ack()
    finally:
        source.close()
        other.close()


# --- end to end through the CLI ------------------------------------------------------------
def sample_objects() -> list[tuple[str, Path]]:
    """The bundled day's log objects in delivery order (by the time in their key)."""
    from detector.sources.keydates import key_time

    files = [
        p for d in ("AWSLogs", "s3-access-logs") for p in (SAMPLE / d).rglob("*") if p.is_file()
    ]
    keyed = [(str(p.relative_to(SAMPLE)), p) for p in files]
    return sorted(keyed, key=lambda kp: (key_time(kp[0]), kp[0]))


def upload(s3: Any, bucket: str, objects: list[tuple[str, Path]]) -> None:
    for key, path in objects:
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def sns_to_queue() -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed: (topic ARN, queue URL)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="detector-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def sns_alert_ids(queue: str) -> list[str]:
    sqs = boto3.client("sqs")
    ids = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not got:
            return ids
        for m in got:
            ids.append(json.loads(json.loads(m["Body"])["Message"])["alert_id"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def slack_alert_ids(receiver: SlackReceiver) -> list[str]:
    ids = []
    for body in receiver.delivered():
        found = set(ALERT_ID.findall(json.dumps(body)))
        assert len(found) == 1, body
        ids.append(found.pop())
    return ids


def tail_cmd(queue: str, lake: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "detector.cli",
        "tail",
        "sqs",
        "--queue-url",
        queue,
        "--lake",
        str(lake),
        "--wait",
        "1",
        "--config",
        str(DEMO_CONFIG),
        "--status-seconds",
        "0",
        *extra,
    ]


def event_rows(lake: Path) -> Counter[tuple[Any, ...]]:
    """Every event of a lake as a multiset of identifying fields: equal means each event is
    there exactly as often as in the other lake."""
    cols = [
        "source",
        "event_id",
        "request_id",
        "event_time",
        "event_name",
        "bucket",
        "key",
        "source_ip",
        "principal_arn",
    ]
    table = read_events(lake).select(cols)
    rows = Counter(tuple(r.values()) for r in table.to_pylist())
    assert sum(rows.values()) == 4942
    return rows


@dataclass
class Reference:
    """What backfill makes of the bundled day: the answer every tail run must give."""

    alert_ids: set[str]
    events: Counter[tuple[Any, ...]]
    incident_of: dict[str, str]
    """Every signal backfill raised (notified or only recorded) → its incident."""
    detection_of: dict[str, str] = field(default_factory=dict)
    """Every signal → its detection."""
    principals: set[str] = field(default_factory=set)
    """The principals backfill notified about."""

    def incidents(self, alert_ids: set[str]) -> set[str]:
        return {self.incident_of[a] for a in alert_ids}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return backfill_reference(tmp_path_factory.mktemp("reference"))


def backfill_reference(tmp: Path) -> Reference:
    out = tmp / "alerts.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "detector.cli",
            "backfill",
            str(SAMPLE / "AWSLogs"),
            str(SAMPLE / "s3-access-logs"),
            "--lake",
            str(tmp / "lake"),
            "--config",
            str(DEMO_CONFIG),
            "--no-progress",
            "--alerts",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    ids = {json.loads(line)["alert_id"] for line in out.read_text().splitlines()}
    assert len(ids) >= 5  # one notification per incident and rise, on the sample day
    signals = read_alerts(tmp / "lake")
    assert signals is not None
    incident_of = dict(
        zip(
            signals.column("alert_id").to_pylist(),
            signals.column("incident_id").to_pylist(),
            strict=True,
        )
    )
    rows = signals.select(["alert_id", "detection", "principal", "status"]).to_pylist()
    detection_of = {r["alert_id"]: r["detection"] for r in rows}
    principals = {r["principal"] for r in rows if r["status"] == "notify"}
    return Reference(ids, event_rows(tmp / "lake"), incident_of, detection_of, principals)


def notify_in_groups(
    queue: str, bucket: str, objects: list[tuple[str, Path]], per_message: int = 10
) -> None:
    """CloudTrail-style SNS notifications naming several keys each (fewer messages: moto's
    queue gets slower the longer it is, and the crash tests need many runs)."""
    sqs = boto3.client("sqs")
    for i in range(0, len(objects), per_message):
        keys = [k for k, _ in objects[i : i + per_message]]
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(
                {
                    "Type": "Notification",
                    "Message": json.dumps({"s3Bucket": bucket, "s3ObjectKey": keys}),
                }
            ),
        )


def quiet_bucket(name: str = "quiet") -> tuple[Any, str]:
    """A bucket without notifications and a queue we notify ourselves."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=name)
    queue = sqs.create_queue(QueueName=f"{name}-queue", Attributes={"VisibilityTimeout": "2"})[
        "QueueUrl"
    ]
    return s3, queue


def test_tail_sqs_end_to_end_matches_backfill(
    aws: str, tmp_path: Path, reference: Reference, slack_receiver: SlackReceiver
) -> None:
    s3, queue = notified_bucket()
    topic, subscriber = sns_to_queue()
    objects = sample_objects()
    upload(s3, "logs", objects)
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody="poison <!channel>")
    lake = tmp_path / "lake"
    run = subprocess.run(
        tail_cmd(
            queue,
            lake,
            "--until-idle",
            "3",
            "--sink",
            f"slack={slack_receiver.url}",
            "--sink",
            f"sns={topic}",
            "--alerts",
            str(tmp_path / "tail-alerts.jsonl"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert slack_receiver.url not in run.stderr + run.stdout  # webhook URLs are never logged

    expected = reference.alert_ids
    assert event_rows(lake) == reference.events
    quarantine = read_quarantine(lake).to_pylist()
    assert [q["reason"] for q in quarantine] == ["poison_message"]

    tailed = {
        json.loads(line)["alert_id"]
        for line in (tmp_path / "tail-alerts.jsonl").read_text().splitlines()
    }
    assert tailed == expected  # same input, same alerts, through backfill or tail
    slack_ids = slack_alert_ids(slack_receiver)
    assert sorted(slack_ids) == sorted(expected)
    assert sorted(sns_alert_ids(subscriber)) == sorted(expected)
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attrs["ApproximateNumberOfMessages"] == "0"


def test_sigkill_at_failpoints_loses_nothing_and_repeats_nothing(
    aws: str, tmp_path: Path, reference: Reference, slack_receiver: SlackReceiver
) -> None:
    """Killed before a commit, between commit and ack, and after an ack, one run after the
    other; then a run to the end. The lake and the sink must look as if nothing happened."""
    s3, queue = quiet_bucket()
    objects = sample_objects()
    upload(s3, "quiet", objects)
    notify_in_groups(queue, "quiet", objects)
    lake = tmp_path / "lake"
    args = tail_cmd(
        queue,
        lake,
        "--batch-messages",
        "10",
        "--sink",
        f"slack={slack_receiver.url}",
        "--checkpoint-seconds",
        "3600",
    )
    for failpoint in ("tail.before_commit:3", "tail.after_commit:2", "tail.after_ack:2"):
        crashed = subprocess.run(
            args,
            env={**os.environ, "DETECTOR_FAILPOINTS": failpoint},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    done = subprocess.run([*args, "--until-idle", "4"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    assert event_rows(lake) == reference.events  # every event exactly once
    delivered = slack_alert_ids(slack_receiver)
    assert Counter(delivered).most_common(1)[0][1] == 1  # no alert id twice at the sink
    assert set(delivered) == reference.alert_ids


def test_sigkill_at_random_moments(
    aws: str, tmp_path: Path, reference: Reference, slack_receiver: SlackReceiver
) -> None:
    s3, queue = quiet_bucket()
    objects = sample_objects()
    upload(s3, "quiet", objects)
    notify_in_groups(queue, "quiet", objects)
    lake = tmp_path / "lake"
    args = tail_cmd(
        queue,
        lake,
        "--batch-messages",
        "5",
        "--sink",
        f"slack={slack_receiver.url}",
        "--checkpoint-seconds",
        "1",
    )
    for delay in (4.0, 5.5):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    done = subprocess.run([*args, "--until-idle", "4"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert event_rows(lake) == reference.events
    delivered = slack_alert_ids(slack_receiver)
    assert len(delivered) == len(set(delivered))
    # Killed at random moments, the tail sees the day in other batches than backfill did;
    # which signal of an incident carries a notification may then differ, but nothing it
    # sends is unknown to backfill, and every incident backfill notified is notified.
    assert set(delivered) <= set(reference.incident_of), set(delivered) - set(reference.incident_of)
    assert reference.incidents(set(delivered)) == reference.incidents(reference.alert_ids)


def test_sigterm_drains_and_checkpoints(aws: str, tmp_path: Path) -> None:
    s3, queue = notified_bucket()
    upload(s3, "logs", sample_objects()[:50])
    lake = tmp_path / "lake"
    proc = subprocess.Popen(
        tail_cmd(queue, lake), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not has_a_commit(lake):
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "SIGTERM received" in err
    assert (lake / "state" / "detector.state").is_file()


def test_redrive_policy_is_left_to_sqs(aws: str) -> None:
    """With a dead-letter queue configured, a failing message is not deleted by us: SQS moves
    it to the DLQ after maxReceiveCount receives (2 here)."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    _, queue = notified_bucket(visibility=1, redrive_to=dlq)
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"s3Bucket": "no-such-bucket-here", "s3ObjectKey": ["x.json.gz"]}),
    )
    source = SqsSource(queue, wait=1, max_receives=1)
    try:
        assert source.redrive_max == 2
        for _ in range(3):
            for w in drain_works(source, polls=1):
                assert not w.rejects  # never quarantined by us: the DLQ is the quarantine
                w.ack()
            time.sleep(1.2)
        moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        assert len(moved) == 1 and "no-such-bucket-here" in moved[0]["Body"]
    finally:
        source.close()


def test_state_checkpoint_on_s3(aws: str, tmp_path: Path) -> None:
    from detector.scoring.state import DetectorState, load, save

    boto3.client("s3").create_bucket(Bucket="state")
    location = "s3://state/s3-detector/detector.state"
    assert load(location, "default") is None
    save(DetectorState(model_name="default", through_batch="b1"), location)
    loaded = load(location, "default")
    assert loaded is not None and loaded.through_batch == "b1"
