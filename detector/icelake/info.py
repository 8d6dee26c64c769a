"""What an Iceberg lake holds: per table, snapshots, data files, rows and bytes.

Read from each table's current snapshot summary: no data file is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.catalog import Catalog

from detector.icelake import tables


@dataclass(frozen=True)
class TableInfo:
    name: str
    snapshots: int
    files: int
    rows: int
    bytes: int
    partitioned_by: str


def lake_info(catalog: Catalog) -> list[TableInfo]:
    """Every table of the lake that exists, in a fixed order."""
    out = []
    for spec in (*tables.DATA_TABLES, tables.LEDGER, tables.TRIAGE):
        if not catalog.table_exists(spec.identifier):
            continue
        table = catalog.load_table(spec.identifier)
        snapshot = table.current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        schema = table.schema()
        partitions = ", ".join(
            f"{f.transform}({schema.find_column_name(f.source_id)})" for f in table.spec().fields
        )
        out.append(
            TableInfo(
                name=spec.name,
                snapshots=len(table.snapshots()),
                files=int(summary.get("total-data-files", 0)),
                rows=int(summary.get("total-records", 0)),
                bytes=int(summary.get("total-files-size", 0)),
                partitioned_by=partitions or "-",
            )
        )
    return out


def table_rows(catalog: Catalog, spec: tables.TableSpec) -> int:
    """Rows in a table's current snapshot (0 for a table that does not exist yet)."""
    if not catalog.table_exists(spec.identifier):
        return 0
    snapshot = catalog.load_table(spec.identifier).current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.additional_properties.get("total-records", 0))


def data_files(catalog: Catalog) -> dict[str, list[str]]:
    """Per data table, the data files of its current snapshot (what a reader must read)."""
    out: dict[str, list[str]] = {}
    for spec in tables.DATA_TABLES:
        if catalog.table_exists(spec.identifier):
            scan = catalog.load_table(spec.identifier).scan()
            out[spec.name] = [task.file.file_path for task in scan.plan_files()]
    return out
