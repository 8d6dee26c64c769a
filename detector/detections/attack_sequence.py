"""Attack sequence: signals of several attack stages by one identity within the incident
horizon, folded into one critical finding with an ordered timeline (see detector.incidents).

Each signal alone may be weak (a first-seen API, a new network, a policy change by a
principal that rarely makes one); three stages of an attack by the same identity within
24 hours are not a coincidence a security team wants to read about one at a time.
"""

from __future__ import annotations

from datetime import timedelta

from detector.alerts import Alert
from detector.detections.base import (
    EVIDENCE_CAP,
    Finding,
    IncidentDetection,
    Reason,
    correlated,
    register,
)
from detector.incidents import SEQUENCE_STAGES, Incident


@register
class AttackSequence(IncidentDetection):
    id = "attack_sequence"
    title = "Attack sequence: several attack stages by one identity within a day"
    severity = "critical"
    capabilities = ("C24",)
    attack = ("T1078", "T1530", "T1537", "T1485")
    kind = "correlation"
    dedup_by = ("incident",)
    dedup_window = timedelta(hours=24)
    runbook = (
        "Read the timeline in order: confirm with the owner whether any step was planned; "
        "otherwise revoke the identity's sessions and keys, block its network path, and "
        "review every bucket it touched since the first signal."
    )

    def conclude(self, inc: Incident, latest: Alert) -> Finding | None:
        """The finding once the incident spans enough stages (None before)."""
        stages = inc.stages
        if inc.sequence or len([s for s in stages if s != "other"]) < SEQUENCE_STAGES:
            return None
        timeline = sorted(inc.timeline, key=lambda s: s.at)
        reasons = [
            Reason(
                "stages",
                " → ".join(s for s in stages if s != "other"),
                None,
                f"{len(stages)} attack stages by one identity within "
                f"{_hours(timeline[-1].at - timeline[0].at)}",
            ),
            *(
                Reason(
                    s.stage,
                    s.detection,
                    s.severity,
                    f"{s.at:%Y-%m-%d %H:%M} {s.stage}: {s.text}",
                )
                for s in timeline
            ),
        ]
        return correlated(
            self,
            latest,
            (inc.incident_id,),
            (timeline[0].at, inc.last_seen),
            (inc.evidence[:EVIDENCE_CAP], inc.signals),
            reasons,
            float(len(stages)),
        )


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
