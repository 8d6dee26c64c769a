"""``detector alerts list|show|ack|close|reopen|suppress``: triage over the lake.

Reads the lake's alerts table (every signal the engine raised, notified or only recorded)
and the triage log (``detector.triage``); writes only to the triage log, never to the
alerts, so a running tail and an analyst never write the same table. IDs are an alert's id
(as a Slack or SNS message shows it) or an incident's (``inc-…``), or a unique prefix of
either.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from detector.alerts import parse_time
from detector.detections.base import SEVERITIES, severity_rank
from detector.errors import UsageError
from detector.lakes import AnyLake, lake_location
from detector.terminal import safe_text, say, short_principal, visible
from detector.triage import (
    STATUS_OF,
    STATUSES,
    Action,
    Suppression,
    action_rows,
    alert_statuses,
    concerns,
    history_row,
    incident_status,
    iso,
    status_of,
)
from detector.triage_store import latest_alerts, open_existing, triage_log

FORMATS = ("table", "json", "csv")
LIST_COLUMNS = (
    "alert_id",
    "status",
    "severity",
    "detection",
    "principal",
    "first_seen",
    "incident_id",
    "title",
)
MIN_PREFIX = 6


def add_parser(subparsers: Any) -> None:
    from detector.lake_command import add_catalog_arguments

    p = subparsers.add_parser(
        "alerts",
        help="triage: list, show, acknowledge, close, reopen or suppress alerts",
        description="Triage over the lake. Alerts are what the sinks were sent; each belongs "
        "to an incident, and a status change applies to the incident. Every change is "
        "appended to the lake's triage log with who (--by, else $DETECTOR_ANALYST, else the "
        "login name), when and why.",
    )
    sub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="alerts with their status, newest first")
    ls.add_argument(
        "--status",
        action="append",
        choices=[*STATUSES, "all"],
        help="repeatable (default: open and acknowledged)",
    )
    ls.add_argument("--severity", choices=SEVERITIES, help="this severity or above")
    ls.add_argument("--detection", help="one detection id")
    ls.add_argument("--principal", help="one principal (exact)")
    ls.add_argument("--since", type=_time, metavar="TIME", help="first seen at or after")
    ls.add_argument("--until", type=_time, metavar="TIME", help="first seen before")
    ls.add_argument("--format", choices=FORMATS, default="table")
    show = sub.add_parser("show", help="one incident: signals, reasons, evidence, history")
    show.add_argument("id", metavar="ID", help="an alert id or incident id (or a prefix)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    for name, text in (
        ("ack", "acknowledge: someone is on it"),
        ("close", "close: resolved or benign"),
        ("reopen", "reopen a closed or acknowledged incident"),
    ):
        action = sub.add_parser(name, help=text)
        action.add_argument("id", metavar="ID", help="an alert id or incident id (or a prefix)")
        action.add_argument("--reason", required=name != "ack", help="why (kept in the triage log)")
        action.add_argument("--by", help="who (default: $DETECTOR_ANALYST or the login name)")
    sup = sub.add_parser(
        "suppress",
        help="stop notifying a pattern (principal, detection, bucket), with an expiry",
        description="Signals the scope covers are recorded as 'suppressed' instead of sent, "
        "from the next run (a tail reads new suppressions at every checkpoint), and a "
        "suppressed deviation teaches the principal's baseline. With ID the scope defaults to "
        "that alert's principal and detection, and the signals of its incident in the scope "
        "are marked suppressed. An expiry is by the clock.",
    )
    sup.add_argument("id", nargs="?", metavar="ID", help="an alert or incident (optional)")
    sup.add_argument("--principal", help="scope: this principal (exact)")
    sup.add_argument("--detection", help="scope: this detection id")
    sup.add_argument("--bucket", help="scope: signals naming this bucket")
    sup.add_argument("--any-principal", action="store_true", help="with ID: not its principal")
    until = sup.add_mutually_exclusive_group()
    until.add_argument("--expires", type=_time, metavar="TIME", help="when it ends (UTC)")
    until.add_argument("--days", type=float, metavar="N", help="ends N days from now")
    sup.add_argument("--reason", required=True, help="why (kept in the triage log)")
    sup.add_argument("--by", help="who (default: $DETECTOR_ANALYST or the login name)")
    for command in sub.choices.values():
        command.add_argument(
            "--lake", type=lake_location, required=True, help="the lake (a folder or s3://…)"
        )
        add_catalog_arguments(command)


def run(args: argparse.Namespace, console: Console) -> int:
    from detector.lake_command import catalog_choice

    lake = open_existing(args.lake, catalog_choice(args))
    alerts = latest_alerts(lake)
    actions = triage_log(lake)
    if args.alerts_command == "list":
        return _list(args, alerts, actions, console)
    if args.alerts_command == "show":
        return _show(args, _find(args.id, alerts), alerts, actions, console)
    if args.alerts_command == "suppress":
        return _suppress(args, lake, alerts, console)
    target = _find(args.id, alerts)
    covered = _signals(target, alerts)
    action = Action(
        args.alerts_command,
        _who(args),
        args.reason or "",
        incident_id=target["incident_id"] or None,
        alert_id=target["alert_id"],
        alert_ids=tuple(a["alert_id"] for a in covered),
    )
    lake.append_log(action_rows([action]))
    name = target["incident_id"] or target["alert_id"]
    say(
        console,
        f"{name}: {STATUS_OF[args.alerts_command]}, {len(covered)} signal(s) "
        f"(by {action.acted_by}); signals that join it later start open",
    )
    return 0


def _signals(target: dict[str, Any], alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The target's incident's signals as they are now (the target alone without one)."""
    incident = target["incident_id"]
    return [a for a in alerts if incident and a["incident_id"] == incident] or [target]


