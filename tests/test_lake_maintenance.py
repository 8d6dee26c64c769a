"""``detector lake compact|expire``: fewer files and snapshots, the same query results, read
back by another pyiceberg client and by DuckDB's ``iceberg_scan``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import s3
from pyiceberg.catalog.sql import SqlCatalog

from detector.blob import Blob, ObjectRef
from detector.cli import main
from detector.duckdb_extensions import extension_file
from detector.icelake import tables
from detector.icelake.catalog import CatalogChoice, open_catalog
from detector.icelake.commit import CommitGroup, commit
from detector.icelake.maintain import compact, expire
from detector.icelake.write import write_data_files
from detector.logtypes import parse_blobs

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs" / "AWSLogs"


@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    """An Iceberg lake of the sample trails committed in four groups: four small files in
    each day partition, as ingestion leaves them."""
    events = _sample_events()
    catalog = open_catalog(tmp_path)
    step = -(-events.num_rows // 4)
    for n in range(4):
        part = events.slice(n * step, step)
        files = write_data_files(catalog, tables.EVENTS, part, f"b{n}")
        commit(catalog, CommitGroup([f"b{n}"], files={"events": files}))
    return tmp_path


def _sample_events() -> pa.Table:
    trails = sorted(p for p in SAMPLES.rglob("*.json.gz") if "Digest" not in str(p))[:40]
    blobs = [Blob(ObjectRef(str(p), p.name, p.stat().st_size), p.read_bytes()) for p in trails]
    return parse_blobs(blobs).events


def _client(lake: Path) -> SqlCatalog:
    return SqlCatalog("detector", uri=f"sqlite:///{lake}/catalog.db", warehouse=f"file://{lake}")


def _rows(lake: Path, table: str = "events") -> list[dict[str, object]]:
    got = _client(lake).load_table(f"detector.{table}").scan().to_arrow()
    keys = [("origin_object", "ascending"), ("origin_index", "ascending")]
    return got.sort_by(keys).to_pylist()


def _duckdb_count(lake: Path) -> int:
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name in ("avro", "iceberg"):
        conn.execute(f"LOAD '{extension_file(name, 'Iceberg lakes')}'")
    metadata = _client(lake).load_table("detector.events").metadata_location
    (count,) = conn.execute("SELECT count(*) FROM iceberg_scan(?)", [metadata]).fetchone()  # type: ignore[misc]
    return int(count)


def test_compaction_leaves_one_file_per_partition_and_the_same_rows(lake: Path) -> None:
    before = _rows(lake)
    done = compact(open_catalog(lake), tables.EVENTS)
    assert done.files_after < done.files_before
    table = _client(lake).load_table("detector.events")
    partitions = {t.file.partition for t in table.scan().plan_files()}
    assert done.files_after == len(partitions)
    assert _rows(lake) == before
    again = compact(open_catalog(lake), tables.EVENTS)  # already compact: left alone
    assert again.files_before == again.files_after == done.files_after
    assert len(_client(lake).load_table("detector.events").snapshots()) == len(table.snapshots())


def test_compaction_of_a_day_range_rewrites_only_those_days(lake: Path) -> None:
    table = _client(lake).load_table("detector.events")
    days = sorted({t.file.partition[0] for t in table.scan().plan_files() if t.file.partition[0]})
    day = datetime(1970, 1, 1, tzinfo=UTC).date() + timedelta(days=days[0])
    before = _rows(lake)
    done = compact(open_catalog(lake), tables.EVENTS, since=day, until=day)
    assert done.files_after <= done.files_before
    assert _rows(lake) == before


def test_expiry_keeps_results_and_removes_what_only_old_snapshots_used(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compact(open_catalog(lake), tables.EVENTS)
    before, count = _rows(lake), _duckdb_count(lake)
    files = sorted((lake / "events").rglob("*.parquet"))
    report = {
        e.table: e
        for e in expire(open_catalog(lake), datetime.now(UTC) + timedelta(seconds=1), timedelta(0))
    }
    events = report["events"]
    assert events.snapshots_before > 1 and events.snapshots_after == 1
    assert events.files_removed > 0
    assert len(sorted((lake / "events").rglob("*.parquet"))) < len(files)
    assert _rows(lake) == before
    assert _duckdb_count(lake) == count == len(before)
    assert main(["lake", "expire", str(lake), "--older-than-days", "0"]) == 0
    assert "snapshots after" in capsys.readouterr().out
    assert _rows(lake) == before


def test_the_commands_run_on_the_lake(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lake", "compact", str(lake), "--table", "events"]) == 0
    out = capsys.readouterr().out
    assert "events" in out and "alerts" not in out
    assert main(["lake", "info", str(lake)]) == 0
    assert f"{len(_rows(lake)):,}" in capsys.readouterr().out


def test_rows_of_every_table_survive_compaction(lake: Path) -> None:
    counts = {
        spec.name: len(_client(lake).load_table(spec.identifier).scan().to_arrow())
        for spec in (*tables.DATA_TABLES, tables.LEDGER)
        if _client(lake).table_exists(spec.identifier)
    }
    for spec in (*tables.DATA_TABLES, tables.LEDGER):
        if spec.name in counts:
            compact(open_catalog(lake), spec)
    after = {
        name: len(_client(lake).load_table(f"detector.{name}").scan().to_arrow()) for name in counts
    }
    assert after == counts


def test_compaction_and_expiry_on_an_s3_warehouse(aws: str, tmp_path: Path) -> None:
    """The same on the S3 test server: fewer objects, the same rows through pyiceberg."""
    s3().create_bucket(Bucket="ice")
    choice = CatalogChoice("sql", f"sqlite:///{tmp_path}/catalog.db")
    location = "s3://ice/lake"
    catalog = open_catalog(location, choice)
    events = _sample_events()
    step = -(-events.num_rows // 3)
    for n in range(3):
        files = write_data_files(catalog, tables.EVENTS, events.slice(n * step, step), f"b{n}")
        commit(catalog, CommitGroup([f"b{n}"], files={"events": files}))

    def rows() -> list[dict[str, object]]:
        got = open_catalog(location, choice).load_table("detector.events").scan().to_arrow()
        return got.sort_by(
            [("origin_object", "ascending"), ("origin_index", "ascending")]
        ).to_pylist()

    def objects() -> int:
        listing = s3().list_objects_v2(Bucket="ice", Prefix="lake/events/data/")
        return len(listing.get("Contents", []))

    before, stored = rows(), objects()
    done = compact(open_catalog(location, choice), tables.EVENTS)
    assert done.files_after < done.files_before
    assert objects() > stored  # the old files stay until their snapshots expire
    report = expire(
        open_catalog(location, choice), datetime.now(UTC) + timedelta(seconds=1), timedelta(0)
    )
    assert {e.table: e.files_removed for e in report}["events"] >= stored
    assert objects() == done.files_after
    assert rows() == before
