"""One partition of the engine: the per-principal state and the work on it. Pure.

The engine's state splits in two (docs/scale-out.md). What belongs to one principal (its
profile, its own baselines, its principal×bucket baselines) lives in a ``Partition``;
what spans principals (the calibrated threshold, peer baselines, the alert and incident
books, discovery, telemetry silence) stays with the engine, which coordinates. The engine
talks to its partitions only through the methods here, in rounds of windows that share a
start time, so the same code runs in one process (``LocalPartitions``: one partition
holding every principal) and on a cluster (``detector.ray_partitions``: principals hashed
onto actors). Every partition sees its principals' windows in the engine's order, and
every call that reads a principal's state comes after all earlier changes to it, so the
verdicts are the same however principals are spread.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from detector.config import Settings
from detector.detections import active
from detector.detections.base import Detection, Finding
from detector.detections.window_base import RELAY_FEATURES, Verdict, WindowDetection
from detector.errors import InfrastructureError
from detector.features.windows import BUCKET_SEPARATOR
from detector.interrupts import reraise_if_interrupted
from detector.scoring.model import Deviation, ModelSpec, OwnScore, Scorer
from detector.scoring.state import DetectorState, Profile, bucket_spec

log = logging.getLogger(__name__)

Kind = Literal["principal", "bucket"]
"""Principal windows, or principal×bucket windows (keyed ``principal<SEP>bucket``)."""
VIRTUAL_PARTITIONS = 4096
"""Principals hash onto this many virtual partitions, which are spread over the actors:
changing the number of actors moves whole virtual partitions, never one principal alone."""


def principal_of(key: str) -> str:
    """The principal of a window key (a principal×bucket key names its principal first)."""
    return key.partition(BUCKET_SEPARATOR)[0]


def team_of(principal: str) -> str:
    """What keeps a principal's partition: its team for people on a federated role
    (``role/<name>/<e-mail>``: teammates' habits count, ``DetectorState.team_habit``),
    else the principal itself."""
    team, _, person = principal.rpartition("/")
    return team + "/" if "@" in person and "/" in team else principal


def virtual_partition(principal: str) -> int:
    """A stable hash of the principal's team onto ``VIRTUAL_PARTITIONS`` (not Python's
    ``hash``, which differs between processes)."""
    digest = hashlib.blake2b(team_of(principal).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % VIRTUAL_PARTITIONS


class PartitionLost(InfrastructureError):
    """A partition's state is gone (the actor that held it died): detection goes back to
    the last checkpoint (``DetectionRun``)."""


@dataclass
class PartitionStats:
    """What a partition counts for the engine's ``EngineStats``."""

    routine_bursts: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, other: PartitionStats) -> None:
        self.routine_bursts += other.routine_bursts
        for k, n in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + n


@dataclass
class Judged:
    """What a partition concluded about one scored window."""

    deviates: bool
    """Deviations remain once the principal's routine bursts are left out."""
    findings: list[tuple[str, Finding]] = field(default_factory=list)
    """(detection id, finding), in the detections' order."""


@dataclass(frozen=True)
class Habit:
    """A question about a principal's habits (``Detection.habit_of``)."""

    principal: str
    kind: str
    value: str
    mark: str
    at: datetime


def guarded(
    errors: dict[str, int], d: Detection, nothing: Any, check: Callable[..., Any], *args: Any
) -> Any:
    """``check(*args)``, or ``nothing`` when it raises: one detection's bug (or one input
    it chokes on) must not cost the others, or the batch. Counted and logged."""
    try:
        return check(*args)
    except Exception as exc:
        reraise_if_interrupted(exc)
        errors[d.id] = errors.get(d.id, 0) + 1
        log.exception("detection %s failed on this batch; the other detections ran", d.id)
        return nothing


