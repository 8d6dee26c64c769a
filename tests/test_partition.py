"""Routing principals to shards: stable, teams kept together, whole virtual partitions
moved when the number of shards changes; and a shard that lost its state says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from detector.cli import main
from detector.config import Settings
from detector.detect import DetectionRun, DetectOptions
from detector.errors import InfrastructureError
from detector.lake import read_events
from detector.lakes import open_lake
from detector.partition import (
    VIRTUAL_PARTITIONS,
    Partition,
    PartitionLost,
    team_of,
    virtual_partition,
)
from detector.scoring.model import ModelSpec
from detector.scoring.state import DetectorState
from detector.sharded import PartitionShard, ShardedPartitions

REPO = Path(__file__).resolve().parents[1]

TEAM = "arn:aws:sts::1:assumed-role/AWSReservedSSO_DataEngineer_abc"


def test_a_team_and_every_name_under_its_prefix_share_a_partition() -> None:
    """``DetectorState.team_habit`` reads the marks of every name under a person's team
    prefix, people or not: they must all be in the person's partition."""
    alice, bob = f"{TEAM}/alice@example.com", f"{TEAM}/bob@example.com"
    job = f"{TEAM}/i-0abc"  # a session of the same role that is not a person's
    assert team_of(alice) == team_of(bob) == team_of(job) == TEAM
    assert len({virtual_partition(n) for n in (alice, bob, job)}) == 1
    nested = "arn:aws:iam::1:user/ops/oncall/dave@example.com"  # an IAM user path
    assert team_of(nested) == team_of("arn:aws:iam::1:user/ops/erin") == "arn:aws:iam::1:user/ops"
    # a name without a path of its own is its own key
    assert team_of("arn:aws:iam::1:user/carol") == "arn:aws:iam::1:user/carol"


def test_the_hash_is_the_same_in_every_process() -> None:
    """Python's own ``hash`` of a string differs between processes; the partition of a
    principal must not (the driver and every actor route alike, across restarts)."""
    names = [f"arn:aws:iam::1:user/u{i}" for i in range(50)]
    here = [virtual_partition(n) for n in names]
    code = (
        "import sys; from detector.partition import virtual_partition as v; "
        "print([v(n) for n in sys.argv[1:]])"
    )
    there = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, check=True
    )
    assert there.stdout.strip() == str(here)
    assert all(0 <= p < VIRTUAL_PARTITIONS for p in here)
    assert len(set(here)) > 40  # spread, not piled on a few


def test_changing_the_number_of_shards_moves_whole_virtual_partitions() -> None:
    names = [f"arn:aws:iam::1:user/u{i}" for i in range(2000)]
    by_vp: dict[int, set[int]] = {}
    for n in names:
        by_vp.setdefault(virtual_partition(n), set()).add(virtual_partition(n) % 3)
    assert all(len(shards) == 1 for shards in by_vp.values())
    counts = [sum(1 for n in names if virtual_partition(n) % 4 == k) for k in range(4)]
    assert min(counts) > 400  # four shards share 2,000 principals evenly enough


def test_a_shard_without_state_refuses_every_call() -> None:
    """A restarted actor starts empty: it must not judge windows as if it knew nobody."""
    with pytest.raises(PartitionLost, match="holds no state"):
        PartitionShard().call([], "newest")


def sample_events(tmp: Path) -> pa.Table:
    """The bundled day's events, through a one-process backfill."""
    lake = tmp / "sample-lake"
    args = ["backfill", str(REPO / "sample_logs" / "AWSLogs"), "--lake", str(lake)]
    assert main([*args, "--no-detect", "--no-progress"]) == 0
    return read_events(lake).sort_by("event_time")


def shards_losing_state(after_calls: int) -> tuple[Any, list[int]]:
    """In-process shards whose first loses its state once, at its ``after_calls``-th
    call (as a restarted actor does); the factory and the calls counted."""
    calls = [0]

    class Forgetful(PartitionShard):
        def call(self, queued: list[tuple[Any, ...]], method: str, *args: Any) -> Any:
            calls[0] += 1
            if calls[0] == after_calls:
                self.partition = None
            return super().call(queued, method, *args)

    def factory(state: DetectorState, spec: ModelSpec, settings: Settings) -> ShardedPartitions:
        return ShardedPartitions(shards, state, spec, settings)

    shards = [Forgetful(), PartitionShard()]
    return factory, calls


def test_a_lost_shard_rolls_detection_back_and_the_alerts_are_the_same(tmp_path: Path) -> None:
    events = sample_events(tmp_path)
    half = events.num_rows // 2

    def detect(partitions: Any, name: str) -> tuple[DetectionRun, list[str]]:
        run = DetectionRun.open(open_lake(tmp_path / name), DetectOptions(partitions=partitions))
        run.on_batch("b1", events.slice(0, half))
        run.on_batch("b2", events.slice(half))
        run.finish("b3")
        return run, sorted(a.alert_id for a in run.signals())

    _, reference = detect(Partition, "one")
    factory, calls = shards_losing_state(after_calls=3)
    run, alerts = detect(factory, "lost")
    assert calls[0] > 3 and run.rollbacks == 1  # it was lost, and rolled back once
    assert alerts == reference and len(reference) >= 5


def test_a_lost_shard_with_batches_not_yet_committed_stops_the_run(tmp_path: Path) -> None:
    """An Iceberg backfill's commit group: batches detected before the batch in hand are
    not in the lake, so no rollback can replay them; the run stops and reads them again."""
    events = sample_events(tmp_path)
    factory, _ = shards_losing_state(after_calls=10**9)
    run = DetectionRun.open(open_lake(tmp_path / "lake"), DetectOptions(partitions=factory))
    run.on_batch("b1", events.slice(0, 1000))
    run.engine.partitions.shards[0].partition = None  # type: ignore[attr-defined]
    with pytest.raises(InfrastructureError, match=r"1 batch.* detected before this one"):
        run.on_batch("b2", events.slice(1000))
