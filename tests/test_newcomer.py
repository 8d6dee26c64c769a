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
