"""The lake's layout, compression and crash safety."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import CT_KEY, access_line, ct_record, trail_file

from detector.ingest import IngestOptions, backfill
from detector.lake import Lake, read_events
from detector.schema import EVENT_SCHEMA, render_markdown

REPO = Path(__file__).resolve().parents[1]


def make_logs(root: Path) -> None:
    (root / CT_KEY).mkdir(parents=True)
    recs = [ct_record(i) for i in range(5)]
    recs.append(ct_record(9, eventTime="2026-11-03T00:00:01Z"))
    (root / CT_KEY / "a.json.gz").write_bytes(trail_file(recs))
    (root / "s3-access-logs").mkdir()
    (root / "s3-access-logs" / "2026-11-02-10-00-00-0123456789ABCDEF").write_text(
        "\n".join(access_line(i) for i in range(3)) + "\n"
    )


def test_partitioned_zstd_parquet_of_the_canonical_schema(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "lake", lake_format="parquet"))
    files = sorted(
        p.relative_to(tmp_path / "lake").parent.as_posix()
        for p in (tmp_path / "lake" / "events").rglob("*.parquet")
    )
    assert files == [
        "events/source=cloudtrail/date=2026-11-02",
        "events/source=cloudtrail/date=2026-11-03",
        "events/source=s3_access/date=2026-11-02",
    ]
    one = next((tmp_path / "lake" / "events").rglob("*.parquet"))
    meta = pq.ParquetFile(one).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_schema(one).remove_metadata() == EVENT_SCHEMA.remove_metadata()
    assert read_events(tmp_path / "lake").num_rows == 9


def test_iceberg_tables_keep_the_layout_and_the_schema(tmp_path: Path) -> None:
    """The same folders under each table's data/ (day first, as Iceberg partitions), the
    same zstd Parquet and column types, and partitions Iceberg itself knows."""
    from detector.icelake.catalog import open_catalog

    make_logs(tmp_path / "logs")
    backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "lake"))
    lake = tmp_path / "lake"
    files = sorted(
        p.relative_to(lake).parent.as_posix() for p in (lake / "events").rglob("*.parquet")
    )
    assert files == [
        "events/data/date=2026-11-02/source=cloudtrail",
        "events/data/date=2026-11-02/source=s3_access",
        "events/data/date=2026-11-03/source=cloudtrail",
    ]
    one = next((lake / "events" / "data").rglob("*.parquet"))
    assert pq.ParquetFile(one).metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_schema(one).remove_metadata() == EVENT_SCHEMA.remove_metadata()
    table = open_catalog(lake, create=False).load_table("detector.events")
    partitions = {tuple(t.file.partition) for t in table.scan().plan_files()}
    assert partitions == {(20759, "cloudtrail"), (20759, "s3_access"), (20760, "cloudtrail")}
    assert read_events(lake).num_rows == 9


def test_crash_before_commit_leaves_no_duplicates(tmp_path: Path) -> None:
    """Files of a batch that never reached the manifest are removed on the next run."""
    make_logs(tmp_path / "logs")
    lake = Lake(tmp_path / "lake")
    crashed = lake.write_batch("f" * 32, [], read_events_from(tmp_path), [])
    assert crashed.files  # written, never committed: as if the process died here
    summary = backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "lake"))
    assert summary.events_total == 9
    assert read_events(tmp_path / "lake").num_rows == 9
    assert not any("f" * 32 in p.name for p in (tmp_path / "lake").rglob("*.parquet"))


def read_events_from(tmp_path: Path):
    scratch = tmp_path / "scratch-lake"
    backfill([str(tmp_path / "logs")], IngestOptions(lake=scratch))
    return read_events(scratch)


def test_torn_manifest_line_is_ignored(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "lake", lake_format="parquet"))
    manifest = next((tmp_path / "lake" / "_manifest").glob("*.jsonl"))
    with manifest.open("a") as fh:
        fh.write('{"batch": "abc", "objects": [')  # a crash mid-append
    again = backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "lake"))
    assert again.objects_already_ingested == 2
    assert read_events(tmp_path / "lake").num_rows == 9


def test_two_workers_give_the_same_lake(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    for i in range(6):
        (tmp_path / "logs" / CT_KEY / f"more{i}.json.gz").write_bytes(
            trail_file([ct_record(1000 + 100 * i + j) for j in range(20)])
        )
    one = backfill([str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "l1", batch_bytes=1))
    two = backfill(
        [str(tmp_path / "logs")], IngestOptions(lake=tmp_path / "l2", workers=2, batch_bytes=1)
    )
    assert one.events_total == two.events_total == 129
    assert two.batches == 8  # one object per batch, spread over two processes
    a = read_events(tmp_path / "l1").drop_columns(["origin_object"]).sort_by("event_id")
    b = read_events(tmp_path / "l2").drop_columns(["origin_object"]).sort_by("event_id")
    assert a.equals(b)


def test_schema_doc_matches_code() -> None:
    assert (REPO / "docs" / "schema.md").read_text() == render_markdown(), (
        "docs/schema.md is stale: python -m detector.schema > docs/schema.md"
    )


def test_one_writer_per_lake(tmp_path: Path) -> None:
    from detector.errors import LakeError

    first = Lake(tmp_path / "lake")
    first.lock()
    with pytest.raises(LakeError, match="another detector process is writing this lake"):
        Lake(tmp_path / "lake").lock()