class Partition:
    """Profiles and own baselines of some principals, and each step of judging their
    windows that needs them."""

    def __init__(self, state: DetectorState, spec: ModelSpec, settings: Settings) -> None:
        self.state = state
        if state.scorer is None:
            state.scorer = Scorer(spec)
        if state.bucket_scorer is None:
            state.bucket_scorer = Scorer(bucket_spec(spec))
        detections = [d for d in active(settings) if isinstance(d, WindowDetection)]
        self.window_detections = detections
        self.volume_detections = [d for d in detections if d.per_bucket]
        self.settings = settings
        self.stats = PartitionStats()
        self._just_closed: dict[tuple[str, Any], dict[str, Any]] = {}
        """Each principal window of the latest close, for its principal×bucket windows."""
        self._close = -1

    def configure(self, settings: Settings) -> None:
        """The effective settings (what discovery learned changes them)."""
        self.settings = settings

    def _scorer(self, kind: Kind) -> Scorer:
        scorer = self.state.scorer if kind == "principal" else self.state.bucket_scorer
        assert scorer is not None
        return scorer

    def score(self, kind: Kind, close: int, rows: list[dict[str, Any]]) -> list[OwnScore]:
        """Round 1: each window against its principal's own baseline."""
        scorer = self._scorer(kind)
        if kind == "principal" and close != self._close:
            self._just_closed, self._close = {}, close
        out = []
        for w in rows:
            principal = principal_of(w["principal"])
            if kind == "principal":
                self._just_closed[principal, w["window_start"]] = w
            x = {f: float(w.get(f) or 0) for f in scorer.spec.features}
            empty = self._empty_before(self.state.profiles.get(principal), w["window_start"])
            out.append(scorer.own(w["principal"], x, empty))
        return out

    def judge(
        self,
        kind: Kind,
        close: int,
        rows: list[dict[str, Any]],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]:
        """Round 2: learn the normal windows; ask each detection about the others (and
        about every window of a ``judged`` principal: window detections read more than
        deviations)."""
        scorer = self._scorer(kind)
        out = []
        for w, devs, judge in zip(rows, deviations, judged, strict=True):
            key, t = w["principal"], w["window_start"]
            principal = principal_of(key)
            if not devs:
                scorer.learn_own(key, {f: float(w.get(f) or 0) for f in scorer.spec.features})
            if kind == "principal":
                out.append(self._judge_principal(principal, w, devs, judge))
                continue
            kept = self._unroutine(devs, principal, t, f"@{key.partition(BUCKET_SEPARATOR)[2]}")
            out.append(Judged(bool(kept), self._judge_bucket(principal, w, kept, close)))
        return out

    def _judge_principal(
        self, principal: str, w: dict[str, Any], devs: list[Deviation], judge: bool
    ) -> Judged:
        profile = self.state.profiles.get(principal)
        kept = self._unroutine(devs, principal, w["window_start"], "")
        if not judge:
            return Judged(bool(kept))
        verdict = Verdict(
            principal,
            w.get("account_id"),
            w.get("principal_type"),
            w,
            kept,
            profile.news(w) if profile else {},
            profile,
        )
        return Judged(bool(kept), self._ask(verdict, self.window_detections))

    def _judge_bucket(
        self, principal: str, w: dict[str, Any], kept: list[Deviation], close: int
    ) -> list[tuple[str, Finding]]:
        """Volume per principal×bucket: volume detections only, when it deviates."""
        if not kept:
            return []
        bucket = w["principal"].partition(BUCKET_SEPARATOR)[2]
        for dev in kept:
            dev.scope = bucket
        # The principal's writes in the same window, wherever they went: a pipeline
        # stage reads a bucket and writes what it read elsewhere.
        of = self._just_closed.get((principal, w["window_start"])) if close == self._close else None
        whole = {f"principal_{f}": int(of.get(f) or 0) for f in RELAY_FEATURES} if of else {}
        verdict = Verdict(
            principal,
            w.get("account_id"),
            w.get("principal_type"),
            {**w, "buckets": [bucket], **whole},
            kept,
            {},
            self.state.profiles.get(principal),
        )
        return self._ask(verdict, self.volume_detections)

    def _ask(
        self, verdict: Verdict, detections: list[WindowDetection]
    ) -> list[tuple[str, Finding]]:
        out = []
        for d in detections:
            finding = guarded(self.stats.errors, d, None, d.check, verdict, self.settings)
            if finding is not None:
                out.append((d.id, finding))
        return out

    def finish(self, w: dict[str, Any], suppressed: bool) -> None:
        """Round 3, per principal window once its alerts are filed: the profile learns it,
        and so does the own baseline when an analyst suppressed all its deviation raised."""
        principal, t = w["principal"], w["window_start"]
        if suppressed:
            scorer = self._scorer("principal")
            scorer.learn_own(principal, {f: float(w.get(f) or 0) for f in scorer.spec.features})
        self.state.profile(principal, t).learn(w)

    def routine(self, q: Habit) -> bool:
        """Whether the finding ``q`` asks about is the principal's habit; a ``finding``
        habit also remembers its mark (``Profile.repeated``)."""
        if q.kind == "finding":  # remembered even while learning: that is the learning
            profile = self.state.profile(q.principal, q.at)
            return profile.repeated(q.mark, q.at) or self.state.team_habit(
                q.principal, q.mark, q.at
            )
        known = self.state.profiles.get(q.principal)
        if known is None:
            return False
        if q.kind == "public_networks":
            return known.habitual("ip_prefixes", q.value, q.at) or known.public_caller(q.at)
        return known.habitual(q.kind, q.value, q.at)

    def newest(self) -> datetime | None:
        """The latest window any of its principals was seen in."""
        return max((p.last_seen for p in self.state.profiles.values()), default=None)

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        self.state.expire_principals(now, expiry_days, idle_days)

    def _empty_before(self, profile: Profile | None, t: datetime) -> int:
        """Windows without events between the principal's last learned window and ``t``
        (for a principal×bucket, a lower bound: the principal may have used other buckets)."""
        if profile is None or profile.last_seen >= t:
            return 0
        width = timedelta(minutes=self.settings.window_minutes)
        return max(0, int((t - profile.last_seen) / width) - 1)

    def _unroutine(
        self, deviations: list[Deviation], principal: str, t: datetime, scope: str
    ) -> list[Deviation]:
        """Deviations less the bursts this principal shows routinely (a daily refresh, a
        weekly rebuild): ``Profile.routine_burst`` remembers every burst."""
        if not deviations:
            return deviations
        profile = self.state.profile(principal, t)
        kept = [
            d for d in deviations if not profile.routine_burst(d.feature + scope, d.observed, t)
        ]
        self.stats.routine_bursts += len(deviations) - len(kept)
        return kept


