"""Detection state partitioned by principal on Ray actors: ``--engine ray --partitions K``.

The shards of ``detector.sharded`` as Ray actors, spread over the cluster's nodes: the
engine in this process keeps what spans principals (threshold, peers, alert and incident
books) and calls the actors a round of windows at a time, all at once; the alerts are the
ones a single process finds.

Checkpoints: at each checkpoint this process gathers the actors' state into the one state
file (``gather``), saved only after the commits it includes, as always; at start the loaded
state is split over the actors again. An actor that dies loses its share: the call to it
fails, or the restarted actor says it holds nothing (``PartitionLost``), and the run goes
back to the last checkpoint, replays the committed batches after it from the lake and
detects the batch in hand again (``DetectionRun``). Ray restarts the actor, which is
seeded again.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from detector.config import Settings
from detector.partition import PartitionLost
from detector.ray_engine import connect, ray_module, task_failure
from detector.scoring.model import ModelSpec
from detector.scoring.state import DetectorState
from detector.sharded import PartitionShard, ShardedPartitions

log = logging.getLogger(__name__)


class PartitionActor(PartitionShard):
    """A shard as a Ray actor. The ``ray.partition`` failpoint kills its first
    incarnation (tests: an actor dying mid-run); a restarted one is left alone."""

    def call(self, queued: list[tuple[Any, ...]], method: str, *args: Any) -> Any:
        import ray

        from detector import failpoints

        if not ray.get_runtime_context().was_current_actor_reconstructed:
            failpoints.hit("ray.partition")
        return super().call(queued, method, *args)


class RayPartitions(ShardedPartitions):
    """``ShardedPartitions`` whose shards are Ray actors."""

    def __init__(
        self, actors: list[Any], state: DetectorState, spec: ModelSpec, settings: Settings
    ) -> None:
        self._ray = ray_module()
        super().__init__(actors, state, spec, settings)

    def _submit(self, shard: Any, method: str, *args: Any) -> Any:
        return getattr(shard, method).remote(*args)

    def _collect(self, handles: list[Any]) -> list[Any]:
        ray = self._ray
        try:
            return list(ray.get(handles))
        except ray.exceptions.RayTaskError as exc:
            raise task_failure(exc) from None
        except ray.exceptions.RayError as exc:
            raise PartitionLost(f"a detection partition's actor died: {exc}") from exc


class PartitionPool:
    """K partition actors for one run, seeded again for each engine the run builds (the
    first, and one after each rollback to the checkpoint)."""

    def __init__(self, count: int, address: str | None, cpus: int) -> None:
        ray = ray_module()
        self.joined = connect(ray, address, cpus)
        actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(PartitionActor)
        options: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
        if failpoints := os.environ.get("DETECTOR_FAILPOINTS"):  # tests: the actors die too
            options["runtime_env"] = {"env_vars": {"DETECTOR_FAILPOINTS": failpoints}}
        self.actors = [actor.options(**options).remote() for _ in range(count)]
        self.count = count

    def __call__(self, state: DetectorState, spec: ModelSpec, settings: Settings) -> RayPartitions:
        return RayPartitions(self.actors, state, spec, settings)

    def close(self) -> None:
        ray = ray_module()
        for a in self.actors:
            try:
                ray.kill(a)
            except Exception as exc:  # already gone: nothing to stop
                log.debug("partition actor not killed: %s", exc)
        if self.joined:
            ray.shutdown()
