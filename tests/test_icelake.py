"""The Iceberg lake's foundation: the embedded catalog, the tables, and the commit protocol.

Every check reopens the lake the way another Iceberg client would (pyiceberg with the
documented catalog properties, DuckDB's ``iceberg_scan`` from the packaged extensions), not
through the code under test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from detector import failpoints
from detector.blob import Blob, ObjectRef
from detector.duckdb_extensions import extension_file
from detector.icelake import tables
from detector.icelake.catalog import open_catalog
from detector.icelake.commit import BATCHES, CommitGroup, commit, recover
from detector.logtypes import parse_blobs
from detector.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs" / "AWSLogs"


def _events(n_files: int) -> pa.Table:
    files = sorted(p for p in SAMPLES.rglob("*.json.gz") if "Digest" not in str(p))[:n_files]
    if not files:
        pytest.fail(f"no sample trails under {SAMPLES}")
    blobs = [Blob(ObjectRef(str(p), p.name, p.stat().st_size), p.read_bytes()) for p in files]
    return parse_blobs(blobs).events


def _other_client(lake: Path) -> SqlCatalog:
    """The catalog as docs/iceberg.md tells any pyiceberg user to open it (the SQL catalog
    keys its tables by catalog name: it must be ``detector``)."""
    return SqlCatalog("detector", uri=f"sqlite:///{lake}/catalog.db", warehouse=f"file://{lake}")


def _write(lake: Path, spec: tables.TableSpec, table: pa.Table) -> str:
    """A data file under the table's location, as a batch writes it before the commit."""
    location = tables.ensure_table(open_catalog(lake), spec, table.schema).location()
    path = Path(location.removeprefix("file://")) / "data" / f"part-{uuid.uuid4().hex}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return path.as_uri()


def _group(lake: Path, events: pa.Table, batch: str) -> CommitGroup:
    rejects = pa.table(
        {name: pa.nulls(1, field.type) for name, field in zip(
            QUARANTINE_SCHEMA.names, QUARANTINE_SCHEMA, strict=True)},
        schema=QUARANTINE_SCHEMA,
    )  # fmt: skip
    return CommitGroup(
        [batch],
        files={
            "events": [_write(lake, tables.EVENTS, events)],
            "quarantine": [_write(lake, tables.QUARANTINE, rejects)],
        },
        objects=[(batch, "s3://logs/a.json.gz#etag#10")],
    )


def test_a_local_lake_is_an_embedded_catalog_any_client_opens(tmp_path: Path) -> None:
    events = _events(3)
    commit(open_catalog(tmp_path), _group(tmp_path, events, "b1"))
    assert (tmp_path / "catalog.db").is_file()
    other = _other_client(tmp_path)
    table = other.load_table("detector.events")
    assert table.scan().to_arrow().num_rows == events.num_rows > 0
    fields = [(f.name, str(f.transform)) for f in table.spec().fields]
    assert fields == [("event_time_day", "day"), ("source", "identity")]
    assert table.schema().column_names == list(EVENT_SCHEMA.names)
    summary = table.current_snapshot().summary.additional_properties  # type: ignore[union-attr]
    assert summary[BATCHES] == "b1"
    ledger = other.load_table("detector.ledger").scan().to_arrow()
    assert ledger.column("batch_id").to_pylist() == ["b1"]


def test_duckdb_reads_the_tables_offline_from_the_packaged_extensions(tmp_path: Path) -> None:
    events = _events(2)
    commit(open_catalog(tmp_path), _group(tmp_path, events, "b1"))
    metadata = _other_client(tmp_path).load_table("detector.events").metadata_location
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name in ("avro", "iceberg"):
        conn.execute(f"LOAD '{extension_file(name, 'Iceberg lakes')}'")
    query = "SELECT source, count(*) FROM iceberg_scan(?) GROUP BY source"
    assert conn.execute(query, [metadata]).fetchall() == [("cloudtrail", events.num_rows)]


