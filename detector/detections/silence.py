"""Telemetry silence: a log stream that always flows goes quiet while others go on (C27).

A stream is one source for one account and region (CloudTrail) or one bucket (access
logs). Its hourly volume is tracked; when a stream that has flowed every hour for a day
has nothing for ``GAP`` while the slowest other source has moved past that time, the logs
were stopped, redirected or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
import polars as pl

from detector.detections.base import Finding, Reason, SilenceDetection, register

GAP = timedelta(hours=2)
MIN_HISTORY_HOURS = 24
MIN_PER_HOUR = 5.0


@dataclass
class Stream:
    first_hour: datetime
    last_hour: datetime
    hours_with_events: int = 0
    events: int = 0
    alerted_for: datetime | None = None


@dataclass
class StreamWatch:
    streams: dict[str, Stream] = field(default_factory=dict)

    def add(self, enriched: pl.DataFrame) -> None:
        df = enriched.filter(pl.col("event_time").is_not_null()).with_columns(
            stream=pl.when(pl.col("source") == "s3_access")
            .then(pl.lit("s3_access:") + pl.col("bucket").fill_null("-"))
            .otherwise(
                pl.lit("cloudtrail:")
                + pl.col("recipient_account_id").fill_null("-")
                + pl.lit(":")
                + pl.col("aws_region").fill_null("-")
            ),
            hour=pl.col("event_time").dt.truncate("1h"),
        )
        per_hour = df.group_by("stream", "hour").len().sort("hour")
        for stream, hour, n in per_hour.iter_rows():
            s = self.streams.get(stream)
            if s is None:
                self.streams[stream] = Stream(hour, hour, 1, n)
                continue
            if hour > s.last_hour:
                s.hours_with_events += 1
                s.last_hour = hour
            s.events += n

    def to_state(self) -> StreamWatchState:
        return StreamWatchState(
            {
                name: StreamState(
                    s.first_hour, s.last_hour, s.hours_with_events, s.events, s.alerted_for
                )
                for name, s in self.streams.items()
            }
        )

    @classmethod
    def from_state(cls, state: StreamWatchState) -> StreamWatch:
        for name, s in state.streams.items():
            if s.last_hour < s.first_hour:
                raise ValueError(f"streams[{name!r}]: last_hour is before first_hour")
        return cls(
            {
                name: Stream(
                    s.first_hour, s.last_hour, s.hours_with_events, s.events, s.alerted_for
                )
                for name, s in state.streams.items()
            }
        )


Hour = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class StreamState(msgspec.Struct, forbid_unknown_fields=True):
    """One log stream's hourly volume in a checkpoint (see ``Stream``)."""

    first_hour: Hour
    last_hour: Hour
    hours_with_events: Count
    events: Count
    alerted_for: Hour | None
    """The silence already alerted (its start), so it is not raised twice."""


class StreamWatchState(msgspec.Struct, forbid_unknown_fields=True):
    streams: dict[str, StreamState]
    """By stream: ``cloudtrail:<account>:<region>`` or ``s3_access:<bucket>``."""


@register
class TelemetrySilence(SilenceDetection):
    id = "telemetry_silence"
    title = "A log stream that always flows went silent"
    severity = "medium"
    capabilities = ("C27",)
    attack = ("T1562.008",)
    kind = "anomaly"
    learns = True
    dedup_by = ("principal",)
    dedup_window = timedelta(hours=24)
    runbook = (
        "Check the trail's status and event selectors, the bucket's logging setting "
        "and the log bucket's policy; find who changed them."
    )

    def check(self, watch: StreamWatch, watermark: datetime | None) -> list[Finding]:
        if watermark is None:
            return []
        out = []
        for name, s in watch.streams.items():
            span = (s.last_hour - s.first_hour) / timedelta(hours=1) + 1
            steady = (
                span >= MIN_HISTORY_HOURS
                and s.hours_with_events >= 0.95 * span
                and s.events / span >= MIN_PER_HOUR
            )
            silent_since = s.last_hour + timedelta(hours=1)
            if not steady or watermark - silent_since < GAP or s.alerted_for == silent_since:
                continue
            s.alerted_for = silent_since
            typical = s.events / span
            reasons = [
                Reason(
                    "stream_volume",
                    f"0 events since {silent_since:%Y-%m-%d %H:%M}",
                    f"{typical:,.0f} events/hour",
                    f"{name} sent {typical:,.0f} events every hour for "
                    f"{span:.0f} h, then nothing since {silent_since:%H:%M} UTC "
                    "while other logs continue",
                )
            ]
            bucket = name.split(":", 1)[1] if name.startswith("s3_access:") else None
            out.append(
                Finding(
                    detection=self.id,
                    key=(name,),
                    first_seen=silent_since,
                    last_seen=watermark,
                    principal=name,
                    account_id=None,
                    evidence_ids=[],
                    evidence_total=0,
                    reasons=reasons,
                    buckets=[bucket] if bucket else [],
                    score=5.0,
                    severity="high" if name.startswith("cloudtrail") else "medium",
                )
            )
        return out
