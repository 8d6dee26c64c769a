"""``detector hunt``: every saved hunt's exact answer on a handcrafted lake, the read-only
guarantee, bound parameters, output formats, the shell, and bad input."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hunt_world import (
    ALERT_ID,
    ALICE,
    APP,
    ETL,
    FOREIGN,
    MALLORY,
    OURS,
    build_lake,
    event_id,
    request_id,
)

from detector.cli import main
from detector.hunt import evidence_hunt_command
from detector.hunt.output import plain
from detector.hunt.saved import HUNTS_DIR, get_hunt, load_hunts
from detector.hunt.views import connect, run_query

T = "2026-11-02T{}:00Z".format


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("hunt"))


def hunt(lake: Path, name: str, **params: str) -> list[dict[str, Any]]:
    saved = get_hunt(name)
    conn = connect(lake)
    try:
        rows = run_query(conn, saved.sql, saved.bind(params)).to_pylist()
    finally:
        conn.close()
    return [{k: plain(v) for k, v in r.items()} for r in rows]


def pick(rows: list[dict[str, Any]], *cols: str) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in cols) for r in rows]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    }


# --- every saved hunt, exact rows ------------------------------------------------------
def test_every_hunt_file_parses_and_is_tested() -> None:
    hunts = load_hunts()
    assert set(hunts) == set(EXPECTED_NAMES)
    for h in hunts.values():
        assert h.title and h.question.endswith("?"), h.name
        assert all(p.description for p in h.params), h.name


def test_no_vpce_reads(lake: Path) -> None:
    cols = ("principal", "bucket", "source_ip", "vpc_endpoint_id", "reads", "bytes_out")
    base = [
        (ETL, "data", "203.0.113.9", None, 1, 20000),
        (MALLORY, "data", "198.51.100.66", None, 1, 9000),
        (ALICE, "data", "203.0.113.50", None, 1, 800),
        (APP, "data", "10.0.0.5", None, 1, 500),
        ("anonymous", "www", "203.0.113.78", None, 1, 50),
    ]
    assert pick(hunt(lake, "no-vpce-reads"), *cols) == base
    theirs = (APP, "data", "10.0.0.6", "vpce-0theirs", 1, 700)
    with_theirs = [*base[:3], theirs, *base[3:]]
    assert pick(hunt(lake, "no-vpce-reads", accounts=OURS), *cols) == with_theirs
    assert pick(hunt(lake, "no-vpce-reads", endpoints="vpce-0ours"), *cols) == with_theirs
    assert hunt(lake, "no-vpce-reads", until="2026-11-01") == []


def test_foreign_buckets(lake: Path) -> None:
    rows = hunt(lake, "foreign-buckets")
    assert pick(
        rows,
        "principal",
        "account_id",
        "bucket",
        "bucket_account_id",
        "operations",
        "requests",
        "bytes_out",
        "bytes_in",
        "first_seen",
        "last_seen",
    ) == [
        (
            APP,
            OURS,
            "partner-drop",
            FOREIGN,
            ["GetObject", "PutObject"],
            2,
            300,
            5000,
            T("10:04"),
            T("10:05"),
        ),
    ]
    assert hunt(lake, "foreign-buckets", accounts=f"{OURS},{FOREIGN}") == []


def test_bytes_out_vs_median(lake: Path) -> None:
    rows = hunt(lake, "bytes-out-vs-median", since="2026-11-02")
    assert pick(
        rows, "day", "principal", "bytes_out", "requests", "median_7d", "days_seen_7d", "ratio"
    ) == [
        ("2026-11-02", ETL, 20000, 1, 2000, 7, 10.0),  # access-log line of the same request
        ("2026-11-02", APP, 3042, 5, 1000, 7, 3.04),  # not counted twice
        ("2026-11-02", MALLORY, 9000, 1, 0, 0, None),
        ("2026-11-02", "anonymous", 1284, 2, 0, 0, None),
        ("2026-11-02", ALICE, 864, 2, 0, 0, None),
    ]
    assert len(hunt(lake, "bytes-out-vs-median", since="2026-11-02", top="2")) == 2
    assert len(hunt(lake, "bytes-out-vs-median", since="2026-11-02", min_bytes="5000")) == 2
    history = hunt(lake, "bytes-out-vs-median", until="2026-10-27")
    assert pick(history, "day", "principal", "median_7d", "days_seen_7d") == [
        ("2026-10-26", ETL, 0, 0),
        ("2026-10-27", ETL, 0, 1),
        ("2026-10-26", APP, 0, 0),
        ("2026-10-27", APP, 0, 1),
    ]


OUTSIDE = [
    ("anonymous, public network", "anonymous", None, "203.0.113.77", None, 1),
    ("anonymous, public network", "anonymous", "anonymous", "203.0.113.78", None, 1),
    ("foreign VPC endpoint", APP, OURS, "10.0.0.6", "vpce-0theirs", 1),
    ("foreign account, public network", MALLORY, FOREIGN, "198.51.100.66", None, 2),
    ("public network", ETL, OURS, "203.0.113.9", None, 1),
    ("public network", ALICE, OURS, "198.51.100.7", None, 5),
    ("public network", ALICE, OURS, "203.0.113.50", None, 1),
    ("public network", ALICE, OURS, "203.0.113.51", None, 1),
]


def test_outside_requests(lake: Path) -> None:
    cols = ("why", "principal", "account_id", "source_ip", "vpc_endpoint_id", "requests")
    rows = hunt(lake, "outside-requests")
    assert pick(rows, *cols) == OUTSIDE
    assert rows[3]["operations"] == ["DeleteBucketPublicAccessBlock", "GetObject"]
    assert pick(hunt(lake, "outside-requests", accounts=OURS), *cols) == OUTSIDE
    partner = hunt(lake, "outside-requests", accounts=f"{OURS},{FOREIGN}")
    assert pick(partner, *cols) == [
        *OUTSIDE[:2],
        *OUTSIDE[4:],
        ("public network", MALLORY, FOREIGN, "198.51.100.66", None, 2),
    ]


def test_presigned_and_non_tls(lake: Path) -> None:
    rows = hunt(lake, "presigned-and-non-tls")
    assert pick(rows, "kind", "principal", "bucket", "source_ip", "requests", "bytes_out") == [
        ("non-tls", APP, "data", "10.0.0.7", 1, 42),
        ("presigned", ALICE, "data", "203.0.113.50", 1, 800),  # CloudTrail
        ("presigned", ALICE, "data", "203.0.113.51", 1, 64),  # access log only
    ]


def test_bucket_config_changes(lake: Path) -> None:
    rows = hunt(lake, "bucket-config-changes")
    assert pick(
        rows,
        "event_time",
        "event_name",
        "principal",
        "source_ip",
        "user_agent",
        "vpc_endpoint_id",
        "error_code",
        "id",
    ) == [
        (
            T("11:00"),
            "PutBucketPolicy",
            ALICE,
            "198.51.100.7",
            "aws-cli/2.15.0",
            None,
            None,
            event_id(31),
        ),
        (
            T("11:01"),
            "PutBucketAcl",
            ALICE,
            "198.51.100.7",
            "aws-cli/2.15.0",
            None,
            None,
            event_id(32),
        ),
        (
            T("11:02"),
            "PutBucketVersioning",
            ALICE,
            "198.51.100.7",
            "aws-cli/2.15.0",
            None,
            None,
            event_id(33),
        ),
        (
            T("11:03"),
            "PutBucketLifecycle",
            ALICE,
            "198.51.100.7",
            "aws-cli/2.15.0",
            None,
            None,
            event_id(34),
        ),
        (
            T("11:04"),
            "PutBucketLogging",
            ETL,
            "10.0.0.9",
            "[aws-sdk-java/2.25.1]",
            "vpce-0ours",
            None,
            event_id(35),
        ),
        (
            T("11:05"),
            "PutBucketEncryption",
            ETL,
            "10.0.0.9",
            "[aws-sdk-java/2.25.1]",
            "vpce-0ours",
            None,
            event_id(36),
        ),
        (
            T("11:06"),
            "DeleteBucketPublicAccessBlock",
            MALLORY,
            "198.51.100.66",
            "aws-cli/2.15.0",
            None,
            "AccessDenied",
            event_id(37),
        ),
    ]
    assert hunt(lake, "bucket-config-changes", bucket="data") == rows
    assert hunt(lake, "bucket-config-changes", bucket="www") == []


def test_anonymous_access(lake: Path) -> None:
    rows = hunt(lake, "anonymous-access")
    assert pick(
        rows,
        "bucket",
        "operation",
        "source_ip",
        "user_agent",
        "result",
        "requests",
        "bytes_out",
        "sample_keys",
    ) == [
        ("www", "GetObject", "203.0.113.78", "curl/8.4.0", None, 1, 50, ["index.html"]),
        ("www", "GetObject", "203.0.113.77", "curl/8.4.0", "200", 1, 1234, ["index.html"]),
    ]


def test_first_seen_pairs(lake: Path) -> None:
    rows = hunt(lake, "first-seen-pairs", since="2026-11-02")
    assert pick(
        rows, "first_seen", "principal", "bucket", "first_operation", "first_source_ip", "requests"
    ) == [
        (T("10:04"), APP, "partner-drop", "GetObject", "10.0.0.5", 2),
        (T("10:06"), MALLORY, "data", "GetObject", "198.51.100.66", 3),
        (T("10:07"), ALICE, "data", "GetObject", "203.0.113.50", 7),
        (T("10:08"), "anonymous", "www", "GetObject", "203.0.113.78", 2),
    ]
    everything = hunt(lake, "first-seen-pairs")
    assert pick(everything[:2], "first_seen", "principal", "bucket") == [
        ("2026-10-26T09:00:00Z", APP, "data"),
        ("2026-10-26T09:30:00Z", ETL, "data"),
    ]
    assert len(everything) == 6


def test_deletes_per_hour(lake: Path) -> None:
    rows = hunt(lake, "deletes-per-hour")
    assert pick(
        rows,
        "hour",
        "principal",
        "delete_requests",
        "version_deletes",
        "failed",
        "buckets",
        "operations",
    ) == [
        (T("12:00"), ETL, 3, 1, 0, ["data"], ["DeleteObject"]),
        (T("13:00"), APP, 1, 0, 1, ["data"], ["DeleteObject"]),
        (T("13:00"), ETL, 1, 0, 0, ["data"], ["DeleteObjects"]),  # 2 access-log lines
    ]
    assert len(hunt(lake, "deletes-per-hour", min_deletes="2")) == 1


def test_principal_timeline(lake: Path) -> None:
    rows = hunt(lake, "principal-timeline", principal=ETL, since="2026-11-02")
    assert pick(
        rows,
        "event_time",
        "event_name",
        "operation",
        "key",
        "request_id",
        "in_cloudtrail",
        "in_access_log",
    ) == [
        (T("10:02"), "GetObject", "REST.GET.OBJECT", "k/23", request_id(23), True, True),
        (T("11:04"), "PutBucketLogging", None, None, request_id(35), True, False),
        (T("11:05"), "PutBucketEncryption", None, None, request_id(36), True, False),
        (T("12:05"), "DeleteObject", None, "k/d1", request_id(41), True, False),
        (T("12:20"), "DeleteObject", None, "k/d2", request_id(42), True, False),
        (T("12:40"), "DeleteObject", None, "k/d3", request_id(43), True, False),
        (T("13:10"), "DeleteObjects", "BATCH.DELETE.OBJECT", "k/a", request_id(44), True, True),
        (T("13:10"), "DeleteObjects", "BATCH.DELETE.OBJECT", "k/b", request_id(44), True, True),
    ]
    assert len(hunt(lake, "principal-timeline", principal=ETL)) == 8 + 7  # + history
    by_key = hunt(lake, "principal-timeline", principal="AKIAMALLORY")
    assert pick(by_key, "event_name", "in_cloudtrail", "in_access_log") == [
        ("GetObject", True, True),
        ("DeleteBucketPublicAccessBlock", True, False),
    ]
    # access-log only: the presigned line of alice
    assert pick(
        hunt(lake, "principal-timeline", principal=ALICE)[-1:],
        "key",
        "in_cloudtrail",
        "in_access_log",
    ) == [("k/shared", False, True)]


def test_alert_evidence(lake: Path) -> None:
    rows = hunt(lake, "alert-evidence", alert_id=ALERT_ID)
    assert pick(
        rows, "is_evidence", "event_time", "source", "principal", "event_id", "request_id"
    ) == [
        (True, T("10:06"), "cloudtrail", MALLORY, event_id(27), request_id(27)),
        (False, T("10:06"), "s3_access", MALLORY, None, request_id(27)),
        (True, T("14:01"), "s3_access", "anonymous", None, request_id(52)),
    ]
    assert hunt(lake, "alert-evidence", alert_id="no-such-alert") == []


EXPECTED_NAMES = (
    "no-vpce-reads",
    "foreign-buckets",
    "bytes-out-vs-median",
    "outside-requests",
    "presigned-and-non-tls",
    "bucket-config-changes",
    "anonymous-access",
    "first-seen-pairs",
    "deletes-per-hour",
    "principal-timeline",
    "alert-evidence",
)


def test_evidence_hunt_command_runs(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        evidence_hunt_command(ALERT_ID, lake),
        evidence_hunt_command(ALERT_ID, lake, T("10:06"), T("14:01")),
    ):
        argv = shlex.split(command)
        assert argv[:3] == ["detector", "hunt", "alert-evidence"]
        assert main([*argv[1:], "--format", "json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["request_id"] for r in rows] == [request_id(27), request_id(27), request_id(52)]
    assert "since=2026-11-02 --param until=2026-11-02" in command


def test_evidence_hunt_reads_only_the_alert_days(lake: Path) -> None:
    saved = get_hunt("alert-evidence")
    conn = connect(lake)
    plan = run_query(
        conn,
        "EXPLAIN ANALYZE " + saved.sql,
        saved.bind({"alert_id": ALERT_ID, "since": "2026-11-02", "until": "2026-11-02"}),
    )
    text = plan.column(1)[0].as_py()
    # only the 2 files of 2026-11-02 (of 10) in each scan of events
    assert set(re.findall(r"Total Files Read:[\s│]*(\d+)", text)) == {"2"}
    conn.close()


# --- the views ---------------------------------------------------------------------------
def test_views_and_unknown_dates(lake: Path) -> None:
    conn = connect(lake)
    got = run_query(
        conn, "SELECT source, date, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    assert [(r["source"], str(r["date"]), r["n"]) for r in got][-3:] == [
        ("cloudtrail", "2026-11-02", 22),
        ("cloudtrail", "None", 1),
        ("s3_access", "2026-11-02", 7),
    ]
    requests = run_query(conn, "SELECT count(*) AS n FROM requests WHERE source = 's3_access'")
    assert requests.to_pylist() == [{"n": 3}]  # 51, 52, 53: the others are in CloudTrail
    quarantine = run_query(conn, "SELECT reason FROM quarantine").to_pylist()
    assert quarantine == [{"reason": "not_gzip"}]
    assert run_query(conn, "SELECT count(*) AS n FROM alerts").to_pylist() == [{"n": 1}]
    conn.close()


def test_date_and_source_filters_prune_files(lake: Path) -> None:
    conn = connect(lake)

    def files_read(where: str) -> int:
        plan = run_query(conn, f"EXPLAIN ANALYZE SELECT count(*) FROM events WHERE {where}")
        text = plan.column(1)[0].as_py()
        return int(text.split("Total Files Read:")[1].split()[0])

    assert files_read("true") == 10
    assert files_read("date = DATE '2026-11-02'") == 2
    assert files_read("source = 's3_access'") == 1
    assert files_read("date >= DATE '2026-11-01' AND source = 'cloudtrail'") == 2
    conn.close()


def test_uncommitted_files_are_invisible(lake: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    part = next((copy / "events" / "source=s3_access" / "date=2026-11-02").glob("*.parquet"))
    pending = part.with_name("part-" + "f" * 32 + "-0.parquet")
    shutil.copy(part, pending)  # written, not yet in a manifest line
    conn = connect(copy)
    assert run_query(
        conn, "SELECT count(*) AS n FROM events WHERE source = 's3_access'"
    ).to_pylist() == [{"n": 7}]
    conn.close()


def test_principal_sql_matches_enrich() -> None:
    from detector.features.enrich import principal_key
    from detector.hunt.views import PRINCIPAL_SQL
    from detector.schema import EVENT_SCHEMA

    rows = [
        {"principal_type": "Anonymous"},
        {"principal_type": "AWSAccount", "account_id": "anonymous"},
        {
            "principal_type": "AssumedRole",
            "session_name": "jo@example.com",
            "session_issuer_arn": "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/"
            "AWSReservedSSO_Admin_12ab",
        },
        {"principal_type": "AWSService", "invoked_by": "backup.amazonaws.com"},
        {
            "principal_type": "AssumedRole",
            "session_issuer_arn": "arn:aws:iam::1:role/a/b/c",
            "principal_arn": "arn:aws:sts::1:assumed-role/c/s",
        },
        {"principal_type": "IAMUser", "principal_arn": "arn:aws:iam::1:user/u"},
        {"principal_type": "Unknown", "principal_id": "AIDAX"},
        {},
    ]
    table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
    expected = pl.from_arrow(table).select(principal_key()).to_series().to_list()
    import duckdb

    conn = duckdb.connect()
    conn.register("t", table)
    got = [r[0] for r in conn.execute(f"SELECT {PRINCIPAL_SQL} FROM t").fetchall()]
    assert got == expected


def test_is_public_ip(lake: Path) -> None:
    cases = {
        "8.8.8.8": True,
        "172.32.1.1": True,
        "2001:db8::1": True,
        "10.1.2.3": False,
        "172.20.1.1": False,
        "192.168.0.1": False,
        "100.64.0.1": False,
        "169.254.1.1": False,
        "fd00::1": False,
        "FE80::1": False,
        "::1": False,
        "s3.amazonaws.com": False,
        "AWS Internal": False,
        "1.2.3": False,
        "1.2.3.4.5": False,
    }
    conn = connect(lake)
    got = {
        ip: run_query(conn, "SELECT is_public_ip($ip) AS p", {"ip": ip}).to_pylist()[0]["p"]
        for ip in cases
    }
    assert got == cases
    conn.close()


# --- read-only ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM events) TO '{lake}/events/stolen.parquet' (FORMAT parquet)",
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "CREATE TABLE t AS SELECT * FROM events",
        "CREATE OR REPLACE VIEW events AS SELECT 1",
        "DROP VIEW events",
        "INSERT INTO events SELECT * FROM events",
        "ATTACH '{lake}/db.duckdb' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "CALL pragma_version()",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/x.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('{lake}/events/**/*.parquet')",
        "SELECT * FROM query('CREATE TABLE t (a INT)')",
        "SELECT 1; COPY (SELECT 1) TO '{lake}/y.csv'",
    ],
)
def test_writes_are_refused(
    lake: Path, tmp_path: Path, sql: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(lake)
    code = main(["hunt", "--lake", str(lake), sql.format(lake=lake, tmp=tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("detector: error: ") and err.count("\n") == 1, err
    assert snapshot(lake) == before
    assert list(tmp_path.iterdir()) == []


def test_output_inside_the_lake_is_refused(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(lake)
    code = main(
        [
            "hunt",
            "--lake",
            str(lake),
            "SELECT 1",
            "--format",
            "parquet",
            "--output",
            str(lake / "events" / "x.parquet"),
        ]
    )
    assert code == 2
    assert "inside the lake" in capsys.readouterr().err
    assert snapshot(lake) == before


# --- parameters are data -----------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "x' OR '1'='1",
        "'; DROP VIEW events; --",
        'data"; SELECT * FROM events; --',
        "$bucket",
    ],
)
def test_hostile_parameters_are_data(
    lake: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hunt(lake, "bucket-config-changes", bucket=value) == []
    assert hunt(lake, "principal-timeline", principal=value) == []
    assert (
        main(
            [
                "hunt",
                "--lake",
                str(lake),
                "SELECT $v AS v",
                "--param",
                f"v={value}",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"v": value}
    assert len(hunt(lake, "bucket-config-changes")) == 7  # the views are intact


# --- output ------------------------------------------------------------------------------
def test_formats(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["hunt", "deletes-per-hour", "--lake", str(lake)]
    assert main([*args, "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hour,principal,delete_requests,version_deletes,failed,buckets,operations"
    assert out[1] == f'2026-11-02T12:00:00Z,{ETL},3,1,0,"[""data""]","[""DeleteObject""]"'
    assert len(out) == 4

    assert main([*args, "--format", "json", "--limit", "1"]) == 0
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == [
        {
            "hour": T("12:00"),
            "principal": ETL,
            "delete_requests": 3,
            "version_deletes": 1,
            "failed": 0,
            "buckets": ["data"],
            "operations": ["DeleteObject"],
        }
    ]

    target = tmp_path / "d.parquet"
    assert main([*args, "--format", "parquet", "--output", str(target)]) == 0
    table = pq.read_table(target)
    hour = table.schema.field("hour").type
    assert table.num_rows == 3 and pa.types.is_timestamp(hour) and hour.tz in ("UTC", "Etc/UTC")
    assert "3 rows written" in capsys.readouterr().err

    target = tmp_path / "q.json"
    assert (
        main(
            [
                "hunt",
                "--lake",
                str(lake),
                "SELECT raw FROM quarantine",
                "--format",
                "json",
                "--output",
                str(target),
            ]
        )
        == 0
    )
    assert json.loads(target.read_text())["raw"]  # binary as base64


def test_table_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--lake", str(lake), "deletes-per-hour"]) == 0
    out = capsys.readouterr().out
    assert "Deletes per principal per hour" in out and "3 rows" in out
    assert main(["hunt", "--lake", str(lake), "SELECT * FROM events", "--limit", "2"]) == 0
    assert "first 2 rows" in capsys.readouterr().out
    assert main(["hunt", "--lake", str(lake), "SELECT * FROM range(150)"]) == 0
    assert "150 rows, showing the first 100" in capsys.readouterr().out
    assert main(["hunt", "--lake", str(lake), "SELECT 1 AS a WHERE false"]) == 0
    assert "0 rows" in capsys.readouterr().out


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--list"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED_NAMES:
        assert name in out


def test_shell(
    lake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = (
        "\n".join(
            [
                ".tables",
                "SELECT count(*) AS n",
                "FROM events WHERE source = 's3_access';",
                f"COPY events TO '{lake}/x.csv';",
                "selec 1;",
                ".schema alerts",
                ".hunts",
                ".run deletes-per-hour min_deletes=2",
                ".run nope",
                ".quit",
                "SELECT 'never reached';",
            ]
        )
        + "\n"
    )
    before = snapshot(lake)
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    assert main(["hunt", "--lake", str(lake), "--shell"]) == 0
    out, err = capsys.readouterr()
    assert "alerts  events  features" not in out  # this lake has no features
    assert "alerts  events  quarantine  requests" in out
    assert " 7 " in out and "evidence_event_ids" in out and "principal-timeline" in out
    assert "1 row" in out and "never reached" not in out
    assert err.count("error:") == 3 and "refused: COPY" in err and "unknown hunt 'nope'" in err
    assert snapshot(lake) == before


# --- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["SELEC 1"], 2, "syntax error"),
        (["SELECT * FROM nope"], 2, "nope does not exist"),
        (["no-such-hunt"], 2, "unknown hunt 'no-such-hunt'"),
        (["principal-timeline"], 2, "missing parameter --param principal="),
        (["deletes-per-hour", "--param", "min_deletes=many"], 2, "not a valid int"),
        (["deletes-per-hour", "--param", "since=yesterday"], 2, "not a valid date"),
        (["deletes-per-hour", "--param", "colour=red"], 2, "unknown parameter colour"),
        (["deletes-per-hour", "--param", "novalue"], 2, "expected key=value"),
        (["SELECT $x"], 2, "prepared statement parameters: x"),
        (["SELECT 1", "--param", "x=1"], 2, "excess parameters: x"),
        ([], 2, "give a SELECT query"),
        (["SELECT 1", "--format", "parquet"], 2, "needs --output"),
        (["SELECT CAST('x' AS INT)"], 1, "query failed: Conversion Error"),
    ],
)
def test_bad_input_is_one_line(
    lake: Path, argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hunt", "--lake", str(lake), *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_missing_or_empty_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--lake", str(tmp_path / "nope"), "SELECT 1"]) == 1
    assert "no lake here" in capsys.readouterr().err
    (tmp_path / "empty" / "_manifest").mkdir(parents=True)
    assert main(["hunt", "--lake", str(tmp_path / "empty"), "SELECT 1"]) == 1
    assert "empty" in capsys.readouterr().err
    (tmp_path / "empty" / "_manifest" / "run-1.jsonl").write_text(
        '{"batch":"b","objects":[],"files":[],"events":0,"rejects":0}\n'
    )
    assert main(["hunt", "--lake", str(tmp_path / "empty"), "SELECT 1"]) == 1
    assert "no committed files" in capsys.readouterr().err
    assert main(["hunt", "SELECT 1"]) == 2
    assert "--lake" in capsys.readouterr().err


def test_console_script(lake: Path) -> None:
    detector = Path(sys.executable).parent / "detector"
    bad = subprocess.run(
        [str(detector), "hunt", "--lake", str(lake), "DROP VIEW events"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("detector: error: refused: DROP")
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    good = subprocess.run(
        [str(detector), "hunt", "--lake", str(lake), "anonymous-access", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.count("\n") == 3


def test_hunts_dir_is_in_the_repo() -> None:
    assert Path(__file__).resolve().parents[1] / "hunts" == HUNTS_DIR
