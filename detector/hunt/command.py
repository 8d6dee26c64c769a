"""``detector hunt``: SQL or a saved hunt over a lake, a table or a file, or a shell.

detector hunt --lake DIR "SELECT ..."                      ad-hoc SQL, a table
detector hunt --lake s3://b/p NAME --param key=value       a saved hunt (hunts/NAME.sql)
detector hunt --lake DIR NAME --format csv --output f.csv  CSV, JSON lines or Parquet
detector hunt --lake DIR --shell                           an interactive session
detector hunt --list                                       the saved hunts
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from detector.errors import UsageError
from detector.hunt.saved import HUNTS_DIR, NAME, get_hunt, load_hunts, parse_params
from detector.lake_command import add_catalog_arguments, catalog_choice
from detector.terminal import PipeConsole, safe_text, say, visible

DESCRIPTION = (
    "Query the lake with DuckDB (in-process, read-only). Views: events (canonical events, "
    "with source and date from the partition path, and principal: the key alerts use), "
    "requests (events with each S3 request once: access-log lines dropped when CloudTrail "
    "has the same request_id), alerts, quarantine, and features when the lake has them; "
    "macro is_public_ip(ip). QUERY is one SELECT statement, or the NAME of a saved hunt "
    f"({HUNTS_DIR}/NAME.sql, see --list) with its parameters given as --param key=value and "
    "bound as SQL parameters ($key in ad-hoc SQL too). Only committed files inside the lake "
    "are read; statements other than SELECT, any file access outside the lake, and functions "
    "that show settings, secrets or the environment are refused. "
    "--lake is a directory or s3://bucket/prefix (standard AWS configuration; "
    "AWS_ENDPOINT_URL for S3-compatible endpoints). Exit status: 0 on success, 1 when the "
    "lake cannot be read or the query fails while running, 2 on a usage error (bad SQL, "
    "refused statement, unknown hunt, missing or bad parameter), 141 when the reader of the "
    "output goes away (a closed pipe, e.g. | head)."
)


def _limit(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``hunt`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "hunt",
        help="query the lake in SQL (DuckDB), run saved hunts, or open a SQL shell",
        description=DESCRIPTION,
    )
    p.add_argument(
        "query",
        nargs="?",
        metavar="QUERY",
        help="one SELECT statement, or the name of a saved hunt",
    )
    p.add_argument("--lake", help="lake directory or s3://bucket/prefix")
    add_catalog_arguments(p)
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter of the hunt (repeatable); bound, never pasted into SQL",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "parquet"),
        default="table",
        help="table (default) on the terminal; csv, json (JSON lines) or parquet to --output",
    )
    p.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the result here (csv and json go to stdout without it; never inside the lake)",
    )
    p.add_argument(
        "--limit",
        type=_limit,
        metavar="N",
        help="at most N rows (default: all, and the table shows the first 100)",
    )
    p.add_argument(
        "--shell",
        action="store_true",
        help="interactive SQL session (.tables, .schema, .hunts, .run, .quit)",
    )
    p.add_argument("--list", action="store_true", help="list the saved hunts and exit")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``detector hunt``; errors are ``UsageError`` (exit 2) or ``DetectorError`` (1)."""
    if args.list:
        render_hunt_list(console)
        return 0
    if args.shell and args.query:
        raise UsageError("give either QUERY or --shell, not both")
    if not args.shell and not args.query:
        raise UsageError("give a SELECT query, a saved hunt NAME (see --list), or --shell")
    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet needs --output FILE")
    title = None
    sql = args.query or ""
    params: dict[str, object] = dict(parse_params(args.param))
    if args.query and NAME.match(args.query.strip()):
        hunt = get_hunt(args.query.strip())
        params = hunt.bind(parse_params(args.param))
        sql, title = hunt.sql, hunt.title
    if not args.lake:
        raise UsageError("--lake DIR or --lake s3://bucket/prefix is required")
    _check_output(args.output, args.lake)

    from detector.hunt.output import TABLE_BATCH_ROWS, write
    from detector.hunt.views import connect, execute

    conn = connect(args.lake, catalog_choice(args))
    try:
        if args.shell:
            from detector.hunt.shell import Shell

            return Shell(conn, console).loop()
        if args.format == "table" and args.output is None:
            batches = execute(conn, sql, params, batch_rows=TABLE_BATCH_ROWS)
            render_table_to(console, batches, args.limit, title)
        else:
            batches = execute(conn, sql, params)
            fmt = "csv" if args.format == "table" else args.format
            rows = write(batches, fmt, args.output, limit=args.limit)
            if args.output is not None:
                print(visible(f"{rows:,} rows written to {args.output}"), file=sys.stderr)
        batches.close()
    finally:
        conn.close()
    return 0


def render_table_to(console: Console, batches: Any, limit: int | None, title: str | None) -> None:
    from detector.hunt.output import render_table

    if not console.is_terminal and console.width < 200:
        console = PipeConsole(width=200, file=console.file)
    render_table(batches, console, limit=limit, title=title)


def _check_output(output: Path | None, lake: str) -> None:
    """Refuse an output inside the lake, links followed (a symlink into the lake included)."""
    if output is None or lake.startswith("s3://"):
        return
    target = Path(os.path.abspath(output)).resolve()
    root = Path(os.path.abspath(lake)).resolve()
    if target == root or root in target.parents:
        raise UsageError(
            visible(
                f"--output {output}: inside the lake; hunting never writes "
                "to the lake, choose a file outside it"
            )
        )


def render_hunt_list(console: Console) -> None:
    hunts = load_hunts()
    table = Table(
        title=safe_text(f"saved hunts ({HUNTS_DIR})"), show_edge=False, header_style="bold"
    )
    table.add_column("hunt", no_wrap=True)
    table.add_column("title")
    table.add_column("parameters")
    for hunt in hunts.values():
        params = Text("\n").join(
            safe_text(
                f"{p.name}: {p.type}"
                + ("" if p.required else f" = {p.default}" if p.default else " (optional)")
            )
            for p in hunt.params
        )
        table.add_row(safe_text(hunt.name), safe_text(hunt.title), params or Text("-"))
    console.print(table)
    say(console, "run one: detector hunt NAME --lake LAKE --param key=value ...")
