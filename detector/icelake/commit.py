"""Exactly-once commits across Iceberg tables, and recovery from a half-made one.

Iceberg commits each table atomically, not several together, so a group of batches is made
visible in two steps: the data tables (events, quarantine, features, alerts) each get one
snapshot adding the group's Parquet files, written beforehand, with the group's batch ids
in the snapshot summary (``detector.batches``); then the ledger gets the group's objects.
**The ledger's commit is the commit point.** A crash before it leaves data-table snapshots
whose batches the ledger does not name; ``recover`` rolls each such table back to the
snapshot before them, so a re-run neither loses nor duplicates rows. Only the latest
snapshots can be half-made (one writer, recovery first), and only their batch ids are
looked up in the ledger: it is never read whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, In
from pyiceberg.table import Table

from detector import failpoints
from detector.icelake import tables

BATCHES = "detector.batches"
"""Snapshot summary property: the batch ids a snapshot adds, comma-separated."""


@dataclass
class CommitGroup:
    """Batches to make visible together: per data table, the Parquet files they wrote."""

    batch_ids: list[str]
    files: dict[str, list[str]] = field(default_factory=dict)
    """Table name → data file locations (URIs), written under the table's location."""
    schemas: dict[str, pa.Schema] = field(default_factory=dict)
    """Table name → the files' Arrow schema (features and alerts create their table)."""
    objects: list[tuple[str, str]] = field(default_factory=list)
    """(batch id, object identity) of every object the batches ingested."""
    ledger_properties: dict[str, str] = field(default_factory=dict)
    """More of the ledger snapshot's summary: stream positions, end-of-run batches."""


def commit(catalog: Catalog, group: CommitGroup) -> None:
    """Make the group visible: data tables first, the ledger last (the commit point)."""
    summary = {BATCHES: ",".join(group.batch_ids)}
    for spec in tables.DATA_TABLES:
        files = group.files.get(spec.name)
        if not files:
            continue
        schema = group.schemas.get(spec.name) or tables.KNOWN_SCHEMAS[spec.name]
        table = tables.ensure_table(catalog, spec, schema)
        table.add_files(files, snapshot_properties=summary, check_duplicate_files=False)
        failpoints.hit(f"iceberg.after.{spec.name}")
    ledger = tables.ensure_table(catalog, tables.LEDGER, tables.LEDGER_SCHEMA)
    named = {batch for batch, _ in group.objects}
    rows: list[tuple[str, str | None]] = [*group.objects]
    rows += [(b, None) for b in group.batch_ids if b not in named]
    ledger.append(
        pa.table(
            {
                "batch_id": [b for b, _ in rows],
                "object_identity": [o for _, o in rows],
                "committed_at": [datetime.now(UTC)] * len(rows),
            },
            schema=tables.LEDGER_SCHEMA,
        ),
        snapshot_properties={**summary, **group.ledger_properties},
    )
    failpoints.hit("iceberg.after.ledger")


def recover(catalog: Catalog) -> dict[str, list[str]]:
    """Roll back data-table snapshots of batches the ledger never committed.

    Returns, per table, the batch ids rolled back (empty when nothing was half-made).
    """
    undone: dict[str, list[str]] = {}
    for spec in tables.DATA_TABLES:
        if not catalog.table_exists(spec.identifier):
            continue
        table = catalog.load_table(spec.identifier)
        while (snapshot := table.current_snapshot()) is not None:
            ids = _batch_ids(snapshot.summary.additional_properties if snapshot.summary else {})
            if not ids or ids <= _committed(catalog, ids):
                break
            undone.setdefault(spec.name, []).extend(sorted(ids))
            _roll_back(table, snapshot.parent_snapshot_id)
            table = catalog.load_table(spec.identifier)
    return undone


def _batch_ids(properties: dict[str, str]) -> set[str]:
    return {b for b in properties.get(BATCHES, "").split(",") if b}


def _committed(catalog: Catalog, ids: set[str]) -> set[str]:
    """Which of ``ids`` the ledger holds (a scan pruned to those ids)."""
    if not catalog.table_exists(tables.LEDGER.identifier):
        return set()
    ledger = catalog.load_table(tables.LEDGER.identifier)
    found = ledger.scan(row_filter=In("batch_id", ids), selected_fields=("batch_id",))
    return set(found.to_arrow().column("batch_id").to_pylist())


def _roll_back(table: Table, parent: int | None) -> None:
    """Make the snapshot before a half-made one current (empty the table if there is none)."""
    if parent is not None:
        table.manage_snapshots().set_current_snapshot(snapshot_id=parent).commit()
    else:
        table.delete(delete_filter=AlwaysTrue(), snapshot_properties={BATCHES: ""})
