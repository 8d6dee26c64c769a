"""Detection during a run, at the I/O edge: settings, model and state in, alerts out.

Per batch, in event-time order: the engine's new alerts are written to
``<lake>/alerts/part-<batch>.parquet`` and the state checkpoint is saved, both before the
caller commits the batch to the manifest. A crash before the commit re-processes the batch
on restart; the saved state's alert ids keep it from alerting twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from detector.alerts import Alert, write_parquet
from detector.config import Settings, load_settings
from detector.engine import Engine
from detector.scoring.model import ModelSpec, load_model_spec
from detector.scoring.state import load, save

log = logging.getLogger(__name__)

ALERTS = "alerts"
STATE_FILE = "state/detector.state"


@dataclass
class DetectOptions:
    config: Path | None = None
    model: str = "default"
    state: Path | None = None
    """Checkpoint file; default ``<lake>/state/detector.state``."""


@dataclass
class DetectionRun:
    """One run's detection: engine, where alerts and state go, and what it raised."""

    lake: Path
    settings: Settings
    spec: ModelSpec
    state_path: Path
    engine: Engine
    raised: list[Alert] = field(default_factory=list)

    @classmethod
    def open(cls, lake: Path, options: DetectOptions) -> DetectionRun:
        """Load and validate everything before any data is read (fail fast)."""
        settings = load_settings(options.config)
        spec = load_model_spec(options.model)
        state_path = options.state or lake / STATE_FILE
        state = load(state_path, spec.name)
        engine = Engine(settings, spec, state)
        return cls(lake, settings, spec, state_path, engine)

    def on_batch(self, batch: str, events: pa.Table) -> list[str]:
        """Detect on one batch; returns the files written (to commit with the batch)."""
        new = self.engine.process(events)
        return self._emit(batch, new)

    def finish(self, batch: str) -> list[str]:
        """Close every open window at the end of a run."""
        return self._emit(batch, self.engine.flush())

    def _emit(self, batch: str, new: list[Alert]) -> list[str]:
        files = []
        if new:
            rel = f"{ALERTS}/part-{batch}.parquet"
            write_parquet(new, self.lake / rel)
            files.append(rel)
            self.raised.extend(new)
        save(self.engine.state, self.state_path)
        return files

    def alerts(self) -> list[Alert]:
        """This run's alerts in their merged, final form."""
        raised = {a.alert_id for a in self.raised}
        return [a for a in self.engine.book.sorted() if a.alert_id in raised]
