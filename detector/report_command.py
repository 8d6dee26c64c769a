"""``detector report``: the lake's incidents as one self-contained HTML file.

Reads the alerts, the triage log and the features table (each principal's windows); the
page itself is made by ``report_html`` (pure).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from detector.alerts import parse_time
from detector.detections.base import severity_rank
from detector.errors import UsageError
from detector.lakes import AnyLake, lake_location
from detector.report_html import IncidentView, Series, render
from detector.terminal import say
from detector.triage import Action, alert_statuses, concerns, history_row, incident_status
from detector.triage_store import latest_alerts, open_existing, triage_log

DEFAULT_FEATURES = ("n_events", "bytes_out", "n_buckets")
MAX_PLOTS = 3


def add_parser(subparsers: Any) -> None:
    from detector.lake_command import add_catalog_arguments

    p = subparsers.add_parser(
        "report",
        help="the lake's incidents as one self-contained HTML file",
        description="One HTML file (no network fetches: inline CSS and SVG) with the "
        "incident list and, per incident, its timeline, a plot of the principal's windows "
        "against its usual range over the surrounding days, what to do, and the triage "
        "history. Incidents are those with a notified (or suppressed) alert first seen in "
        "the range.",
    )
    p.add_argument("--lake", type=lake_location, required=True, help="a folder or s3://…")
    p.add_argument("--since", type=date.fromisoformat, metavar="DAY", help="first day")
    p.add_argument("--until", type=date.fromisoformat, metavar="DAY", help="last day")
    p.add_argument(
        "--days-around",
        type=float,
        default=3.0,
        metavar="N",
        help="days of the principal's windows plotted before each incident (default: 3)",
    )
    p.add_argument("--out", type=Path, default=Path("report.html"), help="default: report.html")
    add_catalog_arguments(p)


def run(args: argparse.Namespace, console: Console) -> int:
    from detector.lake_command import catalog_choice

    lake = open_existing(args.lake, catalog_choice(args))
    views = incident_views(
        lake, latest_alerts(lake), triage_log(lake), args.since, args.until, args.days_around
    )
    span = (
        f"{args.since or 'the first day'} to {args.until or 'the last'}"
        if args.since or args.until
        else "all days in the lake"
    )
    page = render(views, str(args.lake), span, datetime.now(UTC))
    try:
        args.out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    say(console, f"{len(views)} incident(s) written to {args.out}")
    return 0


def incident_views(
    lake: AnyLake,
    alerts: list[dict[str, Any]],
    actions: list[Action],
    since: date | None,
    until: date | None,
    days_around: float,
) -> list[IncidentView]:
    """The incidents in range, most severe first, then oldest first, with their plots."""
    latest = alert_statuses(actions)
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        by_incident.setdefault(a["incident_id"] or a["alert_id"], []).append(a)
    views = []
    for incident, signals in by_incident.items():
        sent = [s for s in signals if s["status"] in ("notify", "suppressed")]
        if not sent:
            continue
        day = (parse_time(sent[0]["first_seen"]) or datetime.now(UTC)).date()
        if (since and day < since) or (until and day > until):
            continue
        start = min(_t(s["first_seen"]) for s in signals)
        end = max(_t(s["last_seen"]) for s in signals)
        principal = sent[0]["principal"] or ""
        ids = {s["alert_id"] for s in signals}
        wanted = [r["feature"] for s in signals for r in s.get("reasons") or []]
        views.append(
            IncidentView(
                incident_id=incident,
                status=incident_status(signals, latest),
                severity=max((s["severity"] for s in sent), key=severity_rank),
                principal=principal,
                account_id=sent[0]["account_id"] or "",
                first_seen=sent[0]["first_seen"],
                last_seen=max(s["last_seen"] for s in signals),
                signals=signals,
                start=start,
                end=end,
                series=_series(lake, principal, wanted, start, end, days_around),
                history=[history_row(a) for a in actions if concerns(a, incident, ids)],
            )
        )
    views.sort(key=lambda v: (-severity_rank(v.severity), v.first_seen))
    return views


def _series(
    lake: AnyLake,
    principal: str,
    wanted: list[str],
    start: datetime,
    end: datetime,
    days_around: float,
) -> list[Series]:
    """The principal's windows from ``days_around`` before the incident to a day after,
    for the features its reasons name (else a default few). Only those windows are read."""
    from detector.lake import FEATURES

    if not principal:
        return []
    before = start - timedelta(days=days_around)
    table = lake.read_between(
        FEATURES, ("principal", [principal]), "window_start", before, end + timedelta(days=1)
    )
    if table is None or not table.num_rows:
        return []
    windows: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
    numeric = [c for c, t in windows.schema.items() if t.is_numeric()]
    chosen = list(dict.fromkeys(f for f in wanted if f in numeric)) or [
        f for f in DEFAULT_FEATURES if f in numeric
    ]
    history = windows.filter(pl.col("window_start") < start)
    out = []
    for f in chosen[:MAX_PLOTS]:
        points = [(t, float(v or 0)) for t, v in windows.select("window_start", f).iter_rows()]
        past = history.get_column(f).cast(pl.Float64) if not history.is_empty() else None
        median = float(past.median() or 0) if past is not None else 0.0
        high = float(past.quantile(0.95) or 0) if past is not None else 0.0
        out.append(Series(f, points, median, high))
    return out


def _t(text: str) -> datetime:
    return parse_time(text) or datetime.now(UTC)
