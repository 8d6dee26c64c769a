"""End to end on the labelled scenario world: recall, false alerts, reproducible alert ids.

Generates 16 days (~350k events) with sample_logs/generate.py --scenarios, runs
``detector backfill`` through the CLI with the world's detector.toml, and scores the alerts
with ``detector evaluate``. About a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    subprocess.run(
        [
            sys.executable,
            str(REPO / "sample_logs" / "generate.py"),
            "--out",
            str(out),
            "--scenarios",
        ],
        check=True,
        capture_output=True,
    )
    return out


def backfill(world: Path, lake: Path, alerts: Path) -> int:
    return main(
        [
            "backfill",
            str(world / "AWSLogs"),
            str(world / "s3-access-logs"),
            "--lake",
            str(lake),
            "--config",
            str(world / "detector.toml"),
            "--alerts",
            str(alerts),
            "--no-progress",
        ]
    )


@pytest.fixture(scope="module")
def evaluated(world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    run = tmp_path_factory.mktemp("run")
    assert backfill(world, run / "lake", run / "alerts.jsonl") == 0
    assert (
        main(
            [
                "evaluate",
                str(world / "labels.json"),
                str(run / "alerts.jsonl"),
                "--lake",
                str(run / "lake"),
                "--json",
                str(run / "eval.json"),
            ]
        )
        == 0
    )
    return {"dir": run, **json.loads((run / "eval.json").read_text())}


def test_recall_and_false_alert_bounds(evaluated: dict) -> None:
    assert evaluated["attacks"] == 27
    assert evaluated["recall"] >= 0.9, evaluated["scenarios"]
    assert evaluated["false_alerts_medium_or_higher"] == 0, evaluated["false_alert_samples"]
    assert evaluated["false_alerts_per_million_benign_events"] < 1.0
    traps = [s for s in evaluated["scenarios"] if s["kind"] == "trap"]
    assert len(traps) == 6 and all(s["best_severity"] is None for s in traps), traps


def test_every_capability_is_detected(evaluated: dict) -> None:
    assert evaluated["capabilities_missed"] == []
    assert all(s["detected"] for s in evaluated["scenarios"] if s["kind"] == "attack")


def test_same_input_same_alert_ids_and_no_duplicates(
    world: Path, evaluated: dict, tmp_path: Path
) -> None:
    first = [
        json.loads(x)["alert_id"]
        for x in (evaluated["dir"] / "alerts.jsonl").read_text().splitlines()
    ]
    assert len(first) == len(set(first))
    assert backfill(world, tmp_path / "lake", tmp_path / "a.jsonl") == 0
    again = [json.loads(x)["alert_id"] for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert sorted(again) == sorted(first)
    # the same lake again: nothing new is ingested, nothing is alerted twice
    assert backfill(world, tmp_path / "lake", tmp_path / "b.jsonl") == 0
    assert (tmp_path / "b.jsonl").read_text() == ""
