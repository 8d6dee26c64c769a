"""The lake's Iceberg tables: their schemas, their partitioning, and keeping them current.

Partitioning follows the hunts' access patterns: events by day of event time and by source,
the others by day of their own time column. Schemas are the canonical Arrow schemas, so
column names and types are those of the Parquet lake; a new column is an Iceberg schema
update (``union_by_name``), never a rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table, TableProperties
from pyiceberg.transforms import DayTransform

from detector.errors import LakeError
from detector.icelake.catalog import NAMESPACE
from detector.parquet_layout import STATISTICS_COLUMNS
from detector.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string()),
        pa.field("object_identity", pa.string()),
        pa.field("committed_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""One row per object a batch ingested: what a later run need not read again."""


@dataclass(frozen=True)
class TableSpec:
    """A table: its name, the day column it is partitioned by, and identity partitions."""

    name: str
    day_of: str | None
    identities: tuple[str, ...] = ()

    @property
    def identifier(self) -> str:
        return f"{NAMESPACE}.{self.name}"


EVENTS = TableSpec("events", "event_time", ("source",))
QUARANTINE = TableSpec("quarantine", "quarantined_at")
FEATURES = TableSpec("features", "window_start")
ALERTS = TableSpec("alerts", "first_seen")
LEDGER = TableSpec("ledger", None)
TRIAGE = TableSpec("triage", None)
"""The analysts' log (``detector alerts``): appended on its own, outside the ledger."""

DATA_TABLES = (EVENTS, QUARANTINE, FEATURES, ALERTS)
"""Committed before the ledger, whose commit makes a group of batches visible."""
KNOWN_SCHEMAS: dict[str, pa.Schema] = {
    EVENTS.name: EVENT_SCHEMA,
    QUARANTINE.name: QUARANTINE_SCHEMA,
    LEDGER.name: LEDGER_SCHEMA,
}
"""Schemas fixed in advance; features and alerts take theirs from their first data."""


def table_properties(spec: TableSpec, schema: pa.Schema) -> dict[str, str]:
    """Which column statistics the manifests keep: bounds for the partition columns and the
    columns hunts prune on (the ones the lake writes statistics for), counts for the rest;
    and manifests merged as commits add them.

    Adding a file makes pyiceberg read every kept statistic from its footer; with bounds
    for all 60-odd columns that was most of a commit's time, for bounds no reader uses.
    Without merging, every commit adds a manifest that every later snapshot lists."""
    keep = {c for c in (spec.day_of, *spec.identities) if c} | STATISTICS_COLUMNS
    props = {"write.metadata.metrics.default": "counts", "commit.manifest-merge.enabled": "true"}
    for name in schema.names:
        if name in keep:
            props[f"write.metadata.metrics.column.{name}"] = "full"
    return props


def ensure_table(
    catalog: Catalog, spec: TableSpec, schema: pa.Schema, create: bool = True
) -> Table:
    """The table, created (and partitioned) if missing, with any new column of ``schema``.

    With ``create=False`` (a worker writing files for another process to commit) nothing
    is created or evolved: a missing table or column is a ``LakeError``, which says that the
    worker runs another version of this program than the committer."""
    try:
        table = catalog.load_table(spec.identifier)
    except NoSuchTableError:
        if not create:
            raise LakeError(
                f"table {spec.identifier} is missing: its committer creates it first"
            ) from None
        warehouse = catalog.properties.get("warehouse", "").rstrip("/")
        table = catalog.create_table(
            spec.identifier,
            schema=schema,
            # ``<lake>/events``, as in the Parquet lake (not ``<lake>/detector.db/events``).
            location=f"{warehouse}/{spec.name}" if warehouse else None,
            properties=table_properties(spec, schema),
        )
        if spec.day_of or spec.identities:
            with table.update_spec() as update:
                if spec.day_of:
                    update.add_field(spec.day_of, DayTransform(), f"{spec.day_of}_day")
                for column in spec.identities:
                    update.add_identity(column)
        # Set now, or the first ``add_files`` sets it inside its commit, and every later
        # step of that commit recomputes the table's metadata (a third of its time).
        mapping = table.schema().name_mapping.model_dump_json()
        with table.transaction() as tx:
            tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: mapping})
        return table
    known = set(table.schema().column_names)
    if any(name not in known for name in schema.names):
        if not create:
            missing = sorted(set(schema.names) - known)
            raise LakeError(
                f"table {spec.identifier} has no column {', '.join(missing)}: run one "
                "version of the detector on the committer and every worker"
            )
        with table.update_schema() as update:
            update.union_by_name(schema)
    return table
