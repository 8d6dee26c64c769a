"""What every detection shares: metadata, the registry, findings, and example events.

A detection declares, beside its logic: ``id``, ``title``, ``severity``, the capabilities it
covers (C01–C32 of shared/DETECTIONS.md), ATT&CK technique ids, its dedup key and window,
a runbook line, and ``examples`` (events it must and must not fire on), which one
parametrized test runs for every detection. Detections register when their module is
imported, so a new family is one new file in this package.

Event rules (``EventRule``) are polars expressions over enriched events, evaluated on a whole
batch at once; matches are grouped by the dedup key into ``Finding`` values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import polars as pl

from detector.config import Settings

if TYPE_CHECKING:
    from detector.alerts import Alert
    from detector.incidents import Incident

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
EVIDENCE_CAP = 20
LIST_CAP = 10


def severity_rank(s: str) -> int:
    return SEVERITIES.index(s)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reason:
    """Why a finding fired: the feature, what was seen, the baseline, and all of it in words."""

    feature: str
    observed: str
    baseline: str | None
    text: str


@dataclass(frozen=True)
class Example:
    """Events a detection must (``fires=True``) or must not fire on, as AWS would log them.

    An event rule judges the events; a window detection judges their 5-minute windows as
    those of principals with no history yet (tests/test_detections.py runs both)."""

    name: str
    records: tuple[dict[str, Any], ...] = ()
    access_lines: tuple[str, ...] = ()
    fires: bool = True
    severity: str | None = None
    """The severity every finding must have when it is not the detection's own."""


@dataclass
class Finding:
    """One detection's conclusion about one dedup key: the raw material of an alert."""

    detection: str
    key: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    principal: str | None
    account_id: str | None
    evidence_ids: list[str]
    evidence_total: int
    buckets: list[str] = field(default_factory=list)
    source_ips: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    vpc_endpoint_ids: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    score: float = 1.0
    severity: Severity | None = None
    """A finding may raise or lower its detection's severity (corroboration)."""


class Detection:
    """Base of every detection; subclasses set the metadata and implement ``findings``."""

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    capabilities: ClassVar[tuple[str, ...]]
    attack: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[Literal["rule", "anomaly", "correlation"]] = "rule"
    dedup_by: ClassVar[tuple[str, ...]] = ("principal",)
    dedup_window: ClassVar[timedelta] = timedelta(hours=1)
    runbook: ClassVar[str] = ""
    examples: ClassVar[tuple[Example, ...]] = ()
    stage: ClassVar[Literal["event", "window", "alert", "incident", "silence"]] = "event"
    """Where the engine runs it: on each batch of events (``EventRule``), on each closed
    window (``WindowDetection``), on each alert raised (``AlertCorrelation``), on each
    incident that grows (``IncidentDetection``) or on log-stream volume
    (``SilenceDetection``). The engine dispatches on these base classes only."""
    skip_aws_services: ClassVar[bool] = True
    """AWS service principals acting on their own are normal for most rules."""
    learns: ClassVar[bool] = False
    """Behavioural: judged against learned history, so only recorded (status ``learning``)
    until the data spans the learning period. Tampering rules fire from the first event."""
    habit: ClassVar[tuple[str, str] | None] = None
    """``(newness kind, dedup field)``: a finding whose value (say its agent family) the
    principal already used on an earlier day is its habit: recorded, not notified. The kind
    ``finding`` judges by repetition: the same detection and value for the principal on an
    earlier day (a CI role reading its Terraform state every night); ``public_networks``: a
    network the principal used on an earlier day, or any public one for a principal that
    mostly calls from public addresses."""

    def learns_on(self, f: Finding) -> bool:
        """Whether this finding is behavioural (see ``learns``); some rules are only partly."""
        return self.learns

    def habit_of(self, f: Finding) -> tuple[str, str] | None:
        """The (kind, value) to judge against the principal's history, if any."""
        if self.habit is None:
            return None
        kind, name = self.habit
        return (kind, f.key[self.dedup_by.index(name)]) if name in self.dedup_by else None


