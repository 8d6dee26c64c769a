"""Triage (``detector alerts``): list, show, status changes with their audit trail, and
suppressions the engine honours; and the terminal's view of a run's alerts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import REPO, backfill_cli
from rich.console import Console

from detector.detections.base import fill_template
from detector.lake import Lake
from detector.triage import (
    Action,
    action_rows,
    actions_of,
    active,
    alert_statuses,
    covering,
    status_of,
)

SAMPLE = REPO / "sample_logs"
CONFIG = ("--config", str(SAMPLE / "demo.toml"))
ORDERS_API = "arn:aws:iam::418295730164:role/orders-api"


def detector(*args: str, by: str = "alice") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DETECTOR_ANALYST": by}
    return subprocess.run(
        [sys.executable, "-m", "detector.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )


def listed(lake: Path, *extra: str) -> list[dict[str, Any]]:
    out = detector("alerts", "list", "--lake", str(lake), "--format", "json", *extra)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The bundled day backfilled with ``--alerts -``: (its lake, the run)."""
    lake = tmp_path_factory.mktemp("triage") / "lake"
    run = detector(
        "backfill",
        str(SAMPLE / "AWSLogs"),
        str(SAMPLE / "s3-access-logs"),
        "--lake",
        str(lake),
        *CONFIG,
        "--no-progress",
        "--alerts",
        "-",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return lake, run


# --- pure ------------------------------------------------------------------------------------
def test_optional_template_parts_leave_out_what_an_event_lacks() -> None:
    template = "{event_name}[ on {bucket}][/{key}] by {principal}[ from {source_ip}]"
    row = {"event_name": "PutBucketAcl", "bucket": "b", "key": None, "principal": "p"}
    assert fill_template(template, row) == "PutBucketAcl on b by p"
    row = {"event_name": "PutAccountPublicAccessBlock", "bucket": "", "principal": "p"}
    assert fill_template(template, {**row, "source_ip": "1.2.3.4"}) == (
        "PutAccountPublicAccessBlock by p from 1.2.3.4"
    )
    assert fill_template("{event_name} by {principal}", {"event_name": "X"}) == "X by (unknown)"


def test_suppression_scope_and_expiry_by_the_clock() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    log = [
        Action(
            "suppress",
            "alice",
            "known job",
            principal="p",
            detection="d",
            expires=now + timedelta(days=1),
        ),
        Action("suppress", "bob", "x", bucket="logs"),
        Action("suppress", "carol", "over", detection="e", expires=now - timedelta(hours=1)),
    ]
    rules = active(log, now)
    assert [r.acted_by for r in rules] == ["alice", "bob"]  # carol's has expired
    assert active(log, now + timedelta(days=2))[0].acted_by == "bob"
    rule, by_bucket = rules
    assert rule.covers("d", "p", [])
    assert not rule.covers("d", "other", [])
    assert not rule.covers("e", "p", [])
    assert by_bucket.covers("any", None, ["a", "logs"])
    assert not by_bucket.covers("any", None, ["a"])
    assert covering(rules, "z", "q", ["logs"]) is by_bucket


def test_an_action_covers_the_signals_it_saw_not_later_ones() -> None:
    """Closing an incident closes its signals as they were: one that joins the incident
    afterwards (real exfiltration after a benign alert) is open, not hidden."""
    t = datetime(2026, 12, 1, tzinfo=UTC)
    log = actions_of(
        action_rows(
            [
                Action("ack", "alice", "", "inc-1", alert_ids=("a1", "a2"), acted_at=t),
                Action(
                    "close",
                    "bob",
                    "benign",
                    "inc-1",
                    alert_ids=("a1", "a2"),
                    acted_at=t + timedelta(hours=1),
                ),
                Action("ack", "bob", "", "inc-2", alert_ids=("b1",), acted_at=t),
            ]
        )
    )
    latest = alert_statuses(log)
    alerts = [{"alert_id": i, "status": "notify"} for i in ("a1", "a2", "a3", "b1")]
    assert [status_of(a, latest) for a in alerts] == ["closed", "closed", "open", "acknowledged"]
    assert status_of({"alert_id": "a3", "status": "suppressed"}, latest) == "suppressed"


def test_suppressing_an_anonymous_alert_needs_an_explicit_scope() -> None:
    import argparse

    from detector.alerts_command import _suppress
    from detector.errors import UsageError

    anonymous = {
        "alert_id": "abcdef123456",
        "incident_id": "",
        "detection": "anonymous_access",
        "principal": None,
        "buckets": ["public-site"],
        "status": "notify",
    }
    args = argparse.Namespace(
        id="abcdef123456", principal=None, detection=None, bucket=None, any_principal=False,
        expires=None, days=None, reason="r", by="alice",
    )  # fmt: skip

    class Log:
        def __init__(self) -> None:
            self.rows: list[pa.Table] = []

        def append_log(self, rows: pa.Table) -> None:
            self.rows.append(rows)

    with pytest.raises(UsageError, match="no principal"):
        _suppress(args, Log(), [anonymous], Console(file=io.StringIO()))
    args.bucket = "public-site"
    log = Log()
    assert _suppress(args, log, [anonymous], Console(file=io.StringIO())) == 0
    (row,) = log.rows[0].to_pylist()
    assert (row["principal"], row["detection"], row["bucket"]) == (
        None,
        "anonymous_access",
        "public-site",
    )
    assert row["alert_ids"] == ["abcdef123456"]


def test_the_parquet_lake_keeps_a_triage_log_too(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.read_log() is None
    lake.append_log(action_rows([Action("ack", "alice", "", "inc-1", alert_ids=("a1",))]))
    lake.append_log(action_rows([Action("close", "bob", "done", "inc-1", alert_ids=("a1",))]))
    log = lake.read_log()
    assert isinstance(log, pa.Table)
    assert sorted(log.column("action").to_pylist()) == ["ack", "close"]


# --- through the CLI ---------------------------------------------------------------------------
def test_alerts_dash_writes_only_json_to_stdout_and_the_terminal_view_is_complete(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    lake, run = day
    alerts = [json.loads(line) for line in run.stdout.splitlines()]  # every line is JSON
    assert len(alerts) >= 5 and all(a["status"] == "notify" for a in alerts)
    for a in alerts:  # the human view, on stderr, names each alert and what to do
        assert f"alert {a['alert_id']}" in run.stderr
        assert f"runbook: {a['runbook']}" in run.stderr
        assert f"evidence: {a['hunt']}" in run.stderr
    assert " on - " not in run.stderr and "/- " not in run.stderr and "(error: -)" not in run.stderr
    assert f"detector alerts list --lake {lake}" in run.stderr


def test_list_show_ack_close_reopen_with_an_audit_trail(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    lake, run = day
    sent = {json.loads(line)["alert_id"] for line in run.stdout.splitlines()}
    rows = listed(lake)
    assert {r["alert_id"] for r in rows} == sent  # every notification, all open
    assert {r["status"] for r in rows} == {"open"}
    first = rows[0]
    incident = first["incident_id"]

    shown = detector(
        "alerts", "show", first["alert_id"][:8], "--lake", str(lake), "--format", "json"
    )
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["incident_id"] == incident and doc["status"] == "open"
    assert first["alert_id"] in {s["alert_id"] for s in doc["signals"]}
    assert all(s["incident_id"] == incident for s in doc["signals"])

    assert detector("alerts", "ack", incident, "--lake", str(lake), by="alice").returncode == 0
    assert {r["status"] for r in listed(lake) if r["incident_id"] == incident} == {"acknowledged"}
    closed = detector(
        "alerts", "close", first["alert_id"], "--lake", str(lake), "--reason", "benign", by="bob"
    )
    assert closed.returncode == 0, closed.stderr
    assert incident not in {r["incident_id"] for r in listed(lake)}  # closed: not by default
    assert {r["incident_id"] for r in listed(lake, "--status", "closed")} == {incident}
    reopened = detector("alerts", "reopen", incident, "--lake", str(lake), "--reason", "again")
    assert reopened.returncode == 0, reopened.stderr
    assert {r["status"] for r in listed(lake) if r["incident_id"] == incident} == {"open"}

    history = json.loads(
        detector("alerts", "show", incident, "--lake", str(lake), "--format", "json").stdout
    )["history"]
    text = detector("alerts", "show", incident, "--lake", str(lake))
    assert text.returncode == 0, text.stderr
    assert "ack by alice" in text.stdout and "close by bob: benign" in text.stdout
    assert [(h["action"], h["acted_by"], h["reason"]) for h in history] == [
        ("ack", "alice", ""),
        ("close", "bob", "benign"),
        ("reopen", "alice", "again"),
    ]
    assert all(h["acted_at"].endswith("Z") for h in history)

    unknown = detector("alerts", "show", "ffffffffffff", "--lake", str(lake))
    assert unknown.returncode == 2 and "no alert or incident" in unknown.stderr
    no_reason = detector("alerts", "close", incident, "--lake", str(lake))
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr


def test_filters_by_severity_detection_principal_and_time(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    lake, _ = day
    every = listed(lake, "--status", "all")
    high = listed(lake, "--status", "all", "--severity", "high")
    assert high and {r["severity"] for r in high} <= {"high", "critical"}
    assert len(high) < len(every)
    one = every[-1]
    assert {
        r["alert_id"] for r in listed(lake, "--status", "all", "--detection", one["detection"])
    } >= {one["alert_id"]}
    by_principal = listed(lake, "--status", "all", "--principal", one["principal"])
    assert {r["principal"] for r in by_principal} == {one["principal"]}
    assert listed(lake, "--status", "all", "--since", "2030-01-01") == []
    assert len(listed(lake, "--status", "all", "--until", "2030-01-01")) == len(every)
    csv_out = detector("alerts", "list", "--lake", str(lake), "--status", "all", "--format", "csv")
    assert csv_out.stdout.splitlines()[0].startswith("alert_id,status,severity")
    assert len(csv_out.stdout.splitlines()) == len(every) + 1


def test_a_suppression_is_honoured_by_the_next_run(tmp_path: Path) -> None:
    """The access logs first, then a suppression of orders-api's copies into foreign
    buckets, then the CloudTrail logs: the copy is recorded as suppressed, not sent, and the
    day's other alerts still go out."""
    lake = tmp_path / "lake"
    first, _ = backfill_cli(
        str(SAMPLE / "s3-access-logs"), "--lake", str(lake), *CONFIG, summary=tmp_path / "1.json"
    )
    assert first.returncode == 0, first.stderr[-2000:]
    suppress = detector(
        "alerts",
        "suppress",
        "--lake",
        str(lake),
        "--principal",
        ORDERS_API,
        "--detection",
        "write_to_foreign_bucket",
        "--days",
        "3650",
        "--reason",
        "sanctioned partner archive",
    )
    assert suppress.returncode == 0, suppress.stderr
    out = tmp_path / "alerts.jsonl"
    second, _ = backfill_cli(
        str(SAMPLE / "AWSLogs"),
        "--lake",
        str(lake),
        *CONFIG,
        "--alerts",
        str(out),
        summary=tmp_path / "2.json",
    )
    assert second.returncode == 0, second.stderr[-2000:]
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert sent and not any(
        a["detection"] == "write_to_foreign_bucket" and a["principal"] == ORDERS_API for a in sent
    )
    suppressed = listed(lake, "--status", "suppressed")
    assert {(r["detection"], r["principal"]) for r in suppressed} == {
        ("write_to_foreign_bucket", ORDERS_API)
    }


# --- the report ------------------------------------------------------------------------------
def test_report_html_holds_every_incident_and_fetches_nothing(
    day: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    lake, run = day
    sent = [json.loads(line) for line in run.stdout.splitlines()]
    out = tmp_path / "report.html"
    made = detector("report", "--lake", str(lake), "--out", str(out))
    assert made.returncode == 0, made.stderr
    page = out.read_text()
    incidents = {a["incident_id"] for a in sent}
    assert f"{len(incidents)} incident(s)" in page
    for a in sent:  # every notified alert, in its incident's section, with what to do
        assert f"id='{a['incident_id']}'" in page and a["alert_id"] in page
    lowered = page.lower()
    for external in ("<script", "<link", "<img", "src=", "url(", "@import", "href='http"):
        assert external not in lowered, external
    assert "='http" not in lowered and '="http' not in lowered  # no attribute fetches a URL
    # every signal's reason (grouped ones too) says nothing of fields an event lacks
    assert " on - " not in page and "/- " not in page and "(error: -)" not in page
    # the principals behind windows are plotted: a line and the usual range, per feature
    assert page.count("<polyline") >= 3 and "before the incident" in page
    none = detector("report", "--lake", str(lake), "--out", str(out), "--since", "2030-01-01")
    assert none.returncode == 0 and "0 incident(s)" in out.read_text()


def test_report_escapes_what_came_from_logs() -> None:
    from detector.report_html import IncidentView, render

    t = datetime(2026, 12, 1, tzinfo=UTC)
    hostile = "<script>alert(1)</script>"
    signal = {
        "first_seen": "2026-12-01T00:00:00Z",
        "severity": "high",
        "detection": "d",
        "status": "notify",
        "title": hostile,
        "reasons": [{"text": f"by {hostile}"}],
        "alert_id": "a1",
        "runbook": "r",
        "hunt": "",
    }
    view = IncidentView("inc-1", "open", "high", hostile, "1", "x", "y", [signal], t, t)
    page = render([view], "/lake", "all", t)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_incident_is_open_while_any_of_its_signals_is() -> None:
    from detector.triage import incident_status

    log = [Action("close", "bob", "benign", "inc-1", alert_ids=("a1",))]
    latest = alert_statuses(log)
    signals = [{"alert_id": "a1", "status": "notify"}, {"alert_id": "a3", "status": "notify"}]
    assert incident_status(signals, latest) == "open"  # a3 joined after the close
    assert incident_status(signals[:1], latest) == "closed"


def test_a_log_written_before_the_columns_were_renamed_is_read() -> None:
    old = pa.table(
        {
            "action_id": ["x"],
            "at": pa.array([datetime(2026, 12, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
            "by": ["alice"],
            "action": ["suppress"],
            "reason": ["old"],
            "detection": ["d"],
        }
    )
    (action,) = actions_of(old)
    assert (action.acted_by, action.action, action.alert_ids, action.detection) == (
        "alice",
        "suppress",
        (),
        "d",
    )
    assert active([action], datetime(2026, 12, 2, tzinfo=UTC))[0].detection == "d"


def test_migrate_carries_the_triage_log_once(tmp_path: Path) -> None:
    from detector.icelake.migrate import migrate
    from detector.lakes import open_lake

    old = tmp_path / "old"
    (old / "_manifest").mkdir(parents=True)
    Lake(old).append_log(action_rows([Action("ack", "alice", "", "inc-1", alert_ids=("a1",))]))
    first = migrate(old, tmp_path / "new")
    again = migrate(old, tmp_path / "new")  # a resumed or repeated migration adds none twice
    assert first.rows["triage"] == again.rows["triage"] == (1, 1) and again.matches
    (action,) = actions_of(open_lake(tmp_path / "new").read_log())
    assert (action.acted_by, action.alert_ids) == ("alice", ("a1",))


def test_triage_needs_a_lake_that_is_there(tmp_path: Path) -> None:
    out = detector("alerts", "list", "--lake", str(tmp_path / "typo"))
    assert out.returncode == 2 and "no lake here" in out.stderr
    assert not (tmp_path / "typo").exists()


def test_a_suppressed_deviation_teaches_only_the_principal_s_own_baseline() -> None:
    from detector.scoring.model import Scorer, load_model_spec

    scorer = Scorer(load_model_spec("default"))
    x = {f: 10.0 for f in scorer.spec.features}
    scorer.learn("p", "acct|AssumedRole", x, peers=False)
    assert scorer.principals["p"].n == 1 and scorer.peers == {}
    scorer.learn("p", "acct|AssumedRole", x)
    assert scorer.peers["acct|AssumedRole"].n == 1


def test_the_report_plots_from_a_parquet_lake_too(tmp_path: Path) -> None:
    """Both lake formats read only the plotted principals' windows (``read_between``)."""
    lake = tmp_path / "lake"
    made, _ = backfill_cli(
        str(SAMPLE / "AWSLogs"),
        "--lake",
        str(lake),
        "--lake-format",
        "parquet",
        *CONFIG,
        summary=tmp_path / "s.json",
    )
    assert made.returncode == 0, made.stderr[-2000:]
    out = tmp_path / "report.html"
    assert detector("report", "--lake", str(lake), "--out", str(out)).returncode == 0
    assert out.read_text().count("<polyline") >= 3


def test_feature_and_alert_files_carry_their_day_partition(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Iceberg readers (Athena, Spark, pyiceberg) prune by day: a time predicate on the
    features or alerts table must find the rows, not prune every file away."""
    from pyiceberg.expressions import GreaterThanOrEqual

    from detector.icelake.catalog import open_catalog

    lake, _ = day
    catalog = open_catalog(lake, create=False)
    for name, column in (("features", "window_start"), ("alerts", "first_seen")):
        table = catalog.load_table(f"detector.{name}")
        assert all(t.file.partition[0] is not None for t in table.scan().plan_files()), name
        since = GreaterThanOrEqual(column, "2026-11-01T00:00:00+00:00")
        assert table.scan(row_filter=since).to_arrow().num_rows == table.scan().to_arrow().num_rows
