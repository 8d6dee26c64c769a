"""Alerts: explained, deduplicated, with ids that a re-run reproduces.

``alert_id`` hashes the detection, its dedup key and the dedup window the first event falls
in. The same input therefore gives the same ids, whether it comes through backfill or tail,
today or after a restart. The first finding for an id becomes the alert; later findings for
the same id merge into it (count, last_seen, evidence up to a cap).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from detector.detections.base import (
    EVIDENCE_CAP,
    LIST_CAP,
    Detection,
    Finding,
    Reason,
    severity_rank,
)

MERGE_CAP = 10_000
"""Findings merged into one alert at most; past it, the count stops and says so."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Alert:
    alert_id: str
    detection: str
    capabilities: list[str]
    attack: list[str]
    title: str
    severity: str
    score: float
    principal: str | None
    account_id: str | None
    first_seen: str
    last_seen: str
    detected_at: str
    evidence_event_ids: list[str]
    evidence_total: int
    buckets: list[str]
    source_ips: list[str]
    user_agents: list[str]
    vpc_endpoint_ids: list[str]
    reasons: list[dict[str, Any]]
    runbook: str
    count: int = 1
    dedup_key: list[str] = field(default_factory=list)
    hunt: str = ""
    """A ready ``detector hunt`` command that lists the alert's evidence events."""
    incident_id: str = ""
    """The incident this signal belongs to (``detector.incidents``)."""
    status: str = "notify"
    """``notify`` (sent to the sinks) or why it was only recorded: ``weak``, ``grouped``,
    ``learning``, ``habit`` or ``suppressed`` (by an analyst: ``detector alerts suppress``)."""

    @property
    def notifies(self) -> bool:
        return self.status == "notify"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)


