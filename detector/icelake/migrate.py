"""``detector lake migrate OLD NEW``: a Parquet + manifest lake into an Iceberg lake.

Batches are carried over in commit order, a group at a time, each group committed with the
same exactly-once protocol as ingestion (so a migration stopped anywhere resumes: recovery
rolls back a half-made group, and batches the new ledger holds are skipped). The rows of
every table are counted on both sides at the end. The detection state folder is copied
(to a local lake; an S3 lake's state is not migrated yet).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from detector.blob import ObjectRef
from detector.errors import UsageError
from detector.icelake import tables
from detector.icelake.catalog import CatalogChoice, WriterLock, is_remote, open_catalog
from detector.icelake.commit import CommitGroup, commit, recover
from detector.icelake.info import table_rows
from detector.icelake.write import write_data_files
from detector.lake import MANIFEST, Lake

GROUP_BATCHES = 50
"""Old batches per Iceberg commit: one snapshot per table for many batches."""


@dataclass
class Migration:
    """What a migration did, and the row counts of each table on both sides."""

    batches: int = 0
    skipped: int = 0
    rolled_back: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Table → (rows in the old lake's committed files, rows in the Iceberg table)."""

    @property
    def matches(self) -> bool:
        return all(old == new for old, new in self.rows.values())


def migrate(
    old: Path,
    new: str | Path,
    group_batches: int = GROUP_BATCHES,
    progress: Callable[[int, int], None] | None = None,
    choice: CatalogChoice | None = None,
) -> Migration:
    """Carry every committed batch of ``old`` into the Iceberg lake at ``new`` (a folder, or
    ``s3://bucket/prefix`` with the catalog ``choice``)."""
    if not (old / MANIFEST).is_dir():
        raise UsageError(f"{old}: not a lake written by backfill or tail (no {MANIFEST}/)")
    if not is_remote(new) and Path(new).resolve() == old.resolve():
        raise UsageError("the Iceberg lake must be a new folder, not the old lake")
    entries = list(Lake(old).entries())
    with WriterLock(new):
        catalog = open_catalog(new, choice)
        report = Migration(rolled_back=recover(catalog))
        done = _migrated(catalog)
        todo = [e for e in entries if str(e["batch"]) not in done]
        report.skipped = len(entries) - len(todo)
        for start in range(0, len(todo), group_batches):
            chunk = todo[start : start + group_batches]
            commit(catalog, _group(catalog, old, chunk))
            report.batches += len(chunk)
            if progress is not None:
                progress(report.batches, len(todo))
        if (old / "state").is_dir() and not is_remote(new):
            shutil.copytree(old / "state", Path(new) / "state", dirs_exist_ok=True)
        report.rows = _counts(catalog, old, entries)
        triage = _carry_triage(catalog, old)
        if triage:
            report.rows[tables.TRIAGE.name] = triage
    return report


def _carry_triage(catalog: Catalog, old: Path) -> tuple[int, int] | None:
    """The analysts' log (``detector alerts``), appended once: actions the new lake does
    not hold yet (by id), so a resumed migration adds none twice."""
    from detector.triage import TRIAGE_SCHEMA, normalise

    raw = Lake(old).read_log()
    if raw is None:
        return None
    log = normalise(raw)
    table = tables.ensure_table(catalog, tables.TRIAGE, TRIAGE_SCHEMA)
    have = set(table.scan(selected_fields=("action_id",)).to_arrow().column(0).to_pylist())
    ids = log.column("action_id").to_pylist()
    fresh = log.filter(pa.array([a not in have for a in ids]))
    if fresh.num_rows:
        table.append(fresh)
    # (old actions, those of them the new lake holds): analysts' later actions do not count
    return len(ids), len(set(ids) & (have | set(fresh.column("action_id").to_pylist())))


def _group(catalog: Catalog, old: Path, chunk: list[dict[str, Any]]) -> CommitGroup:
    ids = [str(e["batch"]) for e in chunk]
    group = CommitGroup(ids)
    for spec in tables.DATA_TABLES:
        paths = _files(old, chunk, spec.name)
        if not paths:
            continue
        rows = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
        group.schemas[spec.name] = rows.schema
        group.files[spec.name] = write_data_files(catalog, spec, rows, ids[0])
    group.objects = [
        (str(e["batch"]), ObjectRef(o["uri"], "", int(o["size"]), o.get("etag")).identity)
        for e in chunk
        for o in e.get("objects", ())
    ]
    return group


def _files(old: Path, entries: list[dict[str, Any]], table: str) -> list[Path]:
    return [
        old / str(f) for e in entries for f in e.get("files", ()) if str(f).startswith(table + "/")
    ]


def _migrated(catalog: Catalog) -> set[str]:
    """Batch ids the new lake's ledger already holds (a resumed migration skips them)."""
    if not catalog.table_exists(tables.LEDGER.identifier):
        return set()
    ledger = catalog.load_table(tables.LEDGER.identifier)
    ids = ledger.scan(selected_fields=("batch_id",)).to_arrow().column("batch_id")
    return set(ids.to_pylist())


def _counts(
    catalog: Catalog, old: Path, entries: list[dict[str, Any]]
) -> dict[str, tuple[int, int]]:
    out = {}
    for spec in tables.DATA_TABLES:
        before = sum(pq.ParquetFile(p).metadata.num_rows for p in _files(old, entries, spec.name))
        after = table_rows(catalog, spec)
        if before or after:
            out[spec.name] = (before, after)
    return out
