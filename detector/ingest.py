"""Backfill ingestion: sources → log types → lake, in bounded batches, optionally in parallel.

The parent lists objects, drops those out of the date range or already in the manifest, and
cuts the rest into batches of bounded size. Each batch is fetched, parsed and written by a
worker (this process, or one of ``workers`` processes); the parent commits each batch to the
manifest as it completes. Memory is bounded by batch size times batches in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa

from detector.blob import Blob, ObjectRef
from detector.detect import DetectionRun
from detector.errors import SourceError
from detector.lake import BatchFiles, Lake, new_batch_id
from detector.logtypes import parse_blobs
from detector.logtypes.base import Reject
from detector.progress import RunProgress
from detector.sources import Source, open_source
from detector.sources.keydates import in_range, key_time
from detector.summary import BatchStats, RunSummary

log = logging.getLogger(__name__)

DEFAULT_BATCH_MB = 16
GZIP_EXPANSION = 10
"""Gzipped logs count this many times their size toward a batch: memory holds them unzipped."""


@dataclass(frozen=True)
class IngestOptions:
    lake: Path
    since: date | None = None
    until: date | None = None
    workers: int = 1
    batch_bytes: int = DEFAULT_BATCH_MB << 20


def backfill(specs: Sequence[str], options: IngestOptions,
             progress: RunProgress | None = None,
             detection: DetectionRun | None = None) -> RunSummary:
    """Ingest every object under ``specs`` into the lake (and detect); return what happened."""
    started = time.perf_counter()
    lake = Lake(options.lake)
    lake.lock()
    seen, committed_batches = lake.committed()
    lake.remove_uncommitted(committed_batches)
    summary = RunSummary(sources=list(specs), lake=str(options.lake))
    progress = progress or RunProgress(enabled=False)

    fresh: list[tuple[str, int, ObjectRef]] = []
    for order, spec in enumerate(specs):
        source = open_source(spec)
        try:
            refs = list(source.list())
        except SourceError as exc:
            summary.source_errors.append(str(exc))
            log.error("%s", exc)
            continue
        summary.objects_listed += len(refs)
        for ref in refs:
            if not in_range(ref.key, options.since, options.until):
                summary.objects_out_of_range += 1
            elif ref.identity in seen:
                summary.objects_already_ingested += 1
            else:
                fresh.append((spec, order, ref))
    work = plan(fresh, options.batch_bytes)

    progress.set_total(sum(len(b) for _, b in work))
    for files, stats, events in _run(work, options):
        if detection is not None:
            if events is None:
                events = lake.read_batch_events(files)
            files.files += detection.on_batch(files.batch, events)
        lake.commit(files)
        if detection is not None:
            detection.committed(files.batch)
        summary.add(stats)
        progress.advance(stats.objects_read + stats.objects_failed, files.events,
                         stats.bytes_read)
        del events  # before the next batch is parsed: one batch in memory at a time
    if detection is not None:
        final = BatchFiles(new_batch_id(), [], flush=True)
        final.files = detection.finish(final.batch)
        lake.commit(final)
        detection.committed(final.batch)
        detection.checkpoint()
    summary.seconds = time.perf_counter() - started
    return summary


def plan(fresh: list[tuple[str, int, ObjectRef]], budget: int) -> list[tuple[str, list[ObjectRef]]]:
    """Batches in event-time order: day by day, each source in turn, by key time within.

    Detection windows close on a watermark that follows the slowest source, so feeding the
    sources day by day keeps CloudTrail and access logs of the same hours together.
    """
    timed = sorted(((key_time(ref.key), order, spec, ref) for spec, order, ref in fresh),
                   key=lambda t: (t[0][:10], t[1], t[0], t[3].key))
    work: list[tuple[str, list[ObjectRef]]] = []
    for (_, spec), run in groupby(timed, key=lambda t: (t[0][:10], t[2])):
        work.extend((spec, b) for b in batches([t[3] for t in run], budget))
    return work


def batches(refs: Iterable[ObjectRef], budget: int) -> Iterator[list[ObjectRef]]:
    """Cut refs into lists whose (gzip-expanded) size stays near ``budget`` bytes."""
    batch: list[ObjectRef] = []
    size = 0
    for ref in refs:
        weight = ref.size * (GZIP_EXPANSION if ref.key.endswith(".gz") else 1)
        if batch and size + weight > budget:
            yield batch
            batch, size = [], 0
        batch.append(ref)
        size += weight
    if batch:
        yield batch


BatchOutcome = tuple[BatchFiles, BatchStats, "pa.Table | None"]


def _run(work: list[tuple[str, list[ObjectRef]]],
         options: IngestOptions) -> Iterator[BatchOutcome]:
    """Batch outcomes in plan order; in-process runs also hand back the events table."""
    if options.workers <= 1 or len(work) <= 1:
        for spec, refs in work:
            yield process_batch(spec, refs, str(options.lake), keep_events=True)
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(options.workers, mp_context=ctx) as pool:
        pending: list[Future[BatchOutcome]] = []
        queue = iter(work)
        in_flight = options.workers + 1
        for spec, refs in queue:
            pending.append(pool.submit(process_batch, spec, refs, str(options.lake)))
            if len(pending) >= in_flight:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


_SOURCES: dict[str, Source] = {}


def process_batch(spec: str, refs: list[ObjectRef], lake_root: str,
                  keep_events: bool = False) -> BatchOutcome:
    """Fetch, parse and write one batch (in any process); the caller commits it.

    Workers do not send events back across processes (the parent reads the batch's files
    when it detects); an in-process call returns them with ``keep_events``.
    """
    source = _SOURCES.get(spec)
    if source is None:
        source = _SOURCES[spec] = open_source(spec)
    stats = BatchStats()
    blobs: list[Blob] = []
    fetch_rejects: list[Reject] = []
    for item in source.fetch_many(refs):
        if isinstance(item, SourceError):
            # Not recorded as ingested: a later run retries it (the object may come back).
            fetch_rejects.append(Reject(item.uri, item.reason, item.detail, records=None))
            stats.objects_failed += 1
        else:
            blobs.append(item)
            stats.objects_read += 1
            stats.bytes_read += len(item.data)
    result = parse_blobs(blobs)
    rejects = fetch_rejects + result.rejects
    stats.count_events(result.events)
    stats.count_rejects(rejects)
    stats.skipped.update(result.skipped)
    read = [b.ref for b in blobs]
    files = Lake(lake_root).write_batch(new_batch_id(), read, result.events, rejects)
    return files, stats, (files.events_in_file_order() if keep_events else None)
