"""The Kinesis stream source, against moto in server mode and, for resharding, a faithful fake.

moto (5.2) does not model resharding as Kinesis does: after a split it moves the parent's
records into the children and keeps routing new records to the closed parent, after a merge
it copies the parents' records into the child, and a closed shard never ends (its
NextShardIterator is never null). ``FakeKinesis`` below follows the AWS documentation instead:
closed parents keep their records and end, children start empty.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ct_record

from detector.errors import SourceError, UsageError
from detector.lake import BatchFiles, Lake, new_batch_id
from detector.logtypes import parse_blobs, route
from detector.logtypes.base import Content
from detector.sources.kinesis import SHARD_END, KinesisSource, pack
from detector.sources.stream import Work

STREAM = "trail"


# --- records as CloudTrail puts them on a stream ------------------------------------------
def envelope(i: int, **overrides: Any) -> bytes:
    """An EventBridge rule's envelope of CloudTrail event ``i``, as one Kinesis record."""
    return json.dumps(
        {
            "version": "0",
            "id": f"ev-{i}",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "account": "111122223333",
            "time": "2026-11-02T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": ct_record(i, **overrides),
        }
    ).encode()


def cwl_record(ids: list[int], message_type: str = "DATA_MESSAGE") -> bytes:
    """A CloudWatch Logs subscription payload (gzipped) carrying CloudTrail events ``ids``."""
    payload = {
        "messageType": message_type,
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-kinesis"],
        "logEvents": [
            {"id": str(n), "timestamp": 1793613600000 + n, "message": json.dumps(ct_record(i))}
            for n, i in enumerate(ids)
        ],
    }
    return gzip.compress(json.dumps(payload).encode())


def ids_of(works: list[Work]) -> list[int]:
    """Numbers of the CloudTrail events the works' blobs parse to, in delivery order."""
    result = parse_blobs([b for w in works for b in w.blobs])
    assert result.rejects == []
    return [int(r[3:]) for r in result.events.column("request_id").to_pylist()]


def drain(src: KinesisSource, ack: bool = True, limit: int = 100) -> list[Work]:
    """Poll until a pass reads nothing, acking each work as the tail loop does."""
    works = []
    for _ in range(limit):
        work = src.poll()
        if work is None:
            return works
        works.append(work)
        if ack:
            work.ack()
    raise AssertionError("the stream never went quiet")


def source(stream: str = STREAM, **kw: Any) -> KinesisSource:
    src = KinesisSource(stream, wait=0, **kw)
    src.pass_interval = 0.0
    return src


# --- moto ---------------------------------------------------------------------------------
@pytest.fixture
def kinesis(aws: str) -> Iterator[Any]:
    client = boto3.client("kinesis")
    client.create_stream(StreamName=STREAM, ShardCount=2)
    yield client


def put(client: Any, data: bytes, key: str) -> tuple[str, str]:
    resp = client.put_record(StreamName=STREAM, Data=data, PartitionKey=key)
    return resp["ShardId"], resp["SequenceNumber"]


def test_reads_every_shard_envelopes_and_cloudwatch_payloads(kinesis: Any) -> None:
    last: dict[str, str] = {}
    for i in range(12):
        shard, seq = put(kinesis, envelope(i), f"k{i}")
        last[shard] = seq
    for n, ids in enumerate([[100, 101, 102], [103, 104], [105, 106, 107, 108]]):
        shard, seq = put(kinesis, cwl_record(ids), f"c{n}")
        last[shard] = seq
    shard, seq = put(kinesis, cwl_record([], "CONTROL_MESSAGE"), "control")
    last[shard] = seq
    assert len(last) == 2, "records should land on both shards"

    src = source()
    src.resume([])
    works = drain(src)
    assert sorted(ids_of(works)) == [*range(12), *range(100, 109)]
    assert parse_blobs([b for w in works for b in w.blobs]).skipped == {
        "cloudwatch_control_message": 1
    }
    assert sum(w.messages for w in works) == 16
    assert all(w.objects == [] and w.rejects == [] for w in works)
    assert works[-1].checkpoint == {"kinesis": {STREAM: last}}
    assert all(0 < w.received <= time.time() for w in works)
    for w in works:  # bulk: at most one blob per shape per shard and pass
        uris = [b.uri for b in w.blobs]
        assert all(re.fullmatch(rf"kinesis://{STREAM}/shardId-\d{{12}}/\d+-\d+", u) for u in uris)
        assert len(w.blobs) <= 2 * len(last)
    assert src.lag() == {"millis_behind_latest": 0.0, "shards": 2.0}
    src.close()


