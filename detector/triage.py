"""Triage: what analysts decided about incidents, as an append-only log. Pure.

Every status change (acknowledge, close, reopen) and every suppression is one row of the
lake's ``triage`` table, with who, when and why; nothing is ever updated in place, so the
log is the audit trail. An incident's status is its latest action's; one that nobody acted
on is ``open``. A suppression is a scope (any of principal, detection, bucket) with an
optional expiry: the engine records matching signals as ``suppressed`` instead of notifying.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

ACTIONS = ("ack", "close", "reopen", "suppress")
STATUS_OF = {"ack": "acknowledged", "close": "closed", "reopen": "open", "suppress": "suppressed"}
STATUSES = ("open", "acknowledged", "closed", "suppressed")
TRIAGE_SCHEMA = pa.schema(
    [
        ("action_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("by", pa.string()),
        ("action", pa.string()),
        ("incident_id", pa.string()),
        ("alert_id", pa.string()),
        ("reason", pa.string()),
        ("principal", pa.string()),
        ("detection", pa.string()),
        ("bucket", pa.string()),
        ("expires", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Action:
    """One row of the triage log."""

    action: str
    by: str
    reason: str
    incident_id: str | None = None
    alert_id: str | None = None
    principal: str | None = None
    detection: str | None = None
    bucket: str | None = None
    expires: datetime | None = None
    at: datetime | None = None
    action_id: str = ""


def action_rows(actions: list[Action]) -> pa.Table:
    """Actions as triage-log rows, stamped now (UTC) with fresh ids."""
    now = datetime.now(UTC)
    rows = [
        {
            "action_id": a.action_id or uuid.uuid4().hex,
            "at": a.at or now,
            "by": a.by,
            "action": a.action,
            "incident_id": a.incident_id,
            "alert_id": a.alert_id,
            "reason": a.reason,
            "principal": a.principal,
            "detection": a.detection,
            "bucket": a.bucket,
            "expires": a.expires,
        }
        for a in actions
    ]
    return pa.Table.from_pylist(rows, schema=TRIAGE_SCHEMA)


def actions_of(table: pa.Table | None) -> list[Action]:
    """The log's rows, oldest first."""
    if table is None:
        return []
    rows = sorted(table.to_pylist(), key=lambda r: (r["at"], r["action_id"]))
    return [Action(**{k: r.get(k) for k in Action.__dataclass_fields__}) for r in rows]


def incident_statuses(actions: list[Action]) -> dict[str, Action]:
    """Each incident's latest status change (incidents nobody touched are absent: open)."""
    latest: dict[str, Action] = {}
    for a in actions:
        if a.incident_id:
            latest[a.incident_id] = a
    return latest


def status_of(incident_id: str, latest: dict[str, Action]) -> str:
    action = latest.get(incident_id)
    return STATUS_OF[action.action] if action is not None else "open"


@dataclass(frozen=True)
class Suppression:
    """A scope whose signals are recorded, not notified: every given field must match."""

    principal: str | None
    detection: str | None
    bucket: str | None
    expires: datetime | None
    reason: str
    by: str

    def covers(
        self, detection: str, principal: str | None, buckets: list[str], t: datetime
    ) -> bool:
        if self.expires is not None and t >= self.expires:
            return False
        if self.detection is not None and self.detection != detection:
            return False
        if self.principal is not None and self.principal != principal:
            return False
        return self.bucket is None or self.bucket in buckets

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.scope().items() if v is not None]
        until = f" until {self.expires:%Y-%m-%d %H:%M}Z" if self.expires else ""
        return " ".join(parts) + until

    def scope(self) -> dict[str, Any]:
        return {"principal": self.principal, "detection": self.detection, "bucket": self.bucket}


def suppressions(actions: list[Action]) -> list[Suppression]:
    """Every suppression in the log (expired ones included: they cover the time before)."""
    return [
        Suppression(a.principal, a.detection, a.bucket, a.expires, a.reason, a.by)
        for a in actions
        if a.action == "suppress"
    ]


def covering(
    rules: list[Suppression], detection: str, principal: str | None, buckets: list[str], t: datetime
) -> Suppression | None:
    """The first suppression covering a signal of ``detection`` by ``principal`` at ``t``."""
    return next((s for s in rules if s.covers(detection, principal, buckets, t)), None)
