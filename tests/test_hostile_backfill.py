"""Hostile and broken input through ``detector backfill``: bounded, counted, never fatal.

Each test runs the CLI as a child process on input from ``hostile_corpus`` and checks the
exit status, that every input record is an event or a counted reject (events in = parsed +
quarantined), the reject reasons, that nothing is left behind, and for bombs the child's
peak memory (from ``wait4``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from conftest import CT_KEY, REPO, ct_record, has_a_commit, pids_where, trail_file
from hostile_corpus import (
    BAD_TIMES,
    TIME_FORMS,
    gzip_bomb,
    mixed_trail,
    special_files,
    time_records,
)

from detector.lake import read_events, read_quarantine

MB = 1 << 20


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]


def detector(
    *args: str,
    env: dict[str, str | None] | None = None,
    timeout: float = 120,
    summary: Path | None = None,
) -> Run:
    """``detector ARGS`` as a child process: its exit status, output and summary."""
    cmd = [sys.executable, "-m", "detector.cli", *args]
    if summary is not None:
        cmd += ["--summary", str(summary)]
    full = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=full)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"timed out: {' '.join(args)}\n{err.decode()[-2000:]}") from None
    done = summary is not None and summary.exists()
    return Run(
        proc.returncode, out.decode(), err.decode(), json.loads(summary.read_text()) if done else {}
    )


PEAK_RSS = """
import sys
from pathlib import Path
report = sys.argv.pop(1)
code = 1
try:
    from detector.cli import main
    code = main(sys.argv[1:])
finally:
    status = Path("/proc/self/status").read_text().splitlines()
    Path(report).write_text(next(s for s in status if s.startswith("VmHWM")).split()[1])
sys.exit(code)
"""
"""Runs the CLI and writes its peak RSS (kB) where asked. VmHWM is this process image's own
high-water mark; rusage would also count the test runner's pages it was forked from."""


def peak_rss_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, float, str]:
    """Run the CLI (``cmd`` as ``backfill_cmd`` gives it): (exit status, peak RSS MB, stderr)."""
    assert cmd[1:3] == ["-m", "detector.cli"]
    report = Path(os.environ.get("TMPDIR", "/tmp")) / f"peak-rss-{os.getpid()}-{time.time_ns()}"
    run = subprocess.run(
        [cmd[0], "-c", PEAK_RSS, str(report), *cmd[3:]],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    rss = int(report.read_text()) / 1024
    report.unlink()
    return run.returncode, rss, run.stderr.decode()


def backfill_cmd(src: Path, lake: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "detector.cli",
        "backfill",
        str(src),
        "--lake",
        str(lake),
        "--no-progress",
        "--no-detect",
        *extra,
    ]


def rejects_by_reason(lake: Path) -> dict[str, int]:
    reasons = read_quarantine(lake).column("reason").to_pylist()
    return {r: reasons.count(r) for r in set(reasons)}


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


GOOD = 50


def good_trail(root: Path, name: str = "good.json.gz", first: int = 0) -> None:
    write(root, CT_KEY + name, trail_file([ct_record(first + i) for i in range(GOOD)]))


# --- bombs and oversized objects -----------------------------------------------------------
def test_gzip_bomb_is_quarantined_with_its_sizes_and_memory_stays_bounded(tmp_path: Path) -> None:
    """5 MB of gzip that inflates to 5 GB, beside a good object of the same batch."""
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src)
    bomb = gzip_bomb(5 << 30)
    assert len(bomb) < 6 * MB
    write(src, CT_KEY + "bomb.json.gz", bomb)
    summary = tmp_path / "s.json"
    code, rss, err = peak_rss_of(backfill_cmd(src, lake, "--summary", str(summary)))
    assert code == 0, err
    assert rss < 700, f"peak RSS {rss:.0f} MB"
    assert read_events(lake).num_rows == GOOD
    (reject,) = read_quarantine(lake).to_pylist()
    assert reject["reason"] == "decompression_bomb"
    assert f"{len(bomb):,} compressed bytes" in reject["detail"]
    assert "256 MiB" in reject["detail"]
    assert reject["origin_object"].endswith("bomb.json.gz")
    assert json.loads(summary.read_text())["rejects"]["decompression_bomb"]["rejects"] == 1


