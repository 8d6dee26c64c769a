"""Log-derived text on a terminal: control characters shown escaped, never read as markup.

Unit tests of ``detector.terminal``, the renderers fed hostile values, and the CLI run on a
real pseudo-terminal (``pty``) over logs whose user agents, keys, event names and paths carry
escape sequences (OSC 52 clipboard, screen clear, conceal, OSC 8 links), rich markup and
BIDI overrides: no sequence of the data reaches the terminal, its visible escape does.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import CT_KEY, access_line, ct_record, trail_file
from rich.console import Console

from detector.alerts import Alert
from detector.hunt.output import render_table
from detector.metrics import JsonLogFormatter
from detector.report import render_alerts, render_evaluation, render_summary
from detector.summary import RunSummary
from detector.terminal import BIDI_CONTROLS, SafeLogFormatter, safe_text, visible

OSC52 = "\x1b]52;c;SGVsbG8=\x07"
CLEAR = "\x1b[2J"
CONCEAL_SGR = "\x1b[8mhidden"
OSC8 = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
LINK = "[link=https://evil.example]x[/link]"
CONCEAL = "[conceal]hidden[/conceal]"
CLOSE = "[/x]"
RLO = "\u202egnp.exe"
HOSTILE = (OSC52, CLEAR, CONCEAL_SGR, OSC8, LINK, CONCEAL, CLOSE, RLO)

RAW = (b"\x1b]52", b"\x1b[2J", b"\x1b[8m", b"\x1b]8;", "\u202e".encode(), b"\x07")
"""Sequences of the data that must never reach the terminal (rich's own colours may)."""
SHOWN = (
    b"\\x1b]52;c;SGVsbG8=\\x07",
    b"\\x1b[2J",
    b"\\x1b[8mhidden",
    b"\\u202egnp.exe",
    LINK.encode(),
    CONCEAL.encode(),
    CLOSE.encode(),
)
"""What the terminal shows instead: visible escapes, and the markup as typed."""


# --- visible ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x00", "\\x00"),
        ("\x07", "\\x07"),
        ("\x08", "\\x08"),
        ("\x1b", "\\x1b"),
        ("\x1f", "\\x1f"),
        ("\n", "\\n"),
        ("\t", "\\t"),
        ("\r", "\\r"),
        ("\x7f", "\\x7f"),
        ("\x80", "\\x80"),
        ("\x9b", "\\x9b"),
        ("\x9d", "\\x9d"),
        ("\x9f", "\\x9f"),
        ("\u200e", "\\u200e"),
        ("\u200f", "\\u200f"),
        ("\u202a", "\\u202a"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u2069", "\\u2069"),
        ("\u061c", "\\u061c"),
        (OSC52, "\\x1b]52;c;SGVsbG8=\\x07"),
        (CLEAR, "\\x1b[2J"),
        ("a\nb\tc", "a\\nb\\tc"),
    ],
)
def test_controls_become_visible_escapes(text: str, shown: str) -> None:
    assert visible(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "reports/2026/q3 (final).csv",
        "café",
        "日本語のキー",
        "emoji 🙂",
        "Ünïcödé ß",
        LINK,
        CONCEAL,
        CLOSE,
        "[bold]x[/bold]",
        ":warning:",
        "C:\\path\\x1b",
        "",
        "\u00a0non-breaking \u00a0space",
    ],
)
def test_ordinary_text_and_markup_are_unchanged(text: str) -> None:
    assert visible(text) == text


def test_every_control_and_nothing_else() -> None:
    controls = {*range(0x20), 0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS}
    assert {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)} <= controls
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        out = visible(chr(code))
        if code in controls:
            assert out.startswith("\\") and len(out) > 1 and out.isascii(), hex(code)
        else:
            assert out == chr(code), hex(code)
    assert visible(visible(OSC52 + RLO)) == visible(OSC52 + RLO)  # idempotent


