"""Behavioural detections: judged on a principal's closed window against its baseline.

The engine scores each closed window once (``Verdict``: features, deviations from the
principal's baseline, what is new for the principal, its profile) and asks every
``WindowDetection`` whether it sees its pattern. A detection returns a ``Finding`` with
reasons in words (observed value and the principal's baseline), or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from detector.config import Settings
from detector.detections.base import EVIDENCE_CAP, LIST_CAP, Detection, Finding, Reason
from detector.scoring.model import Deviation
from detector.scoring.state import Profile

MIN_WINDOWS_FOR_NEWNESS = 24
"""A principal needs this much history before "new for this principal" means anything."""
ROUTINE_DAYS = 2
ROUTINE_AGE = timedelta(days=7)
"""A job seen on this many days over at least this long has a routine even with few windows
(a weekly scan), enough to tell its kind of work (settings or data) apart."""
RELAY_FEATURES = ("n_read", "n_write", "n_foreign_bucket")
"""What a principal×bucket window carries of its principal's window (``principal_<f>``):
whether a principal relays what it reads is a fact of all its buckets together."""
AWS_OPERATED_AGENTS = frozenset({"aws-internal", "console"})
"""Clients AWS runs for the principal (the console, its internal calls): new to a person
the first time they download in the console, never a sign of someone else's tooling."""


@dataclass
class Verdict:
    """One closed window of one principal, scored."""

    principal: str
    account_id: str | None
    principal_type: str | None
    window: dict[str, Any]
    deviations: list[Deviation] = field(default_factory=list)
    news: dict[str, list[str]] = field(default_factory=dict)
    profile: Profile | None = None

    @property
    def established(self) -> bool:
        return self.profile is not None and self.profile.windows >= MIN_WINDOWS_FOR_NEWNESS

    @property
    def routine(self) -> bool:
        """Seen on several days over a week or more, however few its windows."""
        p = self.profile
        return (
            p is not None
            and p.days >= ROUTINE_DAYS
            and self.window["window_start"] - p.first_seen >= ROUTINE_AGE
        )

    @property
    def new_clients(self) -> list[str]:
        """Agent families new to the principal, leaving out the ones AWS itself operates."""
        return [a for a in self.news.get("agents") or () if a not in AWS_OPERATED_AGENTS]

    def deviation(self, feature: str) -> Deviation | None:
        return next((d for d in self.deviations if d.feature == feature), None)

    def finding(
        self, d: Detection, reasons: list[Reason], score: float, severity: str | None = None
    ) -> Finding:
        w = self.window
        first: datetime = w["first_seen"]
        last: datetime = w["last_seen"]
        return Finding(
            detection=d.id,
            key=(self.principal,),
            first_seen=first,
            last_seen=last,
            principal=self.principal,
            account_id=self.account_id,
            evidence_ids=list(w.get("evidence") or [])[:EVIDENCE_CAP],
            evidence_total=int(w.get("n_events", 0)),
            buckets=list(w.get("buckets") or [])[:LIST_CAP],
            source_ips=list(w.get("ip_prefixes") or [])[:LIST_CAP],
            user_agents=list(w.get("agents") or [])[:LIST_CAP],
            vpc_endpoint_ids=list(w.get("vpces") or [])[:LIST_CAP],
            reasons=reasons,
            score=score,
            severity=severity,  # type: ignore[arg-type]
        )


def deviation_reason(dev: Deviation) -> Reason:
    """ "bytes_out 4.1 GB vs typical 120 MB (peak 300 MB)" — in words, with the baseline."""
    fmt = human_bytes if dev.feature.startswith("bytes") else human_count
    who = "peers" if dev.peer else "this principal"
    where = f" on {dev.scope}" if dev.scope else ""
    text = (
        f"{dev.feature}{where} {fmt(dev.observed)} vs typical "
        f"{fmt(dev.baseline_typical)} and peak {fmt(dev.baseline_peak)} for {who}"
        f"{where} ({dev.z:.1f} sd)"
    )
    return Reason(
        dev.feature,
        fmt(dev.observed),
        f"typical {fmt(dev.baseline_typical)}, peak {fmt(dev.baseline_peak)}",
        text,
    )


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_count(n: float) -> str:
    return f"{n:,.0f}"


class WindowDetection(Detection):
    """A detection over scored windows; ``check`` returns a finding or None."""

    kind = "anomaly"
    learns = True
    stage = "window"
    per_bucket: ClassVar[bool] = False
    """Also judged on each principal×bucket window (volume detections)."""

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        raise NotImplementedError
