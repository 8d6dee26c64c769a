"""Per-principal memory: what each principal has used before, with expiry, and checkpoints.

A ``Profile`` remembers, for one principal, the buckets, IP ranges, agent families, VPC
endpoints and operations it used (each with when it was last seen), its hours and weekdays,
and how often it comes through a VPC endpoint or from a public address. Entries unseen for
``expiry_days`` are forgotten and principals idle for ``idle_days`` are dropped, so memory
is bounded by active principals.

``save``/``load`` checkpoint profiles, model baselines and open windows together in one
versioned file, written atomically (a local file, or an ``s3://`` object): a header line
``S3DETECTOR-STATE 3 <sha256 of the body>``, then a JSON document (``Checkpoint``, a tree of
``msgspec.Struct``, one per stateful thing; open windows inside it are Arrow IPC streams).
Loading decodes into those types, so every field is checked by type, then checks values the
types cannot (feature names, the window table's schema); nothing in the file is executed.
docs/state.md documents every field. A file from another version or model, or a damaged
one, is refused with a message that names the file: never silently replaced by an empty
state. Version-2 checkpoints were pickles and are refused unread.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import msgspec

from detector.detections.sequence import Phases, PhasesState
from detector.detections.silence import StreamWatch, StreamWatchState
from detector.discovery import Discovered
from detector.errors import DetectorError, UsageError
from detector.features.windows import BUCKET_FEATURES, WindowAggregator, WindowsState
from detector.incidents import Incident, IncidentState
from detector.incidents import from_state as incident_from_state
from detector.incidents import to_state as incident_state
from detector.scoring.ewstats import Finite
from detector.scoring.model import ModelSpec, Scorer, ScorerState, load_model_spec

STATE_VERSION = 4
READABLE_VERSIONS = (3, 4)
"""Version 3 lacks only fields version 4 added with defaults: read and carried on."""
MAGIC = b"S3DETECTOR-STATE"
PICKLE_VERSIONS = (1, 2)
"""Versions whose body was a pickle: refused without being read (unpickling runs code)."""
NEWNESS_KINDS = ("buckets", "ip_prefixes", "agents", "vpces", "operations")
HABIT_AGE = timedelta(hours=20)
"""A value or a burst the principal already showed this long before is a habit: on an
earlier day, so one afternoon of an attack cannot teach the detector that it is routine."""
SPIKE_MEMORY = timedelta(days=14)
"""Bursts are remembered this long: a weekly job's burst is routine the second week."""
WEEK = timedelta(days=7)
SCHEDULE_SLACK = timedelta(hours=2)
"""A burst within this of a whole number of weeks after an earlier one keeps a schedule."""
SPIKES_KEPT = 8
"""Bursts remembered per feature (and scope), newest first: memory stays bounded."""
SPIKE_SCOPES = 32
"""Features×scopes with remembered bursts per principal, at most."""
PUBLIC_CALLER = 0.5
"""Faded share of events from public addresses above which any public address is usual."""
SEEN_KEPT = 1000
"""Values remembered per newness kind and principal; past it the older half is forgotten."""
MARKS_KEPT = 256
"""Repeated-finding marks remembered per principal, at most."""
SPIKE_RATIO = 3.0
"""A burst is routine when an earlier one reached at least 1/this of it."""