def render(fn: Any, *args: Any) -> str:
    """What ``fn`` prints on a colour terminal 200 columns wide."""
    buf = io.StringIO()
    fn(*args, Console(file=buf, force_terminal=True, color_system="truecolor", width=200))
    return buf.getvalue()


def assert_safe(out: str) -> None:
    raw = out.encode()
    for seq in RAW:
        assert seq not in raw, seq
    for seq in SHOWN:
        assert seq in raw, seq


def test_safe_text_is_never_markup() -> None:
    def show(console: Console) -> None:
        for value in HOSTILE:
            console.print(safe_text(value))

    assert_safe(render(show))


# --- logging --------------------------------------------------------------------------------
def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad key {CLEAR}")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("detector.x", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_text_log_lines_escape_their_arguments() -> None:
    fmt = SafeLogFormatter("%(levelname)s %(name)s: %(message)s")
    line = fmt.format(record("%s: parser failed on %s", "cloudtrail", f"s3://b/{OSC52}\nFAKE"))
    assert line == (
        "WARNING detector.x: cloudtrail: parser failed on s3://b/\\x1b]52;c;SGVsbG8=\\x07\\nFAKE"
    )
    with_traceback = fmt.format(record("failed on %s", RLO, exc=True))
    assert "\x1b" not in with_traceback and "\u202e" not in with_traceback
    assert "Traceback" in with_traceback and with_traceback.count("\n") >= 3
    assert "ValueError: bad key \\x1b[2J" in with_traceback


def test_json_log_lines_escape_and_keep_exact_values() -> None:
    line = JsonLogFormatter().format(record("key %s", "".join(HOSTILE)))
    assert "\n" not in line and line.isascii()
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in line)
    assert json.loads(line)["message"] == "key " + "".join(HOSTILE)


# --- renderers --------------------------------------------------------------------------------
def test_summary_with_hostile_names_and_source_errors() -> None:
    summary = RunSummary(sources=["s3://logs/x"], lake=f"/lakes/{OSC8}")
    summary.objects_listed = 2
    summary.totals.objects_read = 2
    for i, value in enumerate(HOSTILE):
        summary.totals.events[("cloudtrail", f"GetObject{value}")] += i + 1
    summary.totals.rejects[f"reason{CLOSE}"] += 1
    summary.source_errors += [f"s3://logs/{CLOSE}{CLEAR}: listing failed", f"s3://{LINK}{OSC52}"]
    out = render(render_summary, summary)
    assert_safe(out)
    assert "source error:" in out and "lake: /lakes/\\x1b]8;;" in out


def alert(principal: str, why: str) -> Alert:
    return Alert(
        alert_id="a" * 24,
        detection="offensive_user_agent",
        capabilities=["C13"],
        attack=[],
        title="t",
        severity="high",
        score=1.0,
        principal=principal,
        account_id="1",
        first_seen="2026-11-02T10:00:00Z",
        last_seen="2026-11-02T10:00:00Z",
        detected_at="2026-11-02T10:00:00Z",
        evidence_event_ids=[],
        evidence_total=1,
        buckets=[],
        source_ips=[],
        user_agents=[],
        vpc_endpoint_ids=[],
        reasons=[{"text": why}],
        runbook="",
    )


def test_alerts_with_hostile_principals_and_reasons() -> None:
    alerts = [alert(f"arn:aws:iam::1:role/{v}", f"GetObject with agent {v}") for v in HOSTILE]
    assert_safe(render(render_alerts, alerts))


def test_evaluation_with_hostile_labels_and_alerts() -> None:
    scenario = {
        "kind": "attack",
        "id": f"s{CLOSE}",
        "capabilities": ["C13"],
        "detected": True,
        "best_severity": "high",
        "time_to_detect_s": 60,
        "detections": list(HOSTILE),
    }
    result = {
        "scenarios": [scenario],
        "detected": 1,
        "attacks": 1,
        "recall": 1.0,
        "capabilities_missed": [],
        "median_time_to_detect_s": 60,
        "false_alerts": 1,
        "false_alerts_by_severity": {"low": 1},
        "false_alerts_medium_or_higher": 0,
        "false_alerts_per_million_benign_events": 1.0,
        "benign_events": 10,
        "false_alert_samples": [
            {"severity": "low", "detection": "x", "principal": v, "why": v} for v in HOSTILE
        ],
    }
    out = render(render_evaluation, result)
    for seq in RAW:
        assert seq not in out.encode(), seq
    assert "\\x1b]52;c;SGVsbG8=\\x07" in out and LINK in out and CLOSE in out


