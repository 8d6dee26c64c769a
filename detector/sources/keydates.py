"""Dates in AWS log key layouts, so a run can skip objects outside --since/--until unread.

CloudTrail: ``AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/…``; access logs, simple
prefix: ``<prefix>YYYY-MM-DD-HH-MM-SS-<id>``; access logs, date-partitioned prefix:
``<prefix><acct>/<region>/<bucket>/YYYY/MM/DD/YYYY-MM-DD-HH-MM-SS-<id>``.
"""

from __future__ import annotations

import re
from datetime import date

_ACCESS_LOG_NAME = re.compile(r"(?:^|/)(\d{4})-(\d{2})-(\d{2})-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]+$")
_DATE_FOLDERS = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/")


def key_date(key: str) -> date | None:
    """The day a log object covers, from its key; None when the key has no known layout."""
    m = _ACCESS_LOG_NAME.search(key) or _DATE_FOLDERS.search(key)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def in_range(key: str, since: date | None, until: date | None) -> bool:
    """Whether an object may hold events in [since, until]; unknown layouts are kept."""
    day = key_date(key)
    if day is None:
        return True
    if since is not None and day < since:
        return False
    return not (until is not None and day > until)


_CLOUDTRAIL_STAMP = re.compile(r"_(\d{8})T(\d{4})Z_")
_ACCESS_STAMP = re.compile(r"(?:^|/)(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9A-Za-z]+$")


def key_time(key: str) -> str:
    """A sortable time for a log object from its key (``""`` when it has none).

    CloudTrail names carry ``YYYYMMDDTHHMMZ``, access logs ``YYYY-MM-DD-HH-MM-SS``; sorting
    objects by it feeds event-time windows roughly in order, whatever the listing order
    (which groups CloudTrail by account and region first).
    """
    m = _CLOUDTRAIL_STAMP.search(key)
    if m:
        d, t = m.groups()
        return f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:]}"
    m = _ACCESS_STAMP.search(key)
    if m:
        y, mo, d, h, mi, _ = m.groups()
        return f"{y}-{mo}-{d}T{h}:{mi}"
    day = key_date(key)
    return day.isoformat() if day else ""
