"""Event-time window features per principal, tolerant of late and out-of-order events.

Each batch of enriched events is reduced to partial aggregates per (principal, window);
partials of the same window from later batches merge into it. A window is final once the
watermark (the newest event time of the slowest source, minus the allowed lateness) has
passed its end; final windows are what the models score. Events of a window that already
closed form a late partial window of their own, scored like any other.

Distinct counts keep their distinct values while a window is open (capped), so memory is
bounded by open windows × active principals, not by events. Every feature is documented in
docs/features.md.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
import polars as pl
import pyarrow as pa

DISTINCT_CAP = 5000
"""Distinct values kept per open window and feature; the count saturates here."""

COUNTS: dict[str, pl.Expr] = {
    "n_events": pl.len(),
    "n_read": (pl.col("op_class") == "read").sum(),
    "n_write": (pl.col("op_class") == "write").sum(),
    "n_list": (pl.col("op_class") == "list").sum(),
    "n_delete": pl.col("objects_deleted").sum(),
    "n_permission": (pl.col("op_class") == "permission").sum(),
    "n_config": (pl.col("op_class") == "config").sum(),
    "n_recon": pl.col("is_recon").sum(),
    "bytes_out": pl.col("bytes_out").fill_null(0).sum(),
    "bytes_in": pl.col("bytes_in").fill_null(0).sum(),
    "n_errors": pl.col("is_error").sum(),
    "n_denied": pl.col("is_denied").sum(),
    "n_public_ip": (pl.col("is_public_ip") & ~pl.col("is_presigned")).sum(),
    "n_no_vpce": (
        pl.col("vpc_endpoint_id").is_null()
        & (pl.col("source") == "cloudtrail")
        & pl.col("op_class").is_in(["read", "write", "list", "delete"])
    ).sum(),
    "n_foreign_vpce": pl.col("is_foreign_vpce").sum(),
    "n_foreign_bucket": pl.col("is_foreign_bucket").sum(),
    "n_presigned": pl.col("is_presigned").sum(),
    "n_non_tls": pl.col("is_non_tls").sum(),
    "n_sse_c": pl.col("is_sse_c").sum(),
    "n_version_deletes": pl.col("is_version_delete").sum(),
}
"""Additive features: partial windows merge by summing."""

DISTINCT: dict[str, str] = {
    "keys": "key",
    "prefixes": "key_prefix",
    "buckets": "bucket",
    "ip_prefixes": "ip_prefix",
    "agents": "agent_family",
    "vpces": "vpc_endpoint_id",
    "operations": "judged_operation",
    "presigned_fetches": "presigned_fetch",
    "data_buckets": "data_bucket",
}
"""Distinct-value features: partial windows merge by set union; ``n_<name>`` is the size."""

LEGACY_COLUMNS = {("operations", "event_name"): "judged_operation"}
"""(feature, column) pairs of older checkpoints → the column the feature reads now."""

KEY = ("principal", "window_start")
UNKNOWN_PRINCIPAL = "(unknown)"


def partial_windows(
    enriched: pl.DataFrame, minutes: int, distinct: dict[str, str] = DISTINCT
) -> pl.DataFrame:
    """Reduce a batch to one row per (principal, window) with counts and distinct lists."""
    # No time: no window to put it in (rules still see the event). No principal: counted
    # under "(unknown)", so that a burst of unattributable requests is still a window.
    df = enriched.filter(pl.col("event_time").is_not_null()).with_columns(
        pl.col("principal").fill_null(UNKNOWN_PRINCIPAL)
    )
    if df.is_empty():
        return empty_partials(distinct)
    return (
        df.with_columns(window_start=pl.col("event_time").dt.truncate(f"{minutes}m"))
        .group_by(*KEY)
        .agg(
            *(expr.cast(pl.Int64).alias(name) for name, expr in COUNTS.items()),
            *(
                pl.col(col).drop_nulls().unique().head(DISTINCT_CAP).alias(name)
                for name, col in distinct.items()
            ),
            pl.col("account_id").drop_nulls().first().alias("account_id"),
            pl.col("principal_type").drop_nulls().first().alias("principal_type"),
            pl.col("event_time").min().alias("first_seen"),
            pl.col("event_time").max().alias("last_seen"),
            pl.col("evidence_id").drop_nulls().head(20).alias("evidence"),
        )
    )


def empty_partials(distinct: dict[str, str] = DISTINCT) -> pl.DataFrame:
    return pl.DataFrame(schema=partials_schema(distinct))


def partials_schema(distinct: dict[str, str] = DISTINCT) -> pl.Schema:
    """The columns of partial (and open) windows."""
    return pl.Schema(
        {
            "principal": pl.String(),
            "window_start": pl.Datetime("us", "UTC"),
            **{n: pl.Int64() for n in COUNTS},
            **{n: pl.List(pl.String()) for n in distinct},
            "account_id": pl.String(),
            "principal_type": pl.String(),
            "first_seen": pl.Datetime("us", "UTC"),
            "last_seen": pl.Datetime("us", "UTC"),
            "evidence": pl.List(pl.String()),
        }
    )


def merge(partials: pl.DataFrame, distinct: dict[str, str] = DISTINCT) -> pl.DataFrame:
    """Combine partial rows of the same (principal, window)."""
    if partials.is_empty():
        return partials
    return partials.group_by(*KEY).agg(
        *(pl.col(n).sum() for n in COUNTS),
        *(_explode(n).unique().head(DISTINCT_CAP) for n in distinct),
        pl.col("account_id").drop_nulls().first(),
        pl.col("principal_type").drop_nulls().first(),
        pl.col("first_seen").min(),
        pl.col("last_seen").max(),
        _explode("evidence").head(20),
    )


def _explode(column: str) -> pl.Expr:
    return pl.col(column).list.explode(keep_nulls=False, empty_as_null=False)


BUCKET_SEPARATOR = " | "
BUCKET_FEATURES = ("n_read", "bytes_out", "n_write", "n_delete", "n_keys")
"""Volume features kept per principal×bucket too: a spike on one small bucket can hide in
a principal's large total."""


