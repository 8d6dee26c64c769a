"""CloudTrail redelivery: an event whose ``eventID`` is already in the lake is stored once.

CloudTrail may deliver an event more than once, and an organisation trail beside an account
trail delivers every event of that account twice, to two buckets. Left alone, each copy
would count twice in every volume baseline. So each batch's CloudTrail events are checked
against the event ids the lake already holds for the same days (an event's copies share its
time, hence its day partition), and against each other; copies are dropped before the
batch commits, and counted.

Ids are kept as 64-bit hashes in sorted arrays, per day, loaded from the lake the first time
a day is touched and kept for the most recent ``DAYS_KEPT`` days touched: memory follows the
event rate, not the lake's size. (Two different ids sharing a hash in one day: about one
chance in 10^5 at ten million events a day.)
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from detector.lake import EVENTS, BatchFiles
from detector.lakes import AnyLake
from detector.schema import EVENT_SCHEMA, SOURCE_CLOUDTRAIL

log = logging.getLogger(__name__)

DAYS_KEPT = 4
_CLOUDTRAIL_FILE = re.compile(
    rf"^{EVENTS}/(?:data/)?(?:source={SOURCE_CLOUDTRAIL}/)?date=([^/]+)/"
    rf"(?:source={SOURCE_CLOUDTRAIL}/)?part-[^/]*\.parquet$"
)


def cloudtrail_day(rel: str) -> str | None:
    """The day of a batch's CloudTrail events file, in either lake's layout (else None):
    ``events/source=cloudtrail/date=D/…`` or ``events/data/date=D/source=cloudtrail/…``."""
    m = _CLOUDTRAIL_FILE.match(rel)
    if m is None or f"source={SOURCE_CLOUDTRAIL}/" not in rel:
        return None
    return m.group(1)


_MERGE_AT = 1 << 16


def _hashes(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit hashes of event ids (the caller leaves nulls out)."""
    series = pl.from_arrow(ids)
    assert isinstance(series, pl.Series)
    return series.cast(pl.String).hash(seed=0x5EED).to_numpy()


@dataclass
class _Day:
    """One day's ids: a sorted array, plus recent additions merged in now and then."""

    sorted_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    recent: list[np.ndarray] = field(default_factory=list)
    recent_count: int = 0

    def contains(self, h: np.ndarray) -> np.ndarray:
        found = np.zeros(len(h), bool)
        if self.sorted_ids.size:
            pos = np.searchsorted(self.sorted_ids, h)
            pos[pos == self.sorted_ids.size] = 0
            found |= self.sorted_ids[pos] == h
        for part in self.recent:
            found |= np.isin(h, part)
        return found

    def add(self, h: np.ndarray) -> None:
        self.recent.append(h)
        self.recent_count += h.size
        if self.recent_count >= max(_MERGE_AT, self.sorted_ids.size // 8):
            self.sorted_ids = np.unique(np.concatenate([self.sorted_ids, *self.recent]))
            self.recent, self.recent_count = [], 0


@dataclass
class Checked:
    """What ``check`` found: copies dropped, and the ids to remember once committed."""

    dropped: pa.Table | None = None
    new: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return 0 if self.dropped is None else self.dropped.num_rows


class SeenEvents:
    """The CloudTrail event ids of a lake's recent days, for dropping redelivered copies."""

    def __init__(self, lake: AnyLake, days_kept: int = DAYS_KEPT) -> None:
        self.lake = lake
        self.days_kept = days_kept
        self._days: OrderedDict[str, _Day] = OrderedDict()

    def check(self, files: BatchFiles) -> Checked:
        """Drop the batch's copies of events already seen (in the lake or earlier in the
        batch), rewriting its files that held any; ``confirm`` once it is committed."""
        out = Checked()
        seen_here: dict[str, list[np.ndarray]] = {}
        dropped: list[pa.Table] = []
        for n, rel in enumerate(list(files.files)):
            day = cloudtrail_day(rel)
            if day is None:
                continue
            part = files.parts[n] if n < len(files.parts) else None
            ids = (
                part.column("event_id")
                if part is not None
                else self.lake.read_file(rel, columns=["event_id"]).column("event_id")
            )
            valid = np.asarray(pc.is_valid(ids).to_numpy(zero_copy_only=False))
            h = _hashes(ids)
            dup = self._day(day).contains(h)
            earlier = seen_here.setdefault(day, [])
            for prior in earlier:
                dup |= np.isin(h, prior)
            first = pl.Series(h).is_first_distinct().to_numpy()
            dup = (dup | ~first) & valid
            earlier.append(h[valid & ~dup])
            if dup.any():
                table = part if part is not None else self.lake.read_file(rel, schema=EVENT_SCHEMA)
                dropped.append(table.filter(pa.array(dup)))
                kept = table.filter(pa.array(~dup))
                self.lake.write_file(rel, kept)  # still uncommitted: rewritten in place
                if part is not None:
                    files.parts[n] = kept
        out.new = {day: np.concatenate(parts) for day, parts in seen_here.items() if parts}
        if dropped:
            out.dropped = pa.concat_tables(dropped)
            files.events -= out.dropped.num_rows
        return out

    def confirm(self, checked: Checked) -> None:
        """The batch is committed: its ids are now the lake's."""
        for day, h in checked.new.items():
            if h.size:
                self._day(day).add(h)

    def _day(self, day: str) -> _Day:
        known = self._days.get(day)
        if known is not None:
            self._days.move_to_end(day)
            return known
        known = _Day()
        ids = self.lake.event_ids(day)
        if len(ids):
            ids = ids.filter(pc.is_valid(ids))
            known.sorted_ids = np.unique(_hashes(ids))
            log.debug(
                "%s: %d event ids of %s loaded for duplicate checks",
                self.lake.location,
                known.sorted_ids.size,
                day,
            )
        self._days[day] = known
        while len(self._days) > self.days_kept:
            self._days.popitem(last=False)
        return known
