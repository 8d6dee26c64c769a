"""Incidents, learning period, habits and attack sequences (detector.incidents, Engine._file).

What a security team receives must be one notification per incident, not a stream: these
tests pin down when a signal notifies and when it is only recorded, and why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from test_behaviour import ROLE, SETTINGS, START, _alert, reads, table

from detector.alerts import Alert, AlertBook
from detector.detections.attack_sequence import AttackSequence
from detector.detections.base import REGISTRY
from detector.engine import Engine
from detector.incidents import IncidentBook
from detector.scoring.model import load_model_spec
from detector.scoring.state import Profile

DAY = timedelta(days=1)


def signal(detection: str, caps: list[str], t: str, severity: str = "medium", **kw: str) -> Alert:
    a = _alert(detection, caps, t, **kw)
    a.severity = severity
    a.alert_id = f"{detection}-{t}"
    return a


def book() -> IncidentBook:
    return IncidentBook({}, timedelta(hours=24), "medium")


# --- incidents ------------------------------------------------------------------------------
def test_a_stream_of_one_signal_notifies_once() -> None:
    incidents = book()
    stream = [signal("bulk_s3_client", ["C13"], f"2026-11-05T{h:02d}:00:00Z") for h in range(10)]
    for a in stream:
        incidents.file(a)
    assert [a.status for a in stream] == ["notify"] + ["grouped"] * 9
    assert len({a.incident_id for a in stream}) == 1


def test_rising_severity_or_a_new_capability_notifies_again() -> None:
    incidents = book()
    first = signal("object_sweep", ["C10"], "2026-11-05T01:00:00Z")
    same = signal("object_sweep", ["C10"], "2026-11-05T02:00:00Z")
    other = signal("unusual_network_origin", ["C12"], "2026-11-05T03:00:00Z")
    worse = signal("object_sweep", ["C10"], "2026-11-05T04:00:00Z", severity="high")
    for a in (first, same, other, worse):
        incidents.file(a)
    assert [a.status for a in (first, same, other, worse)] == [
        "notify",
        "grouped",
        "notify",
        "notify",
    ]


def test_weak_signals_are_recorded_not_sent() -> None:
    incidents = book()
    weak = signal("rare_time_of_day", ["C28"], "2026-11-05T01:00:00Z", severity="low")
    incidents.file(weak)
    assert weak.status == "weak" and weak.incident_id


def test_an_incident_closes_after_a_quiet_horizon() -> None:
    incidents = book()
    a = signal("object_sweep", ["C10"], "2026-11-05T01:00:00Z")
    b = signal("object_sweep", ["C10"], "2026-11-06T02:00:00Z")
    incidents.file(a)
    incidents.file(b)
    assert a.incident_id != b.incident_id and b.status == "notify"


def test_three_stages_by_one_identity_make_an_attack_sequence() -> None:
    incidents, seq = book(), AttackSequence()
    steps = [
        signal("bucket_enumeration", ["C17"], "2026-11-05T01:00:00Z", severity="low"),
        signal("anomalous_permission_change", ["C08"], "2026-11-05T03:00:00Z"),
        signal("read_volume_anomaly", ["C09"], "2026-11-05T09:30:00Z", severity="low"),
    ]
    found = []
    for a in steps:
        inc = incidents.file(a)
        found.append(seq.conclude(inc, a))
    assert found[:2] == [None, None]
    finding = found[2]
    assert finding is not None and finding.principal == ROLE
    assert finding.reasons[0].observed == "discovery → permission → collection"
    assert "8 h 30 min" in finding.reasons[0].text
    assert [r.observed for r in finding.reasons[1:]] == [a.detection for a in steps]


# --- the engine: learning, habits, sequences -------------------------------------------------
def engine(**settings: float) -> Engine:
    return Engine(replace(SETTINGS, **settings), load_model_spec("default"))


def by_detection(alerts: list[Alert]) -> dict[str, list[Alert]]:
    out: dict[str, list[Alert]] = {}
    for a in alerts:
        out.setdefault(a.detection, []).append(a)
    return out


def test_behaviour_is_learning_until_the_data_spans_the_learning_period() -> None:
    e = engine(learning_days=1)
    early = e.process(table([reads(START, 30, agent="rclone/v1.66.0", tag="a")]))
    assert [a.status for a in by_detection(early)["bulk_s3_client"]] == ["learning"]
    e.process(table([reads(START + DAY, 5)]))  # closes (and learns) the day-0 window
    later = e.process(table([reads(START + 2 * DAY, 30, agent="rclone/v1.66.0", tag="b")]))
    # Learned on day 0, used again on day 2: the principal's habit, not news.
    assert [a.status for a in by_detection(later)["bulk_s3_client"]] == ["habit"]


def test_a_new_bulk_client_after_learning_notifies() -> None:
    e = engine(learning_days=0)
    e.process(table([reads(START + timedelta(minutes=5 * w), 30) for w in range(40)]))
    alerts = e.process(table([reads(START + DAY, 30, agent="rclone/v1.66.0", tag="x")]))
    assert [a.status for a in by_detection(alerts)["bulk_s3_client"]] == ["notify"]


def test_tampering_rules_fire_from_the_first_event() -> None:
    assert not REGISTRY["cloudtrail_stopped_or_deleted"].learns
    assert not REGISTRY["write_to_foreign_bucket"].learns
    assert REGISTRY["read_volume_anomaly"].learns and REGISTRY["bulk_s3_client"].learns


def test_a_burst_seen_on_an_earlier_day_is_routine() -> None:
    p = Profile(first_seen=START, last_seen=START)
    assert not p.routine_burst("n_recon", 40, START)
    assert not p.routine_burst("n_recon", 45, START + timedelta(hours=2))  # same day: not yet
    assert p.routine_burst("n_recon", 50, START + DAY)  # the next day: a daily refresh
    assert not p.routine_burst("n_recon", 400, START + 2 * DAY)  # ten times more: not routine
    assert not p.routine_burst("n_recon", 50, START + 20 * DAY)  # forgotten after two weeks


def test_a_daily_refresh_alerts_at_most_once() -> None:
    """A job that bursts once a day deviates every time (deviations never teach the baseline),
    so without habits it alerted every day."""
    e = engine(learning_days=0)
    for day in range(4):
        quiet = [reads(START + day * DAY + timedelta(minutes=5 * w), 20) for w in range(100)]
        e.process(table(quiet))
        burst = reads(START + day * DAY + timedelta(hours=10), 3000, size=2_000_000, tag=f"{day}")
        e.process(table([burst]))
    e.flush()
    sent = [a for a in e.book.alerts.values() if a.notifies and a.detection != "bulk_s3_client"]
    assert len({a.first_seen[:10] for a in sent}) <= 1
    assert e.stats.routine_bursts >= 2


def test_the_engine_raises_an_attack_sequence_once() -> None:
    e = engine(learning_days=0)
    t = "2026-11-05T0{}:00:00Z"
    found = []
    for i, (det, caps) in enumerate(
        [("decoy_object_access", ["C26"]), ("write_to_foreign_bucket", ["C25"]),
         ("hostile_reencryption", ["C21"]), ("permanent_object_delete", ["C20"])]
    ):  # fmt: skip
        a = signal(det, caps, t.format(i + 1))
        e.book.alerts[a.alert_id] = a
        found += e._file(REGISTRY[det], _finding(a), a, None)
    sequences = [a for a in found if a.detection == "attack_sequence"]
    assert len(sequences) == 1 and sequences[0].severity == "critical"
    assert sequences[0].status == "notify"
    assert sequences[0].incident_id == a.incident_id


def _finding(a: Alert):  # type: ignore[no-untyped-def]
    from detector.detections.base import Finding

    t = datetime.fromisoformat(a.first_seen.replace("Z", "+00:00"))
    return Finding(a.detection, (a.principal or "",), t, t, a.principal, a.account_id, [], 1)


def test_a_recorded_signal_that_grows_stronger_is_sent() -> None:
    """A low alert merged with a medium finding later would have stayed quiet for good."""
    from detector.detections.base import Finding

    alerts, d = AlertBook(), REGISTRY["object_sweep"]
    t = datetime(2026, 11, 5, 1, tzinfo=START.tzinfo)
    low = alerts.add(d, Finding(d.id, (ROLE,), t, t, ROLE, None, ["e1"], 1), None)
    assert low is not None
    low.status = "weak"
    stronger = Finding(d.id, (ROLE,), t, t, ROLE, None, ["e2"], 1, severity="medium")
    again = alerts.add(d, stronger, None)
    assert again is not None and again.alert_id != low.alert_id and again.severity == "medium"


def test_a_finding_repeated_on_an_earlier_day_is_a_habit() -> None:
    p = Profile(first_seen=START, last_seen=START)
    assert not p.repeated("credential_object_read|tf-state", START)
    assert not p.repeated("credential_object_read|tf-state", START + timedelta(hours=3))
    assert p.repeated("credential_object_read|tf-state", START + DAY)
    assert not p.repeated("credential_object_read|other-bucket", START + DAY)
    p.expire(START + 40 * DAY, timedelta(days=30))
    assert p.marks == {}


def test_the_engine_knows_stages_not_detections() -> None:
    """A new detection is one file: the engine imports only the stage base classes."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "detector" / "engine.py"
    imported = {
        node.module
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    detections = {m for m in imported if m.startswith("detector.detections")}
    assert detections <= {
        "detector.detections",
        "detector.detections.base",
        "detector.detections.window_base",
        "detector.detections.silence",  # StreamWatch: the state the silence stage reads
    }, detections