def test_restart_continues_after_committed_positions(kinesis: Any, tmp_path: Path) -> None:
    for i in range(10):
        put(kinesis, envelope(i), f"k{i}")
    lake = Lake(tmp_path / "lake")
    first = source(max_records=3)
    first.resume(lake.checkpoints())
    committed = []
    for _ in range(2):
        work = first.poll()
        assert work is not None
        lake.commit(BatchFiles(new_batch_id(), work.objects, checkpoint=work.checkpoint))
        work.ack()
        committed.append(work)
    assert first.poll() is not None  # read, never committed: a crash

    for i in range(10, 15):
        put(kinesis, envelope(i), f"k{i}")
    second = source()
    second.resume(Lake(tmp_path / "lake").checkpoints())
    done, again = ids_of(committed), ids_of(drain(second))
    assert len(done) == 6
    assert sorted(done + again) == list(range(15))


def test_released_work_is_delivered_again(kinesis: Any) -> None:
    for i in range(6):
        put(kinesis, envelope(i), f"k{i}")
    src = source()
    first = src.poll()
    assert first is not None
    first.release()
    second = src.poll()
    assert second is not None
    assert sorted(ids_of([second])) == sorted(ids_of([first])) == list(range(6))
    first.release()  # stale: the rewind already happened, the new work stays out
    assert src.poll() is None
    second.ack()
    put(kinesis, envelope(6), "k6")
    assert ids_of(drain(src)) == [6]


def test_from_latest_skips_what_is_already_there(kinesis: Any) -> None:
    for i in range(5):
        put(kinesis, envelope(i), f"k{i}")
    src = source(start="latest")
    assert src.poll() is None
    for i in range(5, 8):
        put(kinesis, envelope(i), f"k{i}")
    assert sorted(ids_of(drain(src))) == [5, 6, 7]


def test_from_timestamp(kinesis: Any) -> None:
    for i in range(5):
        put(kinesis, envelope(i), f"k{i}")
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    for i in range(5, 8):
        put(kinesis, envelope(i), f"k{i}")
    src = source(start="timestamp", at_timestamp=since)
    assert sorted(ids_of(drain(src))) == [5, 6, 7]


def test_stream_arn_is_accepted(kinesis: Any) -> None:
    arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    for i in range(4):
        put(kinesis, envelope(i), f"k{i}")
    src = source(arn)
    assert src.name == f"kinesis:{STREAM}"
    works = drain(src)
    assert sorted(ids_of(works)) == [0, 1, 2, 3]
    assert set(works[-1].checkpoint["kinesis"]) == {STREAM}


def test_unknown_and_damaged_records_are_rejected(kinesis: Any) -> None:
    put(kinesis, b"hello, not a log", "a")
    put(kinesis, json.dumps(ct_record(1)).encode(), "b")  # a bare record, no envelope
    put(kinesis, gzip.compress(envelope(2))[:30], "c")  # cut short
    put(kinesis, envelope(3), "d")
    work = source().poll()
    assert work is not None
    assert ids_of([work]) == [3]
    reasons = sorted(r.reason for r in work.rejects)
    assert reasons == ["truncated_gzip", "unknown_record_shape", "unknown_record_shape"]
    for r in work.rejects:
        assert re.fullmatch(rf"kinesis://{STREAM}/shardId-\d{{12}}/\d+", r.origin_object)
    shapes = {r.raw for r in work.rejects if r.reason == "unknown_record_shape"}
    assert b"hello, not a log" in shapes
    assert work.messages == 4


def test_missing_stream_is_a_clear_error(aws: str) -> None:
    with pytest.raises(SourceError) as err:
        source("no-such-stream").poll()
    assert err.value.reason == "stream_not_found"
    assert "no-such-stream" in str(err.value) and "us-east-1" in str(err.value)


