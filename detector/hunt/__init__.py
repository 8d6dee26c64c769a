"""Hunting: ad-hoc and saved SQL over the lake with in-process DuckDB, read-only.

    views.py    connect: read-only DuckDB views (events, requests, alerts, quarantine,
                features) over the committed files of a local or s3:// lake
    saved.py    saved hunts (``hunts/*.sql``): header, parameters bound as DuckDB parameters
    command.py  ``detector hunt``: SQL or a saved hunt, table/CSV/JSON lines/Parquet, --shell

This module imports no DuckDB, so alerts and sinks can build the hunt command cheaply::

    >>> evidence_hunt_command("3f2a9c", "s3://sec-lake/prod")
    'detector hunt alert-evidence --lake s3://sec-lake/prod --param alert_id=3f2a9c'
    >>> print(evidence_hunt_command("3f2a9c", "/data/my lake"))
    detector hunt alert-evidence --lake '/data/my lake' --param alert_id=3f2a9c
"""

from __future__ import annotations

import os
import shlex

EVIDENCE_HUNT = "alert-evidence"


def evidence_hunt_command(alert_id: str, lake: str | os.PathLike[str]) -> str:
    """The shell command that shows an alert's evidence events (for alert JSON and Slack)."""
    return shlex.join(["detector", "hunt", EVIDENCE_HUNT, "--lake", os.fspath(lake),
                       "--param", f"alert_id={alert_id}"])