# --- reading ------------------------------------------------------------------------------
def _find(ident: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The notified alert an id names (an incident: its first notification)."""
    ident = ident.strip()
    if len(ident) < MIN_PREFIX:
        raise UsageError(f"{ident!r}: give at least {MIN_PREFIX} characters of an id")
    exact = [a for a in alerts if ident in (a["alert_id"], a["incident_id"])]
    found = exact or [
        a for a in alerts if a["alert_id"].startswith(ident) or a["incident_id"].startswith(ident)
    ]
    if not found:
        raise UsageError(f"{visible(ident)}: no alert or incident with this id in the lake")
    incidents = {a["incident_id"] or a["alert_id"] for a in found}
    if len(incidents) > 1:
        raise UsageError(f"{visible(ident)}: names {len(incidents)} incidents; give more of it")
    notified = [a for a in found if a["status"] in ("notify", "suppressed")]
    return (notified or found)[0]


def _list(
    args: argparse.Namespace,
    alerts: list[dict[str, Any]],
    actions: list[Action],
    console: Console,
) -> int:
    latest = alert_statuses(actions)
    wanted = set(args.status or ["open", "acknowledged"])
    rows = []
    for a in reversed(alerts):  # newest first
        if a["status"] not in ("notify", "suppressed"):
            continue  # recorded only (learning, habit…): part of an incident, not an alert
        row = {**a, "status": status_of(a, latest)}
        if "all" not in wanted and row["status"] not in wanted:
            continue
        if args.severity and severity_rank(a["severity"]) < severity_rank(args.severity):
            continue
        if args.detection and a["detection"] != args.detection:
            continue
        if args.principal and a["principal"] != args.principal:
            continue
        first = parse_time(a["first_seen"])
        if args.since and (first is None or first < args.since):
            continue
        if args.until and (first is None or first >= args.until):
            continue
        rows.append(row)
    _write_rows(rows, args.format, console)
    return 0


def _write_rows(rows: list[dict[str, Any]], fmt: str, console: Console) -> None:
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        return
    if fmt == "csv":
        out = csv.DictWriter(sys.stdout, LIST_COLUMNS, extrasaction="ignore")
        out.writeheader()
        out.writerows(rows)
        return
    if not rows:
        say(console, "no alerts match (--status all lists every status)")
        return
    table = Table()
    for column in ("alert_id", "status", "severity", "detection", "principal", "first seen"):
        table.add_column(column, no_wrap=column != "principal")
    table.add_column("incident", no_wrap=True)
    for r in rows:
        cells = (
            r["alert_id"],
            r["status"],
            r["severity"],
            r["detection"],
            short_principal(r["principal"]),
            r["first_seen"][:16].replace("T", " "),
            r["incident_id"],
        )
        table.add_row(*(safe_text(_cell(c)) for c in cells))
    console.print(table)
    say(console, f"{len(rows)} alert(s); detector alerts show ID --lake … for one")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    return str(value)


# --- one incident ---------------------------------------------------------------------------
def _show(
    args: argparse.Namespace,
    target: dict[str, Any],
    alerts: list[dict[str, Any]],
    actions: list[Action],
    console: Console,
) -> int:
    incident = target["incident_id"]
    signals = _signals(target, alerts)
    ids = {a["alert_id"] for a in signals}
    history = [a for a in actions if concerns(a, incident, ids)]
    latest = alert_statuses(actions)
    status = incident_status(signals, latest)
    signals = [{**a, "triage": status_of(a, latest)} for a in signals]
    doc = {
        "incident_id": incident,
        "status": status,
        "severity": max((a["severity"] for a in signals), key=severity_rank),
        "principal": target["principal"],
        "account_id": target["account_id"],
        "first_seen": min(a["first_seen"] for a in signals),
        "last_seen": max(a["last_seen"] for a in signals),
        "signals": signals,
        "history": [history_row(a) for a in history],
    }
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        return 0
    _render_incident(doc, console)
    return 0


def _render_incident(doc: dict[str, Any], console: Console) -> None:
    say(
        console,
        f"incident {doc['incident_id'] or '(none)'}: {doc['status']}, {doc['severity']}, "
        f"{doc['principal'] or 'no principal'} in {doc['account_id'] or 'an unknown account'}",
        "bold",
    )
    say(console, f"from {doc['first_seen']} to {doc['last_seen']}")
    say(console, "")
    say(console, "timeline", "bold")
    for a in doc["signals"]:
        say(
            console,
            f"  {a['first_seen']}  {a['severity']:<8} {a['detection']}  ({a['status']}, "
            f"{a['triage']})  {a['alert_id']}",
        )
        say(console, f"      {a['title']}")
        for reason in a["reasons"] or []:
            say(console, f"      - {reason['text']}")
    notified = [a for a in doc["signals"] if a["status"] in ("notify", "suppressed")]
    for a in notified:
        say(console, "")
        say(console, f"alert {a['alert_id']} ({a['detection']})", "bold")
        if a["buckets"]:
            say(console, f"  buckets: {', '.join(a['buckets'])}")
        if a["source_ips"]:
            say(console, f"  source addresses: {', '.join(a['source_ips'])}")
        ids = a["evidence_event_ids"]
        more = " …" if len(ids) > 5 else ""
        say(console, f"  evidence: {a['evidence_total']} event(s); ids {', '.join(ids[:5])}{more}")
        if a["runbook"]:
            say(console, f"  runbook: {a['runbook']}")
        if a["hunt"]:
            say(console, f"  evidence hunt: {a['hunt']}")
    say(console, "")
    say(console, "triage history", "bold")
    if not doc["history"]:
        say(console, "  (no action yet)")
    for h in doc["history"]:
        until = f" until {h['expires']}" if "expires" in h else ""
        why = h["reason"] or "(no reason)"
        say(console, f"  {h['acted_at']}  {h['action']}{until} by {h['acted_by']}: {why}")


# --- writing --------------------------------------------------------------------------------
def _suppress(
    args: argparse.Namespace, lake: AnyLake, alerts: list[dict[str, Any]], console: Console
) -> int:
    target = _find(args.id, alerts) if args.id else None
    principal = args.principal
    detection = args.detection
    if target is not None:
        detection = detection or target["detection"]
        if principal is None and not args.any_principal:
            # An anonymous caller's alert has no principal (an event rule's reads "-").
            principal = target["principal"] if target["principal"] not in ("", "-") else None
            if principal is None and args.bucket is None:
                raise UsageError(
                    f"alert {target['alert_id']} has no principal (an anonymous caller): "
                    "give --bucket, --principal, or --any-principal to silence "
                    f"{detection} for every caller"
                )
    if not (principal or detection or args.bucket):
        raise UsageError("suppress needs a scope: an ID, or --principal, --detection or --bucket")
    expires = args.expires
    if args.days is not None:
        expires = datetime.now(UTC) + timedelta(days=args.days)
    rule = Suppression(principal, detection, args.bucket, expires, args.reason, "")
    covered = [
        a
        for a in (_signals(target, alerts) if target is not None else [])
        if rule.covers(a["detection"], a["principal"], a["buckets"] or [])
    ]
    action = Action(
        "suppress",
        _who(args),
        args.reason,
        incident_id=(target["incident_id"] or None) if target else None,
        alert_id=target["alert_id"] if target else None,
        alert_ids=tuple(a["alert_id"] for a in covered),
        principal=principal,
        detection=detection,
        bucket=args.bucket,
        expires=expires,
    )
    lake.append_log(action_rows([action]))
    scope = ", ".join(
        f"{k} {v}"
        for k, v in (("principal", principal), ("detection", detection), ("bucket", args.bucket))
        if v
    )
    until = f" until {iso(expires)}" if expires else " with no expiry"
    say(
        console,
        f"suppressed {scope}{until} (by {action.acted_by}); from the next run (a running "
        "tail: its next checkpoint) such signals are recorded, not sent",
    )
    return 0


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    if os.environ.get("DETECTOR_ANALYST"):
        return os.environ["DETECTOR_ANALYST"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's user with no name
        raise UsageError("who is acting? give --by NAME or set DETECTOR_ANALYST") from None


def _time(text: str) -> datetime:
    """A day (``2026-12-01``) or an ISO time; naive means UTC."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day or an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
