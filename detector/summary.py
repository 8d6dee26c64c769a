"""What a run did, in numbers: printed at the end and written by ``--summary FILE``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from detector.logtypes.base import Reject


@dataclass
class BatchStats:
    """Counts from one batch; small and picklable so worker processes can return them."""

    objects_read: int = 0
    objects_failed: int = 0
    bytes_read: int = 0
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    rejected_records: Counter[str] = field(default_factory=Counter)
    unknown_size_rejects: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    """Events dropped as copies of events already stored (CloudTrail redelivery), by source."""
    ray_nodes: Counter[str] = field(default_factory=Counter)
    """Batches parsed by Ray tasks, by the node that ran them (``--engine ray``)."""

    def count_events(self, events: pa.Table, sign: int = 1) -> None:
        if not events.num_rows:
            return
        counts = events.group_by(["source", "event_name"]).aggregate([("source", "count")])
        for src, name, n in zip(
            counts.column("source").to_pylist(),
            counts.column("event_name").to_pylist(),
            counts.column("source_count").to_pylist(),
            strict=True,
        ):
            self.events[(src or "unknown", name or "(none)")] += sign * n

    def count_duplicates(self, dropped: pa.Table | None) -> None:
        """Events counted as parsed that turned out to be copies: moved to ``duplicates``."""
        if dropped is None or not dropped.num_rows:
            return
        self.count_events(dropped, sign=-1)
        self.events = +self.events  # drop the zero counts
        for src in dropped.column("source").to_pylist():
            self.duplicates[src or "unknown"] += 1

    def count_rejects(self, rejects: list[Reject]) -> None:
        for r in rejects:
            self.rejects[r.reason] += 1
            if r.records is None:
                self.unknown_size_rejects[r.reason] += 1
            else:
                self.rejected_records[r.reason] += r.records


@dataclass
class RunSummary:
    """The whole run; ``exit_code`` follows the CLI contract (1 only if nothing processed)."""

    sources: list[str]
    lake: str
    kind: str = "backfill"
    """``backfill`` or ``tail``: what the summary is of (a tail lists no objects)."""
    objects_listed: int = 0
    objects_already_ingested: int = 0
    objects_out_of_range: int = 0
    batches: int = 0
    seconds: float = 0.0
    totals: BatchStats = field(default_factory=BatchStats)
    source_errors: list[str] = field(default_factory=list)
    alerts: dict[str, Any] | None = None
    stopped: str | None = None
    """Why the run stopped early on a failure of our own (disk full...): exit status 3."""
    interrupted: int | None = None
    """The signal that stopped the run early (Ctrl-C: SIGINT): exit status 128 + it."""
    objects_not_ingested: int = 0
    """Objects planned but not committed (a stop or failure): read again on the next run."""
    detection_errors: dict[str, int] = field(default_factory=dict)
    """Detections that raised, by id, and how often (the others ran on regardless)."""
    partitions: dict[str, int] | None = None
    """With ``--partitions``: the actors holding the detection state, and the times
    detection went back to the checkpoint because one was lost."""
    commits: int = 0
    """Commits to the lake (manifest lines, or Iceberg commit groups)."""
    commit_seconds: float = 0.0
    """Time spent in them."""

    def add(self, stats: BatchStats) -> None:
        t = self.totals
        t.objects_read += stats.objects_read
        t.objects_failed += stats.objects_failed
        t.bytes_read += stats.bytes_read
        t.events.update(stats.events)
        t.rejects.update(stats.rejects)
        t.rejected_records.update(stats.rejected_records)
        t.unknown_size_rejects.update(stats.unknown_size_rejects)
        t.skipped.update(stats.skipped)
        t.duplicates.update(stats.duplicates)
        t.ray_nodes.update(stats.ray_nodes)
        self.batches += 1

    @property
    def events_total(self) -> int:
        return sum(self.totals.events.values())

    @property
    def exit_code(self) -> int:
        """128 + signal when interrupted, 3 when our own machine failed, else non-zero only
        when nothing could be processed."""
        if self.interrupted:
            return 128 + int(self.interrupted)
        if self.stopped:
            return 3
        if self.source_errors and not self.objects_listed:
            return 1
        if self.objects_listed == 0:
            return 1
        new_objects = self.objects_listed - self.objects_already_ingested
        new_objects -= self.objects_out_of_range
        if new_objects <= 0:
            return 0
        processed = self.events_total or sum(self.totals.skipped.values())
        return 0 if processed else 1

    def to_dict(self) -> dict[str, Any]:
        t = self.totals
        by_source: Counter[str] = Counter()
        by_type: dict[str, dict[str, int]] = {}
        for (src, name), n in sorted(t.events.items()):
            by_source[src] += n
            by_type.setdefault(src, {})[name] = n
        seconds = max(self.seconds, 1e-9)
        return {
            "kind": self.kind,
            "sources": self.sources,
            "lake": self.lake,
            "objects": {
                "listed": self.objects_listed,
                "already_ingested": self.objects_already_ingested,
                "out_of_range": self.objects_out_of_range,
                "read": t.objects_read,
                "failed": t.objects_failed,
                "skipped": dict(t.skipped),
            },
            "bytes_read": t.bytes_read,
            "events": {
                "total": self.events_total,
                "by_source": dict(by_source),
                "by_source_and_type": by_type,
            },
            "rejects": {
                reason: {
                    "rejects": n,
                    "records": t.rejected_records.get(reason, 0),
                    "of_unknown_size": t.unknown_size_rejects.get(reason, 0),
                }
                for reason, n in sorted(t.rejects.items())
            },
            "records_quarantined": sum(t.rejected_records.values()),
            "duplicates": dict(t.duplicates),
            "source_errors": self.source_errors,
            "stopped": self.stopped,
            "interrupted": self.interrupted is not None,
            "objects_not_ingested": self.objects_not_ingested,
            "detection_errors": self.detection_errors,
            "alerts": self.alerts,
            "batches": self.batches,
            **(
                {"ray": {"batches": nodes.total(), "nodes": len(nodes)}}
                if (nodes := self.totals.ray_nodes)
                else {}
            ),
            **({"partitions": self.partitions} if self.partitions is not None else {}),
            "lake_commits": {"count": self.commits, "seconds": round(self.commit_seconds, 3)},
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_total / seconds, 1),
            "mb_per_second": round(t.bytes_read / 1e6 / seconds, 2),
            "exit_code": self.exit_code,
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