def window_start(t: datetime, width: timedelta) -> datetime:
    step = int(width.total_seconds())
    seconds = int((t - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


def alert_id(detection: str, key: tuple[str, ...], start: datetime) -> str:
    text = "\x1f".join([detection, *key, start.isoformat()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _iso(t: datetime | None) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else ""


def parse_time(text: str) -> datetime | None:
    """An alert's ISO time with ``Z`` back to a datetime (None for empty)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _reason(r: Reason) -> dict[str, Any]:
    return {"feature": r.feature, "observed": r.observed, "baseline": r.baseline, "text": r.text}


class AlertBook:
    """Open alerts of a run, keyed by id; ``seen`` holds ids emitted by earlier runs."""

    def __init__(self, seen: dict[str, datetime] | None = None) -> None:
        self.alerts: dict[str, Alert] = {}
        self.seen = seen if seen is not None else {}

    def add(self, d: Detection, f: Finding, detected_at: datetime | None) -> Alert | None:
        """The new alert to send now, or None when the finding merged into an open one."""
        start = window_start(f.first_seen, d.dedup_window)
        aid = alert_id(d.id, f.key, start)
        severity = f.severity or d.severity
        current = self.alerts.get(aid)
        if current is not None and not current.notifies and _above(severity, current.severity):
            # A recorded signal grew stronger: a new alert, so it is judged (and sent) anew.
            aid = alert_id(d.id, (*f.key, f"rose:{severity}"), start)
            current = self.alerts.get(aid)
        if current is not None:
            _merge(current, f)
            return None
        if aid in self.seen:
            return None
        alert = Alert(
            alert_id=aid,
            detection=d.id,
            capabilities=list(d.capabilities),
            attack=list(d.attack),
            title=d.title,
            severity=severity,
            score=round(f.score, 3),
            principal=f.principal,
            account_id=f.account_id,
            first_seen=_iso(f.first_seen),
            last_seen=_iso(f.last_seen),
            detected_at=_iso(detected_at or f.last_seen),
            evidence_event_ids=list(f.evidence_ids[:EVIDENCE_CAP]),
            evidence_total=f.evidence_total,
            buckets=f.buckets[:LIST_CAP],
            source_ips=f.source_ips[:LIST_CAP],
            user_agents=f.user_agents[:LIST_CAP],
            vpc_endpoint_ids=f.vpc_endpoint_ids[:LIST_CAP],
            reasons=[_reason(r) for r in f.reasons],
            runbook=d.runbook,
            dedup_key=list(f.key),
        )
        self.alerts[aid] = alert
        self.seen[aid] = start + d.dedup_window
        return alert

    def sorted(self) -> list[Alert]:
        return sorted(self.alerts.values(), key=lambda a: (a.first_seen, a.alert_id))


def _above(severity: str, than: str) -> bool:
    return severity_rank(severity) > severity_rank(than)


def _merge(a: Alert, f: Finding) -> None:
    if a.count >= MERGE_CAP:
        return
    a.count += 1
    a.last_seen = max(a.last_seen, _iso(f.last_seen))
    a.first_seen = min(a.first_seen, _iso(f.first_seen))
    a.evidence_total += f.evidence_total
    for mine, theirs in (
        (a.evidence_event_ids, f.evidence_ids),
        (a.buckets, f.buckets),
        (a.source_ips, f.source_ips),
        (a.user_agents, f.user_agents),
        (a.vpc_endpoint_ids, f.vpc_endpoint_ids),
    ):
        cap = EVIDENCE_CAP if mine is a.evidence_event_ids else LIST_CAP
        for v in theirs:
            if len(mine) >= cap:
                break
            if v not in mine:
                mine.append(v)
    if f.severity and severity_rank(f.severity) > severity_rank(a.severity):
        a.severity = f.severity
    a.score = max(a.score, round(f.score, 3))


ALERT_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("detection", pa.string()),
        ("capabilities", pa.list_(pa.string())),
        ("attack", pa.list_(pa.string())),
        ("title", pa.string()),
        ("severity", pa.string()),
        ("score", pa.float64()),
        ("principal", pa.string()),
        ("account_id", pa.string()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("detected_at", pa.timestamp("us", tz="UTC")),
        ("evidence_event_ids", pa.list_(pa.string())),
        ("evidence_total", pa.int64()),
        ("buckets", pa.list_(pa.string())),
        ("source_ips", pa.list_(pa.string())),
        ("user_agents", pa.list_(pa.string())),
        ("vpc_endpoint_ids", pa.list_(pa.string())),
        (
            "reasons",
            pa.list_(
                pa.struct(
                    [
                        ("feature", pa.string()),
                        ("observed", pa.string()),
                        ("baseline", pa.string()),
                        ("text", pa.string()),
                    ]
                )
            ),
        ),
        ("runbook", pa.string()),
        ("count", pa.int64()),
        ("dedup_key", pa.list_(pa.string())),
        ("hunt", pa.string()),
        ("incident_id", pa.string()),
        ("status", pa.string()),
    ]
)


def alerts_table(alerts: list[Alert]) -> pa.Table:
    rows = [asdict(a) for a in alerts]
    for r in rows:
        for k in ("first_seen", "last_seen", "detected_at"):
            r[k] = datetime.fromisoformat(r[k].replace("Z", "+00:00")) if r[k] else None
    return pa.Table.from_pylist(rows, schema=ALERT_SCHEMA)


def write_jsonl(alerts: list[Alert], target: str) -> None:
    """JSON lines to a file, or to stdout for ``-``."""
    text = "".join(a.to_json() + "\n" for a in alerts)
    if target == "-":
        import sys

        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")


def write_parquet(alerts: list[Alert], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(alerts_table(alerts), path, compression="zstd")


def read_alert_dicts(paths: list[Path]) -> list[dict[str, Any]]:
    """Alerts written to the lake's files, as sinks receive them."""
    return [row for path in paths for row in alert_dicts(pq.read_table(path))]


def alert_dicts(table: pa.Table | None) -> list[dict[str, Any]]:
    """Alert rows as sinks receive them (times as ISO strings with Z)."""
    out: list[dict[str, Any]] = []
    for row in table.to_pylist() if table is not None else ():
        for k in ("first_seen", "last_seen", "detected_at"):
            row[k] = _iso(row.get(k))
        row.setdefault("hunt", "")
        row["incident_id"] = row.get("incident_id") or ""
        row["status"] = row.get("status") or "notify"
        out.append(row)
    return out
