"""``detector hunt`` against a hostile user or lake: no credential readable from SQL (local
and s3:// lakes), files confined to the lake, ``--output`` never into it through a link, a
table that stops reading at its row limit, and a closed pipe that ends quietly (141)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import s3
from hunt_world import build_lake

from detector.cli import main
from detector.hunt.views import connect, run_query

DETECTOR = str(Path(sys.executable).parent / "detector")
KEY_ID = "AKIAHUNTKEYID7Q4Z"
SECRET = "hunt-secret-9f8e7d6c5b4a"
TOKEN = "hunt-session-token-1a2b3c4d"
OUTSIDE = "outside-the-lake-7e1f"

LEAKS = [
    "SELECT current_setting('s3_secret_access_key')",
    "SELECT current_setting('s3_session_token') AS t",
    "SELECT value FROM duckdb_settings() WHERE name = 's3_secret_access_key'",
    "SELECT * FROM duckdb_settings() WHERE name LIKE 's3%'",
    "FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_secrets(redact := false)",
    "SELECT * FROM which_secret('s3://sec-lake/x', 's3')",
    "SELECT * FROM duckdb_variables()",
    "SELECT getvariable('s3_secret_access_key')",
    "SELECT CURRENT_SETTING('s3_secret_access_key')",
    "select Current_Setting('s3_access_key_id')",
    "SELECT \"current_setting\"('s3_secret_access_key')",
    'SELECT * FROM "DUCKDB_SETTINGS"()',
    "SELECT main.current_setting('s3_secret_access_key')",
    "SELECT system.main.current_setting('s3_secret_access_key')",
    "SELECT * FROM (SELECT current_setting('s3_secret_access_key') AS k) AS t",
    "SELECT (SELECT value FROM duckdb_settings() WHERE name = 's3_session_token') AS v",
    "SELECT count(*) FROM events WHERE user_agent IN "
    "(SELECT current_setting('s3_secret_access_key'))",
    "WITH s AS (SELECT * FROM duckdb_settings()) SELECT value FROM s WHERE name LIKE 's3_%'",
    "WITH k AS (SELECT current_setting('s3_secret_access_key') AS v) SELECT v FROM k",
    "SELECT k FROM events, LATERAL (SELECT current_setting('s3_secret_access_key') AS k) LIMIT 1",
    "SELECT list_transform(['s3_secret_access_key'], x -> current_setting(x))",
    "EXPLAIN SELECT current_setting('s3_secret_access_key')",
    "EXPLAIN ANALYZE SELECT * FROM duckdb_settings()",
    "SUMMARIZE SELECT current_setting('s3_secret_access_key')",
    "SELECT * FROM pg_settings",
    "SELECT setting FROM pg_catalog.pg_settings WHERE name = 's3_secret_access_key'",
    "SUMMARIZE pg_settings",
    "SELECT * FROM query('SELECT current_setting(''s3_secret_access_key'')')",
    "SELECT * FROM query_table('pg_settings')",
    "SELECT * FROM histogram_values(pg_settings, setting)",
    "SELECT * FROM duckdb_logs",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("hardening"))


def counts(lake: Path) -> dict[str, int]:
    """Events of the intact lake by source, and in all."""
    conn = connect(lake)
    try:
        rows = run_query(conn, "SELECT source, count(*) AS n FROM events GROUP BY ALL")
    finally:
        conn.close()
    by_source = {r["source"]: r["n"] for r in rows.to_pylist()}
    return {**by_source, "all": sum(by_source.values())}


@pytest.fixture
def copy(lake: Path, tmp_path: Path) -> Path:
    """A private copy of the lake, to damage."""
    target = tmp_path / "lake"
    shutil.copytree(lake, target, symlinks=True)
    return target


def json_rows(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[dict], str]:
    code = main(["hunt", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()], err


def assert_refused(capsys: pytest.CaptureFixture[str], lake: str, sql: str, *extra: str) -> None:
    code = main(["hunt", "--lake", lake, sql, *extra])
    out, err = capsys.readouterr()
    for value in (SECRET, TOKEN, KEY_ID):
        assert value not in out and value not in err, (sql, out, err)
    assert code == 2, (sql, out, err)
    assert err.startswith("detector: error: refused") and err.count("\n") == 1, (sql, err)


# --- no credential from SQL ---------------------------------------------------------------
@pytest.mark.parametrize("sql", LEAKS)
def test_settings_and_secrets_are_refused_on_a_local_lake(
    lake: Path, sql: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    assert_refused(capsys, str(lake), sql)


def test_a_bound_setting_name_is_refused_too(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_refused(
        capsys,
        str(lake),
        "SELECT current_setting($name) AS v",
        "--param",
        "name=s3_secret_access_key",
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT histogram(source) AS h FROM events",  # the aggregate, not the table macro
        "SELECT 'current_setting' AS s, count(*) AS n FROM events",
        "SELECT count(*) AS n FROM events WHERE user_agent <> 'duckdb_settings()'",
        "SUMMARIZE SELECT source FROM events",
    ],
)
def test_lookalikes_still_run(lake: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows, _ = json_rows(capsys, "--lake", str(lake), sql)
    assert rows


def test_s3_lake_credentials_are_not_readable(
    aws: str, lake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the AWS chain hands these to boto3 and httpfs copies them into its s3_* settings
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    upload(lake, "cred-lake", "p")
    remote = "s3://cred-lake/p"
    rows, _ = json_rows(capsys, "--lake", remote, "SELECT count(*) AS n FROM events")
    assert rows == [{"n": counts(lake)["all"]}]  # the secret works with the settings blank
    for sql in LEAKS:
        assert_refused(capsys, remote, sql)
    # behind the guard too: the settings are blank and the secret redacted
    conn = connect(remote)
    try:
        settings = conn.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name LIKE 's3%'"
        ).fetchall()
        secrets = conn.execute("SELECT * FROM duckdb_secrets()").fetchall()
    finally:
        conn.close()
    values = dict(settings)
    assert values["s3_secret_access_key"] == values["s3_session_token"] == ""
    assert values["s3_access_key_id"] == ""
    assert len(secrets) == 1 and SECRET not in str(secrets) and TOKEN not in str(secrets)


def upload(lake: Path, bucket: str, prefix: str) -> None:
    client = s3()
    client.create_bucket(Bucket=bucket)
    for path in lake.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(lake)}")


# --- files confined to the lake -----------------------------------------------------------
def outside_file(path: Path) -> Path:
    """A Parquet file that a hostile manifest or link would like the views to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"event_id": [OUTSIDE], "user_agent": [OUTSIDE], "source": ["cloudtrail"]}), path
    )
    return path


