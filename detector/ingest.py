"""Backfill ingestion: sources → log types → lake, in bounded batches, optionally in parallel.

The parent lists objects, drops those out of the date range or already in the manifest, and
cuts the rest into batches of bounded size. Each batch is fetched, parsed and written by a
worker (this process, or one of ``workers`` processes); the parent commits each batch to the
manifest as it completes. Memory is bounded by batch size times batches in flight, plus one
object of at most ``max_object_bytes``.

Failures: bad input is quarantined and the run goes on; a failure of our own machine (disk
full, I/O or permission errors on scratch space or the lake, memory) stops the run with the
batch in hand uncommitted, so its objects are read again next time (``RunSummary.stopped``,
exit status 3). A stop request (Ctrl-C, SIGTERM) ends the run after the batch in hand.
Workers die with the parent, whatever kills it, and ignore Ctrl-C (the parent decides).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

from detector.batch import commit_batch
from detector.blob import Blob, ObjectRef
from detector.dedup import SeenEvents
from detector.defaults import DEFAULT_BATCH_MB
from detector.detect import DetectionRun
from detector.errors import InfrastructureError, LakeError, SourceError
from detector.interrupts import StopRequest
from detector.lake import BatchFiles, new_batch_id
from detector.lakes import AnyLake, LakeAddress, address_of, open_lake
from detector.logtypes import parse_blobs
from detector.logtypes.base import DEFAULT_MAX_OBJECT_MB, Reject
from detector.progress import RunProgress
from detector.schema import empty_events
from detector.sources import Source, open_source
from detector.sources.keydates import in_range, key_time
from detector.summary import BatchStats, RunSummary

log = logging.getLogger(__name__)

T = TypeVar("T")

GZIP_EXPANSION = 10
"""Gzipped logs count this many times their size toward a batch: memory holds them unzipped."""


@dataclass(frozen=True)
class IngestOptions:
    lake: Path
    since: date | None = None
    until: date | None = None
    workers: int = 1
    batch_bytes: int = DEFAULT_BATCH_MB << 20
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20
    lake_format: str | None = None
    """For a new lake: ``iceberg`` (the default) or ``parquet``."""
    engine: str = "local"
    """Where batches are fetched, parsed and written: ``local`` (this process, or
    ``workers`` processes) or ``ray`` (tasks on a Ray cluster)."""
    ray_address: str | None = None
    """The Ray cluster to join (``auto``, ``ray://host:port``); None starts one here."""


def backfill(
    specs: Sequence[str],
    options: IngestOptions,
    progress: RunProgress | None = None,
    detection: DetectionRun | None = None,
    stop: StopRequest | None = None,
    lake: AnyLake | None = None,
) -> RunSummary:
    """Ingest every object under ``specs`` into the lake (and detect); return what happened.

    The lake is ``lake``, else detection's (it writes alerts through it), else opened here."""
    started = time.perf_counter()
    if lake is None:
        lake = detection.lake if detection else open_lake(options.lake, options.lake_format)
    lake.lock()
    lake.recover()
    summary = RunSummary(sources=list(specs), lake=str(options.lake))
    progress = progress or RunProgress(enabled=False)
    stop = stop or StopRequest()

    fresh, listing_rejects = _list(specs, options, lake, summary)
    work = plan(fresh, options.batch_bytes)
    progress.set_total(sum(len(b) for _, b in work))
    ended = False
    outcomes: Iterator[BatchOutcome] | None = None
    try:
        if listing_rejects:
            _commit_rejects(lake, listing_rejects, summary)
        seen_events = SeenEvents(lake)
        outcomes = _run(work, options, stop, lake, detection is not None)
        for files, stats in outcomes:
            commit_batch(lake, files, stats, detection, seen_events)
            if lake.publish_due():
                _published(lake, detection)
            summary.add(stats)
            progress.advance(
                stats.objects_read + stats.objects_failed, files.events, stats.bytes_read
            )
            del files  # before the next batch is parsed: one batch in memory at a time
            if stop.is_set():
                break
        if stop.is_set():
            summary.interrupted = stop.signum
        elif detection is not None:
            final = BatchFiles(new_batch_id(), [], flush=True)
            final.files = detection.finish(final.batch)
            lake.commit(final)
        _published(lake, detection)
        if detection is not None:
            detection.checkpoint()
        ended = True
    except (InfrastructureError, LakeError) as exc:
        summary.stopped = str(exc)  # the caller says it, once, with what is left
    except KeyboardInterrupt:
        summary.interrupted = signal.SIGINT
        raise
    finally:
        if isinstance(outcomes, Generator):
            outcomes.close()  # stops the workers or the thread fetching ahead
        summary.objects_not_ingested = sum(len(b) for _, b in work) - (
            summary.totals.objects_read + summary.totals.objects_failed
        )
        if not ended or stop.is_set():
            # A stop kills workers that may be writing a batch that will not be committed.
            lake.discard()
        summary.seconds = time.perf_counter() - started
        summary.commits, summary.commit_seconds = lake.commits, lake.commit_seconds
    return summary


def _published(lake: AnyLake, detection: DetectionRun | None) -> None:
    """Make the staged batches visible; only then does detection count them as committed
    (their alerts go to the sinks, the state may be saved)."""
    published = lake.publish()
    if detection is not None and published:
        detection.committed(published[-1])


def _list(
    specs: Sequence[str], options: IngestOptions, lake: AnyLake, summary: RunSummary
) -> tuple[list[tuple[str, int, ObjectRef]], list[Reject]]:
    """Fresh objects to read, in source order, and listing entries that are not objects."""
    listed: list[tuple[str, int, ObjectRef]] = []
    rejects: list[Reject] = []
    for order, spec in enumerate(specs):
        source = open_source(spec)
        try:
            items = list(source.list())
        except SourceError as exc:
            summary.source_errors.append(str(exc))
            log.error("%s", exc)
            continue
        for item in items:
            if isinstance(item, Reject):
                rejects.append(item)
                continue
            summary.objects_listed += 1
            if not in_range(item.key, options.since, options.until):
                summary.objects_out_of_range += 1
            else:
                listed.append((spec, order, item))
    seen = lake.ingested(ref.identity for _, _, ref in listed)
    fresh: list[tuple[str, int, ObjectRef]] = []
    for spec, order, item in listed:
        if item.identity in seen:
            summary.objects_already_ingested += 1
        else:
            seen.add(item.identity)  # a source given twice, or nested in another
            fresh.append((spec, order, item))
    return fresh, rejects


def _commit_rejects(lake: AnyLake, rejects: list[Reject], summary: RunSummary) -> None:
    """Listing entries that are not log objects (FIFOs, broken links): quarantined, counted.

    Not recorded as ingested: they are listed, and counted, again by every run."""
    files = lake.write_batch(new_batch_id(), [], empty_events(), rejects)
    lake.commit(files)
    lake.publish()
    stats = BatchStats()
    stats.count_rejects(rejects)
    summary.add(stats)


def plan(fresh: list[tuple[str, int, ObjectRef]], budget: int) -> list[tuple[str, list[ObjectRef]]]:
    """Batches in event-time order: day by day, each source in turn, by key time within.

    Detection windows close on a watermark that follows the slowest source, so feeding the
    sources day by day keeps CloudTrail and access logs of the same hours together.
    """
    timed = sorted(
        ((key_time(ref.key), order, spec, ref) for spec, order, ref in fresh),
        key=lambda t: (t[0][:10], t[1], t[0], t[3].key),
    )
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


BatchOutcome = tuple[BatchFiles, BatchStats]


def _run(
    work: list[tuple[str, list[ObjectRef]]],
    options: IngestOptions,
    stop: StopRequest,
    lake: AnyLake,
    detecting: bool = True,
) -> Iterator[BatchOutcome]:
    """Batch outcomes in plan order (in-process batches keep their events in memory).

    No new batch starts once a stop is requested; on any exit the workers are stopped.
    Ray tasks send their events back only for detection (deduplication alone reads the
    CloudTrail files' event ids).
    """
    if options.engine == "ray":
        from detector.ray_engine import ray_outcomes

        yield from ray_outcomes(work, options, stop, address_of(lake), detecting)
        return
    if options.workers <= 1 or len(work) <= 1:
        yield from _in_process(work, options, stop, lake)
        return
    ctx = get_context("spawn")
    pool = ProcessPoolExecutor(
        options.workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    )
    finished = False
    where = address_of(lake)
    try:
        yield from in_plan_order(
            work,
            stop,
            deque(),
            lambda spec, refs: pool.submit(
                process_batch, spec, refs, where, options.max_object_bytes
            ),
            Future.result,
            lambda: options.workers + 1,
        )
        finished = True
    finally:
        _stop_pool(pool, wait=finished)


def in_plan_order(
    work: list[tuple[str, list[ObjectRef]]],
    stop: StopRequest,
    pending: deque[T],
    submit: Callable[[str, list[ObjectRef]], T],
    result: Callable[[T], BatchOutcome],
    window: Callable[[], int],
) -> Iterator[BatchOutcome]:
    """Outcomes of batches run elsewhere (worker processes, Ray tasks), in plan order, with
    at most ``window()`` batches in flight: memory stays bounded by the batch budget.

    ``pending`` holds what is in flight, for the caller to cancel when this ends early. No
    new batch starts, and no outcome is taken, once a stop is requested."""
    for spec, refs in work:
        if stop.is_set():
            return
        pending.append(submit(spec, refs))
        if len(pending) >= window():
            yield result(pending.popleft())
    while pending and not stop.is_set():
        yield result(pending.popleft())


def _in_process(
    work: list[tuple[str, list[ObjectRef]]],
    options: IngestOptions,
    stop: StopRequest,
    lake: AnyLake,
) -> Iterator[BatchOutcome]:
    """Batches in this process, each fetched ahead on a thread while the one before is
    parsed, written, committed and detected: object reads (an S3 GET, a disk read) wait on
    I/O, so they overlap the rest. Only the fetched (still compressed) bytes are held ahead:
    parsing ahead too ran ~25% faster with detection but held two parses' memory, past 1 GB.
    """
    most = options.max_object_bytes
    with ThreadPoolExecutor(1, thread_name_prefix="detector-fetch-ahead") as pool:
        ahead: Future[Fetched] | None = None
        try:
            for batch in [*work, None]:  # None: nothing left to fetch, finish the last
                if stop.is_set():
                    break
                following = None if batch is None else pool.submit(fetch_batch, *batch, most, stop)
                if ahead is not None:
                    fetched = ahead.result()
                    if stop.is_set():  # it may have ended early: never parse it
                        break
                    yield parse_and_write(fetched, lake, most)
                ahead = following
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _stop_pool(pool: ProcessPoolExecutor, wait: bool) -> None:
    """Shut the pool down; unless its work is done, kill its workers instead of waiting."""
    if not wait:
        # Python 3.11 has no public way to stop running tasks (3.14 adds kill_workers()).
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _worker_init(parent: int) -> None:
    """In each worker: die with the parent (even on SIGKILL), and leave Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: Linux only
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


_SOURCES: dict[str, Source] = {}
_LAKES: dict[LakeAddress, AnyLake] = {}


def process_batch(
    spec: str,
    refs: list[ObjectRef],
    where: LakeAddress,
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20,
) -> BatchOutcome:
    """Fetch, parse and write one batch (in a worker process or a Ray task); the parent
    commits it.

    The events ride along in ``BatchFiles.parts`` within a process; from a worker process
    they do not (the parent reads the batch's files back when it detects).
    """
    lake = _LAKES.get(where)
    if lake is None:
        lake = _LAKES[where] = where.open()
    return parse_and_write(fetch_batch(spec, refs, max_object_bytes), lake, max_object_bytes)


@dataclass
class Fetched:
    """A batch's objects as read, and the ones that could not be."""

    blobs: list[Blob]
    rejects: list[Reject]
    stats: BatchStats


def fetch_batch(
    spec: str, refs: list[ObjectRef], max_object_bytes: int, stop: StopRequest | None = None
) -> Fetched:
    """Read a batch's objects from their source (compressed, as stored). On a stop request
    it ends after the object in hand: the caller never parses a batch fetched after a stop."""
    source = _SOURCES.get(spec)
    if source is None:
        source = _SOURCES[spec] = open_source(spec)
    fetched = Fetched([], [], BatchStats())
    for item in source.fetch_many(refs, max_object_bytes):
        if isinstance(item, SourceError):
            # Not recorded as ingested: a later run retries it (the object may come back).
            fetched.rejects.append(Reject(item.uri, item.reason, item.detail, records=None))
            fetched.stats.objects_failed += 1
        else:
            fetched.blobs.append(item)
            fetched.stats.objects_read += 1
            fetched.stats.bytes_read += len(item.data)
        if stop is not None and stop.is_set():
            break
    return fetched


def parse_and_write(
    fetched: Fetched,
    lake: AnyLake,
    max_object_bytes: int,
    batch: str | None = None,
    objects: list[ObjectRef] | None = None,
) -> BatchOutcome:
    """Parse a fetched batch and write its files (not committed yet) as ``batch`` (a new id
    by default), recording ``objects`` (by default the blobs read) as ingested."""
    result = parse_blobs(fetched.blobs, max_object_bytes)
    rejects = fetched.rejects + result.rejects
    stats = fetched.stats
    stats.count_events(result.events)
    stats.count_rejects(rejects)
    stats.skipped.update(result.skipped)
    read = objects if objects is not None else [b.ref for b in fetched.blobs]
    files = lake.write_batch(batch or new_batch_id(), read, result.events, rejects)
    return files, stats
