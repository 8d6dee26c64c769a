"""Online baselines of window features, one per principal, computed as river computes them.

The estimator ``ew_log_zscore`` follows river's contract (``learn_one``/``score_one`` on a
dict of features). Per feature it keeps an exponentially weighted mean and variance of
``log1p(value)``, so "10× usual" is a distance, not a raw number. It also keeps a slowly
decaying past peak, so a job that always bursts at night is judged against its own bursts.
A window deviates on a feature when all three hold:

* its z-score is above the calibrated threshold. That threshold is a quantile of every
  z-score seen (the P² estimator), never below ``score_floor``;
* the value is above the feature's absolute floor;
* the value is more than ``peak_factor`` × the principal's past peak.

Cold start: until a principal has ``warmup_windows`` windows, it is scored against its peer
group (same account and principal type), so a new role is judged by roles like it.
Windows that deviate are not learned from (the ``QuantileFilter`` idea), so an attack cannot
teach the baseline that it is normal.

The statistics are ``detector.scoring.ewstats``: they follow river's recurrences for
``stats.EWMean``, ``stats.EWVar`` and ``stats.Quantile`` exactly and are checked against river
by tests, but keep their state in plain fields, so a checkpoint stores numbers, not river
objects (docs/state.md). ``to_state``/``from_state`` convert a baseline or a scorer; the
model's parameters are not part of that state: they come from the model definition.
"""

from __future__ import annotations

import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec

from detector.errors import UsageError
from detector.resources import resource_dir
from detector.scoring.ewstats import EWMean, EWVar, Finite, Quantile, QuantileState

MODELS_DIR = resource_dir("models")


@dataclass(frozen=True)
class ModelSpec:
    """A model definition file from models/: estimator, parameters, features, seed."""

    name: str
    estimator: str
    seed: int
    fading_factor: float
    peak_decay: float
    warmup_windows: int
    score_quantile: float
    score_floor: float
    peak_factor: float
    expiry_days: int
    idle_days: int
    floors: dict[str, float]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.floors)


ESTIMATORS = ("ew_log_zscore",)


def load_model_spec(name_or_path: str) -> ModelSpec:
    """A model by name (models/<name>.toml) or path; errors name the file and the field."""
    path = Path(name_or_path)
    if not path.suffix:
        path = MODELS_DIR / f"{name_or_path}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.toml")))
        raise UsageError(f"{path}: no such model (known: {known})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = ModelSpec(
            name=str(raw["name"]),
            estimator=str(raw["estimator"]),
            seed=int(raw["seed"]),
            fading_factor=float(raw["fading_factor"]),
            peak_decay=float(raw["peak_decay"]),
            warmup_windows=int(raw["warmup_windows"]),
            score_quantile=float(raw["score_quantile"]),
            score_floor=float(raw["score_floor"]),
            peak_factor=float(raw["peak_factor"]),
            expiry_days=int(raw["expiry_days"]),
            idle_days=int(raw["idle_days"]),
            floors={str(k): float(v) for k, v in dict(raw["features"]).items()},
        )
    except KeyError as exc:
        raise UsageError(f"{path}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: bad value: {exc}") from None
    if spec.estimator not in ESTIMATORS:
        raise UsageError(f"{path}: estimator {spec.estimator!r} is not one of {ESTIMATORS}")
    if not 0 < spec.fading_factor < 1 or not 0.5 < spec.score_quantile < 1:
        raise UsageError(f"{path}: fading_factor and score_quantile must be in (0, 1)")
    return spec


SUSTAINED_FEATURES = ("n_read", "bytes_out", "n_write")
"""Features whose sustained excess is tracked (slow exfiltration, overwrite runs), beside
single spikes."""
CUSUM_FADING = 0.002
"""The slow reference mean of the sustained-excess statistic (about 500 windows, ~2 days
of 5-minute windows): hours of a modest excess barely move it, unlike the main mean."""
CUSUM_ALLOWANCE = 0.5
"""Per window, the excess (in standard deviations of log volume) that does not count."""
CUSUM_THRESHOLD = 20.0
"""Accumulated excess, in standard deviations, that raises a sustained deviation: 3× usual
held for one to four hours depending on how steady the principal is; 2× in most of a day."""
CUSUM_FLOOR_MULTIPLE = 10.0
"""The extra volume accumulated must also reach this multiple of the feature's floor."""


