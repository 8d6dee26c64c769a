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
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from detector.icelake.catalog import NAMESPACE
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

DATA_TABLES = (EVENTS, QUARANTINE, FEATURES, ALERTS)
"""Committed before the ledger, whose commit makes a group of batches visible."""
KNOWN_SCHEMAS: dict[str, pa.Schema] = {
    EVENTS.name: EVENT_SCHEMA,
    QUARANTINE.name: QUARANTINE_SCHEMA,
    LEDGER.name: LEDGER_SCHEMA,
}
"""Schemas fixed in advance; features and alerts take theirs from their first data."""


def ensure_table(catalog: Catalog, spec: TableSpec, schema: pa.Schema) -> Table:
    """The table, created (and partitioned) if missing, with any new column of ``schema``."""
    try:
        table = catalog.load_table(spec.identifier)
    except NoSuchTableError:
        warehouse = catalog.properties.get("warehouse", "").rstrip("/")
        table = catalog.create_table(
            spec.identifier,
            schema=schema,
            # ``<lake>/events``, as in the Parquet lake (not ``<lake>/detector.db/events``).
            location=f"{warehouse}/{spec.name}" if warehouse else None,
        )
        if spec.day_of or spec.identities:
            with table.update_spec() as update:
                if spec.day_of:
                    update.add_field(spec.day_of, DayTransform(), f"{spec.day_of}_day")
                for column in spec.identities:
                    update.add_identity(column)
        return table
    known = set(table.schema().column_names)
    if any(name not in known for name in schema.names):
        with table.update_schema() as update:
            update.union_by_name(schema)
    return table
