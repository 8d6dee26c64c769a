"""Sustained excess: a modest excess held for hours accumulates (CUSUM) into an alert that no
single window shows; steady traffic, however noisy, never does."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from test_behaviour import SETTINGS, START, reads, table

from detector.engine import Engine
from detector.scoring.model import LogZBaseline, load_model_spec

SPEC = load_model_spec("default")
WINDOW = timedelta(minutes=5)


def day_of_reads(
    engine: Engine, day: int, level: float, rng: random.Random, hours: range = range(24)
) -> list:
    """A day of 5-minute windows around 100 reads (``level`` in ``hours``), an hour a batch."""
    found = []
    for hour in range(24):
        parts = []
        for w in range(12):
            t = START + timedelta(days=day, hours=hour) + w * WINDOW
            usual = level if hour in hours else 100
            parts.append(reads(t, int(usual * rng.uniform(0.7, 1.3)), tag=f"{day}-{hour}-{w}-"))
        found += engine.process(table(parts))
    return found


def test_three_times_usual_for_six_hours_is_caught_and_steady_traffic_is_not() -> None:
    rng = random.Random(5)
    engine = Engine(replace(SETTINGS, learning_days=0), SPEC)
    steady = []
    for day in range(3):
        steady += day_of_reads(engine, day, 100, rng)
    assert not [a for a in steady if a.detection == "sustained_read_excess"]
    slow = day_of_reads(engine, 3, 300, rng, hours=range(8, 14))
    spikes = [a for a in slow if a.detection == "read_volume_anomaly"]
    sustained = [a for a in slow if a.detection == "sustained_read_excess"]
    assert not spikes  # no single window stands out
    assert sustained and sustained[0].severity == "medium"
    first = sustained[0]
    assert "08:" in first.first_seen or "09:" in first.first_seen or "10:" in first.first_seen
    assert "× usual for" in first.reasons[0]["text"]


def test_the_cusum_survives_a_checkpoint() -> None:
    base = LogZBaseline(SPEC.features, SPEC.fading_factor, SPEC.peak_decay)
    for _ in range(50):
        base.learn_one({"n_read": 100.0, "bytes_out": 1e7})
    base.sustained({"n_read": 300.0, "bytes_out": 3e7}, SPEC.floors)
    again = LogZBaseline.from_state(
        base.to_state(), SPEC.features, SPEC.fading_factor, SPEC.peak_decay
    )
    assert again.cusum == base.cusum and again.cusum["n_read"] > 0
    assert again.slow["n_read"].get() == base.slow["n_read"].get()
    assert again.held == base.held == {"n_read": 1, "bytes_out": 1, "n_write": 0}