class LogZBaseline:
    """One principal's (or peer group's) baseline of a few features. river-style API.

    Beside the spike statistics it keeps, for ``SUSTAINED_FEATURES``, a one-sided CUSUM of
    the standardised log excess over a slow mean (Page's CUSUM), so that a modest excess
    held for hours accumulates into a deviation that no single window shows."""

    def __init__(self, features: tuple[str, ...], fading_factor: float, peak_decay: float) -> None:
        self.features = features
        self.fading_factor = fading_factor
        self.peak_decay = peak_decay
        self.var = {f: EWVar(fading_factor) for f in features}
        self.mean = {f: v.mean for f, v in self.var.items()}
        """The variance's own EW mean (river's ``EWVar`` keeps one too): one mean, not two."""
        self.peak = dict.fromkeys(features, 0.0)
        self.n = 0
        tracked = [f for f in SUSTAINED_FEATURES if f in features]
        self.slow = {f: EWMean(CUSUM_FADING) for f in tracked}
        self.cusum = dict.fromkeys(tracked, 0.0)
        self.excess = dict.fromkeys(tracked, 0.0)
        """Raw volume above the slow mean since the CUSUM last left zero."""
        self.held = dict.fromkeys(tracked, 0)
        """Windows since the CUSUM last left zero."""

    def sustained(
        self, x: dict[str, float], floors: dict[str, float], empty_before: int = 0
    ) -> list[Deviation]:
        """Update the CUSUMs with this window; deviations where one crossed the threshold
        (then it starts again from zero, so a long excess alerts again only hours later).

        ``empty_before``: windows without any event since the last one scored. They read
        nothing, so they count against the excess: without them a principal active a few
        windows a day would look like one long excess."""
        out = []
        for f, slow in self.slow.items():
            if not slow.initialized:
                continue
            raw = max(x.get(f, 0.0), 0.0)
            sd = math.sqrt(max(self.var[f].get(), 0.0)) + 0.25
            if empty_before:
                idle = (0.0 - slow.get()) / sd - CUSUM_ALLOWANCE
                self.cusum[f] = max(0.0, self.cusum[f] + empty_before * idle)
                if self.cusum[f] == 0.0:
                    self.excess[f], self.held[f] = 0.0, 0
            z = (math.log1p(raw) - slow.get()) / sd
            self.cusum[f] = max(0.0, self.cusum[f] + z - CUSUM_ALLOWANCE)
            if self.cusum[f] == 0.0:
                self.excess[f], self.held[f] = 0.0, 0
                continue
            self.excess[f] += raw - math.expm1(slow.get())
            self.held[f] += 1
            if self.cusum[f] > CUSUM_THRESHOLD and self.excess[
                f
            ] >= CUSUM_FLOOR_MULTIPLE * floors.get(f, 0.0):
                typical = math.expm1(slow.get())
                dev = Deviation(f"sustained_{f}", self.excess[f], self.cusum[f], typical,
                                self.peak[f], False, held=self.held[f])  # fmt: skip
                out.append(dev)
                self.cusum[f], self.excess[f], self.held[f] = 0.0, 0.0, 0
        return out

    def score_one(self, x: dict[str, float]) -> dict[str, float]:
        """z-score of each feature in log space (0 before anything was learned)."""
        if not self.n:
            return dict.fromkeys(self.features, 0.0)
        out = {}
        for f in self.features:
            v = math.log1p(max(x.get(f, 0.0), 0.0))
            sd = math.sqrt(max(self.var[f].get(), 0.0)) + 0.25
            out[f] = (v - self.mean[f].get()) / sd
        return out

    def learn_one(self, x: dict[str, float]) -> None:
        for f in self.features:
            raw = max(x.get(f, 0.0), 0.0)
            self.var[f].update(math.log1p(raw))  # and so the mean
            self.peak[f] = max(raw, self.peak[f] * self.peak_decay)
            if f in self.slow:
                slow, logged = self.slow[f], math.log1p(raw)
                if slow.initialized and self.n + 1 < 1 / CUSUM_FADING:
                    # A plain mean until the slow memory is full: seeded by its first window
                    # alone, a weekly job's first quiet window would be "usual" for weeks.
                    slow.mean += (logged - slow.mean) / (self.n + 1)
                else:
                    slow.update(logged)
        self.n += 1

    def to_state(self) -> BaselineState:
        return BaselineState(
            n=self.n,
            mean={f: v.mean.mean for f, v in self.var.items()},
            sq_mean={f: v.sq_mean.mean for f, v in self.var.items()},
            peak={f: float(p) for f, p in self.peak.items()},
            slow={f: m.mean for f, m in self.slow.items() if m.initialized},
            cusum=dict(self.cusum),
            excess=dict(self.excess),
            held=dict(self.held),
        )

    @classmethod
    def from_state(
        cls,
        state: BaselineState,
        features: tuple[str, ...],
        fading_factor: float,
        peak_decay: float,
    ) -> LogZBaseline:
        """A baseline from its checkpoint state; its features must be exactly ``features``.

        Every feature learns from every window, so each running mean has had its first value
        exactly when ``n > 0``."""
        for name, part in (("mean", state.mean), ("sq_mean", state.sq_mean), ("peak", state.peak)):
            if tuple(part) != features:
                raise ValueError(f"{name}: features {list(part)}, expected {list(features)}")
        base = cls((), fading_factor, peak_decay)
        started = state.n > 0
        base.features = features
        base.var = {
            f: EWVar(
                fading_factor,
                EWMean(fading_factor, m, started),
                EWMean(fading_factor, state.sq_mean[f], started),
            )
            for f, m in state.mean.items()
        }
        base.mean = {f: v.mean for f, v in base.var.items()}
        base.peak = dict(state.peak)
        base.n = state.n
        tracked = [f for f in SUSTAINED_FEATURES if f in features]
        for part in (state.slow, state.cusum, state.excess, state.held):
            if set(part) - set(tracked):
                raise ValueError(f"sustained: features {sorted(part)}, expected {tracked}")
        base.slow = {
            f: EWMean(CUSUM_FADING, state.slow.get(f, 0.0), f in state.slow) for f in tracked
        }
        base.cusum = {f: max(state.cusum.get(f, 0.0), 0.0) for f in tracked}
        base.excess = {f: state.excess.get(f, 0.0) for f in tracked}
        base.held = {f: state.held.get(f, 0) for f in tracked}
        return base