def test_hunt_table_cells_and_column_names() -> None:
    batch = pa.RecordBatch.from_pylist(
        [{f"agent{CLEAR}": v, LINK: [v, "x"], "n": i} for i, v in enumerate(HOSTILE)]
    )

    def table(console: Console) -> None:
        render_table([batch], console, limit=None, title=f"hunt {CLOSE}")

    out = render(table)
    assert_safe(out)
    assert "agent\\x1b[2J" in out and "8 rows" in out


# --- the CLI on a pseudo-terminal -----------------------------------------------------------
def on_pty(*argv: str, timeout: float = 120) -> tuple[int, bytes]:
    """Run the CLI with stdout and stderr on a pty; everything it wrote, and its status."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "200", "LINES": "50"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector.cli", *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the pty
                    break
                if not data:
                    break
                chunks.append(data)
        else:
            proc.kill()
            raise AssertionError(f"{argv} did not finish in {timeout} s")
    finally:
        os.close(master)
    return proc.wait(timeout=30), b"".join(chunks)


def assert_terminal_safe(out: bytes) -> None:
    for seq in RAW:
        assert seq not in out, (seq, out[-2000:])
    assert b"Traceback" not in out and b"MarkupError" not in out, out[-2000:]


def hostile_logs(root: Path) -> Path:
    """CloudTrail records from eight roles, each with a hostile agent and key (an offensive
    agent, so each raises an alert), an event name with markup, and an access-log line whose
    URL-encoded key decodes to escape sequences."""
    records = []
    for i, value in enumerate(HOSTILE):
        identity = json.loads(json.dumps(ct_record(0)["userIdentity"]).replace("/app", f"/app{i}"))
        records.append(
            ct_record(
                i + 1,
                userIdentity=identity,
                userAgent=f"aws-cli/1.22.34 Linux/5.16.0-kali7-amd64 {value}",
                requestParameters={
                    "bucketName": "data",
                    "Host": "data.s3.amazonaws.com",
                    "key": f"k/{value}",
                },
            )
        )
    records.append(ct_record(40, eventName=f"GetObject{CLOSE}{CLEAR}"))
    folder = root / CT_KEY
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hostile.json.gz").write_bytes(trail_file(records))
    access = root / "s3-access-logs" / "data"
    access.mkdir(parents=True)
    (access / "2026-11-02-10-00-00-0123456789ABCDEF").write_text(
        access_line(50, key="k/%1B%5B2J%1B%5D52%3Bc%3BSGVsbG8%3D%07%E2%80%AE") + "\n"
    )
    return root


@pytest.fixture(scope="module")
def hostile_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detector.cli import main

    root = tmp_path_factory.mktemp("hostile")
    lake = root / "lake"
    assert (
        main(
            [
                "backfill",
                str(hostile_logs(root / "logs")),
                "--lake",
                str(lake),
                "--no-detect",
                "--no-progress",
            ]
        )
        == 0
    )
    return lake


def test_hunt_table_on_a_terminal(hostile_lake: Path) -> None:
    code, out = on_pty(
        "hunt", "--lake", str(hostile_lake), "select user_agent, key from events order by key"
    )
    assert code == 0, out
    assert_terminal_safe(out)
    for seq in (
        b"\\x1b]52;c;SGVsbG8=\\x07",
        b"\\x1b[2J",
        b"\\x1b[8mhidden",
        b"\\u202egnp.exe",
        b"k/[/x]",
        b"k/[link=https://evil.example]x[/link]",
        b"k/[conceal]hidden[/conceal]",
        b"k/\\x1b[2J\\x1b]52;c;SGVsbG8=\\x07\\u202e",
    ):
        assert seq in out, seq
    assert b"\x1b[" in out  # rich does colour the terminal: the check above is meaningful
    code, out = on_pty(
        "hunt",
        "--lake",
        str(hostile_lake),
        "select distinct event_name, "
        "cast(event_name as int) as n from events where event_name like '%[%'",
    )
    assert code == 1 and b"query failed: Conversion Error" in out
    assert_terminal_safe(out)
    assert b"GetObject[/x]\\x1b[2J" in out


def test_backfill_alerts_and_summary_on_a_terminal(tmp_path: Path) -> None:
    logs = hostile_logs(tmp_path / "logs")
    code, out = on_pty("backfill", str(logs), "--lake", str(tmp_path / "lake"))
    assert code == 0, out
    assert_terminal_safe(out)
    assert b"alerts (8)" in out and b"offensive_user_agent" in out
    for seq in (
        b"with agent aws-cli/1.22.34 Linux/5.16.0-kali7-amd64 ",
        *SHOWN,
        b"GetObject[/x]\\x1b[2J",
    ):
        assert seq in out, seq


def test_paths_with_escapes_on_a_terminal(tmp_path: Path) -> None:
    logs = hostile_logs(tmp_path / f"logs{CLEAR}{OSC52}")
    lake = tmp_path / f"lake{OSC8}{RLO}"
    (lake / "_manifest").mkdir(parents=True)
    (lake / "_manifest" / "run-0.jsonl").write_text('{"batch": "torn\n')  # a warning naming it
    code, out = on_pty("backfill", str(logs), "--lake", str(lake), "--no-progress")
    assert code == 0, out
    assert_terminal_safe(out)
    assert b"torn manifest line ignored" in out  # a log line on stderr, with the lake's path
    assert (
        out.count(b"lake\\x1b]8;;https:/evil.example\\x07click\\x1b]8;;\\x07\\u202egnp.exe") >= 2
    )  # in the log line and in the summary's "lake:" line
    code, out = on_pty("backfill", str(tmp_path / f"missing{CLEAR}{OSC52}"), "--lake", str(lake))
    assert code == 2 and b"missing\\x1b[2J\\x1b]52;c;SGVsbG8=\\x07: no such file" in out
    assert_terminal_safe(out)
    code, out = on_pty("hunt", "--lake", str(lake), "select count(*) as n from events")
    assert code == 0 and b"torn manifest line ignored" in out
    assert_terminal_safe(out)


def test_shell_on_hostile_data(
    hostile_lake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from detector.cli import main

    script = (
        "select replace(user_agent, 'aws-cli/1.22.34 Linux/5.16.0-kali7-amd64 ', '')"
        " as agent from events where user_agent like '%kali%';\n"
        "select cast(user_agent as int) from events where user_agent like '%kali%';\n"
        f".schema {OSC52}\n"
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    assert main(["hunt", "--lake", str(hostile_lake), "--shell"]) == 0
    out, err = capsys.readouterr()
    for text in (out, err):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\x1b]52;c;SGVsbG8=\\x07" in out and CLOSE in out and "8 rows" in out
    assert "Conversion Error" in err and "no view named" in err and "\\x1b]52" in err


def test_files_keep_exact_values(
    hostile_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from detector.cli import main

    sql = "select user_agent, key from events where user_agent like '%kali%' order by key"
    assert main(["hunt", "--lake", str(hostile_lake), sql, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["key"] for r in rows) == sorted(f"k/{v}" for v in HOSTILE)
    target = tmp_path / "out.csv"
    assert (
        main(["hunt", "--lake", str(hostile_lake), sql, "--format", "csv", "--output", str(target)])
        == 0
    )
    text = target.read_text(encoding="utf-8")
    assert all(v in text for v in HOSTILE) and "\\x1b" not in text