def test_a_smaller_cap_holds_memory_lower(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src)
    write(src, CT_KEY + "bomb.json.gz", gzip_bomb(1 << 30))
    code, rss, err = peak_rss_of(backfill_cmd(src, lake, "--max-object-mb", "32"))
    assert code == 0, err
    assert rss < 450, f"peak RSS {rss:.0f} MB"
    assert rejects_by_reason(lake) == {"decompression_bomb": 1}
    assert "32 MiB" in read_quarantine(lake).column("detail")[0].as_py()


def test_a_500_mb_single_line_json_is_not_read_into_memory(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src)
    big = write(src, CT_KEY + "huge.json", b'{"Records":[' + b" " * 100)
    with big.open("r+b") as fh:  # sparse: 500 MB on paper, nothing on disk
        fh.truncate(500 * MB)
    code, rss, err = peak_rss_of(backfill_cmd(src, lake))
    assert code == 0, err
    assert rss < 450, f"peak RSS {rss:.0f} MB"
    assert read_events(lake).num_rows == GOOD
    (reject,) = read_quarantine(lake).to_pylist()
    assert reject["reason"] == "object_too_large"
    assert f"{500 * MB:,} bytes" in reject["detail"]
    assert len(reject["raw"]) == MB  # the head, for whoever looks


# --- one bad record costs only itself ------------------------------------------------------
def test_deep_overflowing_and_misshapen_records_reject_only_themselves(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    data, expected = mixed_trail(100)
    write(src, CT_KEY + "mixed.json.gz", data)
    run = detector(
        "backfill", str(src), "--lake", str(lake), "--no-progress", summary=tmp_path / "s.json"
    )
    assert run.code == 0, run.stderr
    events = read_events(lake)
    quarantine = read_quarantine(lake).to_pylist()
    got = {r["origin_index"]: r["reason"] for r in quarantine}
    assert got == expected
    kept = set(events.column("origin_index").to_pylist())
    assert kept == set(range(100)) - {10, 30}  # the overflow is kept, its count null
    overflow = events.filter(pc.equal(events.column("origin_index"), 20))
    assert overflow.column("bytes_out").to_pylist() == [None]
    lost = sum(r["records"] for r in quarantine)
    assert events.num_rows + lost == 100  # events in = parsed + quarantined
    assert (
        json.loads(next(r for r in quarantine if r["reason"] == "bad_record_shape")["raw"])[
            "eventID"
        ]
        == ct_record(30)["eventID"]
    )


def test_event_times_in_every_export_form_and_none_null(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    records, good, bad = time_records()
    write(src, CT_KEY + "times.json", json.dumps({"Records": records}).encode())
    run = detector("backfill", str(src), "--lake", str(lake), "--no-progress")
    assert run.code == 0, run.stderr
    events = read_events(lake)
    assert events.num_rows == good
    assert events.column("event_time").null_count == 0
    seconds = sorted(t.second for t in events.column("event_time").to_pylist())
    assert seconds == [*range(1, len(TIME_FORMS) + 1), 9]  # + the @timestamp one
    quarantine = read_quarantine(lake)
    assert quarantine.num_rows == bad == 1 + len(BAD_TIMES)
    reasons = set(quarantine.column("reason").to_pylist())
    assert reasons <= {"bad_event_time", "bad_record_shape"}  # an object where text belongs
    assert quarantine.column("reason").to_pylist().count("bad_event_time") >= len(BAD_TIMES)


# --- local folders ---------------------------------------------------------------------------
def test_fifo_socket_and_broken_links_are_rejected_not_waited_on(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src)
    names = special_files(src / "special")
    run = detector(
        "backfill",
        str(src),
        "--lake",
        str(lake),
        "--no-progress",
        summary=tmp_path / "s.json",
        timeout=60,
    )
    assert run.code == 0, run.stderr
    assert read_events(lake).num_rows == GOOD
    quarantine = read_quarantine(lake).to_pylist()
    by_name = {Path(r["origin_object"]).name: r["reason"] for r in quarantine}
    assert by_name == {
        "fifo.json": "not_a_regular_file",
        "listener.sock": "not_a_regular_file",
        "dangling.json.gz": "broken_link",
        "loop-a.json": "broken_link",
        "loop-b.json": "broken_link",
    }
    assert sorted(by_name) == sorted(names)
    assert run.summary["rejects"]["broken_link"]["rejects"] == 3
    assert "Traceback" not in run.stderr


# --- our own failures are not the input's ----------------------------------------------------
@pytest.mark.parametrize(
    "failpoint",
    ["scratch.write=enospc", "lake.write=enospc", "lake.commit=eio", "parse.object:2=memory"],
)
def test_infrastructure_failures_stop_the_run_and_lose_nothing(
    tmp_path: Path, failpoint: str
) -> None:
    """Disk full, I/O error or no memory: nothing is filed as an input reject, nothing is
    marked ingested, exit status 3 with one line; the next run reads everything."""
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src, "a.json.gz")
    good_trail(src, "b.json.gz", first=GOOD)
    run = detector(
        "backfill",
        str(src),
        "--lake",
        str(lake),
        "--no-progress",
        "--batch-mb",
        "1",
        env={"DETECTOR_FAILPOINTS": failpoint},
        summary=tmp_path / "s.json",
    )
    assert run.code == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert "stopped:" in run.stderr and "read again on the next run" in run.stderr
    assert run.summary["stopped"]
    assert "parser_error" not in run.summary["rejects"]
    assert read_quarantine(lake).num_rows == 0
    again = detector(
        "backfill", str(src), "--lake", str(lake), "--no-progress", summary=tmp_path / "s2.json"
    )
    assert again.code == 0, again.stderr
    events = read_events(lake)
    assert events.num_rows == 2 * GOOD
    assert len(set(events.column("event_id").to_pylist())) == 2 * GOOD


def test_no_scratch_file_outlives_a_kill(tmp_path: Path) -> None:
    """Scratch files are unlinked as soon as they exist; SIGKILL mid-parse leaves none."""
    src, lake = tmp_path / "logs", tmp_path / "lake"
    for n in range(3):
        good_trail(src, f"f{n}.json.gz", first=100 * n)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"DETECTOR_SCRATCH_DIR": str(scratch), "DETECTOR_FAILPOINTS": "parse.object:2"}
    run = detector("backfill", str(src), "--lake", str(lake), "--no-progress", env=env)
    assert run.code == -signal.SIGKILL
    assert list(scratch.iterdir()) == []


