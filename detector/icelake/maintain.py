"""Keeping an Iceberg lake small and fast: compaction, snapshot expiry, unreferenced files.

Ingestion adds small files (one per partition per commit); ``compact`` rewrites the
partitions of a day range into one file each, written like ingestion's (same folders), and
swaps them in one commit. Every commit leaves a snapshot; ``expire``
drops snapshots older than a time (never the current one) and deletes the data and
metadata files no remaining snapshot references. Query results do not change (the tests
compare them). Run recovery first: a half-made commit is rolled back through the snapshots
expiry would remove.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThan
from pyiceberg.table import Table

from detector.icelake import tables
from detector.icelake.write import write_data_files

COMPACTED = "detector.compacted"
"""Snapshot summary property of a compaction: the day range rewritten."""


@dataclass(frozen=True)
class Compaction:
    table: str
    files_before: int
    files_after: int
    rows: int
    """Rows rewritten."""


def compact(
    catalog: Catalog, spec: tables.TableSpec, since: date | None = None, until: date | None = None
) -> Compaction:
    """Rewrite the table's partitions between ``since`` and ``until`` (days, inclusive; the
    whole table without them) as one file per partition, one day at a time (memory: one
    day's rows). Days already compact are left as they are."""
    table = catalog.load_table(spec.identifier)
    where = _days(spec, since, until)
    tasks = list(table.scan(row_filter=where).plan_files())
    by_day: dict[object, list[Any]] = {}
    for task in tasks:  # a day partition's value is its first partition field
        day = task.file.partition[0] if spec.day_of else None
        by_day.setdefault(day, []).append(task.file.partition)
    rows = 0
    for day, partitions in by_day.items():
        if len(partitions) <= len(set(partitions)):
            continue  # one file per partition already
        if spec.day_of and day is None:
            continue  # rows without a time: too few to matter, and no range selects them
        chosen = _days(spec, *(2 * [_EPOCH + timedelta(days=int(day))])) if spec.day_of else where
        table = catalog.load_table(spec.identifier)
        part = table.scan(row_filter=chosen).to_arrow()
        files = write_data_files(catalog, spec, part, f"compacted-{uuid.uuid4().hex}")
        summary = {COMPACTED: str(day)}
        with table.transaction() as tx:  # one commit: the day's old files out, the new in
            tx.delete(delete_filter=chosen, snapshot_properties=summary)
            tx.add_files(files, snapshot_properties=summary, check_duplicate_files=False)
        rows += part.num_rows
    table = catalog.load_table(spec.identifier)
    after = len(list(table.scan(row_filter=where).plan_files()))
    return Compaction(spec.name, len(tasks), after, rows)


_EPOCH = date(1970, 1, 1)
"""Iceberg's day transform counts days from here."""


def _days(spec: tables.TableSpec, since: date | None, until: date | None) -> BooleanExpression:
    """Whole days of the table's day column, so that whole partitions are read."""
    if spec.day_of is None or (since is None and until is None):
        return AlwaysTrue()
    parts: list[BooleanExpression] = []
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        parts.append(GreaterThanOrEqual(spec.day_of, start.isoformat()))
    if until is not None:
        end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
        parts.append(LessThan(spec.day_of, end.isoformat()))
    return parts[0] if len(parts) == 1 else And(*parts)


@dataclass(frozen=True)
class Expiry:
    table: str
    snapshots_before: int
    snapshots_after: int
    files_removed: int


def expire(
    catalog: Catalog, older_than: datetime, grace: timedelta = timedelta(hours=1)
) -> list[Expiry]:
    """Expire every table's snapshots older than ``older_than`` (the current one stays),
    then delete files that no remaining snapshot references and that are older than
    ``grace`` (a file younger than that may belong to a commit in progress)."""
    out = []
    cutoff_ms = int(older_than.timestamp() * 1000)
    for spec in (*tables.DATA_TABLES, tables.LEDGER):
        if not catalog.table_exists(spec.identifier):
            continue
        table = catalog.load_table(spec.identifier)
        current = table.current_snapshot()
        before = len(table.snapshots())
        old = [
            s.snapshot_id
            for s in table.snapshots()
            if s.timestamp_ms < cutoff_ms
            and (current is None or s.snapshot_id != current.snapshot_id)
        ]
        if old:
            table.maintenance.expire_snapshots().by_ids(old).commit()
            table = catalog.load_table(spec.identifier)
        removed = _remove_unreferenced(table, grace)
        out.append(Expiry(spec.name, before, len(table.snapshots()), removed))
    return out


def _referenced(table: Table) -> set[str]:
    """Every data file, manifest and manifest list a remaining snapshot uses (local paths,
    or ``s3://`` addresses)."""
    paths: set[str] = set()
    for snapshot in table.snapshots():
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in paths:
                continue  # shared with a snapshot already read
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(entry.data_file.file_path)
    return {p.removeprefix("file://") for p in paths}


def _remove_unreferenced(table: Table, grace: timedelta) -> int:
    """Delete the table's Parquet and Avro files that nothing references and that are
    older than ``grace``, in a local folder or under an S3 prefix."""
    location = table.location().rstrip("/")
    referenced = _referenced(table)
    young = time.time() - grace.total_seconds()
    if location.startswith("s3://"):
        return _remove_unreferenced_s3(location, referenced, young)
    root = Path(location.removeprefix("file://"))
    removed = 0
    for pattern in ("data/**/*.parquet", "metadata/*.avro"):
        for path in root.glob(pattern):
            if str(path) not in referenced and path.stat().st_mtime < young:
                path.unlink()
                removed += 1
    return removed


def _remove_unreferenced_s3(location: str, referenced: set[str], young: float) -> int:
    from detector.aws import client

    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    s3 = client("s3")
    doomed = [
        o["Key"]
        for folder, suffix in (("data/", ".parquet"), ("metadata/", ".avro"))
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/{folder}"
        )
        for o in page.get("Contents", ())
        if o["Key"].endswith(suffix)
        and f"s3://{bucket}/{o['Key']}" not in referenced
        and o["LastModified"].timestamp() < young
    ]
    for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1,000 keys a call
        keys = [{"Key": k} for k in doomed[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    return len(doomed)