@dataclass
class Profile:
    """What one principal normally does."""

    first_seen: datetime
    last_seen: datetime
    windows: int = 0
    days: int = 0
    """Distinct days (UTC) with a window learned: a weekly job has few windows, many days."""
    seen: dict[str, dict[str, datetime]] = field(
        default_factory=lambda: {k: {} for k in NEWNESS_KINDS}
    )
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)
    vpce_share: float = 0.0
    public_share: float = 0.0
    since: dict[str, dict[str, datetime]] = field(
        default_factory=lambda: {k: {} for k in NEWNESS_KINDS}
    )
    """Per newness kind, when each value was first seen (within expiry): habits."""
    marks: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Findings of rules judged by repetition (``detection|value``): first and last seen."""
    spikes: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    """Per feature (``feature@scope`` for per-bucket windows): recent bursts that deviated
    from the baseline, (window start, value), newest first."""

    def repeated(self, mark: str, t: datetime) -> bool:
        """Whether the principal showed ``mark`` (a detection and a value) on an earlier day
        and still does; remembers it either way (at most ``MARKS_KEPT``)."""
        first, last = self.marks.get(mark, (t, t))
        if mark not in self.marks and len(self.marks) >= MARKS_KEPT:
            del self.marks[min(self.marks, key=lambda m: self.marks[m][1])]
        self.marks[mark] = (min(first, t), max(last, t))
        return t - first >= HABIT_AGE

    def public_caller(self, t: datetime) -> bool:
        """Whether the principal has mostly called from public addresses for a day or more
        (a public-subnet instance: its address changes when the instance is replaced)."""
        return self.public_share >= PUBLIC_CALLER and t - self.first_seen >= HABIT_AGE

    def habitual(self, kind: str, value: str, t: datetime) -> bool:
        """Whether the principal used ``value`` on an earlier day and still uses it."""
        first = self.since.get(kind, {}).get(value)
        return first is not None and t - first >= HABIT_AGE and value in self.seen[kind]

    def routine_burst(self, feature: str, value: float, t: datetime) -> bool:
        """Whether a burst like this one happened on an earlier day (and remember it).

        Deviating windows never teach the baseline (an attack must not), so a job that
        bursts once a day or once a week would deviate every time; its earlier bursts
        make it a habit instead."""
        past = self.spikes.get(feature, [])
        routine = any(
            HABIT_AGE <= t - when <= SPIKE_MEMORY and seen * SPIKE_RATIO >= value
            for when, seen in past
        ) or self._weekly(t)
        if feature not in self.spikes and len(self.spikes) >= SPIKE_SCOPES:
            oldest = min(self.spikes, key=lambda f: self.spikes[f][0][0])
            del self.spikes[oldest]
        kept = [(w, v) for w, v in past if t - w <= SPIKE_MEMORY and w != t]
        self.spikes[feature] = [(t, value), *kept][:SPIKES_KEPT]
        return routine

    def _weekly(self, t: datetime) -> bool:
        """Whether the principal burst at this hour of the week before, in any feature and
        on any bucket: a weekly rebuild reads ten times its usual one week and writes ten
        times its usual the next, as data grows; its schedule is the habit."""
        for bursts in self.spikes.values():
            for when, _ in bursts:
                weeks = round((t - when) / WEEK)
                if weeks >= 1 and abs(t - when - weeks * WEEK) <= SCHEDULE_SLACK:
                    return True
        return False

    def news(self, window: dict[str, Any]) -> dict[str, list[str]]:
        """Values in this window the principal has not used before (within expiry)."""
        return {
            k: [v for v in (window.get(k) or ()) if v not in self.seen[k]] for k in NEWNESS_KINDS
        }

    def learn(self, window: dict[str, Any], fading: float = 0.05) -> None:
        t: datetime = window["window_start"]
        for k in NEWNESS_KINDS:
            for v in window.get(k) or ():
                self.seen[k][v] = t
                self.since[k].setdefault(v, t)
            if len(self.seen[k]) > SEEN_KEPT:  # e.g. anonymous callers from everywhere
                keep = sorted(self.seen[k], key=self.seen[k].__getitem__)[-SEEN_KEPT // 2 :]
                self.seen[k] = {v: self.seen[k][v] for v in keep}
                self.since[k] = {v: self.since[k][v] for v in keep if v in self.since[k]}
        self.hours[window["hour"]] += 1
        self.weekdays[window["weekday"] - 1] += 1
        data = max(
            window.get("n_read", 0)
            + window.get("n_write", 0)
            + window.get("n_list", 0)
            + window.get("n_delete", 0),
            0,
        )
        if data:
            with_vpce = 1.0 - window.get("n_no_vpce", 0) / data
            self.vpce_share += fading * (min(max(with_vpce, 0.0), 1.0) - self.vpce_share)
        events = max(window.get("n_events", 0), 1)
        self.public_share += fading * (window.get("n_public_ip", 0) / events - self.public_share)
        if not self.windows or t.date() > self.last_seen.date():
            self.days += 1
        self.windows += 1
        self.last_seen = max(self.last_seen, t)

    def expire(self, now: datetime, after: timedelta) -> None:
        for k in NEWNESS_KINDS:
            self.seen[k] = {v: t for v, t in self.seen[k].items() if now - t <= after}
            self.since[k] = {v: t for v, t in self.since[k].items() if v in self.seen[k]}
        self.marks = {m: (a, b) for m, (a, b) in self.marks.items() if now - b <= after}
        self.spikes = {
            f: kept
            for f, spikes in self.spikes.items()
            if (kept := [(w, v) for w, v in spikes if now - w <= SPIKE_MEMORY])
        }

    def to_state(self) -> ProfileState:
        return ProfileState(
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            windows=self.windows,
            seen={k: dict(v) for k, v in self.seen.items()},
            hours=list(self.hours),
            weekdays=list(self.weekdays),
            vpce_share=self.vpce_share,
            public_share=self.public_share,
            since={k: dict(v) for k, v in self.since.items()},
            spikes={f: [SpikeState(w, v) for w, v in spikes] for f, spikes in self.spikes.items()},
            marks={m: [a, b] for m, (a, b) in self.marks.items()},
            days=self.days,
        )

    @classmethod
    def from_state(cls, state: ProfileState) -> Profile:
        if set(state.seen) != set(NEWNESS_KINDS):
            raise ValueError(f"seen: kinds {sorted(state.seen)}, expected {sorted(NEWNESS_KINDS)}")
        since = {k: dict(state.since.get(k, {})) for k in NEWNESS_KINDS}
        if set(state.since) - set(NEWNESS_KINDS):
            raise ValueError(f"since: kinds {sorted(state.since)}, expected {NEWNESS_KINDS}")
        return cls(
            first_seen=state.first_seen,
            last_seen=state.last_seen,
            windows=state.windows,
            seen={k: dict(v) for k, v in state.seen.items()},
            hours=list(state.hours),
            weekdays=list(state.weekdays),
            vpce_share=state.vpce_share,
            public_share=state.public_share,
            since=since,
            spikes={f: [(x.at, x.value) for x in v] for f, v in state.spikes.items()},
            marks={m: (v[0], v[1]) for m, v in state.marks.items()},
            days=state.days,
        )


Time = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class ProfileState(msgspec.Struct, forbid_unknown_fields=True):
    """A ``Profile`` in a checkpoint."""

    first_seen: Time
    last_seen: Time
    windows: Count
    """Windows learned."""
    seen: dict[str, dict[str, Time]]
    """Per newness kind (``NEWNESS_KINDS``): value → when last seen."""
    hours: Annotated[list[Count], msgspec.Meta(min_length=24, max_length=24)]
    """Windows learned per hour of day (UTC)."""
    weekdays: Annotated[list[Count], msgspec.Meta(min_length=7, max_length=7)]
    """Windows learned per weekday, Monday first."""
    vpce_share: Finite
    """Faded share of data requests that came through a VPC endpoint."""
    public_share: Finite
    """Faded share of events from a public address."""
    since: dict[str, dict[str, Time]] = {}
    """Per newness kind: value → when first seen (absent in version-3 files)."""
    spikes: dict[str, list[SpikeState]] = {}
    """Per feature (``feature@bucket`` for per-bucket windows): recent bursts, newest first."""
    marks: dict[str, Annotated[list[Time], msgspec.Meta(min_length=2, max_length=2)]] = {}
    """``detection|value`` → [first seen, last seen]: rule findings judged by repetition."""
    days: Count = 0
    """Distinct days with a window learned (absent in files before it was kept: 0)."""


class SpikeState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One remembered burst: ``[window start, value]``."""

    at: Time
    value: Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]


