"""Detection during a run, at the I/O edge: settings, model and state in; alerts out.

The order of a batch, for backfill and tail alike:

1. ``on_batch``: the engine detects on the batch's events; its new alerts (signals, with
   their incident and whether they notify: ``detector.incidents``) go to
   ``<lake>/alerts/part-<batch>.parquet`` and the windows it closed to
   ``<lake>/features/part-<batch>.parquet``; the caller adds these files to the batch.
2. The caller commits the batch (manifest line). Alerts are now durable: the outbox.
3. ``committed``: the new notifications go to the sinks' outbox, and the state checkpoint is saved
   when ``checkpoint_seconds`` have passed. The checkpoint names the last batch it includes.

On open, committed batches after the checkpoint's batch are replayed from the lake into the
engine (their alerts are already in the lake and are not raised again), so a crash at any
point loses no window and a checkpoint interval costs only replay time, never correctness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from detector.alerts import Alert, alerts_table
from detector.config import Settings, load_settings
from detector.defaults import DEFAULT_CHECKPOINT_SECONDS
from detector.engine import Engine, PartitionsFactory
from detector.errors import InfrastructureError, infrastructure
from detector.lake import ALERTS, FEATURES
from detector.lakes import AnyLake
from detector.partition import Partition, PartitionLost
from detector.scoring.model import ModelSpec, load_model_spec
from detector.scoring.state import DetectorState, load, save
from detector.triage import actions_of, active

log = logging.getLogger(__name__)

STATE_FILE = "state/detector.state"
START = ""
"""``through_batch`` of a state begun on an empty lake: every batch is newer than it."""
PARTITION_RETRIES = 3
"""Rollbacks in a row after a partition of the state was lost (an actor died)."""


@dataclass
class DetectOptions:
    config: Path | None = None
    model: str = "default"
    state: str | None = None
    """Checkpoint file or ``s3://`` object; default ``<lake>/state/detector.state``."""
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    """Save the state at most this often (and always at the end); 0 saves every batch."""
    partitions: PartitionsFactory = Partition
    """Where the principals' state lives: this process, or actors (``ray_partitions``)."""


class Outbox:
    """What detection hands committed alerts to (the sinks' delivery); a no-op by default."""

    def submit(self, alerts: list[dict[str, Any]]) -> None:
        return None