def bucket_view(enriched: pl.DataFrame) -> pl.DataFrame:
    """Data events keyed by principal×bucket, for the per-bucket windows."""
    return enriched.filter(
        pl.col("bucket").is_not_null() & pl.col("op_class").is_in(["read", "write", "delete"])
    ).with_columns(
        principal=pl.col("principal").fill_null(UNKNOWN_PRINCIPAL)
        + pl.lit(BUCKET_SEPARATOR)
        + pl.col("bucket")
    )


def finalize(windows: pl.DataFrame, distinct: dict[str, str] = DISTINCT) -> pl.DataFrame:
    """Closed windows as model input: distinct lists become counts; time-of-week added."""
    return windows.with_columns(
        *(pl.col(n).list.len().alias(f"n_{n}") for n in distinct),
        hour=pl.col("window_start").dt.hour(),
        weekday=pl.col("window_start").dt.weekday(),
    ).sort("window_start", "principal")


@dataclass
class WindowAggregator:
    """Open windows across batches; closes them as the watermark passes."""

    minutes: int = 5
    lateness: timedelta = timedelta(minutes=15)
    distinct: dict[str, str] = field(default_factory=lambda: dict(DISTINCT))
    """Which distinct-value features to keep (per-bucket windows need only keys)."""
    open: pl.DataFrame = field(default_factory=empty_partials)
    newest: dict[str, datetime] = field(default_factory=dict)
    """Newest event time seen per source: the watermark follows the slowest one."""

    def add(self, enriched: pl.DataFrame) -> None:
        for source, newest in (
            enriched.group_by("source").agg(pl.col("event_time").max()).iter_rows()
        ):
            if newest is not None and (source not in self.newest or newest > self.newest[source]):
                self.newest[source] = newest
        partial = partial_windows(enriched, self.minutes, self.distinct)
        if partial.is_empty():
            return
        if self.open.is_empty() and self.open.width != partial.width:
            self.open = empty_partials(self.distinct)
        self.open = compact(
            merge(pl.concat([self.open, partial], how="vertical_relaxed"), self.distinct)
        )

    def widen(self, distinct: dict[str, str]) -> None:
        """Also keep ``distinct`` features from now on (a checkpoint from before they were
        added): windows already open get them empty."""
        missing = {n: c for n, c in distinct.items() if n not in self.distinct}
        if not missing:
            return
        self.distinct = {**self.distinct, **missing}
        columns = partials_schema(self.distinct)
        self.open = self.open.with_columns(
            pl.lit([], dtype=pl.List(pl.String())).alias(n) for n in missing
        ).select(list(columns))

    @property
    def watermark(self) -> datetime | None:
        if not self.newest:
            return None
        return min(self.newest.values()) - self.lateness

    def close(self, flush: bool = False) -> pl.DataFrame:
        """Remove and return the windows that can no longer change (all of them on flush)."""
        if self.open.is_empty():
            return finalize(empty_partials(self.distinct), self.distinct)
        if flush:
            done, self.open = self.open, empty_partials(self.distinct)
            return finalize(done, self.distinct)
        mark = self.watermark
        if mark is None:
            return finalize(empty_partials(self.distinct), self.distinct)
        ends = pl.col("window_start") + timedelta(minutes=self.minutes)
        done = self.open.filter(ends <= mark)
        self.open = compact(self.open.filter(ends > mark))
        return finalize(done, self.distinct)

    def to_state(self) -> WindowsState:
        buffer = io.BytesIO()
        if self.open.is_empty():  # it may still have the default distinct columns: see add
            empty_partials(self.distinct).write_ipc_stream(buffer)
        else:  # zstd shrinks lists of keys several times
            self.open.write_ipc_stream(buffer, compression="zstd")
        return WindowsState(
            minutes=self.minutes,
            lateness=self.lateness,
            distinct=dict(self.distinct),
            open=buffer.getvalue(),
            newest=dict(self.newest),
        )

    @classmethod
    def from_state(cls, state: WindowsState) -> WindowAggregator:
        """Open windows from a checkpoint; the table is checked against the partials schema.

        Raises ValueError naming the field when the state is not one this code could save."""
        distinct = {n: LEGACY_COLUMNS.get((n, c), c) for n, c in state.distinct.items()}
        for name, column in distinct.items():
            if DISTINCT.get(name) != column:
                raise ValueError(f"distinct: unknown feature {name!r}: {column!r}")
        if state.lateness < timedelta(0):
            raise ValueError("lateness: negative")
        expected = partials_schema(distinct)
        try:
            table = pa.ipc.open_stream(state.open).read_all()
            table.validate(full=True)
        except (pa.ArrowException, ValueError) as exc:
            raise ValueError(f"open: not an Arrow IPC stream: {exc}") from None
        frame = pl.from_arrow(table)
        if not isinstance(frame, pl.DataFrame):
            raise ValueError(f"open: a {type(frame).__name__}, not a table")
        if frame.schema != expected:
            difference = _difference(frame.schema, expected)
            raise ValueError(f"open: not the open windows' schema ({difference})")
        if any(frame[k].null_count() for k in KEY):
            raise ValueError("open: null principal or window_start")
        return cls(
            minutes=state.minutes,
            lateness=state.lateness,
            distinct=distinct,
            open=frame,
            newest=dict(state.newest),
        )


