"""The tail's consumers on a Ray cluster: ``detector tail sqs|kinesis --engine ray --consumers N``.

Each consumer is a Ray actor with its own SQS client. It long-polls the queue, fetches the
objects its messages name, parses them and writes the batch's data files, and keeps its
messages invisible (extending their visibility timeout) until this process says what became
of them. This process stays the lake's single committer and detects: it takes the batches
as consumers finish them, commits each (detection included, as one tail process does), and
only then has the consumer delete its messages. A batch that cannot be committed is
released: its messages come back after their visibility timeout.

Objects: before a consumer parses, this process strikes out the objects already committed
(notifications come at least once) and those another consumer is working on. If that
other consumer's batch fails, its messages come back and the object is read then.

Failures: a consumer whose worker process or node dies is restarted by Ray. The messages it
held become visible again when their timeout runs out; the files it wrote were never
committed (orphans that ``detector lake expire`` removes). Nothing is acknowledged that is
not committed, so nothing is lost, and deterministic alert ids mean nothing is sent twice.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from detector.lake import new_batch_id
from detector.ray_engine import connect, ray_module, task_failure, warn_if_unreachable
from detector.sources.stream import StreamSource, Work

if TYPE_CHECKING:
    from detector.lake import BatchFiles
    from detector.lakes import LakeAddress
    from detector.summary import BatchStats

log = logging.getLogger(__name__)

STARTING_SECONDS = 120.0
"""How long ``poll`` waits for consumers that have not answered yet (starting, restarted)
before it reports nothing: until then the tail is not idle (``--until-idle``)."""
SETTLE_SECONDS = 60.0
"""How long an ack or a release may take before the consumer is given up on (its messages
then come back by their visibility timeout)."""


class Consumer:
    """A Ray actor: one stream source, one unit of work in hand at a time."""

    def __init__(
        self, make_source: Callable[[], StreamSource], where: LakeAddress, max_object_bytes: int
    ) -> None:
        self.source = make_source()
        self.lake = where.open()
        # A Kinesis consumer continues after the committed shard positions (restarted too);
        # a queue has nothing to resume.
        self.source.resume(self.lake.checkpoints())
        self.max_object_bytes = max_object_bytes
        self.work: Work | None = None

    def poll(self) -> list[str] | None:
        """Take the next unit of work and hold it; the identities of its objects, or None
        when nothing came within the source's wait."""
        self.release()  # one unit at a time: an unsettled one goes back to the queue
        self.work = self.source.poll()
        if self.work is None:
            return None
        objects = {o.identity for o in self.work.objects}
        return sorted(objects | {b.ref.identity for b in self.work.blobs})

    def write(self, batch: str, known: set[str]) -> tuple[BatchFiles, BatchStats, Any]:
        """Parse the unit in hand and write its data files (uncommitted), less ``known``;
        the events ride back apart (``BatchFiles`` does not pickle them)."""
        import ray

        from detector import failpoints
        from detector.tail import write_work

        assert self.work is not None
        failpoints.hit("ray.consumer_write")
        files, stats = write_work(
            self.lake, batch, self.work, known.__contains__, self.max_object_bytes
        )
        stats.ray_nodes[ray.get_runtime_context().get_node_id()] += 1
        return files, stats, (files.parts, self.work.received, self.work.messages)

    def ack(self) -> None:
        if self.work is not None:
            work, self.work = self.work, None
            work.ack()

    def release(self) -> None:
        if self.work is not None:
            work, self.work = self.work, None
            work.release()

    def observe(self, checkpoint: dict[str, Any]) -> None:
        """Positions another consumer's batch committed (``KinesisSource.observe``)."""
        observe = getattr(self.source, "observe", None)
        if observe is not None:
            observe(checkpoint)

    def close(self) -> None:
        self.release()
        self.source.close()


@dataclass
class _Call:
    consumer: int
    kind: str
    """``poll`` or ``write``."""


