"""Online baselines of window features, one per principal, with river statistics.

The estimator ``ew_log_zscore`` follows river's contract (``learn_one``/``score_one`` on a
dict of features). Per feature it keeps an exponentially weighted mean and variance of
``log1p(value)`` (river ``stats.EWMean``/``EWVar``), so "10× usual" is a distance, not a raw
number. It also keeps a slowly decaying past peak, so a job that always bursts at night is
judged against its own bursts. A window deviates on a feature when all three hold:

* its z-score is above the calibrated threshold. That threshold is a quantile of every
  z-score seen (river ``stats.Quantile``), never below ``score_floor``;
* the value is above the feature's absolute floor;
* the value is more than ``peak_factor`` × the principal's past peak.

Cold start: until a principal has ``warmup_windows`` windows, it is scored against its peer
group (same account and principal type), so a new role is judged by roles like it.
Windows that deviate are not learned from (the ``QuantileFilter`` idea), so an attack cannot
teach the baseline that it is normal.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from river import stats

from detector.errors import UsageError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


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
            name=str(raw["name"]), estimator=str(raw["estimator"]), seed=int(raw["seed"]),
            fading_factor=float(raw["fading_factor"]), peak_decay=float(raw["peak_decay"]),
            warmup_windows=int(raw["warmup_windows"]),
            score_quantile=float(raw["score_quantile"]), score_floor=float(raw["score_floor"]),
            peak_factor=float(raw["peak_factor"]), expiry_days=int(raw["expiry_days"]),
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


class LogZBaseline:
    """One principal's (or peer group's) baseline of a few features. river-style API."""

    def __init__(self, features: tuple[str, ...], fading_factor: float,
                 peak_decay: float) -> None:
        self.features = features
        self.fading_factor = fading_factor
        self.peak_decay = peak_decay
        self.mean = {f: stats.EWMean(fading_factor) for f in features}
        self.var = {f: stats.EWVar(fading_factor) for f in features}
        self.peak = dict.fromkeys(features, 0.0)
        self.n = 0

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
            v = math.log1p(raw)
            self.mean[f].update(v)
            self.var[f].update(v)
            self.peak[f] = max(raw, self.peak[f] * self.peak_decay)
        self.n += 1


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


class Scorer:
    """Per-principal baselines, peer baselines for cold start, and the calibrated threshold."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.principals: dict[str, LogZBaseline] = {}
        self.peers: dict[str, LogZBaseline] = {}
        self.quantile = stats.Quantile(spec.score_quantile)
        self.scored = 0

    def _new(self) -> LogZBaseline:
        return LogZBaseline(self.spec.features, self.spec.fading_factor, self.spec.peak_decay)

    @property
    def threshold(self) -> float:
        q = self.quantile.get() if self.scored >= 100 else None
        return max(self.spec.score_floor, q or 0.0)

    def score(self, principal: str, peer: str, x: dict[str, float]) -> list[Deviation]:
        """Deviations of this window (empty when normal); then learns from it if normal."""
        own = self.principals.get(principal)
        use_peer = own is None or own.n < self.spec.warmup_windows
        base = self.peers.get(peer) if use_peer else own
        deviations: list[Deviation] = []
        if base is not None and base.n >= self.spec.warmup_windows:
            zs = base.score_one(x)
            threshold = self.threshold
            for f, z in zs.items():
                value = x.get(f, 0.0)
                self.quantile.update(z)
                if (z > threshold and value >= self.spec.floors[f]
                        and value > self.spec.peak_factor * base.peak[f]):
                    typical = math.expm1(base.mean[f].get())
                    deviations.append(Deviation(f, value, z, typical, base.peak[f], use_peer))
            self.scored += 1
        if not deviations:
            if own is None:
                own = self.principals[principal] = self._new()
            own.learn_one(x)
            group = self.peers.get(peer)
            if group is None:
                group = self.peers[peer] = self._new()
            group.learn_one(x)
        return deviations
