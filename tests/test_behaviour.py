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


def reads(t0: datetime, n: int, *, ip: str = "10.0.4.7", vpce: str | None = "vpce-0aa1",
          bucket: str = "acme-orders", agent: str = "aws-sdk-java/2.25.1",
          size: int = 100_000, tag: str = "") -> dict[str, list]:
    """n GetObject data events by the app role within one minute of t0."""
    return {
        "source": ["cloudtrail"] * n,
        "event_time": [t0 + timedelta(seconds=i * 60 / max(n, 1)) for i in range(n)],
        "event_id": [f"{tag}{t0.isoformat()}-{i}" for i in range(n)],
        "event_name": ["GetObject"] * n, "event_source": ["s3.amazonaws.com"] * n,
        "principal_arn": [SESSION] * n, "principal_type": ["AssumedRole"] * n,
        "account_id": ["111122223333"] * n, "session_issuer_arn": [ROLE] * n,
        "source_ip": [ip] * n, "user_agent": [agent] * n, "vpc_endpoint_id": [vpce] * n,
        "vpc_endpoint_account_id": ["111122223333" if vpce else None] * n,
        "bucket": [bucket] * n, "key": [f"orders/{i % 500}.json" for i in range(n)],
        "bucket_account_id": ["111122223333"] * n, "recipient_account_id": ["111122223333"] * n,
        "bytes_out": [size] * n, "read_only": [True] * n, "management_event": [False] * n,
    }


def table(parts: list[dict[str, list]]) -> pa.Table:
    cols: dict[str, list] = {}
    for p in parts:
        for k, v in p.items():
            cols.setdefault(k, []).extend(v)
    t = pa.table({k: pa.array(v) for k, v in cols.items() if k != "event_time"})
    t = t.append_column("event_time", pa.array(cols["event_time"],
                                               pa.timestamp("us", tz="UTC")))
    return conform(t)


@pytest.fixture(scope="module")
def engine_after_history() -> Engine:
    engine = Engine(SETTINGS, load_model_spec("default"))
    for day in range(3):
        parts = [reads(START + timedelta(days=day, minutes=5 * w), 60 + (w * 7) % 40)
                 for w in range(288)]
        assert engine.process(table(parts)) == [], "normal days raise nothing"
    return engine


def test_normal_history_is_quiet(engine_after_history: Engine) -> None:
    assert engine_after_history.stats.alerts == 0
    assert engine_after_history.stats.windows > 800


def test_exfiltration_from_outside_the_vpc(engine_after_history: Engine) -> None:
    engine = engine_after_history
    t0 = START + timedelta(days=3, hours=2)
    attack = reads(t0, 3000, ip="203.0.113.66", vpce=None, bucket="acme-finance",
                   agent="rclone/v1.66.0", size=2_000_000, tag="x")
    alerts = engine.process(table([attack]))
    alerts += engine.process(table([reads(t0 + timedelta(minutes=30), 50)]))  # closes it
    by = {a.detection: a for a in alerts}
    assert {"read_volume_anomaly", "access_path_change", "new_principal_bucket",
            "unusual_network_origin"} <= set(by)
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
            engine.process(table([reads(START + timedelta(days=day, minutes=5 * w), 80)
                                  for w in range(288)]))
        t0 = START + timedelta(days=2, hours=1)
        out = engine.process(table([reads(t0, 3000, ip="203.0.113.66", vpce=None,
                                          size=2_000_000, tag="x")]))
        out += engine.flush()
        return sorted(a.alert_id for a in out)

    first, second = run(), run()
    assert first and first == second
