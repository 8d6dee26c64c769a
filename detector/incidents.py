"""Incidents: one per principal over a rolling horizon, so a team gets one message, not a stream.

Every alert a detection raises is a *signal*. A signal joins the open incident of its
principal (or, for signals without one, of its bucket); an incident stays open while
signals keep coming within ``Settings.incident_hours`` (24 h by default) of its latest
one. What reaches the sinks are *notifications*:

- when an incident first reaches the notify severity (``medium`` by default);
- again only when a signal at that severity raises the incident's severity or brings a
  capability the incident had not notified yet.

Everything else is recorded in the lake with its ``status`` and never sent: ``weak`` (below
the notify severity, nothing else around it), ``grouped`` (one more signal of what was
already sent), ``learning`` (a behavioural detection before the data spans the learning
period) and ``habit`` (what the principal routinely does; see ``Profile.habitual``).

Signals of several attack stages by one identity within the horizon (discovery, permission
change, access-path change, collection, exfiltration, destruction, re-encryption, blinding)
become an *attack sequence*: one critical notification with the ordered timeline, the way
GuardDuty's Extended Threat Detection folds weak signals of one identity into one finding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from detector.alerts import Alert, parse_time
from detector.detections.base import severity_rank

STAGES: dict[str, str] = {
    "C17": "discovery", "C18": "discovery", "C29": "discovery",
    "C06": "permission", "C07": "permission", "C08": "permission",
    "C12": "access", "C13": "access", "C14": "access", "C15": "access", "C16": "access",
    "C19": "access", "C28": "access", "C31": "access",
    "C09": "collection", "C10": "collection", "C11": "collection", "C26": "collection",
    "C25": "exfiltration",
    "C05": "destruction", "C20": "destruction", "C22": "destruction", "C23": "destruction",
    "C30": "destruction",
    "C21": "encryption",
    "C01": "blinding", "C02": "blinding", "C03": "blinding", "C04": "blinding",
    "C27": "blinding", "C32": "blinding",
}  # fmt: skip
"""Attack stage of each capability (shared/DETECTIONS.md), for attack sequences."""
SEQUENCE_STAGES = 3
"""Distinct stages by one identity within the horizon that make an attack sequence."""
TIMELINE_CAP = 50
"""Signals kept per incident for its timeline (the count goes on)."""
NOTIFY = "notify"
QUIET = ("weak", "grouped", "learning", "habit")


@dataclass
class Signal:
    """One alert in an incident's timeline."""

    at: datetime
    detection: str
    severity: str
    stage: str
    alert_id: str
    text: str


@dataclass
class Incident:
    incident_id: str
    key: str
    opened: datetime
    last_seen: datetime
    severity: str = "info"
    notified: str | None = None
    """The severity last sent (None: nothing sent yet)."""
    notified_capabilities: set[str] = field(default_factory=set)
    capabilities: set[str] = field(default_factory=set)
    signals: int = 0
    timeline: list[Signal] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    sequence: bool = False
    """Whether its attack-sequence notification was sent."""

    @property
    def stages(self) -> list[str]:
        """Distinct stages in the order they first appeared."""
        return list(dict.fromkeys(s.stage for s in sorted(self.timeline, key=lambda s: s.at)))


def incident_key(alert: Alert) -> str:
    """Whose incident: the principal, else the first bucket, else the detection."""
    if alert.principal:
        return f"principal:{alert.principal}"
    if alert.buckets:
        return f"bucket:{alert.buckets[0]}"
    return f"detection:{alert.detection}"


def stage_of(alert: Alert) -> str:
    return next((STAGES[c] for c in alert.capabilities if c in STAGES), "other")


