"""Routing principals to shards: stable, teams kept together, whole virtual partitions
moved when the number of shards changes; and a shard that lost its state says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

from detector.partition import (
    VIRTUAL_PARTITIONS,
    PartitionLost,
    team_of,
    virtual_partition,
)
from detector.sharded import PartitionShard

TEAM = "arn:aws:sts::1:assumed-role/AWSReservedSSO_DataEngineer_abc"


def test_people_on_one_federated_role_share_a_partition() -> None:
    alice, bob = f"{TEAM}/alice@example.com", f"{TEAM}/bob@example.com"
    assert team_of(alice) == team_of(bob) == TEAM + "/"
    assert virtual_partition(alice) == virtual_partition(bob)
    # a role session that is not a person's, and a user, are their own keys
    job = "arn:aws:sts::1:assumed-role/etl/i-0abc"
    assert team_of(job) == job
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
