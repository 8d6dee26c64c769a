"""``detector hunt`` on an Iceberg lake: every saved hunt gives the rows it gives on the
Parquet lake the Iceberg lake was migrated from, before and after compaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import s3
from hunt_world import ALERT_ID, ALICE, build_lake

from detector.cli import main
from detector.hunt.saved import get_hunt, load_hunts
from detector.hunt.views import connect, run_query
from detector.icelake import tables
from detector.icelake.catalog import CatalogChoice, open_catalog
from detector.icelake.maintain import compact
from detector.icelake.migrate import migrate

PARAMS = {"alert_id": ALERT_ID, "principal": ALICE}
"""Values for the hunts' required parameters (the hunt world's alert and principal)."""


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    old = build_lake(tmp_path_factory.mktemp("hunt-iceberg"))
    new = tmp_path_factory.mktemp("hunt-iceberg-new") / "lake"
    assert migrate(old, new, group_batches=1).matches
    return old, new


def _rows(lake: Path, name: str) -> list[str]:
    saved = get_hunt(name)
    given = {p.name: PARAMS[p.name] for p in saved.params if p.required}
    conn = connect(lake)
    try:
        rows = run_query(conn, saved.sql, saved.bind(given)).to_pylist()
    finally:
        conn.close()
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


@pytest.mark.parametrize("name", sorted(load_hunts()))
def test_every_saved_hunt_reads_the_iceberg_lake_alike(lakes: tuple[Path, Path], name: str) -> None:
    old, new = lakes
    assert _rows(new, name) == _rows(old, name)


def test_hunts_after_compaction_and_from_the_command_line(
    lakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = lakes
    before = {name: _rows(new, name) for name in load_hunts()}
    compact(open_catalog(new), tables.EVENTS)
    assert {name: _rows(new, name) for name in load_hunts()} == before
    sql = "SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source"
    assert main(["hunt", "--lake", str(new), sql, "--format", "json"]) == 0
    on_iceberg = capsys.readouterr().out
    assert main(["hunt", "--lake", str(old), sql, "--format", "json"]) == 0
    assert on_iceberg == capsys.readouterr().out and '"n"' in on_iceberg


def test_hunts_on_an_iceberg_lake_on_s3(
    lakes: tuple[Path, Path], aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warehouse on the S3 test server, its catalog in SQLite: read through httpfs with
    the standard AWS configuration, the same rows as the Parquet lake."""
    old, _ = lakes
    s3().create_bucket(Bucket="hunt-ice")
    uri = f"sqlite:///{tmp_path}/catalog.db"
    remote = "s3://hunt-ice/lake"
    assert migrate(old, remote, choice=CatalogChoice("sql", uri)).matches
    sql = "SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source"
    args = ["hunt", "--lake", remote, "--catalog-uri", uri, sql, "--format", "json"]
    assert main(args) == 0
    on_s3 = capsys.readouterr().out
    assert main(["hunt", "--lake", str(old), sql, "--format", "json"]) == 0
    assert on_s3 == capsys.readouterr().out and '"n"' in on_s3
    for name in ("no-vpce-reads", "foreign-buckets"):
        saved = get_hunt(name)
        conn = connect(remote, CatalogChoice("sql", uri))
        try:
            rows = run_query(conn, saved.sql, saved.bind({})).to_pylist()
        finally:
            conn.close()
        assert sorted(json.dumps(r, sort_keys=True, default=str) for r in rows) == _rows(old, name)