class IncidentBook:
    """Open incidents, and the decision of what each new signal notifies."""

    def __init__(
        self,
        incidents: dict[str, Incident],
        horizon: timedelta,
        notify_severity: str,
    ) -> None:
        self.incidents = incidents
        self.horizon = horizon
        self.notify_rank = severity_rank(notify_severity)

    def file(self, alert: Alert, timeline: bool = True) -> Incident:
        """Put a signal into its incident and set its ``incident_id`` and ``status``
        (``timeline=False``: a conclusion about the incident, not one more stage of it)."""
        at = parse_time(alert.first_seen) or parse_time(alert.detected_at)
        assert at is not None
        key = incident_key(alert)
        inc = self.incidents.get(key)
        if inc is None or at - inc.last_seen > self.horizon:
            inc = self.incidents[key] = Incident(_incident_id(key, at), key, at, at)
        inc.last_seen = max(inc.last_seen, parse_time(alert.last_seen) or at)
        inc.signals += 1
        alert.incident_id = inc.incident_id
        if timeline and len(inc.timeline) < TIMELINE_CAP:
            text = alert.reasons[0]["text"] if alert.reasons else alert.title
            inc.timeline.append(
                Signal(at, alert.detection, alert.severity, stage_of(alert), alert.alert_id, text)
            )
        for e in alert.evidence_event_ids:
            if len(inc.evidence) >= 20:
                break
            if e not in inc.evidence:
                inc.evidence.append(e)
        new_capabilities = set(alert.capabilities) - inc.notified_capabilities
        inc.capabilities |= set(alert.capabilities)
        if severity_rank(alert.severity) > severity_rank(inc.severity):
            inc.severity = alert.severity
        rank = severity_rank(alert.severity)
        if not timeline:  # the incident's own conclusion (its attack sequence): always sent
            alert.status = NOTIFY
            inc.notified = max(inc.notified or "info", alert.severity, key=severity_rank)
        elif rank < self.notify_rank:
            alert.status = "weak" if inc.notified is None else "grouped"
        elif inc.notified is None or rank > severity_rank(inc.notified) or new_capabilities:
            alert.status = NOTIFY
            inc.notified = max(inc.notified or "info", alert.severity, key=severity_rank)
            inc.notified_capabilities |= set(alert.capabilities)
        else:
            alert.status = "grouped"
        return inc

    def expire(self, now: datetime) -> None:
        """Forget incidents quiet for longer than the horizon (memory stays bounded)."""
        self.incidents = {
            k: i for k, i in self.incidents.items() if now - i.last_seen <= self.horizon
        }


def _incident_id(key: str, opened: datetime) -> str:
    return "inc-" + hashlib.sha256(f"{key}\x1f{opened.isoformat()}".encode()).hexdigest()[:20]


# --- checkpoint -----------------------------------------------------------------------------
Time = Annotated[datetime, msgspec.Meta(tz=True)]


class SignalState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """A timeline entry: ``[at, detection, severity, stage, alert_id, text]``."""

    at: Time
    detection: str
    severity: str
    stage: str
    alert_id: str
    text: str


class IncidentState(msgspec.Struct, forbid_unknown_fields=True):
    """An open ``Incident`` in a checkpoint."""

    incident_id: str
    opened: Time
    last_seen: Time
    severity: str
    notified: str | None
    notified_capabilities: list[str]
    capabilities: list[str]
    signals: Annotated[int, msgspec.Meta(ge=0)]
    timeline: list[SignalState]
    evidence: list[str]
    sequence: bool


def to_state(inc: Incident) -> IncidentState:
    return IncidentState(
        inc.incident_id,
        inc.opened,
        inc.last_seen,
        inc.severity,
        inc.notified,
        sorted(inc.notified_capabilities),
        sorted(inc.capabilities),
        inc.signals,
        [
            SignalState(s.at, s.detection, s.severity, s.stage, s.alert_id, s.text)
            for s in inc.timeline
        ],
        list(inc.evidence),
        inc.sequence,
    )


def from_state(key: str, state: IncidentState) -> Incident:
    for name in (state.severity, state.notified or "info", *(s.severity for s in state.timeline)):
        severity_rank(name)  # ValueError on an unknown severity
    return Incident(
        state.incident_id,
        key,
        state.opened,
        state.last_seen,
        state.severity,
        state.notified,
        set(state.notified_capabilities),
        set(state.capabilities),
        state.signals,
        [
            Signal(s.at, s.detection, s.severity, s.stage, s.alert_id, s.text)
            for s in state.timeline
        ],
        list(state.evidence),
        state.sequence,
    )
