"""A written batch to a committed one: the order backfill and the tail both follow.

Redelivered CloudTrail events are dropped from the batch's files first, so detection and
the lake see each event once; detection runs on what remains and adds its alerts and
features files; one manifest line then commits it all; only after that do the batch's
event ids count as the lake's.
"""

from __future__ import annotations

from collections.abc import Callable

from detector.dedup import SeenEvents
from detector.detect import DetectionRun
from detector.lake import BatchFiles
from detector.lakes import AnyLake
from detector.summary import BatchStats


def _nothing() -> None:
    return None


def commit_batch(
    lake: AnyLake,
    files: BatchFiles,
    stats: BatchStats,
    detection: DetectionRun | None,
    seen: SeenEvents,
    before_commit: Callable[[], None] = _nothing,
) -> None:
    """Deduplicate, detect, commit (or stage, in an Iceberg lake: the caller publishes).
    Raises before the commit if anything fails; the caller then owns the clean-up (nothing
    of the batch is committed)."""
    checked = seen.check(files)
    stats.count_duplicates(checked.dropped)
    if detection is not None:
        events = files.events_in_file_order()
        if events is None:  # written by a worker process: read back
            events = lake.read_batch_events(files)
        files.files += detection.on_batch(files.batch, events)
    before_commit()
    lake.commit(files)
    seen.confirm(checked)
