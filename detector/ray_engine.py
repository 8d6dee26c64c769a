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

import contextlib
import logging
import signal
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
    with_events: bool = True,
) -> Iterator[BatchOutcome]:
    """Batch outcomes in plan order, each parsed and written by a Ray task.

    At most one batch per CPU of the cluster, plus one, is in flight (counted again as
    batches go, so an autoscaled cluster's new nodes are used), which keeps the driver's
    memory bounded by the batch budget whatever the input's size."""
    ray = ray_module()
    warn_if_unreachable(where, options.ray_address)
    from detector.ingest import in_plan_order

    joined = connect(ray, options.ray_address, options.workers)
    pending: deque[Any] = deque()
    try:
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_parse_batch)
        yield from in_plan_order(
            work,
            stop,
            pending,
            lambda spec, refs: task.remote(
                spec, refs, where, options.max_object_bytes, with_events
            ),
            lambda ref: _result(ray, ref),
            lambda: max(2, int(ray.cluster_resources().get("CPU", 1)) + 1),
        )
    finally:
        try:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        finally:
            if joined:
                ray.shutdown()  # stops a cluster started here; leaves one joined running


def _parse_batch(
    spec: str,
    refs: list[ObjectRef],
    where: LakeAddress,
    max_object_bytes: int,
    with_events: bool,
) -> tuple[BatchOutcome, list[Any]]:
    """On a Ray worker: the batch written, and, for detection, its events (Arrow tables,
    which Ray's object store carries without copying) so the driver does not read them
    back. Without detection only the counts go back: the driver's intake stays small."""
    import ray

    from detector import failpoints
    from detector.ingest import process_batch

    failpoints.hit("ray.parse_task")
    files, stats = process_batch(spec, refs, where, max_object_bytes)
    stats.ray_nodes[ray.get_runtime_context().get_node_id()] += 1
    return (files, stats), files.parts if with_events else []


def _result(ray: Any, ref: Any) -> BatchOutcome:
    """A task's outcome; its failure as the run's: our own (disk, lake) as one process says
    it, Ray's (a task that died more than ``TASK_RETRIES`` times, a lost object, memory)
    as a failure of our infrastructure, which stops the run with the batch uncommitted."""
    try:
        (files, stats), parts = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        raise task_failure(exc) from None
    except ray.exceptions.RayError as exc:
        raise InfrastructureError(f"Ray: {type(exc).__name__}: {exc}") from exc
    files.parts = parts
    return files, stats


def task_failure(exc: Any) -> DetectorError:
    """A Ray task's (or actor method's) exception as ours: a failure of our own (the lake's
    storage refused a write) as one process says it, anything else as a failure of our
    infrastructure. Either stops the run with the batch uncommitted."""
    if isinstance(exc.cause, DetectorError):
        return exc.cause
    return InfrastructureError(f"a Ray task failed: {exc.cause!r}")


def warn_if_unreachable(where: LakeAddress, address: str | None) -> None:
    """A joined cluster's other machines cannot write a lake in a local folder."""
    if address is not None and not where.location.startswith("s3://"):
        log.warning(
            "the lake %s is a local folder: workers on other machines cannot write it "
            "(use --lake s3://…)",
            where.location,
        )


def connect(ray: Any, address: str | None, cpus: int) -> bool:
    """Join the cluster at ``address``, or start one here with ``cpus`` CPUs; False when
    this process was already connected (a caller's own session).

    Ray sets its own SIGTERM (and, starting a cluster, SIGINT) handlers; ours are put back,
    so a stop still finishes the batch in hand."""
    if ray.is_initialized():
        return False
    settings: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "include_dashboard": False,
    }
    if address is None:
        # "local": always a new cluster, never the last one `ray start` made on this machine
        # (which a bare ray.init() would join).
        settings |= {"address": "local", "num_cpus": cpus}
    else:
        settings["address"] = address
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ray.init(**settings)
    except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:
        where = address or "this machine"
        raise UsageError(f"cannot start or join the Ray cluster ({where}): {exc}") from exc
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    log.info("Ray cluster: %s CPUs", ray.cluster_resources().get("CPU", 0))
    return True


def require_ray() -> None:
    """A usage error now, before anything is created, when Ray is not installed."""
    ray_module()


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(MISSING) from None
    return ray
