"""Backfill writing the Iceberg lake: the same rows and alerts as the Parquet lake, read by
pyiceberg directly, nothing read twice, and a SIGKILL at every step of a commit group
neither loses nor duplicates a row or an alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import REPO, backfill_cli
from pyiceberg.catalog import load_catalog

from detector.icelake.catalog import catalog_properties
from detector.lake import read_events, read_quarantine

SAMPLES = str(REPO / "sample_logs")
SMALL_BATCHES = ("--batch-mb", "1", "--commit-batches", "2")


def backfill(lake: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``detector backfill sample_logs`` as a child process: exit status, summary, alerts."""
    summary, alerts = lake.with_suffix(".summary.json"), lake.with_suffix(".alerts.jsonl")
    alerts.unlink(missing_ok=True)
    args = (SAMPLES, "--lake", str(lake), "--alerts", str(alerts), *extra)
    proc, summarised = backfill_cli(*args, summary=summary, env=env)
    return {
        "code": proc.returncode,
        "stderr": proc.stderr,
        "summary": summarised,
        "alerts": [json.loads(line) for line in alerts.read_text().splitlines()]
        if alerts.exists()
        else [],
    }


def keys(events: pa.Table) -> list[tuple[str, str, str]]:
    """Each event by (source, event id, request id), sorted: equal lists, equal rows."""
    cols = [events.column(c).to_pylist() for c in ("source", "event_id", "request_id")]
    return sorted((str(s), str(e), str(r)) for s, e, r in zip(*cols, strict=True))


def lake_alert_ids(lake: Path) -> list[str]:
    """The alert ids in the lake's Iceberg alerts table, read by pyiceberg directly."""
    catalog = load_catalog("detector", **catalog_properties(lake))
    table = catalog.load_table("detector.alerts").scan(selected_fields=("alert_id",)).to_arrow()
    return sorted(table.column("alert_id").to_pylist())


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One uninterrupted backfill of the samples into each format, in small commit groups."""
    root = tmp_path_factory.mktemp("clean")
    ice = backfill(root / "ice", *SMALL_BATCHES)
    parquet = backfill(root / "parquet", "--batch-mb", "1", "--lake-format", "parquet")
    assert ice["code"] == 0 and parquet["code"] == 0, ice["stderr"] + parquet["stderr"]
    return {"ice": ice, "parquet": parquet, "root": root}


def test_iceberg_lake_holds_what_the_parquet_lake_holds(clean: dict[str, Any]) -> None:
    root = clean["root"]
    assert (root / "ice" / "catalog.db").is_file() and not (root / "ice" / "_manifest").exists()
    events = read_events(root / "ice")
    assert events.num_rows == clean["ice"]["summary"]["events"]["total"] > 2_000
    assert keys(events) == keys(read_events(root / "parquet"))
    assert read_quarantine(root / "ice").num_rows == read_quarantine(root / "parquet").num_rows
    notified = sorted(a["alert_id"] for a in clean["ice"]["alerts"])
    assert notified and notified == sorted(a["alert_id"] for a in clean["parquet"]["alerts"])
    assert set(notified) <= set(lake_alert_ids(root / "ice"))


def test_pyiceberg_opens_the_lake_with_the_documented_properties(clean: dict[str, Any]) -> None:
    """No project code: the catalog file and the warehouse folder are all a reader needs."""
    lake = clean["root"] / "ice"
    catalog = load_catalog(
        "detector", uri=f"sqlite:///{lake}/catalog.db", warehouse=f"file://{lake}"
    )
    names = {t[1] for t in catalog.list_tables("detector")}
    assert {"events", "quarantine", "alerts", "features", "ledger"} <= names
    events = catalog.load_table("detector.events")
    assert [f.name for f in events.spec().fields] == ["event_time_day", "source"]
    sample = events.scan(
        row_filter="source == 's3_access'", selected_fields=("source", "request_id")
    ).to_arrow()
    assert sample.num_rows and set(sample.column("source").to_pylist()) == {"s3_access"}
    ledger = catalog.load_table("detector.ledger").scan().to_arrow()
    ingested = clean["ice"]["summary"]["objects"]["read"]
    assert len(set(ledger.column("object_identity").drop_null().to_pylist())) == ingested


def test_a_second_run_reads_nothing_again(clean: dict[str, Any], tmp_path: Path) -> None:
    lake = tmp_path / "ice"
    first = backfill(lake, *SMALL_BATCHES)
    again = backfill(lake, *SMALL_BATCHES)
    assert again["code"] == 0, again["stderr"]
    objects = again["summary"]["objects"]
    assert objects["already_ingested"] == first["summary"]["objects"]["read"] > 900
    assert objects["read"] == 0
    assert keys(read_events(lake)) == keys(read_events(clean["root"] / "ice"))
    assert lake_alert_ids(lake) == lake_alert_ids(clean["root"] / "ice")


@pytest.mark.parametrize(
    "failpoint",
    [
        "lake.commit:2",
        "iceberg.after.events:1",
        "iceberg.after.features:2",
        "iceberg.after.alerts:1",
        "iceberg.after.ledger:2",
    ],
)
def test_sigkill_in_a_commit_loses_and_duplicates_nothing(
    clean: dict[str, Any], tmp_path: Path, failpoint: str
) -> None:
    """Killed inside a commit group, then run again: the lake's rows and alerts are the
    uninterrupted run's, each once."""
    lake = tmp_path / "ice"
    crashed = backfill(lake, *SMALL_BATCHES, env={"DETECTOR_FAILPOINTS": failpoint})
    assert crashed["code"] == -9, crashed["stderr"]
    again = backfill(lake, *SMALL_BATCHES)
    assert again["code"] == 0, again["stderr"]
    assert keys(read_events(lake)) == keys(read_events(clean["root"] / "ice"))
    assert read_quarantine(lake).num_rows == read_quarantine(clean["root"] / "ice").num_rows
    ids = lake_alert_ids(lake)
    assert ids == lake_alert_ids(clean["root"] / "ice")
    assert len(ids) == len(set(ids))


