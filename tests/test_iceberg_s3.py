"""Backfill into an Iceberg lake on S3 (the moto server; a SQL catalog in a local SQLite
file): reopened with pyiceberg and the standard S3 properties, compared with the raw logs,
hunted, re-run, and killed mid-commit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, backfill_cli, s3
from pyiceberg.catalog import Catalog, load_catalog

from detector.cli import main

SAMPLES = REPO / "sample_logs"
LAKE = "s3://lake-bucket/security/lake"


def backfill(catalog_uri: str, tmp: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    sources = (str(SAMPLES / "AWSLogs"), str(SAMPLES / "s3-access-logs"))
    args = (*sources, "--lake", LAKE, "--catalog-uri", catalog_uri, *extra)
    proc, summary = backfill_cli(*args, summary=tmp / "summary.json", env=env)
    return proc.returncode, proc.stderr, summary


def reopen(catalog_uri: str, endpoint: str) -> Catalog:
    """The lake's catalog opened by pyiceberg alone, with documented properties only."""
    return load_catalog(
        "detector",
        type="sql",
        uri=catalog_uri,
        warehouse=LAKE,
        **{
            "s3.endpoint": endpoint,
            "s3.region": "us-east-1",
            "s3.access-key-id": "testing",
            "s3.secret-access-key": "testing",
        },
    )


def raw_records(n_files: int = 5) -> list[dict[str, Any]]:
    files = sorted((SAMPLES / "AWSLogs").rglob("*.json.gz"))[:n_files]
    docs = [json.loads(gzip.decompress(f.read_bytes())) for f in files]
    return [r for d in docs for r in d.get("Records", [])]


def test_backfill_to_an_s3_lake_reads_back_with_pyiceberg(aws: str, tmp_path: Path) -> None:
    s3().create_bucket(Bucket="lake-bucket")
    uri = f"sqlite:///{tmp_path}/catalog.db"
    code, err, summary = backfill(uri, tmp_path, "--batch-mb", "1", "--commit-batches", "4")
    assert code == 0, err[-3000:]
    catalog = reopen(uri, aws)
    events = catalog.load_table("detector.events").scan().to_arrow()
    assert events.num_rows == summary["events"]["total"] > 4_000
    by_id = {
        r["event_id"]: r
        for r in events.select(["event_id", "event_name", "source_ip", "aws_region"]).to_pylist()
        if r["event_id"]
    }
    sample = raw_records()
    assert len(sample) > 5
    for record in sample:
        row = by_id[record["eventID"]]
        assert row["event_name"] == record["eventName"]
        assert row["source_ip"] == record["sourceIPAddress"]
        assert row["aws_region"] == record["awsRegion"]
    keys = [o["Key"] for o in s3().list_objects_v2(Bucket="lake-bucket")["Contents"]]
    assert any(k.startswith("security/lake/events/data/date=") for k in keys)
    assert "security/lake/state/detector.state" in keys  # detection's checkpoint, on S3 too
    alerts = catalog.load_table("detector.alerts").scan().to_arrow()
    assert alerts.num_rows >= 5

    # The hunts read the same lake through the same catalog.
    out = tmp_path / "count.csv"
    sql = "SELECT count(*) AS n FROM events"
    hunt = ["hunt", "--lake", LAKE, "--catalog-uri", uri, sql, "--format", "csv"]
    assert main([*hunt, "--output", str(out)]) == 0
    assert out.read_text().splitlines()[1] == str(events.num_rows)

    # A second run reads nothing again and adds no row.
    code, err, again = backfill(uri, tmp_path)
    assert code == 0, err[-3000:]
    assert again["objects"]["already_ingested"] == summary["objects"]["read"]
    assert again["objects"]["read"] == 0
    assert reopen(uri, aws).load_table("detector.events").scan().to_arrow().num_rows == len(events)


@pytest.mark.parametrize("failpoint", ["iceberg.after.events:2", "iceberg.after.ledger:1"])
def test_sigkill_mid_commit_on_an_s3_lake(aws: str, tmp_path: Path, failpoint: str) -> None:
    """Killed inside a commit group, run again: every event once, every alert once."""
    s3().create_bucket(Bucket="lake-bucket")
    uri = f"sqlite:///{tmp_path}/catalog.db"
    small = ("--batch-mb", "1", "--commit-batches", "2")
    code, err, _ = backfill(uri, tmp_path, *small, env={"DETECTOR_FAILPOINTS": failpoint})
    assert code == -9, err[-3000:]
    code, err, _ = backfill(uri, tmp_path, *small)
    assert code == 0, err[-3000:]
    catalog = reopen(uri, aws)
    events = catalog.load_table("detector.events").scan().to_arrow()
    ids = [i for i in events.column("event_id").to_pylist() if i]
    sources = events.column("source").to_pylist()
    assert len(ids) == len(set(ids)) == sources.count("cloudtrail")
    assert len(ids) == sum(
        len(json.loads(gzip.decompress(f.read_bytes())).get("Records", []))
        for f in (SAMPLES / "AWSLogs").rglob("*.json.gz")
    )
    alert_ids = catalog.load_table("detector.alerts").scan().to_arrow().column("alert_id")
    assert len(alert_ids) == len(set(alert_ids.to_pylist())) >= 5


def test_backfill_with_the_glue_catalog(aws: str, tmp_path: Path) -> None:
    """Glue (moto's) as the catalog of a backfilled lake, reopened with pyiceberg's Glue
    catalog and the standard properties (what Athena would see)."""
    from pyiceberg.catalog.glue import GlueCatalog

    s3().create_bucket(Bucket="glue-lake")
    summary = tmp_path / "summary.json"
    args = ["backfill", str(SAMPLES / "s3-access-logs"), "--lake", "s3://glue-lake/lake"]
    args += ["--catalog", "glue", "--no-detect", "--no-progress", "--summary", str(summary)]
    assert main(args) == 0
    creds = {"access-key-id": "testing", "secret-access-key": "testing", "region": "us-east-1"}
    glue = GlueCatalog(
        "detector",
        **{f"glue.{k}": v for k, v in creds.items()},
        **{f"s3.{k}": v for k, v in creds.items()},
        **{"glue.endpoint": aws, "s3.endpoint": aws},
    )
    events = glue.load_table("detector.events").scan(selected_fields=("source",)).to_arrow()
    assert events.num_rows == json.loads(summary.read_text())["events"]["total"] > 1_000
    assert set(events.column("source").to_pylist()) == {"s3_access"}