class BaselineState(msgspec.Struct, forbid_unknown_fields=True):
    """A ``LogZBaseline`` in a checkpoint: statistics of ``log1p(value)`` per feature."""

    n: Annotated[int, msgspec.Meta(ge=0)]
    """Windows learned."""
    mean: dict[str, Finite]
    """Per feature, the EW mean of ``log1p(value)``."""
    sq_mean: dict[str, Finite]
    """Per feature, the EW mean of ``log1p(value)²``: the variance is ``sq_mean - mean²``."""
    peak: dict[str, Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]]
    """Per feature, the decaying past peak of the raw value."""
    slow: dict[str, Finite] = {}
    """Per sustained feature, the slow EW mean of ``log1p(value)`` (absent until learned)."""
    cusum: dict[str, Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]] = {}
    """Per sustained feature, the CUSUM of standardised excess over the slow mean."""
    excess: dict[str, Finite] = {}
    """Per sustained feature, raw volume above the slow mean since the CUSUM left zero."""
    held: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = {}
    """Per sustained feature, windows since the CUSUM left zero."""


@dataclass
class Deviation:
    feature: str
    observed: float
    z: float
    baseline_typical: float
    baseline_peak: float
    peer: bool
    scope: str = ""
    """What the baseline is of, beyond the principal (a bucket, for per-bucket windows)."""
    held: int = 0
    """For a sustained deviation: the windows the excess was held."""