def test_a_parquet_lake_keeps_its_format(tmp_path: Path) -> None:
    lake = tmp_path / "old"
    assert backfill(lake, "--lake-format", "parquet", "--no-detect")["code"] == 0
    again = backfill(lake, "--lake-format", "iceberg", "--no-detect")
    assert again["code"] == 2
    assert "is a parquet lake" in again["stderr"] and "detector lake migrate" in again["stderr"]


def test_a_long_running_writer_expires_its_old_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tail commits every batch; housekeeping keeps the snapshots (and the metadata every
    commit rewrites) from growing without end, and changes no row."""
    from datetime import timedelta

    from conftest import CT_KEY, ct_record, trail_file

    from detector.blob import Blob, ObjectRef
    from detector.lake import new_batch_id
    from detector.lakes import open_lake
    from detector.logtypes import parse_blobs

    lake = open_lake(tmp_path / "lake")
    for n in range(3):
        data = trail_file([ct_record(100 * n + i) for i in range(5)])
        key = CT_KEY + f"{n}.json.gz"
        ref = ObjectRef(key, key, len(data))
        events = parse_blobs([Blob(ref, data)]).events
        lake.commit(lake.write_batch(new_batch_id(), [ref], events, []))
        lake.publish()
    catalog = lake.catalog
    assert len(catalog.load_table("detector.events").snapshots()) == 3
    before = keys(read_events(tmp_path / "lake"))
    last = list(lake.entries())[-1]["batch"]
    lake.housekeep()  # not due yet: nothing happens
    assert len(catalog.load_table("detector.events").snapshots()) == 3
    lake.housekeep(timedelta(0), force=True)
    assert len(catalog.load_table("detector.events").snapshots()) == 1
    assert len(catalog.load_table("detector.ledger").snapshots()) == 1
    assert keys(read_events(tmp_path / "lake")) == before and len(before) == 15
    assert [e["batch"] for e in lake.entries()] == [last]
