"""``detector lake migrate|info``: a Parquet + manifest lake into an Iceberg lake, checked
by reopening the result with another pyiceberg client, not through the code under test."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import s3
from hunt_world import build_lake
from pyiceberg.catalog.sql import SqlCatalog

from detector import failpoints
from detector.cli import main
from detector.errors import LakeError
from detector.hunt.views import connect
from detector.icelake.catalog import WriterLock
from detector.icelake.migrate import migrate
from detector.lake import EVENTS, Lake
from detector.schema import EVENT_SCHEMA


@pytest.fixture(scope="module")
def old_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("migrate"))


def _catalog(lake: Path) -> SqlCatalog:
    return SqlCatalog("detector", uri=f"sqlite:///{lake}/catalog.db", warehouse=f"file://{lake}")


def _old_events(lake: Path) -> pa.Table:
    files = Lake(lake).committed_files(EVENTS)
    return pa.concat_tables([pq.read_table(f, schema=EVENT_SCHEMA) for f in files])


def _sorted(table: pa.Table) -> list[dict[str, object]]:
    keys = [("origin_object", "ascending"), ("origin_index", "ascending")]
    return table.select(EVENT_SCHEMA.names).sort_by(keys).to_pylist()


def test_migrated_lake_has_every_row_as_another_client_reads_it(
    old_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "iceberg"
    assert main(["lake", "migrate", str(old_lake), str(new)]) == 0
    out = capsys.readouterr().out
    assert "DIFFERS" not in out and "ok" in out
    old = _old_events(old_lake)
    events = _catalog(new).load_table("detector.events").scan().to_arrow()
    assert events.num_rows == old.num_rows > 0
    assert _sorted(events) == _sorted(old)
    alerts = _catalog(new).load_table("detector.alerts").scan().to_arrow()
    assert alerts.num_rows == 1
    batches = {e["batch"] for e in Lake(old_lake).entries()}
    ledger = _catalog(new).load_table("detector.ledger").scan().to_arrow()
    assert set(ledger.column("batch_id").to_pylist()) == batches

    assert main(["lake", "migrate", str(old_lake), str(new)]) == 0  # again: nothing to do
    assert f"({len(batches)} already there)" in capsys.readouterr().out
    assert _catalog(new).load_table("detector.events").scan().to_arrow().num_rows == old.num_rows

    assert main(["lake", "info", str(new)]) == 0
    info = capsys.readouterr().out
    assert "events" in info and f"{old.num_rows:,}" in info and "ledger" in info


def test_a_migration_stopped_midway_resumes_without_duplicates(
    old_lake: Path, tmp_path: Path
) -> None:
    new = tmp_path / "iceberg"
    batches = len(list(Lake(old_lake).entries()))
    assert batches >= 2, "the world must span several batches for this test to mean much"
    failpoints.arm("iceberg.after.events:2=eio")  # the second group dies after its events
    try:
        with pytest.raises(OSError):
            migrate(old_lake, new, group_batches=1)
    finally:
        failpoints.arm("")
    report = migrate(old_lake, new, group_batches=1)
    assert report.rolled_back == {"events": [report.rolled_back["events"][0]]}
    assert report.skipped == 1 and report.batches == batches - 1
    assert report.matches, report.rows
    old = _old_events(old_lake)
    assert _sorted(_catalog(new).load_table("detector.events").scan().to_arrow()) == _sorted(old)


def test_migrate_refuses_what_is_not_a_lake(tmp_path: Path) -> None:
    assert main(["lake", "migrate", str(tmp_path / "nothing"), str(tmp_path / "new")]) == 2
    assert main(["lake", "info", str(tmp_path)]) == 2


def test_migrating_to_an_s3_warehouse_with_a_sql_catalog(
    old_lake: Path, tmp_path: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warehouse on the S3 test server, the catalog in a SQLite file; reopened with
    pyiceberg and the standard S3 properties, not through our code."""
    s3().create_bucket(Bucket="lake-bucket")
    uri = f"sqlite:///{tmp_path}/catalog.db"
    new = "s3://lake-bucket/security/lake"
    assert main(["lake", "migrate", str(old_lake), new, "--catalog-uri", uri]) == 0
    assert "DIFFERS" not in capsys.readouterr().out
    keys = [o["Key"] for o in s3().list_objects_v2(Bucket="lake-bucket")["Contents"]]
    assert any(k.startswith("security/lake/events/data/") for k in keys)
    other = SqlCatalog(
        "detector",
        uri=uri,
        warehouse=new,
        **{
            "s3.endpoint": aws,
            "s3.access-key-id": "testing",
            "s3.secret-access-key": "testing",
            "s3.region": "us-east-1",
        },
    )
    events = other.load_table("detector.events").scan().to_arrow()
    assert _sorted(events) == _sorted(_old_events(old_lake))
    assert main(["lake", "info", new, "--catalog-uri", uri]) == 0
    assert f"{events.num_rows:,}" in capsys.readouterr().out


def test_migrating_to_an_s3_warehouse_with_the_glue_catalog(
    old_lake: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Glue (moto's) as the catalog, as AWS users have it; reopened with pyiceberg's Glue
    catalog and the standard properties."""
    s3().create_bucket(Bucket="glue-lake")
    new = "s3://glue-lake/lake"
    assert main(["lake", "migrate", str(old_lake), new, "--catalog", "glue"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out
    from pyiceberg.catalog.glue import GlueCatalog

    creds = {"access-key-id": "testing", "secret-access-key": "testing", "region": "us-east-1"}
    other = GlueCatalog(
        "detector",
        **{f"glue.{k}": v for k, v in creds.items()},
        **{f"s3.{k}": v for k, v in creds.items()},
        **{"glue.endpoint": aws, "s3.endpoint": aws},
    )
    events = other.load_table("detector.events").scan().to_arrow()
    assert _sorted(events) == _sorted(_old_events(old_lake))


def test_a_lake_folder_with_a_space_keeps_its_tables_inside(old_lake: Path, tmp_path: Path) -> None:
    new = tmp_path / "my lake"
    assert migrate(old_lake, new).matches
    assert not (tmp_path / "my%20lake").exists()
    conn = connect(new)
    try:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()  # type: ignore[misc]
    finally:
        conn.close()
    assert count == _old_events(old_lake).num_rows


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = WriterLock(tmp_path).__enter__()
    with pytest.raises(LakeError, match="another detector process"), WriterLock(tmp_path):
        pass
    first.__exit__(None, None, None)
    with WriterLock(tmp_path):  # released
        pass
