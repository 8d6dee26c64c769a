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
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from detector import failpoints
from detector.blob import ObjectRef
from detector.errors import LakeError, infrastructure
from detector.logtypes.base import Reject
from detector.parquet_layout import write_parquet_stream
from detector.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA, SOURCE_CLOUDTRAIL

log = logging.getLogger(__name__)

EVENTS = "events"
QUARANTINE = "quarantine"
ALERTS = "alerts"
FEATURES = "features"
TRIAGE = "triage"
MANIFEST = "_manifest"
UNKNOWN_DATE = "unknown"
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
    """A local lake directory. Writers call ``write_batch`` (any process) then ``commit``.

    Each ``commit`` is durable at once; ``publish`` only reports the batches committed
    since it was last called (the Iceberg lake commits a group there)."""

    format = "parquet"

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
        self._committed: set[str] | None = None
        """Committed batch ids, once read (``recover``) and as committed since."""
        self._published: list[str] = []
        self.location = self.address = str(self.root)
        self.commits = 0
        self.commit_seconds = 0.0
        """Commits made through this object, and the time they took (run summaries)."""

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

    def recover(self) -> None:
        """Delete what a crash left of uncommitted batches."""
        self._committed = {str(e["batch"]) for e in self._manifest_entries()}
        self.remove_uncommitted(self._committed)

    def discard(self) -> None:
        """Delete files of batches not committed (a run that ends in failure or a stop)."""
        if self._committed is None:
            self._committed = {str(e["batch"]) for e in self._manifest_entries()}
        self.remove_uncommitted(self._committed)

    def ingested(self, identities: Iterable[str]) -> set[str]:
        """Which of these objects a committed batch read (the manifest, read whole)."""
        seen = {
            ObjectRef(o["uri"], "", int(o["size"]), o.get("etag")).identity
            for entry in self._manifest_entries()
            for o in entry.get("objects", ())
        }
        return seen.intersection(identities)

    def publish_due(self) -> bool:
        return True

    def housekeep(self, keep: timedelta | None = None, force: bool = False) -> None:
        """Nothing to expire: the manifest is the Parquet lake's whole history."""

    def publish(self) -> list[str]:
        published, self._published = self._published, []
        return published

    def location_of(self, rel: str) -> str:
        return str(self.root / rel)

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
        started = time.perf_counter()
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
        if self._committed is not None:
            self._committed.add(files.batch)
        self._published.append(files.batch)
        self.commits += 1
        self.commit_seconds += time.perf_counter() - started

    def remove_files(self, files: BatchFiles) -> None:
        """Delete the files of a batch that will not be committed (best effort: whatever is
        left is removed when the lake is next opened)."""
        for rel in files.files:
            for path in (self.root / rel, self.root / (rel + ".tmp")):
                with contextlib.suppress(OSError):
                    path.unlink()

    def events_of(self, entry: dict[str, Any]) -> pa.Table | None:
        """A committed batch's events (detection's replay after a restart)."""
        files = [
            self.root / str(f) for f in entry.get("files", ()) if str(f).startswith(EVENTS + "/")
        ]
        if entry.get("flush") or not files:
            return None
        return pa.concat_tables([pq.read_table(f, schema=EVENT_SCHEMA) for f in files])

    def recent_objects(self, since: float) -> list[tuple[str, float]]:
        """(identity, commit time) of objects committed since ``since`` (epoch seconds)."""
        out = []
        for entry in self._manifest_entries():
            at = _epoch(str(entry.get("committed_at", "")))
            if at >= since:
                out += [
                    (ObjectRef(o["uri"], "", int(o["size"]), o.get("etag")).identity, at)
                    for o in entry.get("objects", ())
                ]
        return out

    def event_ids(self, day: str) -> pa.Array:
        """The CloudTrail event ids committed for one day (``unknown``: no event time)."""
        prefix = f"{EVENTS}/source={SOURCE_CLOUDTRAIL}/date={day}"
        paths = [p for p in self.committed_files(prefix) if p.exists()]
        chunks = [c for p in paths for c in pq.read_table(p, columns=["event_id"]).column(0).chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())

    def read_table(self, name: str) -> pa.Table | None:
        """A whole data table as committed (None when nothing was committed to it)."""
        paths = self.committed_files(name)
        if not paths:
            return None
        return pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")

    def read_file(
        self, rel: str, columns: list[str] | None = None, schema: pa.Schema | None = None
    ) -> pa.Table:
        return pq.read_table(self.root / rel, columns=columns, schema=schema)

    def read_between(
        self, name: str, keys: tuple[str, list[str]], column: str, start: datetime, end: datetime
    ) -> pa.Table | None:
        """Rows of a table whose ``keys[0]`` is one of ``keys[1]`` and whose ``column`` is in
        [start, end), filtered as the files are read (row groups skipped by statistics)."""
        import pyarrow.dataset as ds

        paths = self.committed_files(name)
        if not paths:
            return None
        field = ds.field
        where = (
            field(keys[0]).isin(keys[1])
            & (field(column) >= pa.scalar(start, pa.timestamp("us", tz="UTC")))
            & (field(column) < pa.scalar(end, pa.timestamp("us", tz="UTC")))
        )
        tables = [ds.dataset(str(p), format="parquet").to_table(filter=where) for p in paths]
        return pa.concat_tables(tables, promote_options="permissive")

    def append_log(self, rows: pa.Table) -> None:
        """Append rows to the triage log: one new file under ``triage/``, written whole
        then renamed, outside the manifest (no writer lock: a tail may be running)."""
        self.write_file(
            f"{TRIAGE}/{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.parquet", rows
        )

    def read_log(self) -> pa.Table | None:
        """The triage log (None when nobody has acted yet)."""
        try:
            paths = sorted((self.root / TRIAGE).glob("*.parquet"))
            tables = [pq.read_table(p) for p in paths]
        except OSError as exc:
            raise infrastructure(exc, f"reading the triage log of {self.root}") from exc
        return pa.concat_tables(tables, promote_options="permissive") if tables else None

    def write_rows(self, name: str, batch: str, rows: pa.Table) -> list[str]:
        """Write rows of a data table (alerts, features…) for a batch; the files written."""
        rel = f"{name}/part-{batch}.parquet"
        self.write_file(rel, rows)
        return [rel]

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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            failpoints.hit("lake.write")
            write_parquet_stream(table, tmp)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise infrastructure(exc, f"writing {rel} in the lake {self.root}") from exc


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


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
    """All events in a lake of either format (tests, reports; hunting uses DuckDB)."""
    return _read_all(root, EVENTS, EVENT_SCHEMA)


def read_quarantine(root: str | os.PathLike[str]) -> pa.Table:
    return _read_all(root, QUARANTINE, QUARANTINE_SCHEMA)


def read_alerts(root: str | os.PathLike[str]) -> pa.Table | None:
    """Every alert row in a lake (None when it has none)."""
    return _read_all(root, ALERTS, None)


def _read_all(root: str | os.PathLike[str], name: str, schema: pa.Schema | None) -> pa.Table:
    if (Path(root) / "catalog.db").is_file():
        from detector.icelake.catalog import open_catalog
        from detector.icelake.tables import NAMESPACE

        catalog = open_catalog(root, create=False)
        if not catalog.table_exists(f"{NAMESPACE}.{name}"):
            return schema.empty_table() if schema is not None else None
        table = catalog.load_table(f"{NAMESPACE}.{name}").scan().to_arrow()
        return table.select(schema.names).cast(schema) if schema is not None else table
    files = sorted((Path(root) / name).rglob("*.parquet"))
    if not files:
        return schema.empty_table() if schema is not None else None
    parts = [pq.read_table(f, schema=schema) for f in files]
    return pa.concat_tables(parts, promote_options="permissive")
