"""``detector lake migrate|info``: the Iceberg lake (issue 12) from the command line.

``migrate OLD NEW`` carries a Parquet + manifest lake into an Iceberg lake that any Iceberg
engine reads (docs/iceberg.md), and checks the row counts of every table; ``info LAKE``
prints an Iceberg lake's tables: snapshots, data files, rows and bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from detector.errors import UsageError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "lake",
        help="the Iceberg lake: migrate a Parquet lake into it, show what it holds",
        description="Apache Iceberg lakes (docs/iceberg.md): an embedded SQLite catalog in "
        "LAKE/catalog.db with the tables under LAKE, readable by pyiceberg, DuckDB, Spark, "
        "Trino or Athena.",
    )
    sub = p.add_subparsers(dest="lake_command", required=True, metavar="{migrate,info}")
    mig = sub.add_parser(
        "migrate",
        help="carry a Parquet + manifest lake into a new Iceberg lake, checking row counts",
        description="Carry every committed batch of OLD (a lake written by backfill or tail) "
        "into the Iceberg lake NEW, in groups of batches committed exactly once; a migration "
        "stopped anywhere resumes where it stopped. Exits 1 if any table's row count differs.",
    )
    mig.add_argument("old", type=Path, metavar="OLD")
    mig.add_argument("new", type=Path, metavar="NEW")
    info = sub.add_parser("info", help="tables, snapshots, data files, rows and bytes")
    info.add_argument("lake", type=Path, metavar="LAKE")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    from detector.icelake.catalog import CATALOG_FILE, open_catalog

    if args.lake_command == "migrate":
        from detector.icelake.migrate import migrate

        report = migrate(args.old, args.new)
        console.print(
            f"migrated {report.batches} batches into {args.new}"
            + (f" ({report.skipped} already there)" if report.skipped else ""),
            soft_wrap=True,
            markup=False,
        )
        for table, ids in report.rolled_back.items():
            console.print(
                f"rolled back a half-made commit of {table}: {len(ids)} batch(es)",
                soft_wrap=True,
                markup=False,
            )
        out = Table("table", "rows before", "rows in Iceberg", "")
        for name, (before, after) in report.rows.items():
            out.add_row(name, f"{before:,}", f"{after:,}", "ok" if before == after else "DIFFERS")
        console.print(out)
        return 0 if report.matches else 1
    if not (args.lake / CATALOG_FILE).is_file():
        raise UsageError(f"{args.lake}: not an Iceberg lake (no {CATALOG_FILE})")
    from detector.icelake.info import lake_info

    out = Table("table", "partitioned by", "snapshots", "data files", "rows", "bytes")
    for t in lake_info(open_catalog(args.lake)):
        out.add_row(
            t.name,
            t.partitioned_by,
            str(t.snapshots),
            f"{t.files:,}",
            f"{t.rows:,}",
            f"{t.bytes:,}",
        )
    console.print(out)
    return 0