class EventRule(Detection):
    """A precise check on single events, as a boolean polars expression."""

    stage = "event"

    reason_feature: ClassVar[str] = "event"
    reason_template: ClassVar[str] = "{event_name} by {principal}"
    events_of: ClassVar[tuple[str, ...]] = ()
    """API names the rule can match, if it knows them: rows of other events are dropped
    before ``match`` is built and evaluated (some expressions are costly even on few rows)."""

    def match(self, settings: Settings) -> pl.Expr:
        raise NotImplementedError

    def candidates(self, events: pl.DataFrame) -> pl.DataFrame:
        if self.events_of:
            events = events.filter(pl.col("event_name").is_in(list(self.events_of)))
        return events

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        events = self.candidates(events)
        if events.is_empty():
            return []
        hits = events.filter(self.match(settings) & ~allowlisted(self, settings))
        return group_findings(self, hits, settings)

    def severity_of(self, hits: pl.DataFrame) -> Severity | None:
        """One finding's severity, when its events make it other than the detection's."""
        return None

    def explain(self, hits: pl.DataFrame) -> list[Reason]:
        """Default explanation: the template filled from the first matching event."""
        return self.templated(hits.row(0, named=True), hits.height)

    def templated(self, first: dict[str, Any], matching: int) -> list[Reason]:
        """The template filled from a finding's first event, and how many events matched."""
        text = fill_template(self.reason_template, first)
        return [Reason(self.reason_feature, f"{matching} matching event(s)", None, text)]


def correlated(
    d: Detection,
    about: Alert,
    key: tuple[str, ...],
    span: tuple[datetime, datetime],
    evidence: tuple[list[str], int],
    reasons: list[Reason],
    score: float,
) -> Finding:
    """A finding drawn from alerts (a correlation, a sequence): who and where come from the
    latest alert ``about``; when, evidence and why from the correlation."""
    return Finding(
        detection=d.id,
        key=key,
        first_seen=span[0],
        last_seen=span[1],
        principal=about.principal,
        account_id=about.account_id,
        evidence_ids=list(evidence[0]),
        evidence_total=evidence[1],
        buckets=list(about.buckets),
        source_ips=list(about.source_ips),
        user_agents=list(about.user_agents),
        vpc_endpoint_ids=list(about.vpc_endpoint_ids),
        reasons=reasons,
        score=score,
    )


class AlertCorrelation(Detection):
    """Stage ``alert``: shown every alert raised, with its own memory in the state; may
    conclude a correlated finding (exfiltrate, then destroy)."""

    stage = "alert"

    def observe(self, alert: Alert, memory: dict[str, Any]) -> Finding | None:
        raise NotImplementedError


class IncidentDetection(Detection):
    """Stage ``incident``: shown an incident each time a signal joins it; may conclude a
    finding about the whole incident (an attack sequence)."""

    stage = "incident"

    def conclude(self, incident: Incident, latest: Alert) -> Finding | None:
        raise NotImplementedError


class SilenceDetection(Detection):
    """Stage ``silence``: judges the hourly volume of each log stream."""

    stage = "silence"

    def check(self, watch: Any, watermark: datetime | None) -> list[Finding]:
        raise NotImplementedError


_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{(\w+)\}")


def fill_template(template: str, row: dict[str, Any]) -> str:
    """A reason template filled from an event: a ``[...]`` part is left out when a field
    in it is missing or empty (``on {bucket}[/{key}]``: a bucket-level call names no key);
    a required field that is missing reads ``(unknown)``."""

    def optional(m: re.Match[str]) -> str:
        fields = _FIELD.findall(m.group(1))
        return m.group(1) if all(row.get(f) not in (None, "") for f in fields) else ""

    return _OPTIONAL.sub(optional, template).format_map(_Known(row))