@dataclass
class DetectionRun:
    """One run's detection: engine, where alerts and state go, and what it raised."""

    lake: AnyLake
    settings: Settings
    spec: ModelSpec
    state_path: str
    engine: Engine
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    partitions: PartitionsFactory = Partition
    outbox: Outbox = field(default_factory=Outbox)
    hunt_command: Callable[[Alert], str] | None = None
    """Gives an alert the command that shows its evidence (set on each new alert)."""
    raised: list[Alert] = field(default_factory=list)
    max_raised: int | None = None
    """Keep at most this many raised alerts in memory (a long-running tail); None: all."""
    last_new: list[Alert] = field(default_factory=list)
    """The alerts the latest batch raised (for counting)."""
    replayed_batches: int = 0
    rollbacks: int = 0
    """Times detection went back to the checkpoint because a partition was lost."""
    _pending: list[Alert] = field(default_factory=list)
    _saved_at: float = 0.0
    _detected: int = 0
    """Batches detected since the last commit (more than one: an Iceberg commit group)."""
    _uncommitted: str | None = None
    """A batch the engine has seen but the lake has not committed: the engine's state is
    ahead of the lake, so it must not be checkpointed (``reset`` puts it back)."""

    @classmethod
    def open(cls, lake: AnyLake, options: DetectOptions) -> DetectionRun:
        """Load and validate everything, then catch up with the lake (fail fast)."""
        settings = load_settings(options.config)
        spec = load_model_spec(options.model)
        state_path = options.state or lake.location_of(STATE_FILE)
        run = cls(
            lake,
            settings,
            spec,
            state_path,
            Engine(settings, spec, load(state_path, spec), options.partitions),
            options.checkpoint_seconds,
            options.partitions,
            _saved_at=time.monotonic(),
        )
        run._retrying(run._start)
        return run

    @property
    def uncommitted(self) -> str | None:
        """The batch the engine has seen that the lake has not committed, if any."""
        return self._uncommitted

    def reset(self) -> None:
        """Back to the last checkpoint plus the committed batches after it, dropping what an
        uncommitted batch did to the engine (windows, baselines, alert ids): a retry of that
        batch then runs on exactly the state a restart would have. A partition lost while
        rolling back is rolled back again (``PARTITION_RETRIES`` times at most)."""
        log.warning("detection state rolled back to the last commit (%s)", self.state_path)
        dropped = {id(a) for a in self._pending}
        self.raised = [a for a in self.raised if id(a) not in dropped]
        self._pending, self.last_new, self._uncommitted = [], [], None
        self._detected = 0
        for attempt in range(PARTITION_RETRIES + 1):
            self.replayed_batches = 0
            try:
                self.engine = Engine(
                    self.settings, self.spec, load(self.state_path, self.spec), self.partitions
                )
                self._start()
                return
            except PartitionLost as exc:
                self._lost(exc, attempt + 1)

    def _lost(self, exc: PartitionLost, times: int) -> None:
        """Count a lost partition; an infrastructure failure once it happened too often."""
        if times > PARTITION_RETRIES:
            raise InfrastructureError(
                f"detection state lost {times} times in a row: {exc}"
            ) from exc
        log.warning("%s; detecting again from the last checkpoint", exc)
        self.rollbacks += 1

    def _retrying(self, step: Callable[[], Any]) -> Any:
        """``step()``; when a partition of the state is lost (an actor died), back to the
        checkpoint and the committed batches after it, and ``step()`` again.

        Only the batch in hand can be detected again: batches detected before it that are
        not committed yet (an Iceberg backfill's commit group) are not in the lake to be
        replayed. Then the run stops, and the next one reads them again."""
        uncommitted = self._uncommitted
        for attempt in range(PARTITION_RETRIES + 1):
            try:
                return step()
            except PartitionLost as exc:
                if self._detected > 1:
                    raise InfrastructureError(
                        f"{exc}, with {self._detected - 1} batch(es) detected before this one "
                        "not yet committed; run again to read them again"
                    ) from exc
                self._lost(exc, attempt + 1)
                self.reset()
                self._uncommitted = uncommitted
                self._detected = 1
        raise AssertionError("unreachable")

    def refresh_suppressions(self) -> None:
        """Read the analysts' suppressions from the lake's triage log (at start, and at
        every checkpoint of a long-running tail)."""
        self.engine.suppressions = active(actions_of(self.lake.read_log()), datetime.now(UTC))

    def _start(self) -> None:
        self.refresh_suppressions()
        state = self.engine.state
        if state.through_batch is None:
            # A new state starts at the lake's present end; saving that at once means a crash
            # before the first interval checkpoint replays this run's batches, not none.
            state.through_batch = next(
                (str(e["batch"]) for e in reversed(list(self.lake.entries()))), START
            )
            self.checkpoint()
        self.catch_up()

    def catch_up(self) -> int:
        """Replay committed batches newer than the checkpoint (a crash between the two)."""
        through = self.engine.state.through_batch
        if through is None:
            return 0
        entries = list(self.lake.entries())
        names = [str(e["batch"]) for e in entries]
        if through != START and through not in names:
            log.warning(
                "state checkpoint %s names batch %s, which this lake has not "
                "committed: nothing replayed",
                self.state_path,
                through,
            )
            return 0
        first = 0 if through == START else names.index(through) + 1
        for entry in entries[first:]:
            if entry.get("flush"):
                self.engine.flush()
            else:
                events = self.lake.events_of(entry)
                if events is not None:
                    self.engine.process(events)
            self.engine.take_closed()
            self.engine.state.through_batch = str(entry["batch"])
            self.replayed_batches += 1
        if self.replayed_batches:
            log.info(
                "replayed %d committed batch(es) newer than the state checkpoint",
                self.replayed_batches,
            )
            self.checkpoint()
        return self.replayed_batches

    def on_batch(self, batch: str, events: pa.Table) -> list[str]:
        """Detect on one batch; returns the files written (to commit with the batch)."""
        self._uncommitted = batch
        self._detected += 1
        return self._emit(batch, self._retrying(lambda: self.engine.process(events)))

    def finish(self, batch: str) -> list[str]:
        """Close every open window (end of a backfill, or ``tail --until-idle``)."""
        self._uncommitted = batch
        self._detected += 1
        return self._emit(batch, self._retrying(lambda: self.engine.flush()))

    def committed(self, batch: str) -> None:
        """The batch is in the manifest: deliver its alerts; checkpoint when it is time."""
        self._uncommitted = None
        self._detected = 0
        self.engine.state.through_batch = batch
        if self._pending:
            sent = [alert_dict(a) for a in self._pending if a.notifies]
            if sent:
                self.outbox.submit(sent)
            self._pending = []
        if self.max_raised is not None and len(self.raised) > self.max_raised:
            # Old alerts leave memory; their ids stay in the state, so they never repeat.
            dropped = self.raised[: len(self.raised) - self.max_raised]
            del self.raised[: len(dropped)]
            for a in dropped:
                self.engine.book.alerts.pop(a.alert_id, None)
        if time.monotonic() - self._saved_at >= self.checkpoint_seconds:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Save the state now (after every commit it includes; never ahead of the lake)."""
        if self._uncommitted is not None:
            log.warning(
                "state not saved: it includes batch %s, which is not committed", self._uncommitted
            )
            return
        try:
            save(self._whole_state(), self.state_path)
        except OSError as exc:
            raise infrastructure(exc, f"saving the state checkpoint {self.state_path}") from exc
        self._saved_at = time.monotonic()
        self.refresh_suppressions()

    def _whole_state(self) -> DetectorState:
        """The engine's whole state; a partition lost since the last batch is rolled back
        first (the lake has every batch it held: this is after a commit)."""
        for attempt in range(PARTITION_RETRIES + 1):
            try:
                return self.engine.whole_state()
            except PartitionLost as exc:
                self._lost(exc, attempt + 1)
                self.reset()
        raise AssertionError("unreachable")

    def _emit(self, batch: str, new: list[Alert]) -> list[str]:
        files = []
        self.last_new = new
        if new and self.hunt_command is not None:
            for a in new:
                a.hunt = self.hunt_command(a)
        self.raised.extend(new)
        self._pending.extend(new)
        closed = self.engine.take_closed()
        try:
            if new:
                files += self.lake.write_rows(ALERTS, batch, alerts_table(new))
            if closed is not None:
                files += self.lake.write_rows(FEATURES, batch, closed.to_arrow())
        except OSError as exc:
            raise infrastructure(exc, f"writing the alerts or features of batch {batch}") from exc
        return files

    def partition_counts(self) -> dict[str, int] | None:
        """For a summary: the actors holding the state, and the rollbacks (None when the
        state is in this process)."""
        actors = getattr(self.partitions, "count", None)
        return None if actors is None else {"actors": actors, "rollbacks": self.rollbacks}

    def alerts(self) -> list[Alert]:
        """This run's notifications (what the sinks were sent) in their merged, final form
        (each raised alert is the book's own object, which later findings merge into)."""
        return [a for a in self.signals() if a.notifies]

    def signals(self) -> list[Alert]:
        """Every alert this run raised, notified or only recorded (``status`` says which)."""
        unique = {a.alert_id: a for a in self.raised}
        return sorted(unique.values(), key=lambda a: (a.first_seen, a.alert_id))


def alert_dict(alert: Alert) -> dict[str, Any]:
    """An alert as sinks receive it (the JSON of ``--alerts``)."""
    return asdict(alert)