class RayConsumers:
    """A ``StreamSource`` whose work comes parsed and written from consumers on Ray."""

    def __init__(
        self,
        probe: StreamSource,
        sources: list[Callable[[], StreamSource]],
        where: LakeAddress,
        max_object_bytes: int,
        address: str | None,
        wait: float,
    ) -> None:
        self.probe = probe
        """This process's own source: it only reports the queue's lag."""
        self.name = self.probe.name
        self.wait = max(1.0, wait)
        self._ray = ray_module()
        warn_if_unreachable(where, address)
        self._joined = connect(self._ray, address, len(sources))
        actor = self._ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(Consumer)
        self.consumers = [actor.remote(make, where, max_object_bytes) for make in sources]
        self._calls: dict[Any, _Call] = {}
        self._held: dict[int, set[str]] = {}
        """Each consumer's objects, from its poll until its work is acked or released."""
        self._committing: dict[int, dict[str, Any]] = {}
        """Each consumer's batch in hand: the positions it commits (Kinesis)."""
        self._known: Callable[[str], bool] = lambda _identity: False
        self._empty = False
        """A consumer found the queue empty during the current ``poll``."""

    # --- StreamSource ---------------------------------------------------------------
    def skip_known(self, known: Callable[[str], bool]) -> None:
        self._known = known

    def resume(self, checkpoints: list[dict[str, Any]]) -> None:
        """Nothing to resume: the queue keeps undeleted messages, the lake dedups."""

    def poll(self) -> Work | None:
        """The next batch a consumer wrote; None once the wait is over, nothing is being
        written and a consumer found the queue empty. Consumers still starting (or being
        restarted) do not make the tail idle: it waits up to ``STARTING_SECONDS`` for them."""
        busy = {c.consumer for c in self._calls.values()} | set(self._held)
        for i in range(len(self.consumers)):
            if i not in busy:
                self._start(i, "poll")
        started = time.monotonic()
        self._empty = False
        while self._calls:
            waited = time.monotonic() - started
            writing = any(c.kind == "write" for c in self._calls.values())
            if not writing and waited >= self.wait and (self._empty or waited >= STARTING_SECONDS):
                return None
            ready, _ = self._ray.wait(list(self._calls), num_returns=1, timeout=1.0)
            if ready:
                work = self._finished(ready[0])
                if work is not None:
                    return work
        return None

    def lag(self) -> dict[str, float]:
        return self.probe.lag()

    def close(self) -> None:
        try:
            for ref in self._calls:
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=True)
            closing = [c.close.remote() for c in self.consumers]
            with contextlib.suppress(Exception):
                self._ray.get(closing, timeout=SETTLE_SECONDS)
        finally:
            self.probe.close()
            if self._joined:
                self._ray.shutdown()

    # --- the consumers --------------------------------------------------------------
    def _start(self, i: int, kind: str, *args: Any) -> None:
        ref = getattr(self.consumers[i], kind).remote(*args)
        self._calls[ref] = _Call(i, kind)

    def _finished(self, ref: Any) -> Work | None:
        """A consumer's call came back: a poll is given its batch to write, a write is the
        tail's next work. A consumer that died is polled again (Ray restarts it)."""
        call = self._calls.pop(ref)
        ray = self._ray
        try:
            value = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            self._settle(call.consumer, "release")
            raise task_failure(exc) from None
        except ray.exceptions.RayError as exc:
            log.warning(
                "%s: consumer %d was lost (%s); its messages come back after their "
                "visibility timeout",
                self.name,
                call.consumer,
                type(exc).__name__,
            )
            self._held.pop(call.consumer, None)
            self._start(call.consumer, "poll")
            return None
        if call.kind == "poll":
            if value is None:  # the queue was empty for this consumer's long poll
                self._empty = True
                self._start(call.consumer, "poll")
                return None
            held = set().union(*(h for i, h in self._held.items() if i != call.consumer))
            known = {x for x in value if x in held or self._known(x)}
            self._held[call.consumer] = set(value) - known
            self._start(call.consumer, "write", new_batch_id(), known)
            return None
        files, stats, (parts, received, messages) = value
        files.parts = parts
        self._committing[call.consumer] = files.checkpoint
        return Work(
            objects=files.objects,
            checkpoint=files.checkpoint,
            ack=partial(self._settle, call.consumer, "ack"),
            release=partial(self._settle, call.consumer, "release"),
            received=received,
            messages=messages,
            written=(files, stats),
        )

    def _settle(self, i: int, how: str) -> None:
        """Ack (delete the messages) or release the consumer's work; a consumer that cannot
        be reached is left to the visibility timeout."""
        self._held.pop(i, None)
        checkpoint = self._committing.pop(i, None)
        if how == "ack" and checkpoint:
            # The other consumers learn the committed positions: a shard of theirs may wait
            # for one of this consumer's to end (Kinesis). Not waited for.
            for j, consumer in enumerate(self.consumers):
                if j != i:
                    consumer.observe.remote(checkpoint)
        try:
            self._ray.get(getattr(self.consumers[i], how).remote(), timeout=SETTLE_SECONDS)
        except Exception as exc:
            log.warning(
                "%s: consumer %d could not %s its messages (%s); they come back after "
                "their visibility timeout",
                self.name,
                i,
                how,
                type(exc).__name__,
            )
