"""The lake as triage reads it: its alerts, once each, and its triage log. I/O.

``detector alerts`` and ``detector report`` both start here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detector.errors import UsageError
from detector.lakes import AnyLake, existing_format, open_lake
from detector.triage import Action, actions_of


def open_existing(location: str | Path, choice: Any = None) -> AnyLake:
    """The lake at ``location``, opened without creating anything (the triage log's own
    table excepted, on the first action); a usage error when there is no lake there: a typo
    must not make an empty one."""
    missing = UsageError(f"{location}: no lake here (run detector backfill or demo --lake)")
    if existing_format(location) is None:
        raise missing
    lake = open_lake(location, choice=choice, create=False)
    catalog = getattr(lake, "catalog", None)
    if catalog is not None:
        from detector.icelake.tables import LEDGER

        if not catalog.table_exists(LEDGER.identifier):
            raise missing
    return lake


def latest_alerts(lake: AnyLake) -> list[dict[str, Any]]:
    """Every signal once, in its latest written form (a tail writes one row per batch that
    raised it), oldest first."""
    from detector.alerts import alert_dicts
    from detector.lake import ALERTS

    latest: dict[str, dict[str, Any]] = {}
    for row in alert_dicts(lake.read_table(ALERTS)):
        known = latest.get(row["alert_id"])
        if known is None or row["last_seen"] >= known["last_seen"]:
            latest[row["alert_id"]] = row
    return sorted(latest.values(), key=lambda r: (r["first_seen"], r["alert_id"]))


def triage_log(lake: AnyLake) -> list[Action]:
    return actions_of(lake.read_log())