@dataclass
class DetectorState:
    """Everything that must survive a restart: profiles, baselines and open windows."""

    model_name: str
    profiles: dict[str, Profile] = field(default_factory=dict)
    scorer: Scorer | None = None
    alerts_seen: dict[str, datetime] = field(default_factory=dict)
    """Alert ids already emitted, with their window end: no duplicates after a restart."""
    sequences: dict[str, Phases] = field(default_factory=dict)
    """Per principal/bucket: when each attack phase was last alerted (correlation C24)."""
    streams: StreamWatch | None = None
    """Hourly volume per log stream (telemetry silence C27)."""
    bucket_scorer: Scorer | None = None
    """Baselines of volume per principal×bucket."""
    windows: WindowAggregator | None = None
    """Open per-principal windows (a ``WindowAggregator``): a restart continues them."""
    bucket_windows: WindowAggregator | None = None
    """Open per-principal×bucket windows."""
    through_batch: str | None = None
    """The last committed lake batch this state includes; later batches are replayed."""
    started: datetime | None = None
    """Event time of the first event this state saw: the learning period counts from it."""
    incidents: dict[str, Incident] = field(default_factory=dict)
    """Open incidents by key (``principal:<p>``, ``bucket:<b>``)."""
    discovered: Discovered = field(default_factory=Discovered)
    """Accounts, log buckets and website buckets learned from the logs."""

    def profile(self, principal: str, t: datetime) -> Profile:
        p = self.profiles.get(principal)
        if p is None:
            p = self.profiles[principal] = Profile(first_seen=t, last_seen=t)
        return p

    def team_habit(self, principal: str, mark: str, t: datetime) -> bool:
        """Whether a teammate showed ``mark`` on an earlier day. People on one federated
        role (an SSO permission set, ``role/<name>/<e-mail>``) share a job: a key the whole
        team fetches now and then is the team's habit, not each newcomer's finding."""
        team, _, person = principal.rpartition("/")
        if "@" not in person or "/" not in team:
            return False
        prefix = team + "/"
        for name, p in self.profiles.items():
            seen = p.marks.get(mark)
            if seen and name != principal and name.startswith(prefix) and t - seen[0] >= HABIT_AGE:
                return True
        return False

    def expire(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        self.expire_principals(now, expiry_days, idle_days)
        self.expire_alerts(now, idle_days)

    def expire_principals(self, now: datetime, expiry_days: int, idle_days: int) -> None:
        """Forget idle principals and old values (a partition's share of ``expire``)."""
        idle = timedelta(days=idle_days)
        self.profiles = {k: p for k, p in self.profiles.items() if now - p.last_seen <= idle}
        if self.scorer is not None:
            self.scorer.principals = {
                k: v for k, v in self.scorer.principals.items() if k in self.profiles
            }
        for p in self.profiles.values():
            p.expire(now, timedelta(days=expiry_days))

    def expire_alerts(self, now: datetime, idle_days: int) -> None:
        idle = timedelta(days=idle_days)
        self.alerts_seen = {k: t for k, t in self.alerts_seen.items() if now - t <= idle}


class Checkpoint(msgspec.Struct, forbid_unknown_fields=True):
    """The body of a version-4 checkpoint: everything ``DetectorState`` holds (docs/state.md).

    The model's parameters are not here, only what decides whether a checkpoint can be
    continued: the model's name, and the features each scorer scores.
    """

    model: str
    """The model's name (``name`` in its models/ file)."""
    through_batch: str | None
    """The last committed lake batch included; later ones are replayed on open."""
    profiles: dict[str, ProfileState]
    scorer: ScorerState | None
    """Baselines of principal windows."""
    bucket_scorer: ScorerState | None
    """Baselines of principal×bucket windows (the volume features only)."""
    alerts_seen: dict[str, Time]
    """Alert id → its window end: alerts already raised."""
    sequences: dict[str, PhasesState]
    """``principal:<p>`` or ``bucket:<b>`` → attack phases seen (C24)."""
    streams: StreamWatchState | None
    """Hourly volume per log stream (C27)."""
    windows: WindowsState | None
    """Open principal windows."""
    bucket_windows: WindowsState | None
    """Open principal×bucket windows."""
    started: Time | None = None
    """Event time of the first event seen (the learning period counts from it)."""
    incidents: dict[str, IncidentState] = {}
    """Open incidents by key (``principal:<p>``, ``bucket:<b>``)."""
    discovered: DiscoveredState | None = None
    """What the logs showed of the estate (absent in version 3)."""


class DiscoveredState(msgspec.Struct, forbid_unknown_fields=True):
    """``Discovered`` in a checkpoint: per kind, value → events that showed it."""

    accounts: dict[str, Count]
    log_buckets: dict[str, Count]
    website_buckets: dict[str, Count]
    partners: dict[str, list[str]] = {}
    """Foreign account → the days (``YYYY-MM-DD``, at most 3) it used our buckets."""


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Checkpoint)