class Partitions(Protocol):
    """The engine's partitions, however many and wherever they run. Calls for windows take
    them in the engine's order; each partition gets its principals' share, in that order."""

    def configure(self, settings: Settings) -> None: ...

    def score(self, kind: Kind, close: int, rows: list[dict[str, Any]]) -> list[OwnScore]: ...

    def judge(
        self,
        kind: Kind,
        close: int,
        rows: list[dict[str, Any]],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]: ...

    def finish(self, w: dict[str, Any], suppressed: bool) -> None:
        """May wait until the next call that reads that principal's partition."""

    def end_round(self) -> None:
        """Everything ``finish`` was told is done."""

    def routine(self, q: Habit) -> bool: ...

    def newest(self) -> datetime | None: ...

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None: ...

    def take_stats(self) -> PartitionStats:
        """What the partitions counted since the last call."""

    def gather(self, state: DetectorState) -> DetectorState:
        """``state`` (what spans principals) with every partition's principals: the whole
        state a checkpoint saves."""


class LocalPartitions:
    """One partition in this process, sharing the engine's own state object."""

    def __init__(self, state: DetectorState, spec: ModelSpec, settings: Settings) -> None:
        self.partition = Partition(state, spec, settings)

    def configure(self, settings: Settings) -> None:
        self.partition.configure(settings)

    def score(self, kind: Kind, close: int, rows: list[dict[str, Any]]) -> list[OwnScore]:
        return self.partition.score(kind, close, rows)

    def judge(
        self,
        kind: Kind,
        close: int,
        rows: list[dict[str, Any]],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]:
        return self.partition.judge(kind, close, rows, deviations, judged)

    def finish(self, w: dict[str, Any], suppressed: bool) -> None:
        self.partition.finish(w, suppressed)

    def end_round(self) -> None:
        return None

    def routine(self, q: Habit) -> bool:
        return self.partition.routine(q)

    def newest(self) -> datetime | None:
        return self.partition.newest()

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        self.partition.expire(now, expiry_days, idle_days)

    def take_stats(self) -> PartitionStats:
        stats, self.partition.stats = self.partition.stats, PartitionStats()
        return stats

    def gather(self, state: DetectorState) -> DetectorState:
        assert state is self.partition.state, "a local partition shares the engine's state"
        return state
