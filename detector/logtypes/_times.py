"""Event times in every form CloudTrail records arrive in, and the sane range they must fall in.

CloudTrail writes ``2026-11-02T10:00:01Z``; exports rewrite it: Athena and CloudTrail Lake
as ``2026-11-02 10:00:01.000000000``, others with an offset or as epoch seconds or
milliseconds, and Logstash/Elastic exports carry ``@timestamp`` instead of ``eventTime``.
A time in none of these forms, or outside ``EARLIEST`` .. now + ``FUTURE_SLACK``, is no time:
the record is quarantined, because a detector windowing on event time cannot place it (and a
time in the year 9999 would close every open window at once).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

EARLIEST = datetime(2006, 3, 14, tzinfo=UTC)
"""S3's launch: no S3 log is older."""
FUTURE_SLACK = timedelta(days=1)
"""Clock skew tolerated past the present."""

_UTC = {"time_zone": "UTC", "time_unit": "us", "strict": False}
_FORMS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%:z")
_EPOCH = r"^\d{9,14}(\.\d+)?$"
MS_FROM = 100_000_000_000
"""Epoch numbers this large are milliseconds (seconds would be past the year 5000)."""


def parse_event_times(text: pl.Series, fallback: pl.Series | None = None) -> pl.Series:
    """Times (UTC, microseconds) from text; null where no form parses or out of range.

    CloudTrail's own form is parsed for the whole column at once; only what it leaves null
    is tried in the other forms, so the common case costs one pass. ``fallback`` (e.g.
    ``@timestamp``) is used where ``text`` is null.
    """
    if fallback is not None:
        text = text.fill_null(fallback)
    text = text.cast(pl.String).str.strip_chars()
    times = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", **_UTC)  # type: ignore[arg-type]
    missing = times.is_null() & text.is_not_null()
    if missing.any():
        rows = missing.arg_true()
        times = times.scatter(rows, _other_forms(text.gather(rows)))
    return pl.select(in_sane_range(pl.lit(times))).to_series().alias("event_time")


def in_sane_range(times: pl.Expr) -> pl.Expr:
    """``times`` where they fall between S3's launch and a day from now, else null."""
    return pl.when(times.is_between(EARLIEST, datetime.now(UTC) + FUTURE_SLACK)).then(times)


def _other_forms(text: pl.Series) -> pl.Series:
    frame = text.to_frame("t")
    number = pl.col("t").str.contains(_EPOCH)
    value = pl.col("t").cast(pl.Float64, strict=False)
    micros = pl.when(value >= MS_FROM).then(value * 1_000).otherwise(value * 1_000_000)
    epoch = pl.when(number).then(
        micros.cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"), strict=False)
    )
    forms = [pl.col("t").str.to_datetime(f, **_UTC) for f in _FORMS]  # type: ignore[arg-type]
    return frame.select(pl.coalesce(epoch, *forms)).to_series()
