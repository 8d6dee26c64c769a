"""Hunt results out: a rich table on the terminal, or CSV, JSON lines or Parquet, streamed.

* ``table``: the first ``--limit`` rows (default 100), long cells cut at 60 characters, and
  the row count; reading stops there (past ``COUNT_AHEAD`` rows it says "more than N rows"),
  so a huge result returns at once. Cells and column names are log data or SQL: control
  characters are shown escaped and nothing is read as rich markup (``detector.terminal``);
* ``csv``: a header line, then one line per row; lists and structs as JSON text (files keep
  exact values: no escaping);
* ``json``: JSON lines, one object per row (timestamps ISO 8601, binary as base64);
* ``parquet``: the result's own Arrow types (needs ``--output FILE``).
"""

from __future__ import annotations

import base64
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from detector.terminal import safe_text, say, visible

FORMATS = ("table", "csv", "json", "parquet")
TABLE_ROWS = 100
CELL_CHARS = 60
COUNT_AHEAD = 1_000
"""Without ``--limit``, the table reads at most this many rows (and one more): enough for an
exact count of a small result; a bigger one is "more than 1,000 rows" (counting it would
mean reading all of it)."""
TABLE_BATCH_ROWS = 2_048
"""Rows per batch fetched for the table: DuckDB computes no more than the table needs."""


def plain(value: Any) -> Any:
    """A JSON-ready value: ISO times, base64 bytes, lists and dicts kept."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):  # DuckDB's HUGEINT sums arrive as decimal(38, 0)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def cell(value: Any) -> str:
    """One value as flat text (CSV, table)."""
    if value is None:
        return ""
    value = plain(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _table_cell(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
        return ", ".join(cell(v) for v in value)
    return cell(value)


def _short(text: str) -> str:
    text = visible(text)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def render_table(
    batches: Iterable[pa.RecordBatch],
    console: Console,
    *,
    limit: int | None,
    title: str | None = None,
) -> int:
    """Print up to ``limit`` rows (default ``TABLE_ROWS``); return the rows read.

    Reading stops after ``limit`` rows, or without one after ``COUNT_AHEAD + 1``: the rest
    of the result is never computed.
    """
    shown = TABLE_ROWS if limit is None else limit
    budget = limit if limit is not None else max(shown, COUNT_AHEAD) + 1
    table: Table | None = None
    total = 0
    for batch in _capped(batches, budget):
        if table is None:
            table = Table(
                title=None if title is None else safe_text(title),
                show_edge=False,
                header_style="bold",
            )
            for name, typ in zip(batch.schema.names, batch.schema.types, strict=True):
                numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
                table.add_column(
                    safe_text(name), justify="right" if numeric else "left", overflow="fold"
                )
        if total < shown:
            for row in batch.slice(0, shown - total).to_pylist():
                table.add_row(*(safe_text(_short(_table_cell(v))) for v in row.values()))
        total += batch.num_rows
    if table is None:
        say(console, "(no rows)" if title is None else f"{title}: no rows")
        return 0
    console.print(table)
    if limit is None and total > shown:
        count = f"more than {budget - 1:,}" if total >= budget else f"{total:,}"
        say(
            console,
            f"{count} rows, showing the first {shown:,} "
            "(--limit N, or --format csv|json|parquet --output FILE for all)",
        )
    elif limit is not None and total >= limit:
        say(console, f"first {total:,} rows (--limit {limit})")
    else:
        say(console, f"{total:,} row{'s' if total != 1 else ''}")
    return total


def _capped(batches: Iterable[pa.RecordBatch], limit: int | None) -> Iterator[pa.RecordBatch]:
    """At most ``limit`` rows; stops pulling batches as soon as it has them."""
    left = limit
    for batch in batches:
        if left is not None:
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch
        if left is not None and left <= 0:
            return


def write(
    batches: Iterable[pa.RecordBatch], fmt: str, output: Path | None, *, limit: int | None
) -> int:
    """Stream the result to ``output`` (stdout when None, not for Parquet); rows written."""
    rows = 0
    batches = _capped(batches, limit)
    if fmt == "parquet":
        assert output is not None
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                if writer is None:
                    writer = pq.ParquetWriter(output, batch.schema, compression="zstd")
                writer.write_batch(batch)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        return rows
    fh: IO[str] = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        out = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
        for n, batch in enumerate(batches):
            if out is not None and n == 0:
                out.writerow(batch.schema.names)
            for row in batch.to_pylist():
                if out is not None:
                    out.writerow([cell(v) for v in row.values()])
                else:
                    fh.write(
                        json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                    )
            rows += batch.num_rows
        fh.flush()
    finally:
        if output:
            fh.close()
    return rows