def save(state: DetectorState, location: str | Path) -> None:
    """Write a checkpoint atomically: header (magic, version, checksum), then the body."""
    body = _ENCODER.encode(_to_checkpoint(state))
    digest = hashlib.sha256(body).hexdigest().encode()
    _write(location, MAGIC + b" %d " % STATE_VERSION + digest + b"\n" + body)


def _to_checkpoint(state: DetectorState) -> Checkpoint:
    def opt(x: Any) -> Any:
        return None if x is None else x.to_state()

    return Checkpoint(
        model=state.model_name,
        through_batch=state.through_batch,
        profiles={k: p.to_state() for k, p in state.profiles.items()},
        scorer=opt(state.scorer),
        bucket_scorer=opt(state.bucket_scorer),
        alerts_seen=dict(state.alerts_seen),
        sequences={k: p.to_state() for k, p in state.sequences.items()},
        streams=opt(state.streams),
        windows=opt(state.windows),
        bucket_windows=opt(state.bucket_windows),
        started=state.started,
        incidents={k: incident_state(i) for k, i in state.incidents.items()},
        discovered=DiscoveredState(
            dict(state.discovered.accounts),
            dict(state.discovered.log_buckets),
            dict(state.discovered.website_buckets),
            {k: list(v) for k, v in state.discovered.partners.items()},
        ),
    )


