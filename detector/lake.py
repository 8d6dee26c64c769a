"""The Parquet lake: events, quarantine, and the manifest that makes ingestion idempotent.

Layout::

    <lake>/events/source=<source>/date=<YYYY-MM-DD>/part-<batch>-<n>.parquet   (zstd)
    <lake>/quarantine/date=<YYYY-MM-DD>/part-<batch>.parquet
    <lake>/alerts/part-<batch>.parquet            alerts raised while detecting the batch
    <lake>/features/part-<batch>.parquet          principal windows closed by the batch
    <lake>/_manifest/run-<start>-<pid>.jsonl    one line per committed batch

A batch's files are written first (each atomically, by rename); the manifest line that
names the batch, its files and its input objects is the commit. On open, files of batches
that never committed (a crash between the two) are deleted, so a re-run neither loses nor
duplicates rows, and objects named in the manifest (by URI, ETag and size) are not read again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from detector import failpoints
from detector.blob import ObjectRef
from detector.errors import LakeError, infrastructure
from detector.logtypes.base import Reject
from detector.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA

log = logging.getLogger(__name__)

EVENTS = "events"
QUARANTINE = "quarantine"
ALERTS = "alerts"
FEATURES = "features"
MANIFEST = "_manifest"
UNKNOWN_DATE = "unknown"
DICTIONARY_COLUMNS = frozenset(
    {
        "source",
        "event_name",
        "operation",
        "event_source",
        "event_type",
        "aws_region",
        "principal_arn",
        "principal_type",
        "principal_id",
        "account_id",
        "user_name",
        "access_key_id",
        "session_name",
        "session_issuer_arn",
        "invoked_by",
        "source_ip",
        "user_agent",
        "vpc_endpoint_id",
        "vpc_endpoint_account_id",
        "tls_version",
        "cipher_suite",
        "signature_version",
        "auth_method",
        "host_header",
        "bucket",
        "bucket_account_id",
        "bucket_owner",
        "recipient_account_id",
        "access_point_arn",
        "http_status",
        "error_code",
        "read_only",
        "management_event",
        "event_category",
        "sse",
        "kms_key_id",
        "acl_required",
        "source_region",
        "origin_object",
        "reason",
    }
)
"""Columns with few distinct values: dictionary-encoded. Ids, keys and raw JSON are not,
which saves the writer from trying (and failing) on every batch."""

STATISTICS_COLUMNS = frozenset(
    {
        "event_time",
        "source",
        "event_name",
        "principal_arn",
        "account_id",
        "bucket",
        "source_ip",
        "request_id",
        "event_id",
        "origin_object",
        "quarantined_at",
    }
)
"""Columns with min/max statistics, for row-group pruning in hunts."""

_PART = re.compile(r"^part-([0-9a-f]{32})(?:-\d+)?\.parquet$")


@dataclass
class BatchFiles:
    """What one batch wrote, ready to be committed by a manifest line."""

    batch: str
    objects: list[ObjectRef]
    files: list[str] = field(default_factory=list)
    events: int = 0
    rejects: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    """Stream positions (e.g. Kinesis sequence numbers) committed with this batch."""
    flush: bool = False
    """The batch closed every open detection window (end of a backfill)."""
    parts: list[pa.Table] = field(default_factory=list, repr=False)
    """The events as written, file by file (not pickled back from workers)."""

    def events_in_file_order(self) -> pa.Table | None:
        """The batch's events in the order a read-back gives: detection sees the same rows
        whether it runs now, in a worker's parent, or in a replay after a restart."""
        if not self.parts:
            return None if self.events else EVENT_SCHEMA.empty_table()
        return pa.concat_tables(self.parts) if len(self.parts) > 1 else self.parts[0]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "parts": []}

    def manifest_line(self) -> str:
        entry: dict[str, Any] = {
            "batch": self.batch,
            "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "objects": [{"uri": o.uri, "etag": o.etag, "size": o.size} for o in self.objects],
            "files": self.files,
            "events": self.events,
            "rejects": self.rejects,
        }
        if self.checkpoint:
            entry["checkpoint"] = self.checkpoint
        if self.flush:
            entry["flush"] = True
        return json.dumps(entry, separators=(",", ":"))