@dataclass
class OwnScore:
    """The principal's part of scoring one window (``Scorer.own``): all a coordinator
    holding the threshold and the peers needs from the principal's partition."""

    warm: bool
    """The principal has its own baseline (else its peers judge the window)."""
    zs: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    typical: dict[str, float] = field(default_factory=dict)
    sustained: list[Deviation] = field(default_factory=list)


class Scorer:
    """Per-principal baselines, peer baselines for cold start, and the calibrated threshold."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.principals: dict[str, LogZBaseline] = {}
        self.peers: dict[str, LogZBaseline] = {}
        self.quantile = Quantile(spec.score_quantile)
        self.scored = 0

    def to_state(self) -> ScorerState:
        return ScorerState(
            features=list(self.spec.features),
            principals={k: b.to_state() for k, b in self.principals.items()},
            peers={k: b.to_state() for k, b in self.peers.items()},
            quantile=self.quantile.to_state(),
            scored=self.scored,
        )

    @classmethod
    def from_state(cls, state: ScorerState, spec: ModelSpec) -> Scorer:
        """A scorer from its checkpoint state, with ``spec``'s parameters.

        The features must be the spec's, in its order: a checkpoint made with another feature
        list cannot be continued (ValueError, which the loader turns into a refusal)."""
        if tuple(state.features) != spec.features:
            raise ValueError(
                f"features: {state.features}, but model {spec.name!r} scores {list(spec.features)}"
            )
        scorer = cls(spec)
        args = (spec.features, spec.fading_factor, spec.peak_decay)
        for into, part, name in (
            (scorer.principals, state.principals, "principals"),
            (scorer.peers, state.peers, "peers"),
        ):
            for key, base in part.items():
                try:
                    into[key] = LogZBaseline.from_state(base, *args)
                except ValueError as exc:
                    raise ValueError(f"{name}[{key!r}].{exc}") from None
        try:
            scorer.quantile = Quantile.from_state(state.quantile, spec.score_quantile)
        except ValueError as exc:
            raise ValueError(f"quantile.{exc}") from None
        scorer.scored = state.scored
        return scorer

    def _new(self) -> LogZBaseline:
        return LogZBaseline(self.spec.features, self.spec.fading_factor, self.spec.peak_decay)

    @property
    def threshold(self) -> float:
        q = self.quantile.get() if self.scored >= 100 else None
        return max(self.spec.score_floor, q or 0.0)

    def score(
        self, principal: str, peer: str, x: dict[str, float], empty_before: int = 0
    ) -> list[Deviation]:
        """Deviations of this window (empty when normal); then learns from it if normal.
        ``empty_before``: windows without events since the principal's previous one.

        The principal's part (``own``) and the shared part (``judge``) split this so that
        a partition can hold the one and a coordinator the other (docs/scale-out.md)."""
        score = self.detail(principal, self.own(principal, x, empty_before))
        deviations = self.judge(peer, x, score)
        if not deviations:
            self.learn_own(principal, x)
        return deviations

    def own(self, principal: str, x: dict[str, float], empty_before: int = 0) -> OwnScore:
        """What the principal's own baseline says of the window: its z-scores once warm,
        and the sustained excess (whose statistic this updates)."""
        own = self.principals.get(principal)
        if own is None or own.n < self.spec.warmup_windows:
            return OwnScore(warm=False)
        sustained = own.sustained(x, self.spec.floors, empty_before)
        return OwnScore(True, own.score_one(x), own.peak, {}, sustained)

    def detail(self, principal: str, score: OwnScore) -> OwnScore:
        """``score`` (from ``own``, before anything more was learnt) with what a deviation
        reports: the past peaks, copied, and the typical values. Left out of windows that
        cannot deviate: the engine never reads them there."""
        own = self.principals.get(principal)
        if score.warm and own is not None:
            score.peak = dict(score.peak)
            score.typical = {f: math.expm1(own.mean[f].get()) for f in own.features}
        return score

    def cannot_deviate(
        self, own: OwnScore, x: dict[str, float], peer_peak: dict[str, float] | None
    ) -> bool:
        """Whether ``judge`` will find no deviation whatever the threshold: no sustained
        excess, and no feature above both its floor and ``peak_factor`` × the past peak it
        is judged against (the principal's own once warm, else ``peer_peak``: a lower bound
        of its peers' peak, which the engine gives). Most windows are such; a partition
        finishes them without waiting for the threshold."""
        if own.sustained:
            return False
        peak = own.peak if own.warm else peer_peak or {}
        factor = self.spec.peak_factor
        for f, floor in self.spec.floors.items():
            value = x.get(f, 0.0)
            if value >= floor and value > factor * peak.get(f, 0.0):
                return False
        return True

    def peer_peaks(self, peers: dict[str, int]) -> dict[str, dict[str, float]]:
        """Lower bounds of the peer groups' past peaks while ``peers[g]`` more windows
        teach group ``g`` (each learnt window decays a peak by ``peak_decay`` at most)."""
        out = {}
        for group, n in peers.items():
            base = self.peers.get(group)
            if base is not None:
                fade = self.spec.peak_decay**n
                out[group] = {f: p * fade for f, p in base.peak.items()}
        return out

    def judge(
        self, peer: str, x: dict[str, float], own: OwnScore, normal: bool = False
    ) -> list[Deviation]:
        """The window's deviations against the calibrated threshold, from its own baseline
        when warm, else from its peers'. Updates the threshold; a normal window teaches the
        peers (its principal's own baseline learns it in ``learn_own``). ``normal``: the
        window ``cannot_deviate`` (its partition already judged it), so only the threshold
        and the peers learn from it."""
        if own.warm:
            zs, peak, typical = own.zs, own.peak, own.typical
        else:
            base = self.peers.get(peer)
            if base is not None and base.n >= self.spec.warmup_windows:
                zs, peak = base.score_one(x), base.peak
                typical = {f: math.expm1(base.mean[f].get()) for f in base.features}
            else:
                zs, peak, typical = {}, {}, {}
        deviations: list[Deviation] = []
        if zs:
            threshold = self.threshold
            for f, z in zs.items():
                value = x.get(f, 0.0)
                self.quantile.update(z)
                if (
                    not normal
                    and z > threshold
                    and value >= self.spec.floors[f]
                    and value > self.spec.peak_factor * peak[f]
                ):
                    deviations.append(Deviation(f, value, z, typical[f], peak[f], not own.warm))
            self.scored += 1
        deviations += own.sustained
        if not deviations:
            group = self.peers.get(peer)
            if group is None:
                group = self.peers[peer] = self._new()
            group.learn_one(x)
        return deviations

    def learn_own(self, principal: str, x: dict[str, float]) -> None:
        own = self.principals.get(principal)
        if own is None:
            own = self.principals[principal] = self._new()
        own.learn_one(x)

    def learn(self, principal: str, peer: str, x: dict[str, float], peers: bool = True) -> None:
        """Teach the principal's baseline this window, and its peers' unless ``peers`` is
        False (``score`` does for normal windows; the engine teaches the principal alone a
        deviation an analyst suppressed)."""
        self.learn_own(principal, x)
        if not peers:
            return
        group = self.peers.get(peer)
        if group is None:
            group = self.peers[peer] = self._new()
        group.learn_one(x)


class ScorerState(msgspec.Struct, forbid_unknown_fields=True):
    """A ``Scorer`` in a checkpoint (its ``ModelSpec`` is not: it comes from models/)."""

    features: list[str]
    """The features scored, in order: a checkpoint is refused by a model scoring others."""
    principals: dict[str, BaselineState]
    """Each principal's own baseline."""
    peers: dict[str, BaselineState]
    """Each peer group's baseline (account and principal type), for cold start."""
    quantile: QuantileState
    """The running quantile of z-scores that calibrates the threshold."""
    scored: Annotated[int, msgspec.Meta(ge=0)]
    """Windows scored (the calibrated threshold is used from 100 on)."""