def add_manifest_line(lake: Path, files: list[str]) -> None:
    line = {"batch": "e" * 32, "objects": [], "files": files, "events": 1, "rejects": 0}
    with (lake / "_manifest" / "run-zz-evil.jsonl").open("a") as fh:
        fh.write(json.dumps(line) + "\n")


def assert_only_the_lake(
    capsys: pytest.CaptureFixture[str], lake: str, warning: str, events: int
) -> None:
    """The damaged ``lake`` reads exactly the intact lake's ``events``, none from outside."""
    rows, err = json_rows(
        capsys,
        "--lake",
        lake,
        f"SELECT count(*) AS n, count(*) FILTER (user_agent = '{OUTSIDE}') AS outside FROM events",
    )
    assert rows == [{"n": events, "outside": 0}]
    assert warning in err, err
    rows, _ = json_rows(capsys, "--lake", lake, "SELECT * FROM events")
    assert OUTSIDE not in json.dumps(rows) and len(rows) == events


@pytest.mark.parametrize(
    "name",
    [
        "events/../../outside/x.parquet",
        "events/source=cloudtrail/date=2026-11-02/../../../../outside/x.parquet",
        "{outside}",  # absolute
        "events/./source=cloudtrail/x.parquet",
        "events/source=*/date=*/*.parquet",  # a glob DuckDB would expand
    ],
)
def test_manifest_paths_out_of_the_lake_are_skipped(
    copy: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    intact = counts(copy)["all"]
    secret = outside_file(copy.parent / "outside" / "x.parquet")
    add_manifest_line(copy, [name.format(outside=secret)])
    assert_only_the_lake(capsys, str(copy), "which is not a file inside the lake; skipped", intact)


@pytest.mark.parametrize("link", ["file", "folder"])
def test_committed_links_out_of_the_lake_are_skipped(
    copy: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    intact = counts(copy)
    part = next((copy / "events" / "source=s3_access").rglob("*.parquet"))
    target = copy.parent / "outside" / part.relative_to(copy)
    if link == "file":
        outside_file(target)
        part.unlink()
        part.symlink_to(target)
    else:  # the whole partition folder points elsewhere, with a file of the same name
        outside_file(target)
        folder = copy / "events" / "source=s3_access"
        shutil.rmtree(folder)
        folder.symlink_to(
            copy.parent / "outside" / "events" / "source=s3_access", target_is_directory=True
        )
    rows, err = json_rows(
        capsys,
        "--lake",
        str(copy),
        f"SELECT count(*) AS n, count(*) FILTER (user_agent = '{OUTSIDE}') AS outside FROM events",
    )
    # the access-log events are skipped with their file, nothing is read from outside
    assert rows == [{"n": intact["all"] - intact["s3_access"], "outside": 0}]
    assert "leads outside the lake" in err, err


def test_s3_manifest_paths_with_dot_dot_are_skipped(
    aws: str, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(lake, "dots", "lakes/prod")
    secret = outside_file(lake.parent / "s3-outside" / "x.parquet")
    s3().upload_file(str(secret), "dots", "lakes/outside/x.parquet")
    line = {
        "batch": "e" * 32,
        "objects": [],
        "events": 1,
        "rejects": 0,
        "files": ["events/../../outside/x.parquet"],
    }
    s3().put_object(
        Bucket="dots",
        Key="lakes/prod/_manifest/run-zz-evil.jsonl",
        Body=(json.dumps(line) + "\n").encode(),
    )
    assert_only_the_lake(
        capsys,
        "s3://dots/lakes/prod",
        "which is not a file inside the lake; skipped",
        counts(lake)["all"],
    )


# --- --output ---------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
    }


@pytest.mark.parametrize("how", ["file link", "folder link"])
def test_output_through_a_link_into_the_lake_is_refused(
    lake: Path, tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(lake)
    if how == "file link":
        output = tmp_path / "result.parquet"
        output.symlink_to(lake / "events" / "stolen.parquet")
    else:
        (tmp_path / "into").symlink_to(lake, target_is_directory=True)
        output = tmp_path / "into" / "result.parquet"
    code = main(
        [
            "hunt",
            "--lake",
            str(lake),
            "SELECT 1 AS a",
            "--format",
            "parquet",
            "--output",
            str(output),
        ]
    )
    assert code == 2
    assert "inside the lake" in capsys.readouterr().err
    assert snapshot(lake) == before


# --- the table streams --------------------------------------------------------------------
HUGE = "SELECT * FROM range(100000000000)"


def run(*argv: str, timeout: float = 20) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [DETECTOR, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120"},
    )
    return done, time.monotonic() - started


def number_lines(text: str) -> list[int]:
    return [int(line) for line in text.splitlines() if re.fullmatch(r"\s*\d+\s*", line)]


def test_a_huge_result_shows_its_first_rows_at_once(lake: Path) -> None:
    done, seconds = run("hunt", "--lake", str(lake), HUGE)
    assert done.returncode == 0, done.stderr
    assert number_lines(done.stdout) == list(range(100))
    assert "more than 1,000 rows, showing the first 100" in done.stdout
    assert seconds < 20

    done, seconds = run("hunt", "--lake", str(lake), HUGE, "--limit", "7")
    assert done.returncode == 0, done.stderr
    assert number_lines(done.stdout) == list(range(7)) and "first 7 rows" in done.stdout

    done, seconds = run("hunt", "--lake", str(lake), HUGE, "--format", "json", "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"range": i} for i in range(3)]


def test_a_small_result_is_counted_exactly(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--lake", str(lake), "SELECT * FROM range(1000)"]) == 0
    assert "1,000 rows, showing the first 100" in capsys.readouterr().out
    assert main(["hunt", "--lake", str(lake), "SELECT * FROM range(1001)"]) == 0
    assert "more than 1,000 rows, showing the first 100" in capsys.readouterr().out


# --- closed pipes ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_closed_pipe_ends_quietly(lake: Path, fmt: str) -> None:
    proc = subprocess.Popen(
        [DETECTOR, "hunt", "--lake", str(lake), HUGE, "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141
    assert first.strip() in (b'{"range": 0}', b"range")
    assert "Traceback" not in err and "Exception ignored" not in err and err == "", err


@pytest.mark.parametrize(
    "argv",
    [
        ["hunt", "--list"],
        ["hunt", "--lake", "{lake}", HUGE],
        ["backfill", "{logs}", "--lake", "{tmp}/new-lake", "--no-progress"],
    ],
)
def test_every_command_ends_quietly_on_a_closed_pipe(
    lake: Path, tmp_path: Path, argv: list[str]
) -> None:
    logs = lake.parent / "logs"
    argv = [a.format(lake=lake, logs=logs, tmp=tmp_path) for a in argv]
    proc = subprocess.Popen([DETECTOR, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
