"""``detector detections list|test``: what the detector checks, and one detection on sample
events (fire or not, and why), like StreamAlert's rule tests or Panther's ``pat test``.

``test ID FILE`` judges the file's events with no history (``rule_test.judge``); with
``--state`` the whole engine runs from that checkpoint and the detection's alerts are shown
(learning, habit and incident decisions included). ``test ID --examples`` runs the
detection's embedded examples through the same code as the test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from detector.errors import UsageError
from detector.terminal import safe_text, say


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "detections",
        help="list the detections, or test one on sample events",
        description="List every registered detection, or run one on a sample file and say "
        "whether it fires and why.",
    )
    sub = p.add_subparsers(dest="detections_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="every detection: id, stage, severity, capabilities")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("--config", type=Path, help="settings file (disabled ones are marked)")
    t = sub.add_parser(
        "test",
        help="run one detection on sample events: fires or not, and why",
        description='EVENTS: a CloudTrail file ({"Records": [...]}, gzipped or not), a JSON '
        "list of records, one record, JSON lines of records, EventBridge envelopes, or S3 "
        "server access log lines. Exit status: 0 when the outcome is the expected one "
        "(--expect, or with --examples every example's), 1 when not.",
    )
    t.add_argument("id", metavar="ID", help="a detection id (detector detections list)")
    t.add_argument("events", nargs="?", type=Path, metavar="EVENTS", help="the sample file")
    t.add_argument("--examples", action="store_true", help="run its embedded examples")
    t.add_argument("--expect", choices=("fire", "quiet"), help="the outcome the test expects")
    t.add_argument("--config", type=Path, help="settings file (default: no org configured)")
    t.add_argument("--state", help="a state checkpoint: run the whole engine from it")
    t.add_argument("--model", default="default", help="with --state: its model")
    t.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, console: Console) -> int:
    from detector.config import load_settings
    from detector.detections import load_all

    registry = load_all()
    settings = load_settings(args.config)
    if args.detections_command == "list":
        return _list(registry, settings, args.format, console)
    d = registry.get(args.id)
    if d is None:
        raise UsageError(f"no detection {args.id!r} (detector detections list)")
    if args.examples:
        return _examples(d, console)
    if args.events is None:
        raise UsageError("give an EVENTS file, or --examples")
    data = _read(args.events)
    from detector.rule_test import sample_blobs

    blobs = sample_blobs(data, args.events.name)
    if args.state:
        found = _with_state(d.id, blobs, settings, args.state, args.model)
    else:
        from detector.rule_test import judge

        j = judge(d, blobs, settings)
        if j.rejects:
            for r in j.rejects:
                say(console, f"not parsed: {r.reason}: {r.detail}")
        found = [_finding(f, d.severity) for f in j.findings]
    fires = bool(found)
    if args.format == "json":
        sys.stdout.write(json.dumps({"detection": d.id, "fires": fires, "findings": found}) + "\n")
    else:
        say(console, f"{d.id}: {'FIRES' if fires else 'does not fire'}", "bold")
        for f in found:
            say(console, f"  {f['severity']}  {f['principal'] or 'no principal'}")
            for reason in f["reasons"]:
                say(console, f"    - {reason}")
            if f.get("status"):
                say(console, f"    status: {f['status']}")
    if args.expect is None:
        return 0
    return 0 if fires == (args.expect == "fire") else 1


def _read(path: Path) -> bytes:
    import gzip

    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except OSError as exc:  # unreadable, or a damaged gzip (BadGzipFile is an OSError)
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    except EOFError:
        raise UsageError(f"{path}: a truncated gzip") from None


def _finding(f: Any, default_severity: str) -> dict[str, Any]:
    return {
        "severity": f.severity or default_severity,
        "principal": f.principal,
        "first_seen": f.first_seen.isoformat() if f.first_seen else None,
        "reasons": [r.text for r in f.reasons],
        "evidence_event_ids": list(f.evidence_ids),
    }


def _with_state(
    ident: str, blobs: list[Any], settings: Any, state: str, model: str
) -> list[dict[str, Any]]:
    """The whole engine from a checkpoint (never saved back): this detection's alerts."""
    from detector.engine import Engine
    from detector.logtypes import parse_blobs
    from detector.scoring.model import load_model_spec
    from detector.scoring.state import load

    spec = load_model_spec(model)
    loaded = load(state, spec)
    if loaded is None:
        raise UsageError(f"{state}: no state checkpoint there (a run's is <lake>/state/...)")
    engine = Engine(settings, spec, loaded)
    events = parse_blobs(blobs).events
    alerts = engine.process(events) + engine.flush()
    return [
        {
            "severity": a.severity,
            "principal": a.principal,
            "first_seen": a.first_seen,
            "reasons": [r["text"] for r in a.reasons],
            "evidence_event_ids": a.evidence_event_ids,
            "status": a.status,
        }
        for a in alerts
        if a.detection == ident
    ]


def _examples(d: Any, console: Console) -> int:
    from detector.detections._examples import example_settings
    from detector.rule_test import example_blobs, judge, judgeable

    if not judgeable(d) or not d.examples:
        say(console, f"{d.id} has no examples that events alone can judge")
        return 0
    failed = 0
    for ex in d.examples:
        j = judge(d, example_blobs(ex), example_settings())
        ok = j.fires is ex.fires
        failed += not ok
        want = "fires" if ex.fires else "quiet"
        say(console, f"{'ok  ' if ok else 'FAIL'} {ex.name} (expected: {want})")
    say(console, f"{len(d.examples) - failed} of {len(d.examples)} examples as expected")
    return 1 if failed else 0


def _list(registry: dict[str, Any], settings: Any, fmt: str, console: Console) -> int:
    rows = [
        {
            "id": d.id,
            "stage": d.stage,
            "severity": d.severity,
            "capabilities": list(d.capabilities),
            "title": d.title,
            "enabled": d.id not in settings.disabled,
        }
        for d in sorted(registry.values(), key=lambda d: (min(d.capabilities), d.id))
    ]
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
        return 0
    table = Table("id", "stage", "severity", "capabilities", "title")
    for r in rows:
        off = "" if r["enabled"] else " (disabled)"
        table.add_row(
            safe_text(r["id"] + off),
            r["stage"],
            r["severity"],
            ", ".join(r["capabilities"]),
            safe_text(r["title"]),
        )
    console.print(table)
    say(console, f"{len(rows)} detections; detector detections test ID EVENTS runs one")
    return 0
