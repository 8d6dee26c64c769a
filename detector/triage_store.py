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
    """The lake at ``location``; a usage error when there is no lake there (a typo must not
    make an empty one). An existing lake opens as its writers open it, so a lake an older
    version wrote gains today's columns."""
    missing = UsageError(f"{location}: no lake here (run detector backfill or demo --lake)")
    fmt = existing_format(location)
    if fmt is None:
        raise missing
    if fmt == "iceberg":
        from detector.icelake.catalog import open_catalog
        from detector.icelake.tables import LEDGER

        if not open_catalog(location, choice, create=False).table_exists(LEDGER.identifier):
            raise missing
    return open_lake(location, choice=choice)


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