class _Known(dict[str, Any]):
    """Template values: a missing or null field reads ``(unknown)``."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__({k: v for k, v in row.items() if v is not None})

    def __missing__(self, key: str) -> str:
        return "(unknown)"


def allowlisted(d: Detection, settings: Settings) -> pl.Expr:
    """Events no detection should alert on: allowlisted principals, agents, AWS services."""
    expr = pl.col("principal").is_in(list(settings.allow_principals)).fill_null(False)
    expr |= pl.col("principal_arn").is_in(list(settings.allow_principals)).fill_null(False)
    for agent in settings.allow_user_agents:
        expr |= pl.col("user_agent").str.contains(agent, literal=True).fill_null(False)
    if d.skip_aws_services:
        expr |= pl.col("is_aws_service")
    if settings.aws_services:
        expr |= pl.col("invoked_by").is_in(list(settings.aws_services)).fill_null(False)
    return expr


def group_findings(d: EventRule, hits: pl.DataFrame, settings: Settings) -> list[Finding]:
    """One finding per dedup key (and dedup window) among matching events.

    Every group is summarised in one polars aggregation (first row, time span, evidence,
    distinct buckets, networks and agents); only a rule that explains or rates its findings
    its own way is handed each group's events.
    """
    if hits.is_empty():
        return []
    keys = [c for c in d.dedup_by]
    by = [*keys, "_window"]
    window = f"{int(d.dedup_window.total_seconds())}s"
    hits = hits.with_columns(
        _window=pl.col("event_time").dt.truncate(window),
        **{c: pl.col(c).cast(pl.String).fill_null("-") for c in keys},
    ).sort("event_time", nulls_last=True)
    lists = [c for c in _LISTED if c in hits.columns]
    evidence = pl.col("evidence_id").drop_nulls()
    summaries = (
        hits.group_by(by, maintain_order=True)
        .agg(
            pl.all().first(),
            pl.col("event_time").min().alias("_first_seen"),
            pl.col("event_time").max().alias("_last_seen"),
            pl.len().alias("_height"),
            evidence.head(EVIDENCE_CAP).alias("_evidence"),
            evidence.len().alias("_evidence_total"),
            *(
                pl.col(c).drop_nulls().unique(maintain_order=True).head(LIST_CAP).alias(f"_{c}s")
                for c in lists
            ),
        )
        .rows(named=True)
    )
    own_view = type(d).explain is not EventRule.explain or (
        type(d).severity_of is not EventRule.severity_of
    )
    groups = hits.partition_by(by, maintain_order=True) if own_view else None
    out = []
    for n, row in enumerate(summaries):
        group = groups[n] if groups is not None else None
        # A dedup key that was null reads "-" for grouping; the reason says nothing of it.
        said = {**row, **{k: None for k in keys if row[k] == "-"}}
        reasons = d.explain(group) if group is not None else d.templated(said, row["_height"])
        out.append(
            Finding(
                detection=d.id,
                key=tuple(str(row[k]) for k in keys),
                first_seen=row["_first_seen"],
                last_seen=row["_last_seen"],
                principal=row.get("principal"),
                account_id=row.get("account_id") or row.get("recipient_account_id"),
                evidence_ids=row["_evidence"],
                evidence_total=row["_evidence_total"],
                buckets=row.get("_buckets", []),
                source_ips=row.get("_source_ips", []),
                user_agents=row.get("_user_agents", []),
                vpc_endpoint_ids=row.get("_vpc_endpoint_ids", []),
                reasons=reasons,
                severity=d.severity_of(group) if group is not None else None,
            )
        )
    return out


_LISTED = ("bucket", "source_ip", "user_agent", "vpc_endpoint_id")
"""Columns whose distinct values a finding lists (the first ``LIST_CAP``)."""


def distinct(df: pl.DataFrame, column: str, cap: int = LIST_CAP) -> list[str]:
    if column not in df.columns:
        return []
    return df.get_column(column).drop_nulls().unique(maintain_order=True).head(cap).to_list()


REGISTRY: dict[str, Detection] = {}
_D = TypeVar("_D", bound=type[Detection])


def register(cls: _D) -> _D:
    """Class decorator: make a detection available under its ``id``."""
    if cls.id in REGISTRY:
        raise ValueError(f"detection {cls.id!r} registered twice")
    REGISTRY[cls.id] = cls()
    return cls


def json_field(path: str) -> pl.Expr:
    """A string member of ``request_parameters`` by JSONPath-like ``$.a.b``, or null."""
    return pl.col("request_parameters").str.json_path_match(path)
