"""One partition of the engine: the per-principal state and the work on it. Pure.

The engine's state splits in two (docs/scale-out.md). What belongs to one principal (its
profile, its own baselines, its principal×bucket baselines) lives in a ``Partition``;
what spans principals (the calibrated threshold, peer baselines, the alert and incident
books, discovery, telemetry silence) stays with the engine, which coordinates. The engine
talks to its partitions only through the methods here, a close (the windows a batch closed)
at a time: the partitions run each principal ahead through the windows that cannot
deviate, and the engine decides, has judged and files the others in order. The same code
runs in one process (one ``Partition`` sharing the engine's state) and on a
cluster (``detector.sharded``, ``detector.ray_partitions``: principals hashed onto
actors). Every partition sees its principals' windows in the engine's order, and every
call that reads a principal's state comes after all earlier changes to it, so the verdicts
are the same however principals are spread.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import polars as pl

from detector.config import Settings
from detector.detections import active
from detector.detections.base import Detection, Finding
from detector.detections.window_base import RELAY_FEATURES, Verdict, WindowDetection
from detector.errors import InfrastructureError
from detector.features.windows import BUCKET_SEPARATOR
from detector.interrupts import reraise_if_interrupted
from detector.scoring.model import Deviation, ModelSpec, OwnScore, Scorer
from detector.scoring.state import HABIT_AGE, DetectorState, Profile, bucket_spec

log = logging.getLogger(__name__)

Kind = Literal["principal", "bucket"]
"""Principal windows, or principal×bucket windows (keyed ``principal<SEP>bucket``)."""
Windows = pl.DataFrame | list[dict[str, Any]]
"""Closed windows: a frame to send elsewhere, or rows already read in this process."""
VIRTUAL_PARTITIONS = 4096
"""Principals hash onto this many virtual partitions, which are spread over the actors:
changing the number of actors moves whole virtual partitions, never one principal alone."""


def principal_of(key: str) -> str:
    """The principal of a window key (a principal×bucket key names its principal first)."""
    return key.partition(BUCKET_SEPARATOR)[0]


def peer_of(kind: Kind, w: dict[str, Any]) -> str:
    """The peer group a window is judged by while its principal is new: the account and
    the principal's type (the account's buckets, for a principal×bucket window)."""
    group = "bucket" if kind == "bucket" else w.get("principal_type")
    return f"{w.get('account_id')}|{group}"


def team_of(principal: str) -> str:
    """What keeps a principal's partition: the first two segments of a name with a path
    (``…:assumed-role/<role>``, ``…:user/<path>``), else the name itself.

    ``DetectorState.team_habit`` reads the marks of every name under a person's team
    prefix (``role/<name>/<e-mail>``: teammates' habits count). A team prefix has a ``/``
    in it, so every name under it shares its first two segments, and lands with it."""
    if principal.count("/") < 2:
        return principal
    first, second, _ = principal.split("/", 2)
    return f"{first}/{second}"


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
    habits: dict[Habit, bool] = field(default_factory=dict)
    """The findings' habit questions, answered as the engine would ask them when it files
    them (``Partition.routine``), without remembering anything yet (``remember``)."""


@dataclass
class Ahead:
    """What ``Partition.run_ahead`` did with one window."""

    own: OwnScore
    judged: Judged | None = None
    """Set when the window could not deviate and was judged: the engine files its
    findings (it decides nothing else about it)."""
    finished: bool = False
    """Judged without findings, and (a principal window) already learnt by the profile."""


@dataclass(frozen=True)
class Habit:
    """A question about a principal's habits (``Detection.habit_of``)."""

    principal: str
    kind: str
    value: str
    mark: str
    at: datetime


def habit_question(d: Detection, f: Finding) -> Habit | None:
    """What the engine asks the finding's principal's partition (``Detection.habit_of``)."""
    habit = d.habit_of(f)
    if habit is None or not f.principal:
        return None
    kind, value = habit
    return Habit(f.principal, kind, value, f"{d.id}|{value}", f.first_seen)


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
        self._windows: dict[Kind, dict[int, dict[str, Any]]] = {"principal": {}, "bucket": {}}

    def configure(self, settings: Settings) -> None:
        """The effective settings (what discovery learned changes them)."""
        self.settings = settings

    def _scorer(self, kind: Kind) -> Scorer:
        scorer = self.state.scorer if kind == "principal" else self.state.bucket_scorer
        assert scorer is not None
        return scorer

    def run_ahead(
        self,
        kind: Kind,
        close: int,
        windows: Windows,
        positions: list[int],
        judged: list[bool],
        peer_peaks: dict[str, dict[str, float]],
    ) -> list[Ahead | None]:
        """Windows of a close (each key's in order, from its next one; ``positions`` are
        their places in the close), as far as each key can go without the engine: a window
        that ``Scorer.cannot_deviate`` is learnt and judged here (and, for a principal
        window without findings, finished). A key stops at its first window that could
        deviate (returned scored, for the engine to decide) or that has findings (to be
        filed first); its later windows are None. The windows are kept for ``judge`` and
        ``finish``, which name them by position."""
        scorer = self._scorer(kind)
        stash = self._stash(kind, close)
        rows = windows if isinstance(windows, list) else list(windows.iter_rows(named=True))
        for i, w in zip(positions, rows, strict=True):
            stash[i] = w
            if kind == "principal":
                self._just_closed[w["principal"], w["window_start"]] = w
        stopped: set[str] = set()
        out: list[Ahead | None] = []
        for w, judge in zip(rows, judged, strict=True):
            key = w["principal"]
            if key in stopped:
                out.append(None)
                continue
            x = {f: float(w.get(f) or 0) for f in scorer.spec.features}
            own = self._own(scorer, w, x)
            if not scorer.cannot_deviate(own, x, peer_peaks.get(peer_of(kind, w))):
                stopped.add(key)
                out.append(Ahead(scorer.detail(key, own)))
                continue
            own.peak = {}  # the engine reads only the z-scores of a window that cannot deviate
            scorer.learn_own(key, x)
            if kind == "principal":
                verdict = self._judge_principal(key, w, [], judge)
            else:
                verdict = self._judge_bucket(principal_of(key), w, [], close)
            finished = not verdict.findings
            if finished and kind == "principal":
                self._learn(w, False)
            elif not finished:
                stopped.add(key)
            out.append(Ahead(own, verdict, finished))
        return out

    def _stash(self, kind: Kind, close: int) -> dict[int, dict[str, Any]]:
        """The close's windows this partition was given, by position (a new close
        forgets the last one's)."""
        if close != self._close:
            self._just_closed, self._close = {}, close
            self._windows = {"principal": {}, "bucket": {}}
        return self._windows[kind]

    def _own(self, scorer: Scorer, w: dict[str, Any], x: dict[str, float]) -> OwnScore:
        """The window against its key's own baseline (``Scorer.own``)."""
        profile = self.state.profiles.get(principal_of(w["principal"]))
        return scorer.own(w["principal"], x, self._empty_before(profile, w["window_start"]))

    def judge(
        self,
        kind: Kind,
        close: int,
        positions: list[int],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]:
        """Windows the engine decided (by position in the close): learn the normal ones;
        ask each detection about the others (and about every window of a ``judged``
        principal: window detections read more than deviations)."""
        scorer = self._scorer(kind)
        stash = self._stash(kind, close)
        out = []
        for i, devs, judge in zip(positions, deviations, judged, strict=True):
            w = stash[i]
            key, t = w["principal"], w["window_start"]
            principal = principal_of(key)
            if not devs:
                scorer.learn_own(key, {f: float(w.get(f) or 0) for f in scorer.spec.features})
            if kind == "principal":
                out.append(self._judge_principal(principal, w, devs, judge))
                continue
            kept = self._unroutine(devs, principal, t, f"@{key.partition(BUCKET_SEPARATOR)[2]}")
            out.append(self._judge_bucket(principal, w, kept, close))
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
        return self._ask(verdict, self.window_detections, bool(kept))

    def _judge_bucket(
        self, principal: str, w: dict[str, Any], kept: list[Deviation], close: int
    ) -> Judged:
        """Volume per principal×bucket: volume detections only, when it deviates."""
        if not kept:
            return Judged(False)
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
        return self._ask(verdict, self.volume_detections, True)

    def _ask(self, verdict: Verdict, detections: list[WindowDetection], deviates: bool) -> Judged:
        out = Judged(deviates)
        for d in detections:
            finding = guarded(self.stats.errors, d, None, d.check, verdict, self.settings)
            if finding is None:
                continue
            out.findings.append((d.id, finding))
            q = habit_question(d, finding)
            if q is not None and q.kind != "finding":
                # Not a mark: the engine asks when it files the finding, after the marks
                # filed before it (the principal's or a teammate's).
                out.habits[q] = self.routine(q, remember=False)
        return out

    def finish(self, close: int, position: int, suppressed: bool) -> None:
        """A principal window once its alerts are filed: the profile learns it, and so
        does the own baseline when an analyst suppressed all its deviation raised."""
        self._learn(self._stash("principal", close)[position], suppressed)

    def _learn(self, w: dict[str, Any], suppressed: bool) -> None:
        principal, t = w["principal"], w["window_start"]
        if suppressed:
            scorer = self._scorer("principal")
            scorer.learn_own(principal, {f: float(w.get(f) or 0) for f in scorer.spec.features})
        self.state.profile(principal, t).learn(w)

    def routine(self, q: Habit, remember: bool = True) -> bool:
        """Whether the finding ``q`` asks about is the principal's habit; a ``finding``
        habit also remembers its mark (``Profile.repeated``) unless ``remember`` is False
        (then ``remember`` does it, once the engine has filed the finding)."""
        if q.kind == "finding":  # remembered even while learning: that is the learning
            profile = self.state.profiles.get(q.principal)
            first = profile.marks.get(q.mark, (q.at, q.at))[0] if profile else q.at
            if remember:
                self.remember(q)
            return q.at - first >= HABIT_AGE or self.state.team_habit(q.principal, q.mark, q.at)
        known = self.state.profiles.get(q.principal)
        if known is None:
            return False
        if q.kind == "public_networks":
            return known.habitual("ip_prefixes", q.value, q.at) or known.public_caller(q.at)
        return known.habitual(q.kind, q.value, q.at)

    def remember(self, q: Habit) -> None:
        """Remember a filed finding's habit mark."""
        self.state.profile(q.principal, q.at).repeated(q.mark, q.at)

    def routines(self, questions: list[Habit]) -> list[bool]:
        """Answers to questions that remember nothing (``finding`` habits are not asked
        this way)."""
        return [self.routine(q, remember=False) for q in questions]

    def take_stats(self) -> PartitionStats:
        """What it counted since the last call."""
        stats, self.stats = self.stats, PartitionStats()
        return stats

    def export(self) -> DetectorState:
        """Its share of the state (for a checkpoint)."""
        return self.state

    def gather(self, state: DetectorState) -> DetectorState:
        """In the engine's process the partition shares the engine's state: it is whole."""
        assert state is self.state, "a partition in the engine's process shares its state"
        return state

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

    def run_ahead(
        self,
        kind: Kind,
        close: int,
        windows: Windows,
        positions: list[int],
        judged: list[bool],
        peer_peaks: dict[str, dict[str, float]],
    ) -> list[Ahead | None]: ...

    def judge(
        self,
        kind: Kind,
        close: int,
        positions: list[int],
        deviations: list[list[Deviation]],
        judged: list[bool],
    ) -> list[Judged]: ...

    def finish(self, close: int, position: int, suppressed: bool) -> None:
        """May wait until the next call that reads that principal's partition."""

    def routine(self, q: Habit) -> bool: ...

    def routines(self, questions: list[Habit]) -> list[bool]:
        """Answers to questions that remember nothing, all at once."""

    def remember(self, q: Habit) -> None:
        """May wait until the next call that reads that principal's partition."""

    def newest(self) -> datetime | None: ...

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None: ...

    def take_stats(self) -> PartitionStats:
        """What the partitions counted since the last call."""

    def gather(self, state: DetectorState) -> DetectorState:
        """``state`` (what spans principals) with every partition's principals: the whole
        state a checkpoint saves."""
