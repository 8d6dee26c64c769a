"""``detector discover --lake L``: what the logs in a lake say about the estate.

Prints, with the number of events behind each, what ``detector.discovery`` learns (our
accounts, log buckets, partner accounts, website buckets) and, for review, the automation
principals and the VPC endpoints each principal uses. ``--write-config FILE`` writes a
starter ``detector.toml`` from it, to review and edit: configuration overrides discovery.
Reads the lake's committed event files one at a time (memory: one file and the tallies).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from detector.defaults import PARTNER_DAYS
from detector.errors import UsageError
from detector.terminal import safe_text

if TYPE_CHECKING:  # the command's work imports them; its parser (``--help``) does not
    import polars as pl

    from detector.discovery import Discovered

EXTRA_COLUMNS = ["session_issuer_arn", "vpc_endpoint_id"]
"""Beside what discovery reads: who principals are and which endpoints they use."""
TOP = 25
DEPLOYERS = ("terraform", "github actions", "cdk / cloudformation")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "discover",
        help="show what the logs in a lake say about your estate; write a starter config",
        description="Learn from a lake's events, with the number of events behind each fact: "
        "our accounts (recipient accounts), log buckets (where logs are read from or "
        "delivered, trail and logging configuration), partner accounts (foreign accounts "
        f"using our buckets on {PARTNER_DAYS}+ days), website buckets, automation principals "
        "(invokedBy, SSM agent, IaC and CI clients) and the VPC endpoints each principal "
        "uses. Detection learns the first four on its own as it runs; a configuration "
        "file overrides them.",
    )
    p.add_argument("--lake", type=Path, required=True, help="a lake written by backfill/tail")
    p.add_argument(
        "--write-config",
        type=Path,
        metavar="FILE",
        help="write a starter detector.toml from what was learned (refuses to overwrite)",
    )
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    import polars as pl
    import pyarrow.parquet as pq

    from detector import discovery
    from detector.discovery import Discovered, automation, discover, endpoints
    from detector.lake import EVENTS
    from detector.lakes import existing_format, open_lake
    from detector.schema import EVENT_SCHEMA

    columns = [*discovery.COLUMNS, *EXTRA_COLUMNS]
    found = existing_format(args.lake) if args.lake.is_dir() else None
    files = open_lake(args.lake).committed_files(EVENTS) if found else []
    if not files:
        raise UsageError(f"{args.lake}: no committed events (run detector backfill first)")
    if args.write_config is not None and args.write_config.exists():
        raise UsageError(f"{args.write_config}: exists; not overwritten")
    learned, robots, paths = Discovered(), [], []
    for path in files:
        table = pq.read_table(path, schema=EVENT_SCHEMA).select(columns)
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)
        learned.merge(discover(df))
        robots.append(automation(df))
        paths.append(endpoints(df))
    bots = _total(robots, ["principal", "why"])
    vpces = _total(paths, ["principal", "vpc_endpoint_id"])
    _show(console, learned, bots, vpces, len(files))
    if args.write_config is not None:
        args.write_config.write_text(starter_config(learned, bots), encoding="utf-8")
        console.print(f"wrote {args.write_config}: review it, then pass it with --config")
    return 0


def _total(parts: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    import polars as pl

    return (
        pl.concat(parts)
        .group_by(keys)
        .agg(pl.col("events").sum())
        .sort(["events", *keys], descending=[True, *([False] * len(keys))])
    )


def _show(
    console: Console, d: Discovered, bots: pl.DataFrame, vpces: pl.DataFrame, files: int
) -> None:
    console.print(f"learned from {files:,} committed event file(s)")
    facts = Table(title="the estate, as the logs show it", show_edge=False)
    for col in ("fact", "value", "evidence"):
        facts.add_column(col, justify="right" if col == "evidence" else "left")
    for name, values, unit in (
        ("our account", d.accounts, "events"),
        ("log bucket", d.log_buckets, "events"),
        ("website bucket", d.website_buckets, "events"),
    ):
        for value, n in sorted(values.items(), key=lambda kv: -kv[1])[:TOP]:
            facts.add_row(name, safe_text(value), f"{n:,} {unit}")
    foreign = {a: days for a, days in d.partners.items() if a not in d.accounts}
    for account, days in sorted(foreign.items())[:TOP]:
        label = "partner account" if account in d.partner_accounts else "foreign caller"
        facts.add_row(label, safe_text(account), f"{len(days)} day(s)")
    console.print(facts)
    for title, frame, cols in (
        ("automation principals", bots, ("principal", "why", "events")),
        ("VPC endpoints in use", vpces, ("principal", "vpc_endpoint_id", "events")),
    ):
        table = Table(title=title, show_edge=False)
        for col in cols:
            table.add_column(col, justify="right" if col == "events" else "left")
        for row in frame.head(TOP).iter_rows():
            table.add_row(*(safe_text(v) if isinstance(v, str) else f"{v:,}" for v in row))
        if frame.height > TOP:
            table.add_row(f"({frame.height - TOP:,} more)", "", "")
        console.print(table)


def starter_config(d: Discovered, bots: pl.DataFrame) -> str:
    """A detector.toml from discovery: every value JSON-quoted (log values are untrusted)."""
    import polars as pl

    def arr(values: Any) -> str:
        return "[" + ", ".join(json.dumps(v) for v in sorted(values)) + "]"

    deployers = bots.filter(pl.col("why").is_in(list(DEPLOYERS)))
    iac = sorted(set(deployers.get_column("principal").to_list()))
    return f"""# Starter configuration written by `detector discover` from the logs in a lake.
# Review every line: configuration overrides discovery, so a value you keep here is used as
# given, and an empty list lets the detector keep learning that setting from the logs.

[org]
accounts = {arr(d.accounts)}
partner_accounts = {arr(d.partner_accounts)}   # foreign accounts using our buckets for days

[buckets]
website = {arr(d.website_buckets)}
log_buckets = {arr(d.log_buckets)}

[allowlist]
# Deploy roles that change bucket configuration routinely (IaC / CI clients seen); keep only
# the ones that are your pipelines.
ci_roles = {arr(iac)}
"""
