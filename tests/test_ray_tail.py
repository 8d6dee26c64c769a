"""``detector tail sqs|kinesis --engine ray --consumers 2``: two consumer actors on a Ray
cluster of this run's own poll one queue, or share a stream's shards (the moto server), and
this process commits and detects. The lake and the incidents must be backfill's, also when
consumers die mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import SlackReceiver, committed_checkpoints, has_a_commit, pids_where
from test_tail_kinesis import envelope, trail_records
from test_tail_sqs import (
    Reference,
    backfill_reference,
    event_rows,
    notify_in_groups,
    quiet_bucket,
    sample_objects,
    slack_alert_ids,
    tail_cmd,
    upload,
)

from detector.lake import read_alerts, read_events, read_quarantine


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return backfill_reference(tmp_path_factory.mktemp("reference"))


ENGINE = ("--engine", "ray", "--consumers", "2", "--batch-messages", "3")


def start_ray_tail(
    aws: str, tmp: Path, slack: SlackReceiver, again: int = 0, *extra: str
) -> tuple[subprocess.Popen[str], Path, str, Path]:
    """The bundled day notified to a queue (in 13 messages, the first ``again`` objects
    notified a second time), tailed by two consumers until idle: (the tail, its lake, the
    queue, where its summary goes)."""
    s3, queue = quiet_bucket()
    objects = sample_objects()
    upload(s3, "quiet", objects)
    notify_in_groups(queue, "quiet", objects, per_message=len(objects) // 12)
    notify_in_groups(queue, "quiet", objects[:again], per_message=max(1, again // 2))
    lake = tmp / "lake"
    summary = tmp / "summary.json"
    args = [*ENGINE, "--until-idle", "6", "--sink", f"slack={slack.url}", "--summary", str(summary)]
    args += extra
    env = {**os.environ, "RAY_ADDRESS": ""}
    tail = subprocess.Popen(
        tail_cmd(queue, lake, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return tail, lake, queue, summary


def assert_complete(
    tail: subprocess.Popen[str], lake: Path, queue: str, slack: SlackReceiver
) -> tuple[str, list[str]]:
    """Every event once, nothing quarantined, the queue empty, no alert id twice at the
    sink: (the tail's stderr, the alert ids delivered)."""
    _, err = tail.communicate(timeout=300)
    assert tail.returncode == 0, err[-3000:]
    assert read_quarantine(lake).num_rows == 0
    delivered = slack_alert_ids(slack)
    assert Counter(delivered).most_common(1)[0][1] == 1  # no alert id twice at the sink
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
    return err, delivered


def assert_found_as_backfill(lake: Path, reference: Reference) -> None:
    """What the event rules found, found all the same; every principal backfill notified
    about, notified about. Two consumers finish batches in no fixed order, and a day
    replayed in seconds makes a batch that finishes late hours late in event time: its
    events are judged as late windows of their own, which can raise a signal backfill did
    not (and so change the incidents)."""
    found = set(read_alerts(lake).column("alert_id").to_pylist())
    stage = {i: registry()[reference.detection_of[i]].stage for i in reference.alert_ids}
    rules = {i for i, kind in stage.items() if kind == "event"}
    assert rules <= found, rules - found
    rows = read_alerts(lake).select(["principal", "status"]).to_pylist()
    assert {r["principal"] for r in rows if r["status"] == "notify"} >= reference.principals


def registry() -> dict[str, Any]:
    from detector.detections import load_all

    return load_all()


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``pid`` is ``ancestor``'s child, grandchild…: a Ray worker of the cluster the
    tail started is its raylet's child, and the raylet the tail's."""
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid == ancestor:
            return True
    return False


def test_two_consumers_give_backfill_s_lake_and_findings(
    aws: str, tmp_path: Path, reference: Reference, slack_receiver: SlackReceiver
) -> None:
    """Also with 120 objects notified twice (at least once delivery): each is read once,
    struck out while another consumer holds it or once it is committed. The detection
    state is on two partition actors (``--partitions 2``)."""
    tail, lake, queue, summary = start_ray_tail(
        aws, tmp_path, slack_receiver, 120, "--partitions", "2"
    )
    assert_complete(tail, lake, queue, slack_receiver)
    assert event_rows(lake) == reference.events
    assert_found_as_backfill(lake, reference)
    # Every batch was written by a consumer actor, none by this process.
    totals = json.loads(summary.read_text())
    assert totals["ray"]["batches"] == totals["batches"] > 2
    assert totals["objects"]["skipped"]["already_ingested"] == 120
    assert totals["partitions"] == {"actors": 2, "rollbacks": 0}


def test_a_consumer_killed_mid_run_loses_nothing_and_sends_nothing_twice(
    aws: str, tmp_path: Path, reference: Reference, slack_receiver: SlackReceiver
) -> None:
    """One consumer's worker process SIGKILLed once the first batch is committed: Ray
    restarts it, the messages it held come back after their visibility timeout and are
    read again, and the result is the undisturbed run's."""
    tail, lake, queue, _ = start_ray_tail(aws, tmp_path, slack_receiver)
    deadline = time.monotonic() + 120
    while not has_a_commit(lake) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert has_a_commit(lake), "the tail committed nothing within 120 s"
    consumers = [
        pid
        for pid in pids_where(lambda p: (p / "cmdline").read_bytes().startswith(b"ray::Consumer"))
        if descends_from(pid, tail.pid)  # this tail's cluster, no other's
    ]
    assert len(consumers) == 2
    os.kill(consumers[0], signal.SIGKILL)
    err, _ = assert_complete(tail, lake, queue, slack_receiver)
    assert "consumer 0 was lost" in err or "consumer 1 was lost" in err or "could not" in err
    assert event_rows(lake) == reference.events
    # The dead consumer's messages come back a visibility timeout later: replaying a day in
    # seconds, that is hours late in event time, so their events are judged as late windows
    # of their own, which can raise a signal backfill did not (and so change the incidents).
    # What the event rules find is found all the same, and every principal backfill
    # notified about is notified about.
    assert_found_as_backfill(lake, reference)


def test_two_consumers_share_a_kinesis_stream_s_shards(
    aws: str, tmp_path: Path, slack_receiver: SlackReceiver
) -> None:
    """``detector tail kinesis --engine ray --consumers 2`` on a four-shard stream: each
    shard is read by one consumer (a stable hash of its id: two each here), each
    consumer's batches commit only its shards' positions, and the lake holds every event
    once. A second run resumes after the committed positions and reads nothing again."""
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="trail-ray", ShardCount=4)
    records = trail_records()
    entries = [
        {"Data": envelope(r), "PartitionKey": "k", "ExplicitHashKey": str((i % 4) * 2**126 + 1)}
        for i, r in enumerate(records)
    ]
    for i in range(0, len(entries), 400):
        assert (
            kinesis.put_records(StreamName="trail-ray", Records=entries[i : i + 400])[
                "FailedRecordCount"
            ]
            == 0
        )
    lake, summary = tmp_path / "lake", tmp_path / "summary.json"
    cmd = [
        *tail_cmd("", lake, "--until-idle", "6", "--sink", f"slack={slack_receiver.url}"),
        "--engine",
        "ray",
        "--consumers",
        "2",
        "--summary",
        str(summary),
        "--lake-format",
        "parquet",  # its manifest keeps each batch's checkpoint (Iceberg merges them)
    ]
    at = cmd.index("sqs")
    cmd[at : at + 3] = ["kinesis", "--stream", "trail-ray"]  # the same options, a stream
    cmd.remove("--wait"), cmd.remove("1")
    env = {**os.environ, "RAY_ADDRESS": ""}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    events = read_events(lake).column("event_id").to_pylist()
    assert sorted(events) == sorted(r["eventID"] for r in records)  # every event, once
    delivered = slack_alert_ids(slack_receiver)
    assert delivered and Counter(delivered).most_common(1)[0][1] == 1
    totals = json.loads(summary.read_text())
    assert totals["ray"]["batches"] == totals["batches"] >= 2
    checkpoints = committed_checkpoints(lake)
    shards = [set(c["kinesis"]["trail-ray"]) for c in checkpoints]
    assert set().union(*shards) == {f"shardId-{i:012d}" for i in range(4)}
    # A batch commits its consumer's shards only: shards 0 and 1 hash to one consumer, 2
    # and 3 to the other.
    assert all(
        s <= {"shardId-000000000000", "shardId-000000000001"}
        or s.isdisjoint({"shardId-000000000000", "shardId-000000000001"})
        for s in shards
    )

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_events(lake).num_rows == len(records)  # resumed after every shard's position
    assert sorted(slack_alert_ids(slack_receiver)) == sorted(delivered)