def _difference(got: pl.Schema, expected: pl.Schema) -> str:
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    typed = [f"{c} is {got[c]}, not {t}" for c, t in expected.items() if c in got and got[c] != t]
    parts = [
        *(["missing " + ", ".join(missing)] if missing else []),
        *(["unexpected " + ", ".join(extra)] if extra else []),
        *typed,
    ]
    return "; ".join(parts) or "columns out of order"


class WindowsState(msgspec.Struct, forbid_unknown_fields=True):
    """A ``WindowAggregator`` in a checkpoint (docs/state.md)."""

    minutes: Annotated[int, msgspec.Meta(ge=1)]
    """Window width."""
    lateness: timedelta
    """Allowed lateness (ISO 8601 duration); the run's settings replace it on load."""
    distinct: dict[str, str]
    """Distinct-value features kept (name → event column), a subset of ``DISTINCT``."""
    open: bytes
    """The open partial windows: an Arrow IPC stream (base64 in JSON; zstd buffers unless
    empty) whose schema is ``partials_schema(distinct)``."""
    newest: dict[str, Annotated[datetime, msgspec.Meta(tz=True)]]
    """Newest event time seen per source (the watermark follows the slowest)."""


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy that owns exactly its data.

    Aggregated list columns are views into the buffers they were cut from (the exploded
    lists of every earlier merge); kept across batches, those buffers would pile up, about
    15 MB per 5,000-event batch in a tail. A round trip through Arrow IPC copies only what
    the frame holds, so open windows cost what they contain.
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed")
    buffer.seek(0)
    return pl.read_ipc(buffer)
