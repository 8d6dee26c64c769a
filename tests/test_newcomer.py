"""What a new user meets first: a folder of logs with a README beside them, the demo's
lake, the summary of a tail, output that is piped instead of shown."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from conftest import CT_KEY, REPO, backfill_cli, ct_record, trail_file
from rich.console import Console

from detector.report import render_summary
from detector.summary import BatchStats, RunSummary
from detector.terminal import PIPE_WIDTH, PipeConsole


def test_files_beside_the_logs_are_skipped_and_counted_not_quarantined(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / CT_KEY).mkdir(parents=True)
    (logs / CT_KEY / "a.json.gz").write_bytes(trail_file([ct_record(1)]))
    for name in ("README.md", "detector.toml", "MANIFEST.json", "notes.yaml"):
        (logs / name).write_text("not a log\n")
    (logs / "junk.bin").write_bytes(b"\x00\x01garbage")  # unknown: still quarantined
    proc, summary = backfill_cli(
        str(logs), "--lake", str(tmp_path / "lake"), "--no-detect", summary=tmp_path / "s.json"
    )
    assert proc.returncode == 0, proc.stderr
    assert summary["objects"]["skipped"] == {"not_a_log": 4}
    assert list(summary["rejects"]) == ["unknown_format"]
    assert summary["events"]["total"] == 1
    assert "4 not_a_log" in proc.stdout


def test_a_tail_s_summary_speaks_of_a_tail() -> None:
    summary = RunSummary(sources=["sqs:q"], lake="/l", kind="tail", batches=2)
    stats = BatchStats(objects_read=7)
    stats.skipped["already_ingested"] = 2
    summary.add(stats)
    out = io.StringIO()
    render_summary(summary, Console(file=out, width=200))
    text = out.getvalue()
    assert text.startswith("tail ")
    assert "objects: 7 read from 3 batches, skipped 2 already_ingested" in text
    assert "listed" not in text


def test_output_to_a_pipe_is_not_wrapped_at_80_columns() -> None:
    script = (
        "from detector.terminal import PipeConsole; c = PipeConsole(); print(c.width)\n"
        "c.print('x' * 150)"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no COLUMNS
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env
    )
    lines = out.stdout.splitlines()
    assert lines[0] == str(PIPE_WIDTH) and lines[1] == "x" * 150
    assert PipeConsole(width=100).width == 100


def test_the_temporary_demo_says_how_to_keep_its_lake() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "detector.cli", "demo", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "detector demo --lake ./demo-lake" in out.stdout
    assert "detector alerts list --lake /tmp" not in out.stdout  # not pointed at a lake gone


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "detector.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_check_lists_every_problem_and_creates_nothing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        f'[source]\nkind = "backfill"\npaths = ["{tmp_path / "nowhere"}"]\n'
        f'[lake]\npath = "{lake}"\n'
        '[detect]\nconfig = "sample_logs/demo.toml"\n'
        '[[sinks]]\nkind = "slack"\nvalue = "env:DETECTOR_TEST_UNSET_HOOK"\n'
    )
    out = cli("check", "--pipeline", str(pipeline))
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("ok   settings sample_logs/demo.toml") for line in lines)
    assert any(
        line.startswith("FAIL sinks") and "DETECTOR_TEST_UNSET_HOOK" in line for line in lines
    )
    assert any(line.startswith("FAIL source") and "no such file" in line for line in lines)
    assert "nothing was created" in lines[-1]
    assert not lake.exists()
    good = cli("check", "--config", "sample_logs/demo.toml")
    assert good.returncode == 0 and "2 of 2 checks passed" in good.stdout


def test_detections_list_and_test_on_a_real_sample(tmp_path: Path) -> None:
    listed = cli("detections", "list", "--format", "json")
    assert listed.returncode == 0
    ids = {__import__("json").loads(line)["id"] for line in listed.stdout.splitlines()}
    assert {"cloudtrail_stopped_or_deleted", "decoy_object_access"} <= ids
    sample = (
        REPO.parent
        / "shared/testdata/cloudtrail/stratus-red-team-detonations"
        / "aws.defense-evasion.cloudtrail-stop.json"
    )
    fires = cli(
        "detections", "test", "cloudtrail_stopped_or_deleted", str(sample), "--expect", "fire"
    )
    assert fires.returncode == 0, fires.stdout + fires.stderr
    assert "FIRES" in fires.stdout and "StopLogging on trail" in fires.stdout
    quiet = cli("detections", "test", "bucket_policy_public", str(sample), "--expect", "fire")
    assert quiet.returncode == 1 and "does not fire" in quiet.stdout  # the expectation fails
    examples = cli("detections", "test", "cloudtrail_stopped_or_deleted", "--examples")
    assert examples.returncode == 0 and "4 of 4 examples as expected" in examples.stdout
    unknown = cli("detections", "test", "no_such_rule", str(sample))
    assert unknown.returncode == 2 and "no detection" in unknown.stderr
