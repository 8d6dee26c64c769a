"""Hunting: ad-hoc and saved SQL over the lake with in-process DuckDB, read-only.

    views.py    connect: read-only DuckDB views (events, requests, alerts, quarantine,
                features) over the committed files of a local or s3:// lake
    saved.py    saved hunts (``hunts/*.sql``): header, parameters bound as DuckDB parameters
    command.py  ``detector hunt``: SQL or a saved hunt, table/CSV/JSON lines/Parquet, --shell

This module imports no DuckDB, so alerts and sinks can build the hunt command cheaply::

    >>> evidence_hunt_command("3f2a9c", "s3://sec-lake/prod")
    'detector hunt alert-evidence --lake s3://sec-lake/prod --param alert_id=3f2a9c'
    >>> print(evidence_hunt_command("3f2a9c", "/data/my lake", "2026-11-02T21:14:03Z",
    ...                             "2026-11-03T00:02:10Z"))
    detector hunt alert-evidence --lake '/data/my lake' --param alert_id=3f2a9c \
--param since=2026-11-02 --param until=2026-11-03
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime

EVIDENCE_HUNT = "alert-evidence"


def _day(t: str | datetime) -> str:
    return t.date().isoformat() if isinstance(t, datetime) else str(t)[:10]


def evidence_hunt_command(
    alert_id: str,
    lake: str | os.PathLike[str],
    first_seen: str | datetime | None = None,
    last_seen: str | datetime | None = None,
) -> str:
    """The shell command that shows an alert's evidence events (for alert JSON and Slack).

    With the alert's ``first_seen`` and ``last_seen`` (ISO 8601 text or datetimes, UTC),
    the command names those days, so the hunt reads only their partitions.
    """
    argv = [
        "detector",
        "hunt",
        EVIDENCE_HUNT,
        "--lake",
        os.fspath(lake),
        "--param",
        f"alert_id={alert_id}",
    ]
    if first_seen:
        argv += ["--param", f"since={_day(first_seen)}"]
    if last_seen:
        argv += ["--param", f"until={_day(last_seen)}"]
    return shlex.join(argv)
