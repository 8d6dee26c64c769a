"""Triage: what analysts decided about alerts, as an append-only log. Pure.

Every status change (acknowledge, close, reopen) and every suppression is one row of the
lake's ``triage`` table, with who, when and why; nothing is ever updated in place, so the
log is the audit trail. An action names the alerts it covers: an incident's signals as they
were when the analyst acted. A signal that joins the incident later is not covered, so it
shows as ``open`` however the incident was closed. A signal's status is that of the latest
action covering it (``open`` when none does).

A suppression is a scope (any of principal, detection, bucket) with an optional expiry: the
engine records the signals it covers as ``suppressed`` instead of notifying. Expiry is by
the clock (``active``), not by the time of the events: a suppression covers whatever is
processed while it lasts, a backfill of old logs included.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

STATUS_OF = {"ack": "acknowledged", "close": "closed", "reopen": "open", "suppress": "suppressed"}
STATUSES = ("open", "acknowledged", "closed", "suppressed")
TRIAGE_SCHEMA = pa.schema(
    [
        ("action_id", pa.string()),
        ("acted_at", pa.timestamp("us", tz="UTC")),
        ("acted_by", pa.string()),
        ("action", pa.string()),
        ("incident_id", pa.string()),
        ("alert_id", pa.string()),
        ("alert_ids", pa.list_(pa.string())),
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
    acted_by: str
    reason: str
    incident_id: str | None = None
    alert_id: str | None = None
    """The alert or incident the analyst named."""
    alert_ids: tuple[str, ...] = ()
    """The signals the action covers (the incident's, as they were)."""
    principal: str | None = None
    detection: str | None = None
    bucket: str | None = None
    expires: datetime | None = None
    acted_at: datetime | None = None
    action_id: str = field(default="")


def action_rows(actions: list[Action]) -> pa.Table:
    """Actions as triage-log rows, stamped now (UTC) with fresh ids."""
    now = datetime.now(UTC)
    rows = [
        {
            "action_id": a.action_id or uuid.uuid4().hex,
            "acted_at": a.acted_at or now,
            "acted_by": a.acted_by,
            "action": a.action,
            "incident_id": a.incident_id,
            "alert_id": a.alert_id,
            "alert_ids": list(a.alert_ids),
            "reason": a.reason,
            "principal": a.principal,
            "detection": a.detection,
            "bucket": a.bucket,
            "expires": a.expires,
        }
        for a in actions
    ]
    return pa.Table.from_pylist(rows, schema=TRIAGE_SCHEMA)


def normalise(table: pa.Table) -> pa.Table:
    """A triage log in today's columns: rows written before the columns were named
    ``acted_at``/``acted_by`` (and had no ``alert_ids``) are read, not refused."""
    renamed = {"at": "acted_at", "by": "acted_by"}
    table = table.rename_columns([renamed.get(n, n) for n in table.column_names])
    for name in TRIAGE_SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(
                name, pa.nulls(table.num_rows, TRIAGE_SCHEMA.field(name).type)
            )
    return table.select(TRIAGE_SCHEMA.names).cast(TRIAGE_SCHEMA)


def actions_of(table: pa.Table | None) -> list[Action]:
    """The log's rows, oldest first."""
    if table is None:
        return []
    rows = sorted(
        normalise(table).to_pylist(),
        key=lambda r: (r["acted_at"] or datetime.min.replace(tzinfo=UTC), r["action_id"]),
    )
    return [
        Action(
            **{
                k: tuple(r.get(k) or ()) if k == "alert_ids" else r.get(k)
                for k in Action.__dataclass_fields__
            }
        )
        for r in rows
    ]


def alert_statuses(actions: list[Action]) -> dict[str, Action]:
    """Each covered alert's latest action (alerts nobody covered are absent: open)."""
    latest: dict[str, Action] = {}
    for a in actions:
        for alert in a.alert_ids:
            latest[alert] = a
    return latest


def status_of(alert: dict[str, Any], latest: dict[str, Action]) -> str:
    """An alert's triage status: suppressed by the engine, else its latest action's."""
    if alert.get("status") == "suppressed":
        return "suppressed"
    action = latest.get(alert["alert_id"])
    return STATUS_OF[action.action] if action is not None else "open"


def incident_status(signals: list[dict[str, Any]], latest: dict[str, Action]) -> str:
    """An incident's status from its notified signals: open while any of them is (a signal
    that joined after it was closed reopens it), else acknowledged, closed or suppressed."""
    sent = [a for a in signals if a.get("status") in ("notify", "suppressed")] or signals
    found = {status_of(a, latest) for a in sent}
    return next(s for s in ("open", "acknowledged", "closed", "suppressed") if s in found)


def concerns(a: Action, incident: str, ids: set[str]) -> bool:
    """Whether an action belongs in an incident's history: it covers one of its signals,
    or it named the incident or one of its alerts."""
    return (
        bool(ids & set(a.alert_ids))
        or (bool(incident) and a.incident_id == incident)
        or (a.alert_id in ids)
    )


def history_row(a: Action) -> dict[str, Any]:
    """An action as ``show`` and the report print it."""
    return {
        "acted_at": iso(a.acted_at) if a.acted_at else "",
        "acted_by": a.acted_by,
        "action": a.action,
        "reason": a.reason,
        "alert_id": a.alert_id,
        **({"expires": iso(a.expires)} if a.expires else {}),
    }


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Suppression:
    """A scope whose signals are recorded, not notified: every given field must match."""

    principal: str | None
    detection: str | None
    bucket: str | None
    expires: datetime | None
    reason: str
    acted_by: str

    def covers(self, detection: str, principal: str | None, buckets: list[str]) -> bool:
        if self.detection is not None and self.detection != detection:
            return False
        if self.principal is not None and self.principal != principal:
            return False
        return self.bucket is None or self.bucket in buckets


def active(actions: list[Action], now: datetime) -> list[Suppression]:
    """The suppressions in the log that have not expired by ``now`` (the clock)."""
    return [
        Suppression(a.principal, a.detection, a.bucket, a.expires, a.reason, a.acted_by)
        for a in actions
        if a.action == "suppress" and (a.expires is None or now < a.expires)
    ]


def covering(
    rules: list[Suppression], detection: str, principal: str | None, buckets: list[str]
) -> Suppression | None:
    """The first suppression covering a signal of ``detection`` by ``principal``."""
    return next((s for s in rules if s.covers(detection, principal, buckets)), None)
