"""Ingestion's Iceberg lake: what backfill and the tail write through, batch by batch.

It offers the Parquet lake's interface (``detector.lake.Lake``), so ingestion, dedup and
detection work on either. The differences:

* Batches are **staged** by ``commit`` and made visible by ``publish``, a group at a time
  (``commit.commit``: data tables, then the ledger, whose commit is the commit point). An
  Iceberg commit costs 50–90 ms a table, so backfill publishes every ``GROUP_BATCHES``
  batches or ``GROUP_SECONDS`` seconds; the tail publishes every batch. Nothing of a
  staged batch counts (alerts delivered, state saved, messages acknowledged) before then.
* What was ingested is asked of the ledger for the objects listed, not read whole.
* Stream positions are merged into the ledger snapshot's summary: the latest one holds them
  all. A restart reads only the current ledger snapshot.
* A crash leaves data files no snapshot names. Readers never see them; ``detector lake
  expire`` deletes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import (
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
)
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from detector import failpoints
from detector.blob import ObjectRef
from detector.errors import LakeError, infrastructure
from detector.icelake import tables
from detector.icelake.catalog import CatalogChoice, WriterLock, is_remote, open_catalog
from detector.icelake.commit import BATCHES, CommitGroup, commit, recover
from detector.icelake.maintain import expire
from detector.icelake.write import write_file, write_partitions
from detector.lake import UNKNOWN_DATE, BatchFiles, quarantine_table
from detector.logtypes.base import Reject
from detector.schema import EVENT_SCHEMA, SOURCE_CLOUDTRAIL

log = logging.getLogger(__name__)

GROUP_SECONDS = 30.0
FLUSH = "detector.flush"
"""Ledger snapshot property: the batches that closed every detection window."""
CHECKPOINT = "detector.checkpoint"
"""Ledger snapshot property: every stream position committed so far (JSON)."""
LOOKUP_CHUNK = 5_000
"""Object identities asked of the ledger per scan."""
HOUSEKEEP_SECONDS = 600.0
HOUSEKEEP_COMMITS = 100
SNAPSHOT_RETENTION = timedelta(minutes=2)
"""A long-running writer (the tail) expires its snapshots older than this (or than what
its caller must keep), every ``HOUSEKEEP_COMMITS`` commits or ``HOUSEKEEP_SECONDS``.
Each commit's cost grows with the snapshots the table metadata holds (measured: 90 ms at
the first commit, 720 ms at the 350th); expiring keeps it near 140 ms."""


class IcebergLake:
    """A lake of Iceberg tables in a local folder (embedded catalog) or on S3."""

    format = "iceberg"

    def __init__(
        self,
        location: str | Path,
        choice: CatalogChoice | None = None,
        group_batches: int = 32,
        group_seconds: float = GROUP_SECONDS,
        create: bool = True,
    ) -> None:
        """``create=False``: a worker's view, writing data files into tables the committer
        made (it creates nothing, so its role needs no catalog write permission)."""
        self.remote = is_remote(location)
        self.address = str(location)
        """The lake as given (a folder or ``s3://``): what another process opens."""
        self.choice = choice
        """Its catalog (for a lake on S3), which another process opens too."""
        self.creates = create
        """False: a worker's view, which creates and evolves no table."""
        self.root = Path(location) if not self.remote else Path("/nonexistent-s3-lake")
        """The local folder (state, delivery outbox); meaningless for a lake on S3."""
        try:
            self.catalog: Catalog = open_catalog(location, choice, create)
            self._tables = {
                spec.name: tables.ensure_table(
                    self.catalog, spec, tables.KNOWN_SCHEMAS[spec.name], create
                )
                for spec in (tables.EVENTS, tables.QUARANTINE, tables.LEDGER)
            }
        except LakeError:
            raise
        except OSError as exc:
            raise infrastructure(exc, f"opening the lake {location}") from exc
        except Exception as exc:  # the catalog's own errors (SQLAlchemy, Glue, REST)
            raise LakeError(f"{location}: cannot open the Iceberg catalog: {exc}") from exc
        warehouse = str(self.catalog.properties.get("warehouse", "")).rstrip("/")
        self.location = warehouse or str(location).rstrip("/")
        self.io = self._tables[tables.EVENTS.name].io
        self.group_batches = group_batches
        self.group_seconds = group_seconds
        self._staged: list[BatchFiles] = []
        self._staged_at = 0.0
        self._schemas: dict[str, pa.Schema] = {}
        self._published: list[str] = []
        self._positions: dict[str, Any] = {}
        self._lock = WriterLock(location)
        self._broken = False
        self._housekept = time.monotonic()
        self._housekept_at_commit = 0
        self.commits = 0
        self.commit_seconds = 0.0
        """Commit groups published through this object, and the time they took."""

    # --- places -----------------------------------------------------------------------
    def location_of(self, rel: str) -> str:
        """A path in the lake (the state file…): local, or an ``s3://`` address."""
        return self._uri(rel) if self.remote else str(self.root / rel)

    def _uri(self, rel: str) -> str:
        return f"{self.location}/{rel}"

    def _rel(self, uri: str) -> str:
        prefix = self.location + "/"
        if not uri.startswith(prefix):
            raise LakeError(f"{uri} is not inside the lake {self.location}")
        return uri[len(prefix) :]

    def _table(self, spec: tables.TableSpec, schema: pa.Schema | None = None) -> Table:
        known = self._tables.get(spec.name)
        if known is not None and schema is None:
            return known
        table = tables.ensure_table(
            self.catalog,
            spec,
            schema or tables.KNOWN_SCHEMAS.get(spec.name, pa.schema([])),
            self.creates,
        )
        self._tables[spec.name] = table
        return table

    def _fresh(self, spec: tables.TableSpec) -> Table | None:
        """The table as committed now (None when it does not exist yet)."""
        if not self.catalog.table_exists(spec.identifier):
            return None
        table = self.catalog.load_table(spec.identifier)
        self._tables[spec.name] = table
        return table

    # --- start ------------------------------------------------------------------------
    def lock(self) -> None:
        """One writer per local lake (a lake on S3 has no lock: run one writer)."""
        self._lock.__enter__()

    def recover(self) -> None:
        """Roll back a group a crash left half-made; read the committed stream positions."""
        try:
            undone = recover(self.catalog)
        except OSError as exc:
            raise infrastructure(exc, f"recovering the lake {self.location}") from exc
        for table, ids in undone.items():
            log.warning(
                "%s: rolled back %d uncommitted batch(es) in %s", self.location, len(ids), table
            )
        self._broken = False
        ledger = self._fresh(tables.LEDGER)
        snapshot = ledger.current_snapshot() if ledger is not None else None
        text = _properties(snapshot).get(CHECKPOINT)
        self._positions = json.loads(text) if text else {}

    def ingested(self, identities: Iterable[str]) -> set[str]:
        """Which of these objects the ledger holds (scans pruned to them)."""
        wanted = sorted(set(identities))
        ledger = self._fresh(tables.LEDGER)
        if ledger is None or ledger.current_snapshot() is None or not wanted:
            return set()
        found: set[str] = set()
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            scan = ledger.scan(
                row_filter=In("object_identity", chunk), selected_fields=("object_identity",)
            )
            found.update(scan.to_arrow().column(0).to_pylist())
        return found

    # --- writing ----------------------------------------------------------------------
    def write_batch(
        self, batch: str, objects: Sequence[ObjectRef], events: pa.Table, rejects: Sequence[Reject]
    ) -> BatchFiles:
        """Write a batch's events and quarantine files (not yet committed)."""
        out = BatchFiles(batch, list(objects), events=events.num_rows, rejects=len(rejects))
        written = write_partitions(
            self._table(tables.EVENTS), tables.EVENTS, events, batch, self._write
        )
        out.files += [self._rel(uri) for uri, _ in written]
        out.parts += [part for _, part in written]
        if rejects:
            out.files += self.write_rows(tables.QUARANTINE.name, batch, quarantine_table(rejects))
        return out

    def write_rows(self, name: str, batch: str, rows: pa.Table) -> list[str]:
        """Write rows of a data table (alerts, features…) for a batch; the files written."""
        spec = _SPECS[name]
        table = self._tables.get(name)
        if table is None or not set(rows.schema.names) <= set(table.schema().column_names):
            # first rows of the table in this run, or a new column: create or evolve it
            table = self._table(spec, rows.schema)
        if name not in tables.KNOWN_SCHEMAS:
            self._schemas[name] = rows.schema
        return [
            self._rel(uri) for uri, _ in write_partitions(table, spec, rows, batch, self._write)
        ]

    def write_file(self, rel: str, table: pa.Table) -> None:
        """Rewrite one uncommitted file (dedup drops redelivered events from it)."""
        self._write(self._uri(rel), table)

    def _write(self, uri: str, rows: pa.Table) -> None:
        try:
            failpoints.hit("lake.write")
            write_file(self.io, uri, rows)
        except OSError as exc:
            raise infrastructure(exc, f"writing {uri}") from exc

    def read_file(
        self, rel: str, columns: list[str] | None = None, schema: pa.Schema | None = None
    ) -> pa.Table:
        with self.io.new_input(self._uri(rel)).open() as stream:
            return pq.read_table(stream, columns=columns, schema=schema)

    def remove_files(self, files: BatchFiles) -> None:
        """Delete the files of a batch that will not be committed (best effort: what is
        left, no snapshot names; ``detector lake expire`` deletes it)."""
        for rel in files.files:
            with contextlib.suppress(Exception):
                self.io.delete(self._uri(rel))

    # --- committing -------------------------------------------------------------------
    def commit(self, files: BatchFiles) -> None:
        """Stage the batch; ``publish`` makes it visible with the rest of its group.

        Only its names are kept, not its events: a group must not hold 32 batches' rows."""
        if not self._staged:
            self._staged_at = time.monotonic()
        self._staged.append(replace(files, parts=[]))

    def publish_due(self) -> bool:
        return bool(self._staged) and (
            len(self._staged) >= self.group_batches
            or time.monotonic() - self._staged_at >= self.group_seconds
        )

    def publish(self) -> list[str]:
        """Commit the staged group; the batch ids now visible (in order)."""
        staged, self._staged = self._staged, []
        if not staged:
            return []
        ids = [f.batch for f in staged]
        group = CommitGroup(ids, schemas=dict(self._schemas))
        for f in staged:
            for rel in f.files:
                group.files.setdefault(rel.split("/", 1)[0], []).append(self._uri(rel))
            group.objects += [(f.batch, o.identity) for o in f.objects]
        positions = self._positions
        for f in staged:
            positions = _merged(positions, f.checkpoint)
        flush = [f.batch for f in staged if f.flush]
        if flush:
            group.ledger_properties[FLUSH] = ",".join(flush)
        if positions:
            group.ledger_properties[CHECKPOINT] = json.dumps(positions, separators=(",", ":"))
        started = time.perf_counter()
        try:
            if self._broken:
                self.recover()
            failpoints.hit("lake.commit")
            commit(self.catalog, group)
        except Exception as exc:
            self._undo(staged)
            if isinstance(exc, OSError):
                raise infrastructure(exc, f"committing to the lake {self.location}") from exc
            raise LakeError(f"{self.location}: commit failed: {exc}") from exc
        self._positions = positions
        self.commits += 1
        self.commit_seconds += time.perf_counter() - started
        log.debug("committed %d batch(es) in %.3f s", len(ids), time.perf_counter() - started)
        return ids

    def _undo(self, staged: list[BatchFiles]) -> None:
        """After a failed publish: roll back what of the group reached the tables, then
        delete its files. If even that fails, the next publish (or start) rolls back first,
        and the files stay for ``detector lake expire`` (a snapshot may still name them)."""
        try:
            recover(self.catalog)
        except Exception:
            log.exception("%s: rolling back a failed commit failed; retried first", self.location)
            self._broken = True
            return
        self._broken = False
        for f in staged:
            self.remove_files(f)

    def housekeep(self, keep: timedelta = SNAPSHOT_RETENTION, force: bool = False) -> None:
        """Expire snapshots older than ``keep`` and delete files nothing references, every
        ``HOUSEKEEP_COMMITS`` commits or ``HOUSEKEEP_SECONDS``.

        The tail commits every batch, and each commit adds a snapshot to every table it
        touches; the table metadata, rewritten by each commit, would grow without end. It
        runs inside the writer because ``detector lake expire`` needs the writer's lock.
        ``keep`` must cover the batches since the state checkpoint (replay walks their
        snapshots). A failure is logged and retried next time: it never stops ingestion."""
        now = time.monotonic()
        due = (
            now - self._housekept >= HOUSEKEEP_SECONDS
            or self.commits - self._housekept_at_commit >= HOUSEKEEP_COMMITS
        )
        if not (force or due):
            return
        self._housekept, self._housekept_at_commit = now, self.commits
        try:
            report = expire(self.catalog, datetime.now(UTC) - max(keep, timedelta(0)))
        except Exception:
            log.exception("%s: expiring old snapshots failed; retried later", self.location)
            return
        for e in report:
            if e.snapshots_after < e.snapshots_before or e.files_removed:
                log.info(
                    "%s: %s: %d snapshot(s) expired, %d unreferenced file(s) removed",
                    self.location,
                    e.table,
                    e.snapshots_before - e.snapshots_after,
                    e.files_removed,
                )
        self._tables.clear()

    def discard(self) -> None:
        """Forget the staged batches and delete their files (a run that ends in failure)."""
        staged, self._staged = self._staged, []
        for f in staged:
            self.remove_files(f)

    # --- reading what is committed ----------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        """Committed batches in commit order (from the ledger's snapshots; no data read)."""
        ledger = self._fresh(tables.LEDGER)
        if ledger is None:
            return
        for snapshot in _ancestry(ledger):
            props = _properties(snapshot)
            flush = set(_ids(props.get(FLUSH, "")))
            at = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
            for batch in _ids(props.get(BATCHES, "")):
                yield {
                    "batch": batch,
                    "flush": batch in flush,
                    "committed_at": at.isoformat(timespec="seconds"),
                }

    def checkpoints(self) -> list[dict[str, Any]]:
        """The committed stream positions, merged (one dict, or none)."""
        return [self._positions] if self._positions else []

    def events_of(self, entry: dict[str, Any]) -> pa.Table | None:
        """A committed batch's events (detection's replay after a restart)."""
        if entry.get("flush"):
            return None
        table = self._fresh(tables.EVENTS)
        if table is None:
            return None
        batch = str(entry["batch"])
        uris = _added_files(table, batch)
        if not uris:
            return None
        parts = [self.read_file(self._rel(u), schema=EVENT_SCHEMA) for u in uris]
        return pa.concat_tables(parts)

    def read_batch_events(self, files: BatchFiles) -> pa.Table:
        parts = [
            self.read_file(rel, schema=EVENT_SCHEMA)
            for rel in files.files
            if rel.startswith(tables.EVENTS.name + "/")
        ]
        return pa.concat_tables(parts) if parts else EVENT_SCHEMA.empty_table()

    def recent_objects(self, since: float) -> list[tuple[str, float]]:
        """(identity, commit time) of objects committed since ``since`` (epoch seconds)."""
        ledger = self._fresh(tables.LEDGER)
        if ledger is None or ledger.current_snapshot() is None:
            return []
        start = datetime.fromtimestamp(since, UTC).isoformat()
        rows = ledger.scan(
            row_filter=GreaterThanOrEqual("committed_at", start),
            selected_fields=("object_identity", "committed_at"),
        ).to_arrow()
        rows = rows.filter(pc.is_valid(rows.column("object_identity")))
        return [
            (identity, at.timestamp())
            for identity, at in zip(
                rows.column("object_identity").to_pylist(),
                rows.column("committed_at").to_pylist(),
                strict=True,
            )
        ]

    def event_ids(self, day: str) -> pa.Array:
        """The CloudTrail event ids committed for one day (``unknown``: no event time)."""
        table = self._fresh(tables.EVENTS)
        if table is None:
            return pa.array([], pa.string())
        where: BooleanExpression
        if day == UNKNOWN_DATE:
            where = IsNull("event_time")
        else:
            start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
            where = And(
                GreaterThanOrEqual("event_time", start.isoformat()),
                LessThan("event_time", (start + timedelta(days=1)).isoformat()),
            )
        scan = table.scan(
            row_filter=And(EqualTo("source", SOURCE_CLOUDTRAIL), where),
            selected_fields=("event_id",),
        )
        return scan.to_arrow().column(0).combine_chunks()

    def read_table(self, name: str) -> pa.Table | None:
        """A whole data table as committed (None when it does not exist yet)."""
        table = self._fresh(_SPECS[name])
        return table.scan().to_arrow() if table is not None else None

    def read_between(
        self, name: str, keys: tuple[str, list[str]], column: str, start: datetime, end: datetime
    ) -> pa.Table | None:
        """Rows of a table whose ``keys[0]`` is one of ``keys[1]`` and whose ``column`` is in
        [start, end), pruned by the table's partitions and statistics: a report reads the
        principals it plots, not the whole table."""
        table = self._fresh(_SPECS[name])
        if table is None:
            return None
        # The key prunes in the scan; the time range is applied to the rows read (a range on
        # the features table's window_start pruned every file away in pyiceberg 0.12).
        rows = table.scan(row_filter=In(keys[0], keys[1])).to_arrow()
        times = rows.column(column)
        stamp = times.type
        keep = pc.and_(
            pc.greater_equal(times, pa.scalar(start, stamp)), pc.less(times, pa.scalar(end, stamp))
        )
        return rows.filter(keep)

    def append_log(self, rows: pa.Table) -> None:
        """Append rows to the triage log: its own table, committed at once and apart from
        the ledger, so an analyst's action needs no writer lock (a tail may be running)."""
        from detector.triage import TRIAGE_SCHEMA

        try:
            table = tables.ensure_table(self.catalog, tables.TRIAGE, TRIAGE_SCHEMA)
            table.append(rows)
        except OSError as exc:
            raise infrastructure(exc, f"appending to the triage log of {self.location}") from exc

    def read_log(self) -> pa.Table | None:
        """The triage log (None when nobody has acted yet)."""
        try:
            table = self._fresh(tables.TRIAGE)
            return table.scan().to_arrow() if table is not None else None
        except OSError as exc:
            raise infrastructure(exc, f"reading the triage log of {self.location}") from exc

    def committed_files(self, sub: str) -> list[Path]:
        """The current data files of a table, as local paths (local lakes only)."""
        table = self._fresh(_SPECS[sub.split("/", 1)[0]])
        if table is None or self.remote:
            return []
        return [Path(t.file.file_path.removeprefix("file://")) for t in table.scan().plan_files()]


_SPECS = {spec.name: spec for spec in (*tables.DATA_TABLES, tables.LEDGER, tables.TRIAGE)}


def _properties(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None or snapshot.summary is None:
        return {}
    return dict(snapshot.summary.additional_properties)


def _ids(text: str) -> list[str]:
    return [b for b in text.split(",") if b]


def _ancestry(table: Table) -> list[Snapshot]:
    """The current snapshot and its ancestors, oldest first (rolled-back ones excluded)."""
    chain = []
    snapshot = table.current_snapshot()
    while snapshot is not None:
        chain.append(snapshot)
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return chain[::-1]


def _added_files(table: Table, batch: str) -> list[str]:
    """The data files the snapshot that committed ``batch`` added for it."""
    marker = f"/part-{batch}-"
    for snapshot in reversed(_ancestry(table)):
        if batch not in _ids(_properties(snapshot).get(BATCHES, "")):
            continue
        return [
            entry.data_file.file_path
            for manifest in snapshot.manifests(table.io)
            if manifest.added_snapshot_id == snapshot.snapshot_id
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
            if entry.status == ManifestEntryStatus.ADDED and marker in entry.data_file.file_path
        ]
    return []


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` laid over ``old``, nested dicts merged (later stream positions win)."""
    if not new:
        return old
    out = dict(old)
    for key, value in new.items():
        prior = out.get(key)
        out[key] = (
            _merged(prior, value) if isinstance(prior, dict) and isinstance(value, dict) else value
        )
    return out
