"""Behavioural detections end to end through the engine, on canonical events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from detector.config import Settings
from detector.engine import Engine
from detector.schema import conform
from detector.scoring.model import load_model_spec

ROLE = "arn:aws:iam::111122223333:role/orders-api"
SESSION = "arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc1234def567890"
START = datetime(2026, 11, 1, tzinfo=UTC)
SETTINGS = Settings(our_accounts=frozenset({"111122223333"}))


def reads(
    t0: datetime,
    n: int,
    *,
    ip: str = "10.0.4.7",
    vpce: str | None = "vpce-0aa1",
    bucket: str = "acme-orders",
    agent: str = "aws-sdk-java/2.25.1",
    size: int = 100_000,
    tag: str = "",
) -> dict[str, list]:
    """n GetObject data events by the app role within one minute of t0."""
    return {
        "source": ["cloudtrail"] * n,
        "event_time": [t0 + timedelta(seconds=i * 60 / max(n, 1)) for i in range(n)],
        "event_id": [f"{tag}{t0.isoformat()}-{i}" for i in range(n)],
        "event_name": ["GetObject"] * n,
        "event_source": ["s3.amazonaws.com"] * n,
        "principal_arn": [SESSION] * n,
        "principal_type": ["AssumedRole"] * n,
        "account_id": ["111122223333"] * n,
        "session_issuer_arn": [ROLE] * n,
        "source_ip": [ip] * n,
        "user_agent": [agent] * n,
        "vpc_endpoint_id": [vpce] * n,
        "vpc_endpoint_account_id": ["111122223333" if vpce else None] * n,
        "bucket": [bucket] * n,
        "key": [f"orders/{i % 500}.json" for i in range(n)],
        "bucket_account_id": ["111122223333"] * n,
        "recipient_account_id": ["111122223333"] * n,
        "bytes_out": [size] * n,
        "read_only": [True] * n,
        "management_event": [False] * n,
    }


def table(parts: list[dict[str, list]]) -> pa.Table:
    cols: dict[str, list] = {}
    for p in parts:
        for k, v in p.items():
            cols.setdefault(k, []).extend(v)
    t = pa.table({k: pa.array(v) for k, v in cols.items() if k != "event_time"})
    t = t.append_column("event_time", pa.array(cols["event_time"], pa.timestamp("us", tz="UTC")))
    return conform(t)


@pytest.fixture(scope="module")
def engine_after_history() -> Engine:
    engine = Engine(SETTINGS, load_model_spec("default"))
    for day in range(3):
        parts = [
            reads(START + timedelta(days=day, minutes=5 * w), 60 + (w * 7) % 40) for w in range(288)
        ]
        assert engine.process(table(parts)) == [], "normal days raise nothing"
    return engine


def test_normal_history_is_quiet(engine_after_history: Engine) -> None:
    assert engine_after_history.stats.alerts == 0
    assert engine_after_history.stats.windows > 800


def test_exfiltration_from_outside_the_vpc(engine_after_history: Engine) -> None:
    engine = engine_after_history
    t0 = START + timedelta(days=3, hours=2)
    attack = reads(
        t0,
        3000,
        ip="203.0.113.66",
        vpce=None,
        bucket="acme-finance",
        agent="rclone/v1.66.0",
        size=2_000_000,
        tag="x",
    )
    alerts = engine.process(table([attack]))
    alerts += engine.process(table([reads(t0 + timedelta(minutes=30), 50)]))  # closes it
    by = {a.detection: a for a in alerts}
    assert {
        "read_volume_anomaly",
        "access_path_change",
        "new_principal_bucket",
        "unusual_network_origin",
    } <= set(by)
    volume = by["read_volume_anomaly"]
    assert volume.severity == "high"
    assert volume.principal == ROLE
    texts = " | ".join(r["text"] for r in volume.reasons)
    assert "bytes_out 6.0 GB vs typical" in texts
    assert "acme-finance" in texts
    assert volume.evidence_event_ids and volume.evidence_event_ids[0].startswith("x")
    assert by["access_path_change"].severity == "high"  # public IP and no endpoint


def test_alert_ids_are_reproducible() -> None:
    def run() -> list[str]:
        engine = Engine(SETTINGS, load_model_spec("default"))
        for day in range(2):
            engine.process(
                table([reads(START + timedelta(days=day, minutes=5 * w), 80) for w in range(288)])
            )
        t0 = START + timedelta(days=2, hours=1)
        out = engine.process(
            table([reads(t0, 3000, ip="203.0.113.66", vpce=None, size=2_000_000, tag="x")])
        )
        out += engine.flush()
        return sorted(a.alert_id for a in out)

    first, second = run(), run()
    assert first and first == second


def _alert(
    detection: str, caps: list[str], t: str, principal: str = ROLE, buckets: list[str] | None = None
):
    from detector.alerts import Alert

    return Alert(
        alert_id=f"id-{detection}",
        detection=detection,
        capabilities=caps,
        attack=[],
        title=detection,
        severity="medium",
        score=1.0,
        principal=principal,
        account_id="111122223333",
        first_seen=t,
        last_seen=t,
        detected_at=t,
        evidence_event_ids=["e1"],
        evidence_total=1,
        buckets=buckets or ["acme-finance"],
        source_ips=[],
        user_agents=[],
        vpc_endpoint_ids=[],
        reasons=[],
        runbook="",
    )


def test_exfiltrate_then_destroy_sequence() -> None:
    from detector.detections.sequence import ExfiltrateThenDestroy

    seq, memory = ExfiltrateThenDestroy(), {}
    assert (
        seq.observe(_alert("read_volume_anomaly", ["C09"], "2026-11-05T01:00:00Z"), memory) is None
    )
    assert seq.observe(_alert("ransom_note", ["C23"], "2026-11-05T01:30:00Z"), memory) is None
    f = seq.observe(_alert("mass_delete_anomaly", ["C20"], "2026-11-05T02:10:00Z"), memory)
    assert f is not None and f.principal == ROLE
    assert "then deletes or re-encryption" in f.reasons[0].text
    assert any(r.feature == "ransom_note" for r in f.reasons)


def test_destroy_without_exfiltration_is_no_sequence() -> None:
    from detector.detections.sequence import ExfiltrateThenDestroy

    seq, memory = ExfiltrateThenDestroy(), {}
    assert (
        seq.observe(_alert("mass_delete_anomaly", ["C20"], "2026-11-05T02:10:00Z"), memory) is None
    )
    late = _alert(
        "read_volume_anomaly",
        ["C09"],
        "2026-11-05T03:00:00Z",
        principal="other",
        buckets=["elsewhere"],
    )
    assert seq.observe(late, memory) is None


def test_a_learning_or_habitual_burst_is_no_exfiltration_phase() -> None:
    from detector.detections.sequence import ExfiltrateThenDestroy

    for status in ("learning", "habit"):
        seq, memory = ExfiltrateThenDestroy(), {}
        burst = _alert("sustained_read_excess", ["C09"], "2026-11-05T01:00:00Z")
        burst.status = status
        assert seq.observe(burst, memory) is None
        later = _alert("sustained_write_excess", ["C22"], "2026-11-05T11:00:00Z")
        assert seq.observe(later, memory) is None, status


def test_silent_stream_is_reported_once() -> None:
    from detector.detections.silence import StreamWatch, TelemetrySilence
    from detector.features.enrich import enrich

    watch, silence = StreamWatch(), TelemetrySilence()

    def hour(h: int, buckets: list[str]) -> None:
        parts = [
            reads(START + timedelta(hours=h, minutes=m), 3, bucket=b)
            for b in buckets
            for m in (5, 25, 45)
        ]
        t = table(parts).set_column(
            0, "source", pa.array(["s3_access"] * sum(len(p["source"]) for p in parts))
        )
        watch.add(enrich(t, SETTINGS))

    for h in range(30):
        hour(h, ["acme-a", "acme-b"])
    for h in range(30, 34):
        hour(h, ["acme-a"])
    watermark = START + timedelta(hours=34)
    found = silence.check(watch, watermark)
    assert [f.principal for f in found] == ["s3_access:acme-b"]
    assert "then nothing since" in found[0].reasons[0].text
    assert silence.check(watch, watermark + timedelta(hours=1)) == []


def test_spike_on_one_small_bucket_is_seen_per_bucket() -> None:
    """Bucket B's reads jump 30x while the principal's total barely moves."""
    engine = Engine(SETTINGS, load_model_spec("default"))
    for day in range(3):
        base = START + timedelta(days=day)
        engine.process(
            table(
                [
                    reads(base + timedelta(minutes=5 * w), 1500, bucket="acme-big")
                    for w in range(288)
                ]
                + [
                    reads(
                        base + timedelta(minutes=5 * w, seconds=30),
                        10,
                        bucket="acme-small",
                        tag="s",
                    )
                    for w in range(288)
                ]
            )
        )
    t0 = START + timedelta(days=3, hours=1)
    alerts = engine.process(
        table([reads(t0, 1500, bucket="acme-big"), reads(t0, 400, bucket="acme-small", tag="x")])
    )
    alerts += engine.process(table([reads(t0 + timedelta(minutes=30), 10)]))
    volume = [a for a in alerts if a.detection == "read_volume_anomaly"]
    assert volume, [a.detection for a in alerts]
    texts = [r["text"] for a in volume for r in a.reasons]
    assert any("on acme-small" in t for t in texts), texts
