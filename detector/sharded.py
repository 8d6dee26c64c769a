"""Detection state split over K shards by principal: the routing and the protocol.

Each principal (each team, for people on a federated role) hashes onto one of
``partition.VIRTUAL_PARTITIONS`` virtual partitions, and virtual partition ``v`` lives on
shard ``v mod K``: changing K moves whole virtual partitions, never splits one. A shard
holds its principals' profiles and own baselines and does their per-principal work
(``detector.partition.Partition``); the engine holds what spans principals and calls the
shards a few times per close, all of them at once. Every shard sees its principals'
windows in the engine's order, so the verdicts, and the alert ids, are the ones a single
partition finds. ``detector.ray_partitions`` puts the shards on Ray actors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl

from detector.config import Settings
from detector.partition import (
    Ahead,
    Habit,
    Judged,
    Kind,
    Partition,
    PartitionLost,
    PartitionStats,
    Windows,
    principal_of,
    virtual_partition,
)
from detector.scoring.model import Deviation, ModelSpec, Scorer
from detector.scoring.state import DetectorState, bucket_spec


class PartitionShard:
    """One share of the principals (a Ray actor's body, or an object in this process).
    Each call first applies what the engine queued for it (settings, finished windows), in
    order."""

    def __init__(self) -> None:
        self.partition: Partition | None = None

    def seed(self, state: DetectorState, spec: ModelSpec, settings: Settings) -> None:
        self.partition = Partition(state, spec, settings)

    def call(self, queued: list[tuple[Any, ...]], method: str, *args: Any) -> Any:
        p = self.partition
        if p is None:
            raise PartitionLost("this shard holds no state (its actor was restarted)")
        for op, *op_args in queued:
            getattr(p, op)(*op_args)
        return getattr(p, method)(*args), p.take_stats()


class ShardedPartitions:
    """The ``Partitions`` of an engine on K shards, each a ``PartitionShard`` somewhere:
    windows routed by principal, calls to several shards made at once, and what the engine
    told a shard queued until its next call. ``_submit`` and ``_collect`` say how shards
    are reached; here they are objects in this process (tests, and the reference for
    ``detector.ray_partitions``)."""

    def __init__(
        self,
        shards: list[Any],
        state: DetectorState,
        spec: ModelSpec,
        settings: Settings,
    ) -> None:
        self.shards = shards
        self.spec = spec
        self.queued: list[list[tuple[Any, ...]]] = [[] for _ in shards]
        self.stats = PartitionStats()
        self._route: dict[str, int] = {}
        self._close = -1
        self._where: dict[Kind, dict[int, int]] = {"principal": {}, "bucket": {}}
        """The shard each window of the current close went to, by position."""
        self._seed(state, settings)

    def _seed(self, state: DetectorState, settings: Settings) -> None:
        """Hand each shard its principals from ``state``, which keeps only what spans them."""
        scorer, buckets = state.scorer, state.bucket_scorer
        assert scorer is not None and buckets is not None
        shares = [
            DetectorState(
                model_name=state.model_name,
                scorer=Scorer(self.spec),
                bucket_scorer=Scorer(bucket_spec(self.spec)),
            )
            for _ in self.shards
        ]
        for name, profile in state.profiles.items():
            shares[self.shard_of(name)].profiles[name] = profile
        for whole, part in ((scorer, "scorer"), (buckets, "bucket_scorer")):
            for key, base in whole.principals.items():
                getattr(shares[self.shard_of(key)], part).principals[key] = base
            whole.principals = {}
        state.profiles = {}
        seeded = zip(self.shards, shares, strict=True)
        self._collect([self._submit(a, "seed", share, self.spec, settings) for a, share in seeded])

    def shard_of(self, key: str) -> int:
        n = self._route.get(key)
        if n is None:
            if len(self._route) > 1 << 16:
                self._route.clear()
            n = self._route[key] = virtual_partition(principal_of(key)) % len(self.shards)
        return n

    def _submit(self, shard: Any, method: str, *args: Any) -> Any:
        """Start ``shard.method(*args)``; a handle for ``_collect``."""
        return getattr(shard, method)(*args)

    def _collect(self, handles: list[Any]) -> list[Any]:
        """The results of calls started by ``_submit``, in order."""
        return handles

    def _call(self, calls: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
        """Call each shard named (method and arguments), its queue first; their results."""
        refs = []
        for n, (method, *args) in calls.items():
            queued, self.queued[n] = self.queued[n], []
            refs.append(self._submit(self.shards[n], "call", queued, method, *args))
        out = {}
        for n, (result, stats) in zip(calls, self._collect(refs), strict=True):
            self.stats.add(stats)
            out[n] = result
        return out

    @staticmethod
    def _gather_in_order(
        n_rows: int, at: dict[int, list[int]], results: dict[int, Any]
    ) -> list[Any]:
        out: list[Any] = [None] * n_rows
        for n, positions in at.items():
            for i, r in zip(positions, results[n], strict=True):
                out[i] = r
        return out

    def configure(self, settings: Settings) -> None:
        for q in self.queued:
            q.append(("configure", settings))

    def run_ahead(
        self,
        kind: Kind,
        close: int,
        windows: Windows,
        positions: list[int],
        judged: list[bool],
        peer_peaks: dict[str, dict[str, float]],
    ) -> list[Ahead | None]:
        if isinstance(windows, list):
            windows = pl.DataFrame(windows)
        if close != self._close:
            self._close, self._where = close, {"principal": {}, "bucket": {}}
        where = self._where[kind]
        at: dict[int, list[int]] = defaultdict(list)
        for j, key in enumerate(windows["principal"]):
            n = self.shard_of(key)
            at[n].append(j)
            where[positions[j]] = n
        calls = {
            n: (
                "run_ahead",
                kind,
                close,
                windows[ix],
                [positions[j] for j in ix],
                [judged[j] for j in ix],
                peer_peaks,
            )
            for n, ix in at.items()
        }
        return self._gather_in_order(len(positions), at, self._call(calls))

    def judge(
        self,
        kind: Kind,
        close: int,
        positions: list[int],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]:
        at: dict[int, list[int]] = defaultdict(list)
        for j, i in enumerate(positions):
            at[self._where[kind][i]].append(j)
        calls = {
            n: (
                "judge",
                kind,
                close,
                [positions[j] for j in ix],
                [deviations[j] for j in ix],
                [judged[j] for j in ix],
            )
            for n, ix in at.items()
        }
        return self._gather_in_order(len(positions), at, self._call(calls))

    def finish(self, close: int, position: int, suppressed: bool) -> None:
        n = self._where["principal"][position]
        self.queued[n].append(("finish", close, position, suppressed))

    def routines(self, questions: list[Habit]) -> list[bool]:
        at: dict[int, list[int]] = defaultdict(list)
        for i, q in enumerate(questions):
            at[self.shard_of(q.principal)].append(i)
        calls = {n: ("routines", [questions[i] for i in ix]) for n, ix in at.items()}
        return self._gather_in_order(len(questions), at, self._call(calls))

    def remember(self, q: Habit) -> None:
        self.queued[self.shard_of(q.principal)].append(("remember", q))

    def routine(self, q: Habit) -> bool:
        n = self.shard_of(q.principal)
        return bool(self._call({n: ("routine", q)})[n])

    def newest(self) -> datetime | None:
        seen = [t for t in self._call_all("newest").values() if t is not None]
        return max(seen, default=None)

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        self._call_all("expire", now, expiry_days, idle_days)

    def _call_all(self, method: str, *args: Any) -> dict[int, Any]:
        return self._call({n: (method, *args) for n in range(len(self.shards))})

    def take_stats(self) -> PartitionStats:
        stats, self.stats = self.stats, PartitionStats()
        return stats

    def gather(self, state: DetectorState) -> DetectorState:
        """The whole state: ``state`` (what spans principals) with every shard's share."""
        shares: list[DetectorState] = list(self._call_all("export").values())
        scorer, buckets = state.scorer, state.bucket_scorer
        assert scorer is not None and buckets is not None
        whole = replace(
            state,
            profiles={},
            scorer=_with_principals(scorer, self.spec),
            bucket_scorer=_with_principals(buckets, bucket_spec(self.spec)),
        )
        for share in shares:
            whole.profiles.update(share.profiles)
            for part in ("scorer", "bucket_scorer"):
                getattr(whole, part).principals.update(getattr(share, part).principals)
        return whole


def _with_principals(shared: Scorer, spec: ModelSpec) -> Scorer:
    """A scorer with ``shared``'s peers and threshold, and room for the principals."""
    out = Scorer(spec)
    out.peers, out.quantile, out.scored = shared.peers, shared.quantile, shared.scored
    return out