@pytest.mark.parametrize(
    "kw",
    [
        {"stream": "s", "start": "earliest"},
        {"stream": "s", "start": "timestamp"},
        {"stream": "s", "at_timestamp": datetime(2026, 11, 2, tzinfo=UTC)},
        {"stream": "arn:aws:kinesis:us-east-1:111122223333:deliverystream/x"},
        {"stream": ""},
    ],
)
def test_bad_arguments_are_usage_errors(kw: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        KinesisSource(client=object(), **kw)


# --- resharding, expiry and throttling: a fake that behaves as AWS documents ---------------
TOP = 2**128 - 1


class FakeKinesis:
    """The GetRecords side of Kinesis with real resharding semantics, in process."""

    def __init__(self, shards: int = 1, page: int = 2) -> None:
        self.page = page
        self.seq = 0
        self.generation = 0
        self.shards: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        step = (TOP + 1) // shards
        for n in range(shards):
            self._shard(n * step, TOP if n == shards - 1 else (n + 1) * step - 1)

    def _shard(self, lo: int, hi: int, *parents: str) -> str:
        sid = f"shardId-{len(self.shards):012d}"
        self.shards[sid] = {"lo": lo, "hi": hi, "parents": parents, "records": [], "closed": False}
        return sid

    def put(self, data: bytes, hash_key: int) -> str:
        for sid, sh in self.shards.items():
            if not sh["closed"] and sh["lo"] <= hash_key <= sh["hi"]:
                self.seq += 1
                sh["records"].append(
                    {
                        "SequenceNumber": str(495900000000 + self.seq),
                        "Data": data,
                        "PartitionKey": "k",
                        "ApproximateArrivalTimestamp": datetime.now(UTC),
                    }
                )
                return sid
        raise AssertionError("no open shard for that key")

    def split(self, sid: str) -> tuple[str, str]:
        sh = self.shards[sid]
        sh["closed"] = True
        mid = (sh["lo"] + sh["hi"]) // 2
        return self._shard(sh["lo"], mid, sid), self._shard(mid + 1, sh["hi"], sid)

    def merge(self, a: str, b: str) -> str:
        self.shards[a]["closed"] = self.shards[b]["closed"] = True
        return self._shard(self.shards[a]["lo"], self.shards[b]["hi"], a, b)

    def expire_iterators(self) -> None:
        self.generation += 1

    def _fail(self, op: str) -> None:
        if self.failures and self.failures[0].startswith(op + ":"):
            code = self.failures.pop(0).split(":", 1)[1]
            raise ClientError({"Error": {"Code": code, "Message": code}}, op)

    def list_shards(self, **kw: Any) -> dict[str, Any]:
        assert ("NextToken" in kw) != ("StreamName" in kw)
        start = int(kw.get("NextToken", 0))
        ids = sorted(self.shards)
        out = []
        for sid in ids[start : start + self.page]:
            sh = self.shards[sid]
            shard: dict[str, Any] = {
                "ShardId": sid,
                "HashKeyRange": {"StartingHashKey": str(sh["lo"]), "EndingHashKey": str(sh["hi"])},
                "SequenceNumberRange": {"StartingSequenceNumber": "1"},
            }
            for key, parent in zip(
                ("ParentShardId", "AdjacentParentShardId"), sh["parents"], strict=False
            ):
                shard[key] = parent
            if sh["closed"]:
                shard["SequenceNumberRange"]["EndingSequenceNumber"] = str(10**40)
            out.append(shard)
        resp: dict[str, Any] = {"Shards": out}
        if start + self.page < len(ids):
            resp["NextToken"] = str(start + self.page)
        return resp

    def get_shard_iterator(
        self,
        StreamName: str,
        ShardId: str,
        ShardIteratorType: str,
        StartingSequenceNumber: str | None = None,
        Timestamp: datetime | None = None,
    ) -> dict[str, Any]:
        self._fail("get_shard_iterator")
        seqs = [r["SequenceNumber"] for r in self.shards[ShardId]["records"]]
        at = {
            "TRIM_HORIZON": lambda: 0,
            "LATEST": lambda: len(seqs),
            "AT_SEQUENCE_NUMBER": lambda: seqs.index(StartingSequenceNumber),
            "AFTER_SEQUENCE_NUMBER": lambda: seqs.index(StartingSequenceNumber) + 1,
        }[ShardIteratorType]()
        return {"ShardIterator": f"{self.generation}|{ShardId}|{at}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self._fail("get_records")
        generation, sid, at = ShardIterator.split("|")
        if int(generation) != self.generation:
            raise ClientError({"Error": {"Code": "ExpiredIteratorException"}}, "GetRecords")
        records = self.shards[sid]["records"]
        batch = records[int(at) : int(at) + Limit]
        end = int(at) + len(batch)
        done = self.shards[sid]["closed"] and end == len(records)
        return {
            "Records": batch,
            "MillisBehindLatest": 0 if end == len(records) else 5000,
            "NextShardIterator": None if done else f"{generation}|{sid}|{end}",
        }


def fake_source(fake: FakeKinesis, **kw: Any) -> KinesisSource:
    src = source(client=fake, **kw)
    src.throttle_backoff = 0.0
    return src


def spread(fake: FakeKinesis, ids: range) -> dict[int, str]:
    """Put envelopes of ``ids`` over the whole hash space; which shard took each."""
    return {i: fake.put(envelope(i), (i * 0x9E3779B97F4A7C15 << 64) % TOP) for i in ids}


def test_resharding_reads_every_record_once_parents_first() -> None:
    fake = FakeKinesis(shards=2)
    where = spread(fake, range(10))
    src = fake_source(fake, max_records=4)
    works = [src.poll()]
    works[0].ack()  # type: ignore[union-attr]
    left, right = fake.split("shardId-000000000000")
    where |= spread(fake, range(10, 20))
    merged = fake.merge(right, "shardId-000000000001")
    where |= spread(fake, range(20, 30))
    works += drain(src)

    delivered = {i: n for n, w in enumerate(works) for i in ids_of([w])}  # type: ignore[list-item]
    assert sorted(ids_of(works)) == list(range(30))  # type: ignore[arg-type]
    assert set(where.values()) == {
        "shardId-000000000000",
        "shardId-000000000001",
        left,
        right,
        merged,
    }
    for child, parents in [
        (left, ["shardId-000000000000"]),
        (right, ["shardId-000000000000"]),
        (merged, [right, "shardId-000000000001"]),
    ]:
        first_child = min(delivered[i] for i, s in where.items() if s == child)
        last_parent = max(delivered[i] for i, s in where.items() if s in parents)
        assert last_parent < first_child
    final = works[-1].checkpoint["kinesis"][STREAM]  # type: ignore[union-attr]
    assert final["shardId-000000000000"] == final["shardId-000000000001"] == SHARD_END
    assert final[right] == SHARD_END
    assert src.lag()["shards"] == 2.0


def test_child_waits_until_the_parents_end_is_committed() -> None:
    fake = FakeKinesis()
    spread(fake, range(3))
    fake.split("shardId-000000000000")
    spread(fake, range(3, 6))
    src = fake_source(fake)
    parent = src.poll()
    assert parent is not None and ids_of([parent]) == [0, 1, 2]
    assert parent.checkpoint["kinesis"][STREAM] == {"shardId-000000000000": SHARD_END}
    assert src.poll() is None  # its end is not committed yet
    parent.ack()
    assert sorted(ids_of(drain(src))) == [3, 4, 5]


def test_restart_after_resharding_reads_only_the_children() -> None:
    fake = FakeKinesis()
    spread(fake, range(5))
    first = fake_source(fake)
    checkpoints = [w.checkpoint for w in drain(first)]
    fake.split("shardId-000000000000")
    spread(fake, range(5, 10))
    second = fake_source(fake)
    second.resume(checkpoints)
    assert sorted(ids_of(drain(second))) == list(range(5, 10))


def test_from_latest_ignores_closed_history_and_follows_new_splits() -> None:
    fake = FakeKinesis()
    spread(fake, range(5))
    a, b = fake.split("shardId-000000000000")
    spread(fake, range(5, 10))
    src = fake_source(fake, start="latest")
    assert src.poll() is None
    where = spread(fake, range(10, 14))
    parent = a if a in where.values() else b
    children = fake.split(parent)
    where |= spread(fake, range(14, 20))
    got = ids_of(drain(src))
    assert sorted(got) == list(range(10, 20))
    assert max(got.index(i) for i, s in where.items() if s == parent) < min(
        got.index(i) for i, s in where.items() if s in children
    )


def test_restart_after_a_latest_start_does_not_read_the_history_it_skipped() -> None:
    fake = FakeKinesis()
    spread(fake, range(5))
    fake.split("shardId-000000000000")
    first = fake_source(fake, start="latest")
    assert first.poll() is None
    spread(fake, range(5, 10))
    checkpoints = [w.checkpoint for w in drain(first)]
    assert "shardId-000000000000" not in checkpoints[-1]["kinesis"][STREAM]
    spread(fake, range(10, 12))
    second = fake_source(fake)
    second.resume(checkpoints)
    assert sorted(ids_of(drain(second))) == [10, 11]


def test_release_after_a_latest_start_rewinds_to_the_first_record_handed_out() -> None:
    fake = FakeKinesis()
    spread(fake, range(3))
    src = fake_source(fake, start="latest")
    assert src.poll() is None
    spread(fake, range(3, 6))
    work = src.poll()
    assert work is not None
    work.release()
    assert ids_of(drain(src)) == [3, 4, 5]


def test_expired_iterators_and_throttling_lose_and_double_nothing() -> None:
    fake = FakeKinesis(shards=2)
    spread(fake, range(12))
    src = fake_source(fake, max_records=3)
    works = [src.poll()]
    works[0].ack()  # type: ignore[union-attr]
    fake.expire_iterators()
    fake.failures = [
        "get_records:ProvisionedThroughputExceededException",
        "get_shard_iterator:ProvisionedThroughputExceededException",
    ]
    for _ in range(20):
        work = src.poll()
        if work is not None:
            work.ack()
            works.append(work)
    assert fake.failures == []
    assert sorted(ids_of(works)) == list(range(12))  # type: ignore[arg-type]


def test_other_errors_surface_as_source_errors() -> None:
    fake = FakeKinesis()
    spread(fake, range(2))
    fake.failures = ["get_records:AccessDeniedException"]
    with pytest.raises(SourceError) as err:
        fake_source(fake).poll()
    assert err.value.reason == "access_denied"


def test_lag_reports_the_slowest_shard() -> None:
    fake = FakeKinesis(shards=2)
    spread(fake, range(8))
    src = fake_source(fake, max_records=2)
    assert src.poll() is not None
    assert src.lag() == {"millis_behind_latest": 5000.0, "shards": 2.0}


def test_envelopes_with_cloudwatch_like_fields_still_parse_as_envelopes() -> None:
    tricky = envelope(1, requestParameters={"logEvents": [], "bucketName": "data"})
    records = [
        {"SequenceNumber": str(n), "Data": data}
        for n, data in enumerate([tricky, envelope(2), b'{"detail-type": "x", broken'])
    ]
    blobs, rejects, taken = pack(STREAM, "shardId-000000000000", records)
    assert taken == len(records)
    (blob,) = blobs
    assert route(Content(blob, blob.data)).name == "eventbridge"  # type: ignore[union-attr]
    result = parse_blobs(blobs)
    assert result.events.column("request_id").to_pylist() == [
        "REQ0000000000001",
        "REQ0000000000002",
    ]
    assert [r.reason for r in rejects + result.rejects] == ["invalid_json"]


def test_consumers_share_the_shards_parents_first_across_them() -> None:
    """Two members of a consumer group (a tail's consumers on Ray) over one stream that is
    split and merged: each shard is read by exactly one of them, a batch's checkpoint names
    only its own shards, and a child waits for its parents' ends even when another member
    reads them (it learns their commits through ``observe``, as the driver tells it)."""
    fake = FakeKinesis(shards=3)
    where = spread(fake, range(10))
    members = [fake_source(fake, member=(n, 2), max_records=4) for n in range(2)]
    assert {members[0].owns(s) for s in fake.shards} == {True, False}  # both have work

    order: list[int] = []

    def turn() -> bool:
        """Each member polls once; what it read is committed and the other is told."""
        moved = False
        for n, src in enumerate(members):
            work = src.poll()
            if work is None:
                continue
            moved = True
            shards = set(work.checkpoint["kinesis"][STREAM])
            assert all(src.owns(s) for s in shards), shards  # its own shards only
            order.extend(ids_of([work]))
            work.ack()
            members[1 - n].observe(work.checkpoint)
        return moved

    turn()
    left, right = fake.split("shardId-000000000000")
    where |= spread(fake, range(10, 20))
    merged = fake.merge(right, "shardId-000000000001")
    where |= spread(fake, range(20, 30))
    for _ in range(100):
        if not turn():
            break
    # The children and the merged shard are read by the other member than their parents.
    assert members[0].owns(left) != members[0].owns("shardId-000000000000")
    assert members[0].owns(merged) != members[0].owns(right)
    assert sorted(order) == list(range(30))  # every record once, by one member
    at = {i: n for n, i in enumerate(order)}
    for child, parents in [
        (left, ["shardId-000000000000"]),
        (merged, [right, "shardId-000000000001"]),
    ]:
        first_child = min(at[i] for i, s in where.items() if s == child)
        assert max(at[i] for i, s in where.items() if s in parents) < first_child
    with pytest.raises(UsageError, match="no such member"):
        KinesisSource(STREAM, client=fake, member=(2, 2))
