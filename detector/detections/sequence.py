"""Exfiltrate, then destroy, then leave a note: the ransomware sequence (C24).

Not a pattern in events but in alerts: the engine shows every alert it raises to
``Sequence.observe``, which remembers, per principal and per bucket, when each phase was
last seen, and raises one critical alert when a destroy phase follows a read/copy-out phase
within the horizon (a ransom note, if any, is added to the reasons). Signals recorded as
``learning`` or ``habit`` are no phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec

from detector.alerts import Alert, parse_time
from detector.detections.base import AlertCorrelation, Finding, Reason, correlated, register

EXFIL = {"C09", "C10", "C11", "C25", "C31"}
DESTROY = {"C20", "C21", "C22"}
NOTE = {"C23"}
HORIZON = timedelta(hours=24)
UNHEARD = frozenset({"learning", "habit"})
"""Signals that are no phase: a volume burst while baselines are still learning, or one the
principal shows routinely, is not evidence that data left."""


@dataclass
class Phases:
    """When each phase was last seen for one principal or bucket, with its alert ids."""

    seen: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def to_state(self) -> PhasesState:
        return PhasesState(dict(self.seen))  # type: ignore[arg-type]

    @classmethod
    def from_state(cls, state: PhasesState) -> Phases:
        return cls(dict(state.seen))


class PhasesState(msgspec.Struct, forbid_unknown_fields=True):
    """``Phases`` in a checkpoint: phase → [time it was last seen, alert id]."""

    seen: dict[
        Literal["exfil", "destroy", "note"], tuple[Annotated[datetime, msgspec.Meta(tz=True)], str]
    ]


def _time(a: Alert) -> datetime:
    t = parse_time(a.first_seen)
    assert t is not None  # every alert has a first_seen
    return t


@register
class ExfiltrateThenDestroy(AlertCorrelation):
    id = "exfiltrate_then_destroy"
    title = "Read/copy-out burst followed by deletes or re-encryption (ransomware sequence)"
    severity = "critical"
    capabilities = ("C24",)
    attack = ("T1537", "T1485", "T1486")
    kind = "correlation"
    dedup_by = ("principal",)
    dedup_window = timedelta(hours=24)
    runbook = (
        "Treat as an incident: revoke the principal's sessions and keys, block its "
        "network path, snapshot versions and backups before they expire."
    )

    def observe(self, alert: Alert, memory: dict[str, Phases]) -> Finding | None:
        if alert.status in UNHEARD:
            return None
        caps = set(alert.capabilities)
        phase = (
            "exfil"
            if caps & EXFIL
            else "destroy"
            if caps & DESTROY
            else "note"
            if caps & NOTE
            else None
        )
        if phase is None:
            return None
        t = _time(alert)
        keys = [f"principal:{alert.principal}", *(f"bucket:{b}" for b in alert.buckets)]
        found = None
        for key in keys:
            phases = memory.setdefault(key, Phases())
            phases.seen[phase] = (t, alert.alert_id)
            exfil = phases.seen.get("exfil")
            destroy = phases.seen.get("destroy")
            if (
                phase in ("destroy", "note")
                and exfil
                and destroy
                and timedelta(0) <= destroy[0] - exfil[0] <= HORIZON
                and found is None
            ):
                found = self._finding(alert, key, phases, exfil, destroy)
        return found

    def _finding(
        self,
        alert: Alert,
        key: str,
        phases: Phases,
        exfil: tuple[datetime, str],
        destroy: tuple[datetime, str],
    ) -> Finding:
        reasons = [
            Reason(
                "sequence",
                f"{key}: read-out at {exfil[0]:%H:%M}, destroy at {destroy[0]:%H:%M}",
                None,
                f"read/copy-out burst (alert {exfil[1]}) then deletes or "
                f"re-encryption (alert {destroy[1]}) within "
                f"{(destroy[0] - exfil[0]).total_seconds() / 3600:.1f} h on {key}",
            )
        ]
        note = phases.seen.get("note")
        if note:
            reasons.append(
                Reason("ransom_note", note[1], None, f"ransom-like note uploaded (alert {note[1]})")
            )
        t = _time(alert)
        return correlated(
            self,
            alert,
            (key,),
            (exfil[0], t),
            (alert.evidence_event_ids, alert.evidence_total),
            reasons,
            10.0,
        )
