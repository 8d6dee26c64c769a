"""Pipeline definitions: what to read, where the lake is, how to detect, where alerts go.

The command line (``detector backfill`` / ``detector tail``) and pipeline files
(``detector run pipelines/<name>.toml``) both produce a ``Pipeline``; one place builds the
run from it. A pipeline file::

    [source]
    kind = "sqs"                 # backfill | sqs | kinesis
    queue_url = "https://sqs.us-east-1.amazonaws.com/111122223333/s3-log-notifications"

    [lake]
    path = "/var/lib/s3-detector/lake"

    [detect]                     # optional; enabled = false ingests only
    config = "/etc/s3-detector/detector.toml"
    checkpoint_seconds = 60

    [[sinks]]                    # repeatable; routing by severity and detection
    kind = "slack"
    value = "env:SLACK_WEBHOOK_URL"   # secrets: env:VAR or file:/path, never the URL itself
    min_severity = "high"
    exclude = ["D-AGENT-NEW"]

    [run]
    metrics_port = 9108
    status_seconds = 30
    log_format = "json"

Every problem names the file and the field at fault before anything runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from detector.defaults import ENGINES
from detector.detect import DEFAULT_CHECKPOINT_SECONDS
from detector.errors import UsageError
from detector.ingest import DEFAULT_BATCH_MB

if TYPE_CHECKING:
    from detector.icelake.catalog import CatalogChoice
from detector.lakes import FORMATS, GROUP_BATCHES, lake_location
from detector.logtypes.base import DEFAULT_MAX_OBJECT_MB

SOURCE_KINDS = ("backfill", "sqs", "kinesis")
KINESIS_STARTS = ("trim-horizon", "latest", "timestamp")


@dataclass
class SinkSpec:
    kind: str
    value: str
    min_severity: str = "low"
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    """One run, however it was described."""

    kind: str
    lake: Path | str
    """A local folder, or ``s3://bucket/prefix`` (an Iceberg lake)."""
    lake_format: str | None = None
    """For a new lake: iceberg (the default) or parquet; an existing lake keeps its own."""
    commit_batches: int = GROUP_BATCHES
    """Backfill into an Iceberg lake: batches made visible by one commit."""
    catalog: str | None = None
    """An Iceberg lake on S3: its catalog (sql, glue, rest)."""
    catalog_uri: str | None = None
    sources: list[str] = field(default_factory=list)
    """Backfill: local paths or s3:// prefixes."""
    since: date | None = None
    until: date | None = None
    workers: int = 1
    engine: str = "local"
    """``local`` (this machine) or ``ray`` (parsing on a Ray cluster)."""
    ray_address: str | None = None
    """With the ray engine: the cluster to join (None: start one on this machine)."""
    consumers: int = 1
    """A tail on Ray: consumer actors polling the queue, or sharing the stream's shards."""
    partitions: int = 0
    """On Ray: actors holding the principals' detection state (0: this process holds it)."""
    batch_mb: int = DEFAULT_BATCH_MB
    max_object_mb: int = DEFAULT_MAX_OBJECT_MB
    """Largest log object (decompressed) read; larger ones are quarantined."""
    queue_url: str | None = None
    wait_seconds: int = 20
    batch_messages: int = 100
    max_receives: int = 5
    visibility_timeout: int | None = None
    stream: str | None = None
    start: str = "trim-horizon"
    start_timestamp: datetime | None = None
    detect: bool = True
    config: Path | None = None
    model: str = "default"
    state: str | None = None
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    sinks: list[SinkSpec] = field(default_factory=list)
    metrics_port: int | None = None
    status_seconds: float = 30.0
    until_idle: float | None = None
    log_format: str = "text"

    @property
    def catalog_choice(self) -> CatalogChoice | None:
        """The Iceberg catalog of a lake on S3 (None: the default, or a local lake)."""
        if self.catalog is None and self.catalog_uri is None:
            return None
        from detector.icelake.catalog import CatalogChoice

        return CatalogChoice(self.catalog or "sql", self.catalog_uri)


