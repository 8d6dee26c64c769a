"""Hunt benchmark: the saved hunts on a Parquet lake of 10M+ events, and the same SQL in
plain DuckDB over the raw logs (gzipped CloudTrail JSON and access-log text).

    python bench/hunt_bench.py [--copies 7] [--repeat 3] [--raw-repeat 1] [--skip-raw]

Data (built once, cached under bench/data/hunt/):

* the 7-day world of ``bench/ingest_bench.py`` (``ct-large-1000000``: ~1.0M CloudTrail
  records in ~200 gzipped JSON files and ~0.5M access-log lines) is backfilled once
  (``detector backfill --no-detect``);
* the lake is that base replicated ``--copies`` times (7 → 10.5M events over 49 days):
  copy k has every event_time moved by 7·k days (so its date partition too) and, for k > 0,
  ``-k`` appended to event_id and request_id. Ingesting 10M events would take minutes
  more and measure the same Parquet layout;
* one alert with 20 evidence ids (GetObject events of one principal in copy 3), committed
  like the detector commits alerts, for ``alert-evidence``;
* the raw side is the same log files hard-linked ``--copies`` times (``raw-N/copy=k/``).
  Its views read them with ``read_json`` (``Records`` unnested, typed as CloudTrail's
  shape) and ``read_csv`` (space-separated, quoted), map them to the canonical columns and
  shift copy k exactly as above, so both sides hold the same events and every hunt runs
  the same SQL text, with the same parameters, on both. Row counts are reported side by
  side as a check.

Results go to bench/results/hunt.json and a Markdown table on stdout (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.hunt.saved import load_hunts  # noqa: E402
from detector.hunt.views import MACROS, PRINCIPAL_SQL, REQUESTS_SQL, connect  # noqa: E402
from detector.parquet_layout import write_parquet_stream  # noqa: E402

DATA = REPO / "bench" / "data"
WORK = DATA / "hunt"
WORLD = DATA / "ct-large-1000000"
GENERATOR = REPO / "sample_logs" / "generate.py"
RESULTS = REPO / "bench" / "results"
ALERT_ID = "bench0000000000000000001"
WEEK = 7


# --- data ---------------------------------------------------------------------------------
def world() -> Path:
    if not (WORLD / "MANIFEST.json").exists():
        print("generating the 7-day world (as bench/ingest_bench.py does) …", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--out",
                str(WORLD),
                "--no-digest",
                "--cloudtrail-events",
                "1000000",
                "--access-lines",
                "500000",
                "--days",
                "7",
                "--large-files",
                "5000",
            ],
            check=True,
        )
    return WORLD


def base_lake() -> Path:
    lake = WORK / "base-lake"
    if (lake / "_manifest").is_dir() and any((lake / "_manifest").glob("*.jsonl")):
        return lake
    src = world()
    print("backfilling the base lake …", file=sys.stderr)
    subprocess.run(
        [
            str(Path(sys.executable).parent / "detector"),
            "backfill",
            str(src / "AWSLogs"),
            str(src / "s3-access-logs"),
            "--lake",
            str(lake),
            "--lake-format",
            "parquet",  # replicated file by file below; --lake-format iceberg links them
            "--no-detect",
            "--workers",
            "2",
            "--no-progress",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return lake


def _manifest_files(lake: Path, prefix: str) -> list[str]:
    out = []
    for path in sorted((lake / "_manifest").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            out += [f for f in json.loads(line)["files"] if f.startswith(prefix)]
    return out


def _suffix(col: pa.ChunkedArray, k: int) -> pa.ChunkedArray:
    return col if k == 0 else pc.binary_join_element_wise(col, f"-{k}", "")


def replicated_lake(copies: int) -> Path:
    """The base lake ``copies`` times, copy k moved by 7·k days (see the module doc)."""
    from detector.lake import BatchFiles, Lake, new_batch_id

    lake = WORK / f"lake-{copies}"
    if (lake / ".complete").exists():
        return lake
    base = base_lake()
    print(f"replicating the base lake {copies} times …", file=sys.stderr)
    files = _manifest_files(base, "events/")
    target = Lake(lake)
    for k in range(copies):
        batch = new_batch_id()
        out = BatchFiles(batch, [])
        shift = pa.scalar(timedelta(days=WEEK * k), type=pa.duration("us"))
        for n, rel in enumerate(files):
            table = pq.read_table(base / rel)
            table = table.set_column(
                table.schema.get_field_index("event_time"),
                "event_time",
                pc.add(table.column("event_time"), shift),
            )
            for name in ("event_id", "request_id"):
                i = table.schema.get_field_index(name)
                table = table.set_column(i, name, _suffix(table.column(name), k))
            source, day = (p.split("=", 1)[1] for p in rel.split("/")[1:3])
            if day != "unknown":
                day = (date.fromisoformat(day) + timedelta(days=WEEK * k)).isoformat()
            new = f"events/source={source}/date={day}/part-{batch}-{n}.parquet"
            (lake / new).parent.mkdir(parents=True, exist_ok=True)
            write_parquet_stream(table, lake / new)
            out.files.append(new)
            out.events += table.num_rows
        target.commit(out)
    _add_alert(lake, target)
    (lake / ".complete").touch()
    return lake


def _add_alert(lake: Path, target: Any) -> None:
    from detector.alerts import Alert, write_parquet
    from detector.lake import BatchFiles, new_batch_id

    conn = connect(lake)
    rows = conn.execute(
        "SELECT principal, event_id, strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') FROM events "
        "WHERE event_name = 'GetObject' AND event_id LIKE '%-3' AND principal LIKE '%role/%' "
        "ORDER BY event_time LIMIT 20"
    ).fetchall()
    conn.close()
    iso = [r[2] for r in rows]
    alert = Alert(
        alert_id=ALERT_ID,
        detection="bench",
        capabilities=[],
        attack=[],
        title="bench",
        severity="high",
        score=1.0,
        principal=rows[0][0],
        account_id=None,
        first_seen=min(iso),
        last_seen=max(iso),
        detected_at=max(iso),
        evidence_event_ids=[r[1] for r in rows],
        evidence_total=len(rows),
        buckets=[],
        source_ips=[],
        user_agents=[],
        vpc_endpoint_ids=[],
        reasons=[],
        runbook="",
    )
    batch = new_batch_id()
    rel = f"alerts/part-{batch}.parquet"
    write_parquet([alert], lake / rel)
    target.commit(BatchFiles(batch, [], files=[rel]))


def iceberg_lake(copies: int) -> Path:
    """The replicated lake as an Iceberg lake: its files hard-linked under the tables' data/
    folders (ingestion's layout: ``date=…/source=…``) and added in one commit group."""
    import shutil

    from detector.icelake import tables
    from detector.icelake.catalog import open_catalog
    from detector.icelake.commit import CommitGroup, commit

    parquet = replicated_lake(copies)
    lake = WORK / f"lake-{copies}-iceberg"
    if (lake / ".complete").exists():
        return lake
    shutil.rmtree(lake, ignore_errors=True)
    print(f"linking the {copies}-copy lake into an Iceberg lake …", file=sys.stderr)
    group = CommitGroup(["bench"])
    for old in sorted((parquet / "events").rglob("*.parquet")):
        source, day = (p.split("=", 1)[1] for p in old.relative_to(parquet).parts[1:3])
        if day == "unknown":
            continue  # no event time: Iceberg cannot place it in a day partition
        new = lake / "events" / "data" / f"date={day}" / f"source={source}" / old.name
        new.parent.mkdir(parents=True, exist_ok=True)
        os.link(old, new)
        group.files.setdefault("events", []).append(str(new))
    alert = next((parquet / "alerts").glob("*.parquet"))
    new = lake / "alerts" / "data" / alert.name
    new.parent.mkdir(parents=True, exist_ok=True)
    os.link(alert, new)
    group.files["alerts"] = [str(new)]
    group.schemas["alerts"] = pq.read_schema(alert)
    catalog = open_catalog(lake)
    tables.ensure_table(catalog, tables.EVENTS, tables.KNOWN_SCHEMAS["events"])
    commit(catalog, group)
    (lake / ".complete").touch()
    return lake


def raw_dir(copies: int) -> Path:
    raw = WORK / f"raw-{copies}"
    if (raw / ".complete").exists():
        return raw
    src = world()
    for k in range(copies):
        for path in src.rglob("*"):
            if path.is_file() and path.name != "MANIFEST.json":
                dst = raw / f"copy={k}" / path.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    os.link(path, dst)
    (raw / ".complete").touch()
    return raw


# --- plain DuckDB over the raw logs ----------------------------------------------------------
CT_RECORD = (
    "STRUCT(eventTime VARCHAR, eventID VARCHAR, requestID VARCHAR, eventName VARCHAR, "
    "eventSource VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, userAgent VARCHAR, "
    "errorCode VARCHAR, recipientAccountId VARCHAR, vpcEndpointId VARCHAR, "
    "vpcEndpointAccountId VARCHAR, readOnly BOOLEAN, managementEvent BOOLEAN, "
    "userIdentity STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, "
    "accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR, "
    "sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR, userName VARCHAR))), "
    "tlsDetails STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR), "
    "resources STRUCT(type VARCHAR, ARN VARCHAR, accountId VARCHAR)[], "
    "requestParameters JSON, additionalEventData JSON)"
)
ACCESS_FIELDS = (
    "bucket_owner",
    "bucket",
    "time_a",
    "time_b",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turnaround_time",
    "referrer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "auth_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
)


def raw_connection(raw: Path, alert_table: pa.Table) -> duckdb.DuckDBPyConnection:
    from detector.logtypes.s3_access import OPERATION_TO_EVENT

    conn = duckdb.connect()
    conn.execute("SET enable_progress_bar = false")
    ops = pa.table(
        {"operation": list(OPERATION_TO_EVENT), "event_name": list(OPERATION_TO_EVENT.values())}
    )
    conn.register("ops_arrow", ops)
    conn.register("alert_arrow", alert_table)
    conn.execute("CREATE TABLE op_names AS SELECT * FROM ops_arrow")
    conn.execute("CREATE TABLE alerts AS SELECT * FROM alert_arrow")
    copy = "CAST(regexp_extract(filename, 'copy=(\\d+)', 1) AS INTEGER)"
    conn.execute(f"""CREATE VIEW ct AS
    WITH raw AS (
      SELECT unnest(Records) AS r, {copy} AS k, filename
      FROM read_json('{raw}/copy=*/AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz',
                     columns = {{'Records': '{CT_RECORD}[]'}}, filename = true,
                     maximum_object_size = 1073741824)
    )
    SELECT
      'cloudtrail' AS source,
      CAST(r.eventTime AS TIMESTAMPTZ) + to_days({WEEK} * k) AS event_time,
      CASE WHEN k > 0 THEN r.eventID || '-' || k ELSE r.eventID END AS event_id,
      CASE WHEN k > 0 THEN r.requestID || '-' || k ELSE r.requestID END AS request_id,
      r.eventName AS event_name, NULL::VARCHAR AS operation, r.eventSource AS event_source,
      r.userIdentity.arn AS principal_arn, r.userIdentity.type AS principal_type,
      r.userIdentity.principalId AS principal_id, r.userIdentity.accountId AS account_id,
      r.userIdentity.accessKeyId AS access_key_id,
      nullif(regexp_extract(r.userIdentity.arn, ':assumed-role/[^/]+/(.+)$', 1), '')
        AS session_name,
      r.userIdentity.sessionContext.sessionIssuer.arn AS session_issuer_arn,
      r.userIdentity.invokedBy AS invoked_by,
      r.sourceIPAddress AS source_ip, r.userAgent AS user_agent,
      r.vpcEndpointId AS vpc_endpoint_id, r.vpcEndpointAccountId AS vpc_endpoint_account_id,
      r.tlsDetails.tlsVersion AS tls_version,
      coalesce(r.tlsDetails.cipherSuite, r.additionalEventData->>'CipherSuite') AS cipher_suite,
      r.additionalEventData->>'AuthenticationMethod' AS auth_method,
      r.requestParameters->>'bucketName' AS bucket, r.requestParameters->>'key' AS key,
      r.requestParameters->>'versionId' AS version_id,
      coalesce(list_filter(r.resources, x -> x.type = 'AWS::S3::Bucket'
                                             AND x.ARN = 'arn:aws:s3:::'
                                                 || (r.requestParameters->>'bucketName')),
               list_filter(r.resources, x -> x.type = 'AWS::S3::Bucket'))[1].accountId
        AS bucket_account_id,
      r.recipientAccountId AS recipient_account_id,
      NULL::INTEGER AS http_status, r.errorCode AS error_code,
      TRY_CAST(r.additionalEventData->>'bytesTransferredOut' AS BIGINT) AS bytes_out,
      TRY_CAST(r.additionalEventData->>'bytesTransferredIn' AS BIGINT) AS bytes_in,
      CAST(r.requestParameters AS VARCHAR) AS request_parameters,
      filename AS origin_object, NULL::BIGINT AS origin_index
    FROM raw""")
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in ACCESS_FIELDS)
    conn.execute(f"""CREATE VIEW sal AS
    WITH raw AS (
      SELECT *, {copy} AS k,
             CASE WHEN requester = '-' THEN NULL ELSE requester END AS who
      FROM read_csv('{raw}/copy=*/s3-access-logs/*/*', delim = ' ', quote = '"',
                    escape = '"', header = false, auto_detect = false,
                    columns = {{{columns}}}, null_padding = true, filename = true,
                    strict_mode = false)
    )
    SELECT
      's3_access' AS source,
      strptime(time_a || ' ' || time_b, '[%d/%b/%Y:%H:%M:%S %z]') + to_days({WEEK} * k)
        AS event_time,
      NULL::VARCHAR AS event_id,
      CASE WHEN k > 0 THEN request_id || '-' || k ELSE request_id END AS request_id,
      CASE WHEN operation = 'REST.GET.BUCKET' AND contains(request_uri, 'list-type=2')
             THEN 'ListObjectsV2'
           WHEN operation = 'REST.GET.ACL' AND key <> '-' THEN 'GetObjectAcl'
           WHEN operation = 'REST.PUT.ACL' AND key <> '-' THEN 'PutObjectAcl'
           ELSE (SELECT o.event_name FROM op_names o WHERE o.operation = raw.operation) END
        AS event_name,
      operation, 's3.amazonaws.com' AS event_source,
      who AS principal_arn,
      CASE WHEN who IS NULL THEN 'Anonymous'
           WHEN regexp_matches(who, '^arn:[^:]+:sts::\\d*:assumed-role/') THEN 'AssumedRole'
           WHEN regexp_matches(who, '^arn:[^:]+:iam::\\d*:user/') THEN 'IAMUser'
           WHEN regexp_matches(who, '^arn:[^:]+:iam::\\d*:root$') THEN 'Root'
           WHEN starts_with(who, 'arn:') THEN 'AWSAccount'
           WHEN starts_with(who, 'svc:') OR who = 'AmazonS3' THEN 'AWSService'
           WHEN regexp_matches(who, '^[0-9a-f]{{64}}$') THEN 'CanonicalUser'
           ELSE 'Unknown' END AS principal_type,
      NULL::VARCHAR AS principal_id,
      CASE WHEN starts_with(who, 'arn:') THEN split_part(who, ':', 5) END AS account_id,
      NULL::VARCHAR AS access_key_id,
      nullif(regexp_extract(who, ':assumed-role/[^/]+/(.+)$', 1), '') AS session_name,
      CASE WHEN contains(who, ':assumed-role/')
           THEN 'arn:' || split_part(who, ':', 2) || ':iam::' || split_part(who, ':', 5)
                || ':role/' || split_part(split_part(who, ':', 6), '/', 2) END
        AS session_issuer_arn,
      NULL::VARCHAR AS invoked_by,
      nullif(remote_ip, '-') AS source_ip, nullif(user_agent, '-') AS user_agent,
      NULL::VARCHAR AS vpc_endpoint_id, NULL::VARCHAR AS vpc_endpoint_account_id,
      CASE WHEN tls_version IN ('-', '') THEN NULL ELSE replace(tls_version, 'TLSV', 'TLSv') END
        AS tls_version,
      nullif(cipher_suite, '-') AS cipher_suite, nullif(auth_type, '-') AS auth_method,
      nullif(bucket, '-') AS bucket, url_decode(nullif(key, '-')) AS key,
      nullif(version_id, '-') AS version_id,
      NULL::VARCHAR AS bucket_account_id, NULL::VARCHAR AS recipient_account_id,
      TRY_CAST(http_status AS INTEGER) AS http_status, nullif(error_code, '-') AS error_code,
      coalesce(TRY_CAST(bytes_sent AS BIGINT), 0) AS bytes_out,
      CASE WHEN operation IN ('REST.PUT.OBJECT', 'REST.PUT.PART', 'REST.POST.OBJECT')
           THEN TRY_CAST(object_size AS BIGINT) END AS bytes_in,
      NULL::VARCHAR AS request_parameters,
      filename AS origin_object, NULL::BIGINT AS origin_index
    FROM raw""")
    conn.execute(f"""CREATE VIEW events AS
    SELECT *, CAST(event_time AS DATE) AS date, {PRINCIPAL_SQL} AS principal
    FROM (SELECT * FROM ct UNION ALL BY NAME SELECT * FROM sal)""")
    conn.execute(REQUESTS_SQL)
    for macro in MACROS:
        conn.execute(macro)
    return conn