def bucket_spec(spec: ModelSpec) -> ModelSpec:
    """The model of per-bucket windows: the same parameters, the volume features only."""
    return replace(spec, floors={f: v for f, v in spec.floors.items() if f in BUCKET_FEATURES})


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


def load(path: str | Path, model: ModelSpec | str) -> DetectorState | None:
    """The checkpoint at ``path`` (None when there is none yet); refusals name the file.

    ``model`` is the run's model, or its name (then read from models/ if the checkpoint
    holds baselines): its parameters apply to the baselines loaded.
    """
    blob = _read(path)
    if blob is None:
        return None
    name = model if isinstance(model, str) else model.name
    move_away = "restore a backup or move it away to start from scratch"
    head, newline, body = blob.partition(b"\n")
    parts = head.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC or not parts[1].isdigit():
        raise UsageError(
            f"{path}: not a detector state checkpoint (bad header); move it "
            "away to start from scratch"
        )
    version = int(parts[1])
    if version in PICKLE_VERSIONS:
        raise UsageError(
            f"{path}: a version-{version} state checkpoint, which was a pickle; it is not read: "
            "the checkpoint format changed because unpickling a file can run code. Move the "
            "file away and re-baseline: the next run starts a new state and learns again "
            "(the lake, its events and alerts are kept)"
        )
    if version not in READABLE_VERSIONS:
        raise UsageError(
            f"{path}: state version {version} but this detector reads version "
            f"{STATE_VERSION}; use the detector that wrote it, or move it away "
            "to start from scratch"
        )
    if hashlib.sha256(body).hexdigest().encode() != parts[2]:
        raise UsageError(f"{path}: state checkpoint is damaged (checksum mismatch); {move_away}")
    try:
        doc = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path}: state checkpoint is damaged ({exc}); {move_away}") from None
    if doc.model != name:
        raise UsageError(
            f"{path}: checkpoint was made with model {doc.model!r}, "
            f"not {name!r}; use --model {doc.model} or a new --state"
        )
    spec = None
    if doc.scorer is not None or doc.bucket_scorer is not None:
        spec = load_model_spec(model) if isinstance(model, str) else model
        _check_features(path, spec, doc)
    try:
        return _from_checkpoint(doc, spec)
    except _FieldError as exc:
        raise UsageError(f"{path}: state checkpoint is damaged ({exc}); {move_away}") from None