# --- pipeline files -------------------------------------------------------------------
class _Source(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    paths: list[str] = msgspec.field(default_factory=list)
    since: str | None = None
    until: str | None = None
    workers: int = 1
    engine: str = "local"
    ray_address: str | None = None
    consumers: int = 1
    partitions: int = 0
    batch_mb: int = DEFAULT_BATCH_MB
    max_object_mb: int = DEFAULT_MAX_OBJECT_MB
    queue_url: str | None = None
    wait_seconds: int = 20
    batch_messages: int = 100
    max_receives: int = 5
    visibility_timeout: int | None = None
    stream: str | None = None
    start: str = "trim-horizon"
    start_timestamp: str | None = None


class _Lake(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: str | None = None
    commit_batches: int = GROUP_BATCHES
    catalog: str | None = None
    catalog_uri: str | None = None


class _Detect(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True
    config: str | None = None
    model: str = "default"
    state: str | None = None
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS


class _Sink(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    value: str
    min_severity: str = "low"
    include: list[str] | None = None
    exclude: list[str] = msgspec.field(default_factory=list)


class _Run(msgspec.Struct, forbid_unknown_fields=True):
    metrics_port: int | None = None
    status_seconds: float = 30.0
    until_idle: float | None = None
    log_format: str = "text"


class _File(msgspec.Struct, forbid_unknown_fields=True):
    source: _Source
    lake: _Lake
    detect: _Detect = msgspec.field(default_factory=_Detect)
    sinks: list[_Sink] = msgspec.field(default_factory=list)
    run: _Run = msgspec.field(default_factory=_Run)


def load_pipeline(path: Path) -> Pipeline:
    """Read and validate a pipeline file; relative paths are relative to the working dir."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the pipeline file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    try:
        f = msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{path}: {exc}") from None
    for n, s in enumerate(f.sinks):
        if s.kind == "slack" and not s.value.startswith(("env:", "file:")):
            raise UsageError(
                f"{path}: sinks[{n}] (slack): give the webhook as env:VAR or "
                "file:/path; a webhook URL is a secret and must not be in the "
                "pipeline file"
            )
    src = f.source
    pipeline = Pipeline(
        kind=src.kind,
        lake=lake_location(f.lake.path),
        lake_format=f.lake.format,
        commit_batches=f.lake.commit_batches,
        catalog=f.lake.catalog,
        catalog_uri=f.lake.catalog_uri,
        sources=src.paths,
        since=_day(src.since, path, "source.since"),
        until=_day(src.until, path, "source.until"),
        workers=src.workers,
        engine=src.engine,
        ray_address=src.ray_address,
        consumers=src.consumers,
        partitions=src.partitions,
        batch_mb=src.batch_mb,
        max_object_mb=src.max_object_mb,
        queue_url=src.queue_url,
        wait_seconds=src.wait_seconds,
        batch_messages=src.batch_messages,
        max_receives=src.max_receives,
        visibility_timeout=src.visibility_timeout,
        stream=src.stream,
        start=src.start,
        start_timestamp=parse_timestamp(src.start_timestamp, f"{path}: source.start_timestamp")
        if src.start_timestamp
        else None,
        detect=f.detect.enabled,
        config=Path(f.detect.config) if f.detect.config else None,
        model=f.detect.model,
        state=f.detect.state,
        checkpoint_seconds=f.detect.checkpoint_seconds,
        sinks=[SinkSpec(s.kind, s.value, s.min_severity, s.include, s.exclude) for s in f.sinks],
        metrics_port=f.run.metrics_port,
        status_seconds=f.run.status_seconds,
        until_idle=f.run.until_idle,
        log_format=f.run.log_format,
    )
    validate(pipeline, str(path))
    return pipeline


def validate(p: Pipeline, where: str) -> None:
    """The checks that hold however the pipeline was given."""
    if p.kind not in SOURCE_KINDS:
        raise UsageError(f"{where}: source kind {p.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    if p.kind == "backfill" and not p.sources:
        raise UsageError(f"{where}: a backfill needs source paths (local or s3://)")
    if p.kind == "sqs" and not p.queue_url:
        raise UsageError(f"{where}: an sqs source needs queue_url")
    if p.kind == "kinesis":
        if not p.stream:
            raise UsageError(f"{where}: a kinesis source needs stream")
        if p.start not in KINESIS_STARTS:
            raise UsageError(
                f"{where}: start {p.start!r} is not one of {', '.join(KINESIS_STARTS)}"
            )
        if (p.start == "timestamp") != (p.start_timestamp is not None):
            raise UsageError(
                f"{where}: a start timestamp goes with start = timestamp, and only with it"
            )
    if p.lake_format is not None and p.lake_format not in FORMATS:
        raise UsageError(f"{where}: lake format must be one of {', '.join(FORMATS)}")
    if str(p.lake).startswith("s3://") and p.lake_format == "parquet":
        raise UsageError(f"{where}: a lake on S3 is an Iceberg lake (the parquet format is local)")
    if (p.catalog or p.catalog_uri) and not str(p.lake).startswith("s3://"):
        raise UsageError(f"{where}: a local lake keeps its own catalog; a catalog is for s3://")
    if p.sinks and not p.detect:
        raise UsageError(f"{where}: sinks need detection (it is switched off)")
    if p.log_format not in ("text", "json"):
        raise UsageError(f"{where}: log_format must be text or json")
    if p.checkpoint_seconds < 0 or p.status_seconds < 0:
        raise UsageError(f"{where}: checkpoint_seconds and status_seconds must be >= 0")
    if p.engine not in ENGINES:
        raise UsageError(f"{where}: engine must be one of {', '.join(ENGINES)}")
    if p.consumers != 1 and (p.engine != "ray" or p.kind == "backfill"):
        raise UsageError(f"{where}: consumers is for a tail on the ray engine")
    if p.partitions and (p.engine != "ray" or not p.detect):
        raise UsageError(f"{where}: partitions is for detection on the ray engine")
    if p.partitions < 0:
        raise UsageError(f"{where}: partitions must be 0 (state in this process) or more")
    if p.ray_address is not None and p.engine != "ray":
        raise UsageError(f"{where}: a Ray address needs the ray engine")
    if p.ray_address is not None and p.workers != 1:
        raise UsageError(
            f"{where}: workers is for a Ray cluster started by the run; a joined cluster "
            "uses all its CPUs (leave workers out with ray_address)"
        )
    if min(p.workers, p.consumers, p.batch_mb, p.max_object_mb, p.commit_batches) < 1:
        raise UsageError(
            f"{where}: workers, consumers, batch_mb, max_object_mb and commit_batches must "
            "be 1 or more"
        )


def parse_timestamp(text: str, where: str) -> datetime:
    """ISO 8601 (``2026-11-22T10:00:00Z``); naive times are UTC."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _day(text: str | None, path: Path, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{path}: {name}: {text!r} is not a date (YYYY-MM-DD)") from None


def as_dict(p: Pipeline) -> dict[str, Any]:
    """For logs: the pipeline without sink values (they may be secrets)."""
    return {
        "kind": p.kind,
        "lake": str(p.lake),
        "lake_format": p.lake_format,
        "sources": p.sources,
        "queue_url": p.queue_url,
        "stream": p.stream,
        "detect": p.detect,
        "sinks": [f"{s.kind} (min {s.min_severity})" for s in p.sinks],
    }
