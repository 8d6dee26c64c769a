"""Data files for an Iceberg table, one per partition, written before the commit names them.

A file holds one partition's rows only (one day of the table's day column, one value of
each identity column), so Iceberg learns its partition from its statistics when the commit
adds it, and readers prune whole files by day and source. Folders are named as in the
Parquet lake (``date=YYYY-MM-DD``, ``source=…``), so its hunts' views read them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO
from pyiceberg.table import Table

from detector.icelake import tables
from detector.parquet_layout import write_parquet_stream


def partitions(spec: tables.TableSpec, rows: pa.Table) -> list[tuple[str, pa.Table]]:
    """``rows`` split by the table's partitioning: (folder, rows) in first-seen order."""
    if not rows.num_rows:
        return []
    keys = pl.DataFrame(
        {
            **({"date": rows.column(spec.day_of).cast(pa.date32())} if spec.day_of else {}),
            **{c: rows.column(c) for c in spec.identities},
        }
    )
    if keys.width == 0:
        return [("", rows)]
    grouped = (
        keys.with_row_index("row")
        .group_by(keys.columns, maintain_order=True)
        .agg(pl.col("row"))
        .rows()
    )
    out = []
    for *values, indices in grouped:
        folder = "/".join(
            f"{k}={'unknown' if v is None else v}"
            for k, v in zip(keys.columns, values, strict=True)
        )
        part = rows if len(indices) == rows.num_rows else rows.take(pa.array(indices))
        out.append((folder, part))
    return out


def data_file_uri(table: Table, folder: str, name: str, n: int) -> str:
    """Where a partition's file goes: ``<table>/data/<folder>/part-<name>-<n>.parquet``.

    Not percent-encoded (pyiceberg reads paths as written); our own names and dates."""
    root = table.location().rstrip("/") + "/data"
    return (
        f"{root}/{folder}/part-{name}-{n}.parquet" if folder else f"{root}/part-{name}-{n}.parquet"
    )


def write_file(io: FileIO, uri: str, rows: pa.Table) -> None:
    """One data file, through the table's file IO (a local folder or S3)."""
    with io.new_output(uri).create(overwrite=True) as stream:
        write_parquet_stream(rows, stream)


def write_partitions(
    table: Table,
    spec: tables.TableSpec,
    rows: pa.Table,
    name: str,
    write: Callable[[str, pa.Table], None] | None = None,
) -> list[tuple[str, pa.Table]]:
    """Write ``rows`` under the table's ``data/`` folder, one file per partition, with
    ``write(uri, rows)`` (default: ``write_file`` through the table's IO); (URI, rows) of
    each file, in order. ``name`` (a batch id) makes the file names unique."""
    out = []
    for n, (folder, part) in enumerate(partitions(spec, rows)):
        uri = data_file_uri(table, folder, name, n)
        if write is None:
            write_file(table.io, uri, part)
        else:
            write(uri, part)
        out.append((uri, part))
    return out


def write_data_files(
    catalog: Catalog, spec: tables.TableSpec, rows: pa.Table, name: str
) -> list[str]:
    """Write ``rows`` as zstd Parquet under the table's ``data/`` folder; the files' URIs.
    The table is created if missing."""
    if not rows.num_rows:
        return []
    table = tables.ensure_table(catalog, spec, rows.schema)
    return [uri for uri, _ in write_partitions(table, spec, rows, name)]
