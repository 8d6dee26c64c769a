"""Data files for an Iceberg table, one per partition, written before the commit names them.

A file holds one partition's rows only (one day of the table's day column, one value of
each identity column), so Iceberg learns its partition from its statistics when the commit
adds it, and readers prune whole files by day and source. Folders are named as in the
Parquet lake (``date=YYYY-MM-DD``, ``source=…``), so its hunts' views read them unchanged.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from detector.icelake import tables


def write_data_files(
    catalog: Catalog, spec: tables.TableSpec, rows: pa.Table, name: str
) -> list[str]:
    """Write ``rows`` as zstd Parquet under the table's ``data/`` folder; the files' URIs.

    ``name`` (a batch id) makes the file names unique; the table is created if missing.
    """
    if not rows.num_rows:
        return []
    table = tables.ensure_table(catalog, spec, rows.schema)
    root = table.location().rstrip("/") + "/data"
    keys = pl.DataFrame(
        {
            **({"date": rows.column(spec.day_of).cast(pa.date32())} if spec.day_of else {}),
            **{c: rows.column(c) for c in spec.identities},
        }
    )
    if keys.width == 0:
        groups = [((), list(range(rows.num_rows)))]
    else:
        grouped = (
            keys.with_row_index("row")
            .group_by(keys.columns, maintain_order=True)
            .agg(pl.col("row"))
            .rows()
        )
        groups = [(tuple(g[:-1]), g[-1]) for g in grouped]
    written = []
    for n, (values, indices) in enumerate(groups):
        folder = "/".join(
            f"{k}={'unknown' if v is None else v}"
            for k, v in zip(keys.columns, values, strict=True)
        )
        # Not percent-encoded (pyiceberg reads paths as written); our own names and dates.
        uri = (
            f"{root}/{folder}/part-{name}-{n}.parquet"
            if folder
            else f"{root}/part-{name}-{n}.parquet"
        )
        with table.io.new_output(uri).create(overwrite=True) as stream:
            pq.write_table(rows.take(pa.array(indices)), stream, compression="zstd")
        written.append(uri)
    return written