# --- processes and signals -----------------------------------------------------------------
def many_logs(root: Path, files: int = 400) -> int:
    for n in range(files):
        write(
            root,
            CT_KEY + f"f{n:04d}.json.gz",
            trail_file([ct_record(10_000 * n + i) for i in range(200)]),
        )
    return files * 200


def children_of(pid: int) -> set[int]:
    return set(
        pids_where(lambda p: int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid)
    )


def test_killing_the_parent_kills_its_workers(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    many_logs(src)
    proc = subprocess.Popen(
        backfill_cmd(src, lake, "--workers", "2", "--batch-mb", "1"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = {
            c
            for c in children_of(proc.pid)
            if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()
        }
        time.sleep(0.1)
    assert len(workers) >= 2, "workers never started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [
        w
        for w in workers
        if Path(f"/proc/{w}").exists()
        and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]
    ]
    assert alive == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_finishes_the_batch_in_hand_and_exits_130(tmp_path: Path, workers: str) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    total = many_logs(src, 200)
    proc = subprocess.Popen(
        backfill_cmd(src, lake, "--workers", workers, "--batch-mb", "1", "--commit-batches", "1"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_a_commit(lake)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # 130, or killed by the second SIGINT itself when it lands after the run has ended and
    # Python is shutting down (the shell shows 130 for both).
    assert proc.returncode in (130, -signal.SIGINT), err.decode()[-2000:]
    assert b"Traceback" not in err
    assert b"interrupted" in err
    partial = read_events(lake).num_rows
    assert 0 < partial < total
    assert not list(lake.rglob("*.tmp"))
    again = detector("backfill", str(src), "--lake", str(lake), "--no-progress", "--no-detect")
    assert again.code == 0, again.stderr
    ids = read_events(lake).column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == total


def wait_for_a_commit(lake: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not has_a_commit(lake):
        time.sleep(0.02)


def test_second_ctrl_c_abandons_the_batch_quietly(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    total = many_logs(src, 400)
    proc = subprocess.Popen(
        backfill_cmd(src, lake, "--batch-mb", "2", "--commit-batches", "1"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_a_commit(lake)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # 130, or killed by the second SIGINT itself when it lands after the run has ended and
    # Python is shutting down (the shell shows 130 for both).
    assert proc.returncode in (130, -signal.SIGINT), err.decode()[-2000:]
    assert b"Traceback" not in err
    again = detector("backfill", str(src), "--lake", str(lake), "--no-progress", "--no-detect")
    assert again.code == 0, again.stderr
    ids = read_events(lake).column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == total


# --- command line ----------------------------------------------------------------------------
def test_bare_detector_lists_the_commands() -> None:
    run = detector()
    assert run.code == 2
    for command in ("backfill", "tail", "run", "hunt", "demo", "evaluate"):
        assert command in run.stdout
    assert "Traceback" not in run.stderr


def test_a_bad_sink_creates_nothing_on_disk(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    good_trail(src)
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        f'[source]\nkind = "backfill"\npaths = ["{src}"]\n'
        f'[lake]\npath = "{lake}"\n'
        '[[sinks]]\nkind = "sns"\nvalue = "not-an-arn"\n'
    )
    run = detector("run", str(pipeline))
    assert run.code == 2
    assert "sink sns" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not lake.exists()
    flags = detector("backfill", str(src), "--lake", str(lake), "--sink", "nope=x")
    assert flags.code == 2 and not lake.exists()
    config = detector(
        "backfill", str(src), "--lake", str(lake), "--config", str(tmp_path / "missing.toml")
    )
    assert config.code == 2 and not lake.exists()


def test_no_aws_region_is_one_clear_line(tmp_path: Path) -> None:
    for region in (None, ""):  # unset, or set to nothing
        env: dict[str, str | None] = {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_PROFILE": None,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
        }
        run = detector(
            "tail",
            "sqs",
            "--queue-url",
            "https://sqs.example.invalid/1/q",
            "--lake",
            str(tmp_path / "lake"),
            env=env,
            timeout=60,
        )
        assert run.code == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "AWS_REGION" in lines[0], run.stderr
        assert not (tmp_path / "lake").exists()


# --- duplicates ------------------------------------------------------------------------------
def test_redelivered_events_are_stored_once_and_counted(tmp_path: Path) -> None:
    """An organisation trail and an account trail deliver the same events to two places."""
    src, lake = tmp_path / "logs", tmp_path / "lake"
    records = [ct_record(i) for i in range(GOOD)]
    write(src / "org", CT_KEY + "org.json.gz", trail_file(records))
    write(src / "account", CT_KEY + "acct.json.gz", trail_file(records[:30]))
    write(src / "account", CT_KEY + "again.json.gz", trail_file(records[20:40]))
    run = detector(
        "backfill", str(src), "--lake", str(lake), "--no-progress", summary=tmp_path / "s.json"
    )
    assert run.code == 0, run.stderr
    ids = read_events(lake).column("event_id").to_pylist()
    assert sorted(ids) == sorted(r["eventID"] for r in records)
    assert run.summary["duplicates"] == {"cloudtrail": 50}
    assert run.summary["events"]["total"] == GOOD
    later = tmp_path / "later"
    write(later, CT_KEY + "late.json.gz", trail_file([*records[45:], ct_record(999)]))
    again = detector(
        "backfill", str(later), "--lake", str(lake), "--no-progress", summary=tmp_path / "s2.json"
    )
    assert again.summary["duplicates"] == {"cloudtrail": 5}
    assert read_events(lake).num_rows == GOOD + 1
