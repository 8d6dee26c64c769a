"""Backfill's parse stage on a Ray cluster: ``--engine ray``.

Ray tasks fetch, parse and write each batch's data files (the expensive stage: parsing is
most of a backfill's CPU); this process stays the lake's single committer and detects each
batch in plan order, exactly as with one process. So the lake's rows and the alert ids are
the same as a single-process run's, whatever the cluster's size or its failures.

Failures: a task whose worker process or node dies is run again by Ray (``TASK_RETRIES``);
the dead attempt's files were never committed and stay orphans for ``detector lake
expire`` to remove. A task that raises (a failure of our own: the lake's storage refused a
write) stops the run as in one process, with the batch uncommitted. If this process dies,
its tasks die with it (Ray ends the tasks of a driver that is gone) and the next run reads
the uncommitted objects again.

Workers reach the lake and the sources through their own AWS configuration (an instance
profile or a pod's role): credentials are never shipped from here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from detector.errors import DetectorError, InfrastructureError, UsageError
from detector.interrupts import StopRequest
from detector.lakes import LakeAddress

if TYPE_CHECKING:
    from detector.blob import ObjectRef
    from detector.ingest import BatchOutcome, IngestOptions

log = logging.getLogger(__name__)

TASK_RETRIES = 3
"""Times Ray runs a batch again after its worker process or node died."""
MISSING = "--engine ray needs Ray: pip install 's3-anomaly-detector[ray]'"


def ray_outcomes(
    work: list[tuple[str, list[ObjectRef]]],
    options: IngestOptions,
    stop: StopRequest,
    where: LakeAddress,
) -> Iterator[BatchOutcome]:
    """Batch outcomes in plan order, each parsed and written by a Ray task.

    At most one batch per CPU of the cluster, plus one, is in flight, so the driver's memory
    stays bounded by the batch budget whatever the input's size."""
    ray = _ray()
    if options.ray_address is not None and not where.location.startswith("s3://"):
        log.warning(
            "the lake %s is a local folder: workers on other machines cannot write it "
            "(use --lake s3://…)",
            where.location,
        )
    joined = _connect(ray, options)
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_parse_batch)
    in_flight = max(2, int(ray.cluster_resources().get("CPU", 1)) + 1)
    pending: deque[Any] = deque()
    try:
        for spec, refs in work:
            if stop.is_set():
                break
            pending.append(task.remote(spec, refs, where, options.max_object_bytes))
            if len(pending) >= in_flight:
                yield _result(ray, pending.popleft())
        while pending and not stop.is_set():
            yield _result(ray, pending.popleft())
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if joined:
            ray.shutdown()  # stops a cluster started here; leaves one joined running


def _parse_batch(
    spec: str, refs: list[ObjectRef], where: LakeAddress, max_object_bytes: int
) -> tuple[BatchOutcome, list[Any]]:
    """On a Ray worker: the batch written, and its events (Arrow tables, which Ray's object
    store carries without copying) so the driver detects without reading them back."""
    from detector import failpoints
    from detector.ingest import process_batch

    failpoints.hit("ray.parse_task")
    files, stats = process_batch(spec, refs, where, max_object_bytes)
    return (files, stats), files.parts


def _result(ray: Any, ref: Any) -> BatchOutcome:
    try:
        (files, stats), parts = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, DetectorError):  # our own failure (disk, lake): it stops
            raise exc.cause from None  # the run, said as one process says it
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
        raise InfrastructureError(
            f"a Ray task failed {TASK_RETRIES + 1} times (its worker or node died): {exc}"
        ) from exc
    files.parts = parts
    return files, stats


def _connect(ray: Any, options: IngestOptions) -> bool:
    """Join the cluster at ``options.ray_address``, or start one here with ``workers``
    CPUs; False when this process was already connected (a caller's own session)."""
    if ray.is_initialized():
        return False
    settings: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "include_dashboard": False,
    }
    if options.ray_address is None:
        # "local": always a new cluster, never the last one `ray start` made on this machine
        # (which a bare ray.init() would join).
        settings |= {"address": "local", "num_cpus": options.workers}
    else:
        settings["address"] = options.ray_address
    try:
        ray.init(**settings)
    except ConnectionError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {options.ray_address}: {exc}") from exc
    log.info("Ray cluster: %s CPUs", ray.cluster_resources().get("CPU", 0))
    return True


def require_ray() -> None:
    """A usage error now, before anything is created, when Ray is not installed."""
    _ray()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(MISSING) from None
    return ray
