"""Score alerts against a labelled scenario set: recall, time to detect, false alerts.

An alert belongs to a scenario when one of its evidence ids (CloudTrail eventIDs,
access-log request IDs) is one of the scenario's events. An alert without evidence (a
correlation, a silence) belongs to a scenario of the same principal or bucket whose time
span it overlaps. Alerts that belong to no attack are false alerts, whether they fall on a
benign trap or on ordinary traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from detector.detections.base import severity_rank
from detector.errors import UsageError

DETECTED_AT = "medium"
"""A scenario counts as detected when an alert of at least this severity names it."""


@dataclass
class Scenario:
    id: str
    kind: str
    capabilities: list[str]
    principal: str | None
    start: datetime
    end: datetime
    ids: set[str]
    description: str = ""


@dataclass
class ScenarioResult:
    scenario: Scenario
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> str | None:
        if not self.alerts:
            return None
        return max((a["severity"] for a in self.alerts), key=severity_rank)

    @property
    def detected(self) -> bool:
        return self.best is not None and severity_rank(self.best) >= severity_rank(DETECTED_AT)

    @property
    def time_to_detect(self) -> timedelta | None:
        times = [
            _t(a["detected_at"])
            for a in self.alerts
            if severity_rank(a["severity"]) >= severity_rank(DETECTED_AT)
        ]
        return (min(times) - self.scenario.start) if times else None


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_labels(path: Path) -> list[Scenario]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [
            Scenario(
                s["id"],
                s["kind"],
                list(s["capabilities"]),
                s.get("principal"),
                _t(s["start"]),
                _t(s["end"]),
                set(s.get("event_ids", []))
                | set(s.get("request_ids", []))
                | set(s.get("joined_request_ids", [])),
                s.get("description", ""),
            )
            for s in raw["scenarios"]
        ]
    except FileNotFoundError:
        raise UsageError(f"{path}: labels file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: not a labels file ({type(exc).__name__}: {exc})") from None


def load_alerts(path: Path) -> list[dict[str, Any]]:
    try:
        return [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except FileNotFoundError:
        raise UsageError(f"{path}: alerts file not found") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON lines: {exc}") from None


def evaluate(
    scenarios: list[Scenario], alerts: list[dict[str, Any]], benign_events: int
) -> dict[str, Any]:
    results = {s.id: ScenarioResult(s) for s in scenarios}
    by_id: dict[str, list[Scenario]] = {}
    for s in scenarios:
        for i in s.ids:
            by_id.setdefault(i, []).append(s)
    false_alerts: list[dict[str, Any]] = []
    for a in alerts:
        owners = {s.id: s for i in a.get("evidence_event_ids") or [] for s in by_id.get(i, [])}
        if not owners:
            owners = {s.id: s for s in scenarios if _overlaps(a, s)}
        attacks = [s for s in owners.values() if s.kind == "attack"]
        # An attack's alert may cite the principal's benign events too (a window holds
        # both): it counts for the attack, never against a trap.
        for s in attacks or owners.values():
            results[s.id].alerts.append(a)
        if not attacks:
            false_alerts.append(a)
    attack_results = [r for r in results.values() if r.scenario.kind == "attack"]
    detected = [r for r in attack_results if r.detected]
    by_severity: dict[str, int] = {}
    for a in false_alerts:
        by_severity[a["severity"]] = by_severity.get(a["severity"], 0) + 1
    ttd = [r.time_to_detect.total_seconds() for r in detected if r.time_to_detect]
    return {
        "attacks": len(attack_results),
        "detected": len(detected),
        "recall": round(len(detected) / max(len(attack_results), 1), 4),
        "capabilities_detected": sorted({c for r in detected for c in r.scenario.capabilities}),
        "capabilities_missed": sorted(
            {c for r in attack_results if not r.detected for c in r.scenario.capabilities}
            - {c for r in detected for c in r.scenario.capabilities}
        ),
        "median_time_to_detect_s": sorted(ttd)[len(ttd) // 2] if ttd else None,
        "false_alerts": len(false_alerts),
        "false_alerts_by_severity": by_severity,
        "false_alerts_medium_or_higher": sum(
            n for s, n in by_severity.items() if severity_rank(s) >= severity_rank("medium")
        ),
        "benign_events": benign_events,
        "false_alerts_per_million_benign_events": round(
            len(false_alerts) / max(benign_events, 1) * 1e6, 2
        ),
        "scenarios": [
            {
                "id": r.scenario.id,
                "kind": r.scenario.kind,
                "capabilities": r.scenario.capabilities,
                "detected": r.detected,
                "best_severity": r.best,
                "time_to_detect_s": r.time_to_detect.total_seconds() if r.time_to_detect else None,
                "detections": sorted({a["detection"] for a in r.alerts}),
            }
            for r in results.values()
        ],
        "false_alert_samples": [
            {k: a[k] for k in ("severity", "detection", "principal", "first_seen")}
            | {"why": a["reasons"][0]["text"] if a.get("reasons") else ""}
            for a in sorted(false_alerts, key=lambda a: -severity_rank(a["severity"]))[:20]
        ],
    }


def _overlaps(a: dict[str, Any], s: Scenario) -> bool:
    """An evidence-less alert (silence, correlation) names the scenario's principal or one of
    the buckets its description names, during its time span."""
    same_principal = bool(s.principal) and _role(a.get("principal")) == _role(s.principal)
    named_bucket = any(b in s.description for b in a.get("buckets") or [])
    if not (same_principal or named_bucket):
        return False
    first, last = _t(a["first_seen"]), _t(a["last_seen"])
    return first <= s.end + timedelta(hours=1) and last >= s.start - timedelta(hours=1)


def _role(arn: str | None) -> str | None:
    """Role ARNs without their path, as principal keys name them."""
    if not arn or ":role/" not in arn:
        return arn
    head, _, rest = arn.partition(":role/")
    return f"{head}:role/{rest.rsplit('/', 1)[-1]}"
