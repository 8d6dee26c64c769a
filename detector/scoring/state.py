"""Per-principal memory: what each principal has used before, with expiry, and checkpoints.

A ``Profile`` remembers, for one principal, the buckets, IP ranges, agent families, VPC
endpoints and operations it used (each with when it was last seen), its hours and weekdays,
and how often it comes through a VPC endpoint or from a public address. Entries unseen for
``expiry_days`` are forgotten and principals idle for ``idle_days`` are dropped, so memory
is bounded by active principals.

``save``/``load`` checkpoint profiles, model baselines and open windows together in one
versioned file, written atomically (a local file, or an ``s3://`` object). A file from
another version, or a damaged one, is an error that names the file: it is never silently
replaced by an empty state.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from detector.errors import DetectorError, UsageError
from detector.scoring.model import Scorer

STATE_VERSION = 2
MAGIC = b"S3DETECTOR-STATE"
NEWNESS_KINDS = ("buckets", "ip_prefixes", "agents", "vpces", "operations")


@dataclass
class Profile:
    """What one principal normally does."""

    first_seen: datetime
    last_seen: datetime
    windows: int = 0
    seen: dict[str, dict[str, datetime]] = field(
        default_factory=lambda: {k: {} for k in NEWNESS_KINDS})
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)
    vpce_share: float = 0.0
    public_share: float = 0.0

    def news(self, window: dict[str, Any]) -> dict[str, list[str]]:
        """Values in this window the principal has not used before (within expiry)."""
        return {k: [v for v in (window.get(k) or ()) if v not in self.seen[k]]
                for k in NEWNESS_KINDS}

    def learn(self, window: dict[str, Any], fading: float = 0.05) -> None:
        t: datetime = window["window_start"]
        for k in NEWNESS_KINDS:
            for v in window.get(k) or ():
                self.seen[k][v] = t
        self.hours[window["hour"]] += 1
        self.weekdays[window["weekday"] - 1] += 1
        data = max(window.get("n_read", 0) + window.get("n_write", 0)
                   + window.get("n_list", 0) + window.get("n_delete", 0), 0)
        if data:
            with_vpce = 1.0 - window.get("n_no_vpce", 0) / data
            self.vpce_share += fading * (min(max(with_vpce, 0.0), 1.0) - self.vpce_share)
        events = max(window.get("n_events", 0), 1)
        self.public_share += fading * (window.get("n_public_ip", 0) / events - self.public_share)
        self.windows += 1
        self.last_seen = max(self.last_seen, t)

    def expire(self, now: datetime, after: timedelta) -> None:
        for k in NEWNESS_KINDS:
            self.seen[k] = {v: t for v, t in self.seen[k].items() if now - t <= after}


@dataclass
class DetectorState:
    """Everything that must survive a restart: profiles, baselines and open windows."""

    model_name: str
    profiles: dict[str, Profile] = field(default_factory=dict)
    scorer: Scorer | None = None
    alerts_seen: dict[str, datetime] = field(default_factory=dict)
    """Alert ids already emitted, with their window end: no duplicates after a restart."""
    sequences: dict[str, Any] = field(default_factory=dict)
    """Per principal/bucket: when each attack phase was last alerted (correlation C24)."""
    streams: Any = None
    """Hourly volume per log stream (telemetry silence C27)."""
    bucket_scorer: Scorer | None = None
    """Baselines of volume per principal×bucket."""
    windows: Any = None
    """Open per-principal windows (a ``WindowAggregator``): a restart continues them."""
    bucket_windows: Any = None
    """Open per-principal×bucket windows."""
    through_batch: str | None = None
    """The last committed lake batch this state includes; later batches are replayed."""

    def profile(self, principal: str, t: datetime) -> Profile:
        p = self.profiles.get(principal)
        if p is None:
            p = self.profiles[principal] = Profile(first_seen=t, last_seen=t)
        return p

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        idle = timedelta(days=idle_days)
        self.profiles = {k: p for k, p in self.profiles.items() if now - p.last_seen <= idle}
        if self.scorer is not None:
            self.scorer.principals = {k: v for k, v in self.scorer.principals.items()
                                      if k in self.profiles}
        for p in self.profiles.values():
            p.expire(now, timedelta(days=expiry_days))
        self.alerts_seen = {k: t for k, t in self.alerts_seen.items() if now - t <= idle}


def save(state: DetectorState, location: str | Path) -> None:
    """Write a checkpoint atomically: header, version, checksum, payload."""
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    _write(location, MAGIC + b" %d " % STATE_VERSION + digest + b"\n" + payload)


def _write(location: str | Path, blob: bytes) -> None:
    """A local file (fsync + rename) or an S3 object (one PUT is atomic)."""
    if str(location).startswith("s3://"):
        from detector.sources.s3 import s3_client, split_s3_uri

        bucket, key = split_s3_uri(str(location))
        try:
            s3_client().put_object(Bucket=bucket, Key=key, Body=blob)
        except Exception as exc:  # botocore's errors: one message, the run decides
            raise DetectorError(f"{location}: cannot save the state checkpoint: {exc}") from exc
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read(location: str | Path) -> bytes | None:
    if str(location).startswith("s3://"):
        from botocore.exceptions import ClientError

        from detector.sources.s3 import classify, s3_client, split_s3_uri

        bucket, key = split_s3_uri(str(location))
        try:
            return bytes(s3_client().get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if classify(exc) == "object_missing":
                return None
            raise DetectorError(f"{location}: cannot read the state checkpoint: {exc}") from exc
    try:
        return Path(location).read_bytes()
    except FileNotFoundError:
        return None


def load(path: str | Path, model_name: str) -> DetectorState | None:
    """The checkpoint at ``path`` (None when there is none yet); errors name the file."""
    blob = _read(path)
    if blob is None:
        return None
    head, _, payload = blob.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 3 or parts[0] != MAGIC:
        raise UsageError(f"{path}: not a detector state checkpoint (bad header); move it "
                         "away to start from scratch")
    if parts[1] != str(STATE_VERSION).encode():
        raise UsageError(f"{path}: state version {parts[1].decode()} but this detector "
                         f"reads version {STATE_VERSION}; move it away to start from scratch")
    if hashlib.sha256(payload).hexdigest().encode() != parts[2]:
        raise UsageError(f"{path}: state checkpoint is damaged (checksum mismatch); restore "
                         "a backup or move it away to start from scratch")
    state = pickle.loads(payload)
    if not isinstance(state, DetectorState):
        raise UsageError(f"{path}: unexpected content in state checkpoint")
    if state.model_name != model_name:
        raise UsageError(f"{path}: checkpoint was made with model {state.model_name!r}, "
                         f"not {model_name!r}; use --model {state.model_name} or a new --state")
    return state