def test_a_group_half_committed_is_rolled_back_and_the_ledger_decides(tmp_path: Path) -> None:
    catalog = open_catalog(tmp_path)
    first, second = _events(2), _events(4)
    commit(catalog, _group(tmp_path, first, "b1"))
    failpoints.arm("iceberg.after.quarantine=eio")
    try:
        with pytest.raises(OSError):
            commit(catalog, _group(tmp_path, second, "b2"))
    finally:
        failpoints.arm("")
    other = _other_client(tmp_path)
    assert other.load_table("detector.events").scan().to_arrow().num_rows == (
        first.num_rows + second.num_rows
    )  # the crash left b2's events visible …
    assert recover(open_catalog(tmp_path)) == {"events": ["b2"], "quarantine": ["b2"]}
    other = _other_client(tmp_path)
    assert other.load_table("detector.events").scan().to_arrow().num_rows == first.num_rows
    assert other.load_table("detector.quarantine").scan().to_arrow().num_rows == 1
    assert recover(open_catalog(tmp_path)) == {}  # … and recovery is idempotent
    commit(open_catalog(tmp_path), _group(tmp_path, second, "b2"))  # the re-run
    events = other.load_table("detector.events").scan().to_arrow()
    assert events.num_rows == first.num_rows + second.num_rows


def test_a_first_group_half_committed_empties_the_table(tmp_path: Path) -> None:
    failpoints.arm("iceberg.after.events=eio")
    try:
        with pytest.raises(OSError):
            commit(open_catalog(tmp_path), _group(tmp_path, _events(1), "b1"))
    finally:
        failpoints.arm("")
    assert recover(open_catalog(tmp_path)) == {"events": ["b1"]}
    assert _other_client(tmp_path).load_table("detector.events").scan().to_arrow().num_rows == 0


def test_a_new_column_is_a_schema_update(tmp_path: Path) -> None:
    catalog = open_catalog(tmp_path)
    narrow = pa.table(
        {"principal": ["a"], "window_start": pa.array([0], pa.timestamp("us", "UTC"))}
    )
    wide = narrow.append_column("n_events", pa.array([3], pa.int64()))
    for n, table in enumerate((narrow, wide)):
        group = CommitGroup(
            [f"b{n}"], files={"features": [_write(tmp_path, tables.FEATURES, table)]},
            schemas={"features": table.schema},
        )  # fmt: skip
        commit(catalog, group)
    features = _other_client(tmp_path).load_table("detector.features")
    assert features.schema().column_names == ["principal", "window_start", "n_events"]
    rows = features.scan().to_arrow().sort_by("principal").to_pylist()
    assert sorted(r["n_events"] for r in rows if r["n_events"] is not None) == [3]
    assert len(rows) == 2


def test_a_workers_view_of_the_lake_creates_and_evolves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker (``--workers``, a Ray task) opens: the committer's lake, by an absolute
    path, read-only in its catalog; never a new lake somewhere else."""
    from detector.errors import LakeError
    from detector.lakes import LakeAddress, address_of, open_lake

    monkeypatch.chdir(tmp_path)
    where = address_of(open_lake("lake"))  # the committer made it, by a relative path
    assert where.location == str(tmp_path / "lake") and where.format == "iceberg"
    worker = where.open()
    assert worker.creates is False
    with pytest.raises(LakeError, match="features is missing"):
        worker.write_rows("features", "b1", pa.table({"principal": ["p"]}))
    wide = pa.table({"source": ["cloudtrail"], "not_a_column": [1]})
    with pytest.raises(LakeError, match="no column not_a_column"):
        worker.write_rows("quarantine", "b1", wide)
    with pytest.raises(LakeError, match="no iceberg lake here"):
        LakeAddress(str(tmp_path / "elsewhere"), "iceberg").open()
    assert not (tmp_path / "elsewhere").exists()