def new_batch_id() -> str:
    return uuid.uuid4().hex


class Lake:
    """A local lake directory. Writers call ``write_batch`` (any process) then ``commit``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if str(root).startswith("s3://"):
            raise LakeError(f"{root}: the ingest lake must be a local directory for now")
        try:
            for sub in (EVENTS, QUARANTINE, MANIFEST):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"{root}: cannot create the lake: {exc}") from exc
        self._run_file: Path | None = None
        self._lock_file: IO[str] | None = None

    def lock(self) -> None:
        """Hold the lake for this process: one writer at a time (released at exit).

        A second backfill or tail on the same lake would interleave manifests and state
        checkpoints; it fails at once instead, naming the lake.
        """
        import fcntl

        self._lock_file = (self.root / ".lock").open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise LakeError(f"{self.root}: another detector process is writing this lake") from None

    # --- manifest -------------------------------------------------------------------
    def entries(self) -> Iterable[dict[str, Any]]:
        """Committed batches' manifest entries, in commit order."""
        return self._manifest_entries()

    def committed_files(self, sub: str) -> list[Path]:
        """Committed files under ``sub`` (e.g. ``alerts``), in commit order."""
        return [
            self.root / str(f)
            for e in self._manifest_entries()
            for f in e.get("files", ())
            if str(f).startswith(sub + "/")
        ]

    def _manifest_entries(self) -> Iterable[dict[str, Any]]:
        for path in sorted((self.root / MANIFEST).glob("*.jsonl")):
            with path.open("r", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        log.warning(
                            "%s:%d: torn manifest line ignored (uncommitted batch)", path, n
                        )

    def committed(self) -> tuple[set[str], set[str]]:
        """(identities of objects already ingested, ids of committed batches)."""
        seen: set[str] = set()
        batches: set[str] = set()
        for entry in self._manifest_entries():
            batches.add(str(entry["batch"]))
            for o in entry.get("objects", ()):
                seen.add(ObjectRef(o["uri"], "", int(o["size"]), o.get("etag")).identity)
        return seen, batches

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every committed batch's ``checkpoint``, in commit order (for stream sources)."""
        return [
            e["checkpoint"]
            for e in self._manifest_entries()
            if isinstance(e.get("checkpoint"), dict)
        ]

    def remove_uncommitted(self, committed_batches: set[str]) -> int:
        """Delete files of batches with no manifest line (a crash before commit)."""
        removed = 0
        for sub in (EVENTS, QUARANTINE, ALERTS, FEATURES):
            for path in (self.root / sub).rglob("*"):
                if path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
                    removed += 1
                    continue
                m = _PART.match(path.name)
                if m and m.group(1) not in committed_batches:
                    path.unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.warning("removed %d file(s) of uncommitted batches from %s", removed, self.root)
        return removed

    def commit(self, files: BatchFiles) -> None:
        """Append the batch's manifest line and fsync it: from here on the batch exists.

        If writing or syncing fails, the line is cut off again (so the batch is surely not
        committed) and later commits go to a new manifest file, never after a torn line.
        """
        if self._run_file is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            self._run_file = self.root / MANIFEST / f"run-{stamp}-{os.getpid()}.jsonl"
        line = files.manifest_line() + "\n"
        try:
            with self._run_file.open("a", encoding="utf-8") as fh:
                size = fh.tell()
                try:
                    failpoints.hit("lake.commit")
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
                except OSError:
                    self._run_file = None
                    with contextlib.suppress(OSError):
                        fh.truncate(size)
                    raise
        except OSError as exc:
            raise infrastructure(exc, f"committing batch {files.batch} to {self.root}") from exc

    def remove_files(self, files: BatchFiles) -> None:
        """Delete the files of a batch that will not be committed (best effort: whatever is
        left is removed when the lake is next opened)."""
        for rel in files.files:
            for path in (self.root / rel, self.root / (rel + ".tmp")):
                with contextlib.suppress(OSError):
                    path.unlink()

    def read_batch_events(self, files: BatchFiles) -> pa.Table:
        """The events a batch wrote, read back (for detection after a worker wrote them)."""
        parts = [
            pq.read_table(self.root / f, schema=EVENT_SCHEMA)
            for f in files.files
            if f.startswith(EVENTS + "/")
        ]
        return pa.concat_tables(parts) if parts else EVENT_SCHEMA.empty_table()

    # --- writing --------------------------------------------------------------------
    def write_batch(
        self, batch: str, objects: Sequence[ObjectRef], events: pa.Table, rejects: Sequence[Reject]
    ) -> BatchFiles:
        """Write a batch's events and quarantine files (not yet committed)."""
        out = BatchFiles(batch, list(objects), events=events.num_rows, rejects=len(rejects))
        for (source, day), part in partition_by_day(events):
            rel = f"{EVENTS}/source={source}/date={day}/part-{batch}-{len(out.files)}.parquet"
            self.write_file(rel, part)
            out.files.append(rel)
            out.parts.append(part)
        if rejects:
            day = datetime.now(UTC).strftime("%Y-%m-%d")
            rel = f"{QUARANTINE}/date={day}/part-{batch}.parquet"
            self.write_file(rel, quarantine_table(rejects))
            out.files.append(rel)
        return out

    def write_file(self, rel: str, table: pa.Table) -> None:
        """Write (or rewrite) one file atomically; it is part of the lake once committed."""
        path = self.root / rel
        tmp = path.with_name(path.name + ".tmp")
        dictionary = [c for c in table.column_names if c in DICTIONARY_COLUMNS]
        stats = [c for c in table.column_names if c in STATISTICS_COLUMNS]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            failpoints.hit("lake.write")
            pq.write_table(
                table,
                tmp,
                compression="zstd",
                row_group_size=256 * 1024,
                use_dictionary=dictionary,
                write_statistics=stats,
            )
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise infrastructure(exc, f"writing {rel} in the lake {self.root}") from exc


def partition_by_day(events: pa.Table) -> list[tuple[tuple[str, str], pa.Table]]:
    """Split events by (source, UTC date of event_time); no time → date ``unknown``."""
    if not events.num_rows:
        return []
    keys = pl.from_arrow(events.select(["source", "event_time"]))
    assert isinstance(keys, pl.DataFrame)
    groups = (
        keys.with_row_index("row")
        .with_columns(
            pl.col("event_time").dt.strftime("%Y-%m-%d").fill_null(UNKNOWN_DATE).alias("date")
        )
        .group_by("source", "date", maintain_order=True)
        .agg("row")
    )
    out = []
    for source, day, rows in groups.iter_rows():
        part = events if len(rows) == events.num_rows else events.take(pa.array(rows))
        out.append(((source or "unknown", day), part))
    return out


def quarantine_table(rejects: Sequence[Reject]) -> pa.Table:
    now = datetime.now(UTC)
    capped = [r.capped() for r in rejects]
    return pa.Table.from_pydict(
        {
            "origin_object": [r.origin_object for r in capped],
            "origin_index": [r.origin_index for r in capped],
            "source": [r.source for r in capped],
            "reason": [r.reason for r in capped],
            "detail": [r.detail for r in capped],
            "records": [r.records for r in capped],
            "raw": [r.raw for r in capped],
            "quarantined_at": [now] * len(capped),
        },
        schema=QUARANTINE_SCHEMA,
    )


def read_events(root: str | os.PathLike[str]) -> pa.Table:
    """All events in a lake (tests and the demo; hunting uses DuckDB)."""
    files = sorted((Path(root) / EVENTS).rglob("*.parquet"))
    if not files:
        return EVENT_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=EVENT_SCHEMA) for f in files])


def read_quarantine(root: str | os.PathLike[str]) -> pa.Table:
    files = sorted((Path(root) / QUARANTINE).rglob("*.parquet"))
    if not files:
        return QUARANTINE_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=QUARANTINE_SCHEMA) for f in files])
