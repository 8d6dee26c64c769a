"""``detector lake migrate|info|compact|expire``: the Iceberg lake (issue 12) by hand.

``migrate OLD NEW`` carries a Parquet + manifest lake into an Iceberg lake that any Iceberg
engine reads (docs/iceberg.md), and checks the row counts of every table; ``info LAKE``
prints its tables (snapshots, data files, rows, bytes); ``compact`` rewrites a day range's
small files; ``expire`` drops old snapshots and the files only they referenced.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
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
    sub = p.add_subparsers(
        dest="lake_command", required=True, metavar="{migrate,info,compact,expire}"
    )
    mig = sub.add_parser(
        "migrate",
        help="carry a Parquet + manifest lake into a new Iceberg lake, checking row counts",
        description="Carry every committed batch of OLD (a lake written by backfill or tail) "
        "into the Iceberg lake NEW, in groups of batches committed exactly once; a migration "
        "stopped anywhere resumes where it stopped. Exits 1 if any table's row count differs.",
    )
    mig.add_argument("old", type=Path, metavar="OLD")
    mig.add_argument("new", metavar="NEW", help="a new folder, or s3://bucket/prefix")
    info = sub.add_parser("info", help="tables, snapshots, data files, rows and bytes")
    info.add_argument("lake", metavar="LAKE", help="a folder, or s3://bucket/prefix")
    comp = sub.add_parser(
        "compact",
        help="rewrite a day range's small files into one file per partition",
        description="Rewrite the partitions of a day range (the whole table without "
        "--since/--until) into one file each; query results do not change.",
    )
    comp.add_argument("lake", metavar="LAKE", help="a folder, or s3://bucket/prefix")
    comp.add_argument(
        "--table",
        choices=["events", "quarantine", "features", "alerts", "ledger"],
        action="append",
        help="a table to compact (repeatable; default: all)",
    )
    comp.add_argument("--since", type=date.fromisoformat, metavar="DAY", help="first day")
    comp.add_argument("--until", type=date.fromisoformat, metavar="DAY", help="last day")
    exp = sub.add_parser(
        "expire",
        help="expire old snapshots and delete files nothing references",
        description="Expire snapshots older than --older-than-days (never a table's current "
        "one), then delete data and metadata files no remaining snapshot references.",
    )
    exp.add_argument("lake", metavar="LAKE", help="a folder, or s3://bucket/prefix")
    exp.add_argument(
        "--older-than-days", type=float, default=7.0, metavar="N", help="default: %(default)s"
    )
    for command in (mig, info, comp, exp):
        add_catalog_arguments(command)
    return p


def add_catalog_arguments(parser: argparse.ArgumentParser) -> None:
    """``--catalog`` and ``--catalog-uri``: where an Iceberg lake on S3 is catalogued
    (``hunt`` takes them too)."""
    parser.add_argument(
        "--catalog",
        choices=["sql", "glue", "rest"],
        help="for an s3:// Iceberg lake: its catalog (default: sql; docs/iceberg.md)",
    )
    parser.add_argument(
        "--catalog-uri",
        metavar="URI",
        help="the sql catalog's SQLAlchemy URI (sqlite:///…, postgresql://…) or the rest "
        "catalog's endpoint",
    )


def catalog_choice(args: argparse.Namespace) -> Any:
    """The ``CatalogChoice`` the arguments name, or None when they name none."""
    if args.catalog is None and args.catalog_uri is None:
        return None
    from detector.icelake.catalog import CatalogChoice

    return CatalogChoice(args.catalog or "sql", args.catalog_uri)


def run(args: argparse.Namespace, console: Console) -> int:
    from detector.icelake.catalog import CATALOG_FILE, open_catalog

    if args.lake_command == "migrate":
        from detector.icelake.migrate import migrate

        report = migrate(args.old, args.new, choice=catalog_choice(args))
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
    remote = str(args.lake).startswith("s3://")
    if not remote and not (Path(args.lake) / CATALOG_FILE).is_file():
        raise UsageError(f"{args.lake}: not an Iceberg lake (no {CATALOG_FILE})")
    if args.lake_command in ("compact", "expire"):
        from detector.icelake.catalog import WriterLock

        with WriterLock(args.lake):
            catalog = open_catalog(args.lake, catalog_choice(args))
            if args.lake_command == "compact":
                return _compact(args, catalog, console)
            return _expire(args, catalog, console)
    catalog = open_catalog(args.lake, catalog_choice(args), create=False)
    from detector.icelake.info import lake_info

    out = Table("table", "partitioned by", "snapshots", "data files", "rows", "bytes")
    for t in lake_info(catalog):
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


def _compact(args: argparse.Namespace, catalog: Any, console: Console) -> int:
    from detector.icelake import tables
    from detector.icelake.commit import recover
    from detector.icelake.maintain import compact

    recover(catalog)
    chosen = set(args.table or ())
    out = Table("table", "files before", "files after", "rows")
    for spec in (*tables.DATA_TABLES, tables.LEDGER):
        if (chosen and spec.name not in chosen) or not catalog.table_exists(spec.identifier):
            continue
        done = compact(catalog, spec, args.since, args.until)
        out.add_row(done.table, f"{done.files_before:,}", f"{done.files_after:,}", f"{done.rows:,}")
    console.print(out)
    return 0


def _expire(args: argparse.Namespace, catalog: Any, console: Console) -> int:
    from detector.icelake.commit import recover
    from detector.icelake.maintain import expire

    recover(catalog)
    older = datetime.now(UTC) - timedelta(days=args.older_than_days)
    out = Table("table", "snapshots before", "snapshots after", "files removed")
    for e in expire(catalog, older):
        out.add_row(
            e.table, str(e.snapshots_before), str(e.snapshots_after), f"{e.files_removed:,}"
        )
    console.print(out)
    return 0