def _check_features(path: str | Path, spec: ModelSpec, doc: Checkpoint) -> None:
    for label, scorer, want in (
        ("", doc.scorer, spec),
        ("per-bucket ", doc.bucket_scorer, bucket_spec(spec)),
    ):
        if scorer is not None and tuple(scorer.features) != want.features:
            raise UsageError(
                f"{path}: checkpoint's {label}baselines score features "
                f"{', '.join(scorer.features)} but model {spec.name!r} scores "
                f"{', '.join(want.features)}; run with the model it was made with, or move "
                "the file away and re-baseline"
            )


class _FieldError(ValueError):
    """A value the schema's types allow but the detector cannot use, with its path."""


def _from_checkpoint(doc: Checkpoint, spec: ModelSpec | None) -> DetectorState:
    def convert(where: str, make: Any, *args: Any) -> Any:
        """``make(*args)``; its ValueError says ``<path below where>: <problem>``."""
        try:
            return make(*args)
        except ValueError as exc:
            below, _, problem = str(exc).partition(": ")
            raise _FieldError(f"{problem} - at `$.{where}.{below}`") from None

    profiles = {
        k: convert(f"profiles[{k!r}]", Profile.from_state, p) for k, p in doc.profiles.items()
    }
    scorer = bucket_scorer = None
    if spec is not None:
        if doc.scorer is not None:
            scorer = convert("scorer", Scorer.from_state, doc.scorer, spec)
        if doc.bucket_scorer is not None:
            bucket_scorer = convert(
                "bucket_scorer", Scorer.from_state, doc.bucket_scorer, bucket_spec(spec)
            )
    windows = bucket_windows = None
    if doc.windows is not None:
        windows = convert("windows", WindowAggregator.from_state, doc.windows)
    if doc.bucket_windows is not None:
        bucket_windows = convert("bucket_windows", WindowAggregator.from_state, doc.bucket_windows)
    if (windows is None) != (bucket_windows is None):
        raise _FieldError("windows and bucket_windows go together - at `$.windows`")
    if (
        windows is not None
        and bucket_windows is not None
        and windows.minutes != bucket_windows.minutes
    ):
        raise _FieldError("not the principal windows' width - at `$.bucket_windows.minutes`")
    streams = None
    if doc.streams is not None:
        streams = convert("streams", StreamWatch.from_state, doc.streams)
    return DetectorState(
        model_name=doc.model,
        profiles=profiles,
        scorer=scorer,
        alerts_seen=doc.alerts_seen,
        sequences={k: Phases.from_state(p) for k, p in doc.sequences.items()},
        streams=streams,
        bucket_scorer=bucket_scorer,
        windows=windows,
        bucket_windows=bucket_windows,
        through_batch=doc.through_batch,
        started=doc.started or min((p.first_seen for p in profiles.values()), default=None),
        incidents={
            k: convert(f"incidents[{k!r}]", incident_from_state, k, i)
            for k, i in doc.incidents.items()
        },
        discovered=Discovered(
            dict(doc.discovered.accounts),
            dict(doc.discovered.log_buckets),
            dict(doc.discovered.website_buckets),
            {k: list(v) for k, v in doc.discovered.partners.items()},
        )
        if doc.discovered is not None
        else Discovered(),
    )
