"""The detection engine: enriched events → rules, windows → baselines → alerts. Pure.

One ``Engine`` per run (or per tail process) processes batches in event-time order:
event rules judge each batch's events; window features accumulate and, as windows close,
each principal's window is scored against its baseline and profile, and every behavioural
detection is asked about it. Findings become alerts through the ``AlertBook`` (dedup and
merge). No I/O happens here: the caller loads and saves ``DetectorState``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from detector.alerts import Alert, AlertBook
from detector.config import Settings
from detector.detections import active
from detector.detections.base import (
    AlertCorrelation,
    Detection,
    EventRule,
    Finding,
    IncidentDetection,
    SilenceDetection,
)
from detector.detections.silence import StreamWatch
from detector.discovery import discover
from detector.errors import UsageError
from detector.features.enrich import SERVICE_ROLE, enrich
from detector.features.windows import (
    DISTINCT,
    WindowAggregator,
    bucket_view,
)
from detector.incidents import IncidentBook
from detector.partition import (
    Ahead,
    Habit,
    Judged,
    Kind,
    Partition,
    Partitions,
    guarded,
    habit_question,
    peer_of,
    principal_of,
)
from detector.scoring.model import Deviation, ModelSpec, Scorer
from detector.scoring.state import DetectorState, bucket_spec
from detector.triage import Suppression, covering

log = logging.getLogger(__name__)

PartitionsFactory = Callable[[DetectorState, ModelSpec, Settings], Partitions]
DECIDING = ("principal", "window_start", "account_id", "principal_type")
"""The columns of a closed window the engine itself reads (besides the model's features)."""


@dataclass
class EngineStats:
    events: int = 0
    windows: int = 0
    findings: int = 0
    alerts: int = 0
    merged: int = 0
    by_detection: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    """Detections that raised, by id: counted and logged; the others ran on regardless."""
    routine_bursts: int = 0
    """Window deviations dropped because the principal bursts like that routinely."""
    quiet: dict[str, int] = field(default_factory=dict)
    """Signals recorded without notifying anyone, by why (learning, habit, weak, grouped)."""
    untimed: int = 0
    """Events without a time, left out of detection (lakes written before they were
    quarantined can hold some)."""


class Engine:
    """Detections over a stream of event batches."""

    def __init__(
        self,
        settings: Settings,
        spec: ModelSpec,
        state: DetectorState | None = None,
        partitions: PartitionsFactory = Partition,
    ) -> None:
        self.configured = settings
        """The settings as configured; ``settings`` adds what discovery learned."""
        self.spec = spec
        self.state = state or DetectorState(model_name=spec.name)
        self.settings = self.state.discovered.effective(settings)
        if self.state.scorer is None:
            self.state.scorer = Scorer(spec)
        if self.state.bucket_scorer is None:
            self.state.bucket_scorer = Scorer(bucket_spec(spec))
        self.partitions: Partitions = partitions(self.state, spec, self.settings)
        """Where the principals' own state lives and is worked on (``detector.partition``)."""
        self.detections = active(settings)
        self.rules = [d for d in self.detections if isinstance(d, EventRule)]
        self.by_id = {d.id: d for d in self.detections}
        # Dispatch by stage, on the base classes only: a new detection is one new file.
        self.sequence = next((d for d in self.detections if isinstance(d, AlertCorrelation)), None)
        self.silence = next((d for d in self.detections if isinstance(d, SilenceDetection)), None)
        self.attack_sequence = next(
            (d for d in self.detections if isinstance(d, IncidentDetection)), None
        )
        self.incidents = IncidentBook(
            self.state.incidents,
            timedelta(hours=settings.incident_hours),
            settings.notify_severity,
        )
        self.learning = timedelta(days=settings.learning_days)
        if self.state.streams is None:
            self.state.streams = StreamWatch()
        lateness = timedelta(minutes=settings.lateness_minutes)
        if self.state.windows is None:
            self.state.windows = WindowAggregator(settings.window_minutes, lateness)
            self.state.bucket_windows = WindowAggregator(
                settings.window_minutes, lateness, {"keys": "key"}
            )
        elif self.state.windows.minutes != settings.window_minutes:
            raise UsageError(
                f"the state's open windows are {self.state.windows.minutes} "
                f"minutes wide but the settings say {settings.window_minutes}; "
                "keep the window size or start from a new --state"
            )
        else:
            self.state.windows.widen(DISTINCT)
        self.windows: WindowAggregator = self.state.windows
        self.bucket_windows: WindowAggregator = self.state.bucket_windows
        self.windows.lateness = self.bucket_windows.lateness = lateness
        self.closed: list[pl.DataFrame] = []
        """Principal windows closed since the caller last took them (the features table)."""
        self._answers: dict[Habit, bool] = {}
        """Habit questions answered ahead (``_quiet`` asks the partition the others)."""
        self._close = -1
        """Counts closes: a principal×bucket window consults its principal's window of the
        same close."""
        self.book = AlertBook(self.state.alerts_seen)
        self.stats = EngineStats()
        self.suppressions: list[Suppression] = []
        """Analysts' suppressions (``detector alerts suppress``): signals they cover are
        recorded as ``suppressed``, not notified."""

    def process(self, events: pa.Table) -> list[Alert]:
        """Alerts newly raised by this batch (merges into open alerts are not repeated)."""
        if not events.num_rows:
            return []
        timed = pc.is_valid(events.column("event_time"))
        if not pc.all(timed).as_py():
            self.stats.untimed += events.num_rows - pc.sum(timed).as_py()
            events = events.filter(timed)
        if self.state.started is None:
            self.state.started = pc.min(events.column("event_time")).as_py()
        if self.state.discovered.merge(discover(events)):
            self.settings = self.state.discovered.effective(self.configured)
            self.partitions.configure(self.settings)
        df = enrich(events, self.settings)
        self.stats.events += df.height
        out = []
        found = [
            (f, rule)
            for rule in self.rules
            for f in self._guarded(rule, [], rule.findings, df, self.settings)
        ]
        # In event-time order, not rule order: incidents then decide the same whether the
        # events came in one batch (backfill) or in many (tail).
        found.sort(key=lambda fr: (fr[0].first_seen, fr[1].id))
        if not isinstance(self.partitions, Partition):
            # Habit questions that remember nothing: all at once, up front, not a call each.
            asked = {
                q for f, rule in found if (q := habit_question(rule, f)) and q.kind != "finding"
            }
            self._answers = dict(zip(asked, self.partitions.routines(list(asked)), strict=True))
        try:
            for f, rule in found:  # a rule fires as its event arrives: detected at its time
                out += self._raise(rule, [f], None)
        finally:
            self._answers = {}
        self.windows.add(df)
        self.bucket_windows.add(bucket_view(df))
        self.state.streams.add(df)
        out += self._score(self.windows.close())
        out += self._score_buckets(self.bucket_windows.close())
        if self.silence is not None:
            out += self._raise(
                self.silence,
                self._guarded(
                    self.silence, [], self.silence.check, self.state.streams, self.windows.watermark
                ),
                None,
            )
        return out

    def _guarded(self, d: Detection, nothing: Any, check: Callable[..., Any], *args: Any) -> Any:
        """``check(*args)``, or ``nothing`` when it raises (``partition.guarded``)."""
        return guarded(self.stats.errors, d, nothing, check, *args)

    def flush(self) -> list[Alert]:
        """Close every open window (end of a backfill, or shutdown)."""
        alerts = self._score(self.windows.close(flush=True))
        alerts += self._score_buckets(self.bucket_windows.close(flush=True))
        newest = self.partitions.newest()
        if newest is not None:
            self.partitions.expire(newest, self.spec.expiry_days, self.spec.idle_days)
            self.state.expire_alerts(newest, self.spec.idle_days)
            self.incidents.expire(newest)
            self.state.incidents = self.incidents.incidents
        return alerts

    def whole_state(self) -> DetectorState:
        """The state with every partition's principals (what a checkpoint saves)."""
        return self.partitions.gather(self.state)

    def take_closed(self) -> pl.DataFrame | None:
        """Principal windows closed since the last call, with their features (or None)."""
        closed = [c for c in self.closed if not c.is_empty()]
        self.closed = []
        return pl.concat(closed, how="diagonal_relaxed") if closed else None

    def _score(self, closed: pl.DataFrame) -> list[Alert]:
        """Score, judge and file the closed principal windows."""
        scorer = self.state.scorer
        assert scorer is not None
        self.closed.append(closed)
        self._close += 1
        self.stats.windows += closed.height
        if not closed.height:
            return []
        judged = [not _allowlisted(p, self.settings) for p in closed["principal"]]
        return self._judge_close(scorer, "principal", closed, judged)

    def _score_buckets(self, closed: pl.DataFrame) -> list[Alert]:
        """Volume per principal×bucket against its own baseline; volume detections only."""
        scorer = self.state.bucket_scorer
        assert scorer is not None
        if not closed.height:
            return []
        keep = [not _allowlisted(principal_of(p), self.settings) for p in closed["principal"]]
        closed = closed.filter(pl.Series(keep, dtype=pl.Boolean))
        return self._judge_close(scorer, "bucket", closed, [True] * closed.height)

    def _judge_close(
        self, scorer: Scorer, kind: Kind, closed: pl.DataFrame, judged: list[bool]
    ) -> list[Alert]:
        """One close's windows (sorted by start). The partitions hold the principals'
        state, the engine the threshold, the peers and the books, and each side does its
        part in order: a principal's windows one after the other on its partition, and
        the threshold, the peers and the filing of findings in the windows' order here.

        The partitions run each principal ahead through the windows that cannot deviate
        (most of them) and stop it at one that could, or that has findings. The engine
        then decides the stopped windows' deviations, has them judged, files them, and
        lets the stopped principals run on: a few calls per close, not a few per window."""
        if not closed.height:
            return []
        # What the engine reads of a window; the partitions get every column.
        local = isinstance(self.partitions, Partition)
        if local:  # read once, here and by the partition
            rows = list(closed.iter_rows(named=True))
        else:  # the engine reads a few columns; the partitions get every column, as Arrow
            features = [f for f in scorer.spec.features if f in closed.columns]
            rows = list(closed.select(*DECIDING, *features).iter_rows(named=True))
        peers = scorer.peer_peaks(dict(Counter(peer_of(kind, w) for w in rows)))
        everything = list(range(len(rows)))
        ahead = self.partitions.run_ahead(
            kind, self._close, rows if local else closed, everything, judged, peers
        )
        position: dict[str, list[int]] = {}
        for i, w in enumerate(rows):
            position.setdefault(w["principal"], []).append(i)
        stopped = {w["principal"] for w, a in zip(rows, ahead, strict=True) if a is None}
        """Keys with windows left to run ahead."""
        deviations: list[list[Deviation]] = []
        out: list[Alert] = []
        filed = 0
        while filed < len(rows):
            decided = len(deviations)
            while decided < len(rows) and (a := ahead[decided]) is not None:
                w = rows[decided]
                x = {f: float(w.get(f) or 0) for f in scorer.spec.features}
                deviations.append(scorer.judge(peer_of(kind, w), x, a.own, a.judged is not None))
                decided += 1
            while filed < decided and (a := ahead[filed]) is not None and a.judged is not None:
                out += self._file_judged(rows[filed], filed, a, judged[filed], kind)
                filed += 1
            if filed < decided:  # decided windows wait for their verdicts
                self._verdicts(kind, judged, ahead, deviations, range(filed, decided))
            elif filed < len(rows):  # every window before is filed: stopped principals go on
                resume: list[int] = []
                for key in list(stopped):
                    at = position[key]
                    first = next(n for n, i in enumerate(at) if ahead[i] is None)
                    if first == 0 or at[first - 1] < filed:
                        resume += at[first:]
                        stopped.discard(key)
                resume.sort()
                windows = [rows[i] for i in resume] if local else closed[resume]
                resumed = self.partitions.run_ahead(
                    kind, self._close, windows, resume, [judged[i] for i in resume], peers
                )
                for i, a in zip(resume, resumed, strict=True):
                    ahead[i] = a
                    if a is None:
                        stopped.add(rows[i]["principal"])
        self._take_stats()
        return out

    def _verdicts(
        self,
        kind: Kind,
        judged: list[bool],
        ahead: list[Ahead | None],
        deviations: list[list[Deviation]],
        span: range,
    ) -> None:
        """Have the decided windows of ``span`` that wait for a verdict judged."""
        waiting = [(i, a) for i in span if (a := ahead[i]) is not None and a.judged is None]
        verdicts = self.partitions.judge(
            kind,
            self._close,
            [i for i, _ in waiting],
            [deviations[i] for i, _ in waiting],
            [judged[i] for i, _ in waiting],
        )
        for (_, a), verdict in zip(waiting, verdicts, strict=True):
            a.judged = verdict

    def _file_judged(
        self, w: dict[str, Any], position: int, a: Ahead, judge: bool, kind: Kind
    ) -> list[Alert]:
        """File a judged window's findings; then its principal's profile learns it."""
        verdict = a.judged
        assert verdict is not None
        if kind == "bucket":
            return self._file_window(w, verdict)
        raised: list[Alert] = []
        suppressed = False
        if judge:
            merged = self.stats.merged
            raised = self._file_window(w, verdict)
            # Everything this window raised, an analyst suppressed: its deviation is
            # expected, so the principal's own baseline (not its peers') learns it.
            suppressed = bool(
                verdict.deviates
                and raised
                and self.stats.merged == merged
                and all(r.status == "suppressed" for r in raised)
            )
        if not a.finished:
            self.partitions.finish(self._close, position, suppressed)
        return raised

    def _file_window(self, w: dict[str, Any], verdict: Judged) -> list[Alert]:
        """Raise what the detections found in one window, detected at its end."""
        detected_at = w["window_start"] + timedelta(minutes=self.settings.window_minutes)
        out: list[Alert] = []
        self._answers = verdict.habits
        try:
            for detection_id, finding in verdict.findings:
                out += self._raise(self.by_id[detection_id], [finding], detected_at)
        finally:
            self._answers = {}
        return out

    def _take_stats(self) -> None:
        counted = self.partitions.take_stats()
        self.stats.routine_bursts += counted.routine_bursts
        for k, n in counted.errors.items():
            self.stats.errors[k] = self.stats.errors.get(k, 0) + n

    def _raise(self, d: Detection, findings: list[Finding], detected_at: Any) -> list[Alert]:
        out = []
        for f in findings:
            self.stats.findings += 1
            alert = self._guarded(
                d,
                None,
                self.book.add,
                d,
                f,
                detected_at if isinstance(detected_at, datetime) else None,
            )
            if alert is None:
                self.stats.merged += 1
                continue
            self.stats.alerts += 1
            self.stats.by_detection[d.id] = self.stats.by_detection.get(d.id, 0) + 1
            out.append(alert)
            out += self._file(d, f, alert, detected_at)
            if self.sequence is not None and d is not self.sequence:
                chained = self._guarded(
                    self.sequence, None, self.sequence.observe, alert, self.state.sequences
                )
                if chained is not None:
                    out += self._raise(self.sequence, [chained], detected_at)
        return out

    def _file(self, d: Detection, f: Finding, alert: Alert, detected_at: Any) -> list[Alert]:
        """Decide what a new signal notifies: learning, habit, an analyst's suppression, or
        its incident's say; an incident that now spans several attack stages raises its
        attack sequence."""
        quiet = self._quiet(d, f)  # first: it remembers the finding's habit mark either way
        if covering(self.suppressions, d.id, f.principal, f.buckets) is not None:
            quiet = "suppressed"
        if quiet is not None:
            alert.status = quiet
            self.stats.quiet[quiet] = self.stats.quiet.get(quiet, 0) + 1
            return []
        sequence = self.attack_sequence
        incident = self.incidents.file(alert, timeline=d is not sequence)
        if alert.status != "notify":
            self.stats.quiet[alert.status] = self.stats.quiet.get(alert.status, 0) + 1
        if sequence is None or d is sequence:
            return []
        found = self._guarded(sequence, None, sequence.conclude, incident, alert)
        if found is None:
            return []
        incident.sequence = True
        return self._raise(sequence, [found], detected_at)

    def _quiet(self, d: Detection, f: Finding) -> str | None:
        """``learning`` or ``habit`` when the signal is recorded without an incident."""
        routine = False
        question = habit_question(d, f)
        if question is not None:
            answer = self._answers.get(question)
            if answer is None:
                routine = self.partitions.routine(question)
            else:  # answered ahead, when nothing had yet been remembered
                routine = answer
                if question.kind == "finding":
                    self.partitions.remember(question)
        started = self.state.started
        if d.learns_on(f) and started is not None and f.first_seen - started < self.learning:
            return "learning"
        return "habit" if routine else None


def _allowlisted(principal: str, settings: Settings) -> bool:
    """Principals whose windows are not judged: allowlisted ones and AWS's own services."""
    return (
        principal in settings.allow_principals
        or principal.startswith("service:")
        or re.search(SERVICE_ROLE, principal) is not None
    )