# --- timing ---------------------------------------------------------------------------------
def params_for(last_day: date, alert_days: tuple[str, str]) -> dict[str, dict[str, str]]:
    week = (last_day - timedelta(days=WEEK * 4 - 1)).isoformat()
    return {
        "first-seen-pairs": {"since": (last_day - timedelta(days=WEEK - 1)).isoformat()},
        "principal-timeline": {
            "principal": "arn:aws:iam::418295730164:role/orders-api",
            "since": week,
            "until": (date.fromisoformat(week) + timedelta(days=WEEK - 1)).isoformat(),
        },
        # as the command each alert carries (evidence_hunt_command) gives them
        "alert-evidence": {"alert_id": ALERT_ID, "since": alert_days[0], "until": alert_days[1]},
    }


def timed(
    conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], repeat: int
) -> tuple[list[float], int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = conn.execute(sql, params or None).fetch_arrow_table().num_rows
        times.append(time.perf_counter() - started)
    return times, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs per hunt on the lake")
    ap.add_argument("--raw-repeat", type=int, default=1, help="runs per hunt on raw logs")
    ap.add_argument("--skip-raw", action="store_true")
    ap.add_argument("--only", nargs="*", help="these hunts only")
    ap.add_argument(
        "--lake-format",
        choices=["parquet", "iceberg"],
        default="parquet",
        help="hunt the Parquet lake, or the same files as Iceberg tables (results go to "
        "hunt-iceberg.json; with --skip-raw the raw timings are taken from hunt.json)",
    )
    args = ap.parse_args()

    iceberg = args.lake_format == "iceberg"
    lake = iceberg_lake(args.copies) if iceberg else replicated_lake(args.copies)
    started = time.perf_counter()
    conn = connect(lake)
    connect_seconds = time.perf_counter() - started
    events, last = conn.execute("SELECT count(*), max(date) FROM events").fetchone()
    parquet_bytes = sum(p.stat().st_size for p in (lake / "events").rglob("*.parquet"))
    hunts = {n: h for n, h in load_hunts().items() if not args.only or n in args.only}
    alert_days = conn.execute(
        "SELECT strftime(first_seen, '%Y-%m-%d'), strftime(last_seen, '%Y-%m-%d') FROM alerts"
    ).fetchone()
    given = params_for(last, alert_days)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "platform": platform.platform(),
        },
        "lake": {
            "format": args.lake_format,
            "events": events,
            "copies": args.copies,
            "parquet_bytes": parquet_bytes,
            "files": len(list((lake / "events").rglob("*.parquet"))),
            "connect_seconds": round(connect_seconds, 3),
        },
        "hunts": {},
    }
    print(f"lake: {events:,} events, {parquet_bytes / 1e9:.2f} GB Parquet", file=sys.stderr)
    for name, hunt in hunts.items():
        params = hunt.bind(given.get(name, {}))
        times, rows = timed(conn, hunt.sql, params, args.repeat)
        results["hunts"][name] = {
            "params": given.get(name, {}),
            "lake_seconds": times,
            "lake_median": statistics.median(times),
            "lake_rows": rows,
        }
        print(f"{name}: lake {statistics.median(times):.3f}s, {rows} rows", file=sys.stderr)
    conn.close()

    if not args.skip_raw:
        raw = raw_dir(args.copies)
        alert = pq.read_table(next((lake / "alerts").rglob("*.parquet")))
        rconn = raw_connection(raw, alert)
        raw_bytes = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())
        results["raw"] = {
            "bytes": raw_bytes,
            "files": sum(1 for p in raw.rglob("*") if p.is_file()),
        }
        results["raw"]["events"] = rconn.execute("SELECT count(*) FROM events").fetchone()[0]
        print(f"raw: {results['raw']['events']:,} events", file=sys.stderr)
        for name, hunt in hunts.items():
            params = hunt.bind(given.get(name, {}))
            times, rows = timed(rconn, hunt.sql, params, args.raw_repeat)
            r = results["hunts"][name]
            r.update(
                raw_seconds=times,
                raw_median=statistics.median(times),
                raw_rows=rows,
                speedup=round(statistics.median(times) / r["lake_median"], 1),
            )
            print(
                f"{name}: raw {r['raw_median']:.1f}s, {rows} rows, {r['speedup']}x", file=sys.stderr
            )
        rconn.close()
    elif iceberg and (RESULTS / "hunt.json").exists():
        earlier = json.loads((RESULTS / "hunt.json").read_text())["hunts"]
        for name, r in results["hunts"].items():
            if "raw_median" in earlier.get(name, {}):
                raw_median = earlier[name]["raw_median"]
                r.update(
                    raw_median=raw_median,
                    raw_rows=earlier[name]["raw_rows"],
                    raw_from="hunt.json",
                    speedup=round(raw_median / r["lake_median"], 1),
                )

    RESULTS.mkdir(parents=True, exist_ok=True)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    name = "hunt-iceberg.json" if iceberg else "hunt.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| hunt | lake (s) | raw logs (s) | speedup | rows (lake / raw) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results["hunts"].items():
        raw = f"{r['raw_median']:.1f}" if "raw_median" in r else "-"
        speed = f"{r['speedup']:.0f}×" if "speedup" in r else "-"
        rows = f"{r['lake_rows']} / {r.get('raw_rows', '-')}"
        lines.append(f"| `{name}` | {r['lake_median']:.2f} | {raw} | {speed} | {rows} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
