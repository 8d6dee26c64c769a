"""What every log type shares: rejects, parse results, the registry, and content unwrapping.

A log type turns many ``Blob`` values into one Arrow table of the canonical schema plus a
list of ``Reject`` values. Log types register themselves when their module is imported, so a
new format is one new file in this package and nothing else.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import polars as pl
import pyarrow as pa
from isal import isal_zlib

from detector.blob import Blob
from detector.defaults import DEFAULT_MAX_OBJECT_MB
from detector.schema import empty_events

RAW_CAP = 1 << 20
"""Rejected bytes kept in quarantine per reject; more is cut and the detail says so."""

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Reject:
    """Input that could not become events, with enough to find and replay it."""

    origin_object: str
    reason: str
    detail: str
    raw: bytes = b""
    origin_index: int | None = None
    records: int | None = 1
    source: str | None = None

    def capped(self) -> Reject:
        """The same reject with ``raw`` cut to ``RAW_CAP`` bytes."""
        if len(self.raw) <= RAW_CAP:
            return self
        return Reject(
            self.origin_object,
            self.reason,
            f"{self.detail} [raw cut from {len(self.raw)} to {RAW_CAP} bytes]",
            self.raw[:RAW_CAP],
            self.origin_index,
            self.records,
            self.source,
        )


@dataclass
class ParseResult:
    """Events parsed from some blobs, what was rejected, and what was skipped on purpose."""

    events: pa.Table = field(default_factory=empty_events)
    rejects: list[Reject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def merge(self, other: ParseResult) -> None:
        if other.events.num_rows:
            self.events = (
                other.events
                if not self.events.num_rows
                else pa.concat_tables([self.events, other.events])
            )
        self.rejects.extend(other.rejects)
        for reason, n in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n


@dataclass(frozen=True)
class Content:
    """A blob's payload after unwrapping compression, and a reject if unwrapping failed."""

    blob: Blob
    data: bytes
    problem: Reject | None = None


class LogType:
    """Base of every log type. Subclasses set ``name``/``source`` and implement ``parse``.

    ``claims_key`` routes by the object key (metadata, as AWS lays logs out) and
    ``sniff`` by the first bytes of content when the key says nothing; neither parses.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    priority: ClassVar[int] = 100

    def claims_key(self, key: str) -> bool:
        return False

    def sniff(self, head: bytes) -> bool:
        return False

    def parse(self, contents: Sequence[Content]) -> ParseResult:
        raise NotImplementedError


REGISTRY: dict[str, LogType] = {}


_L = TypeVar("_L", bound=type[LogType])


def register(cls: _L) -> _L:
    """Class decorator: make a log type available to routing under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"log type {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def unwrap(blob: Blob, cap: int = DEFAULT_MAX_OBJECT_MB << 20) -> Content:
    """Decompress gzip (by magic bytes, not by name), never past ``cap`` bytes.

    A truncated or damaged stream keeps what decompressed before the damage; a stream that
    inflates past ``cap`` (a decompression bomb) keeps nothing and is rejected with both sizes.
    """
    data = blob.data
    if blob.oversize is not None:
        return Content(
            blob,
            b"",
            _file_reject(
                blob,
                "object_too_large",
                f"{blob.oversize:,} bytes, over the {_mib(cap)} "
                "per-object cap (--max-object-mb); only its first bytes are kept here",
            ),
        )
    if data[:2] != GZIP_MAGIC:
        if blob.key.endswith(".gz") and data:
            return Content(
                blob, data, _file_reject(blob, "not_gzip", "named .gz but is not gzip data")
            )
        return Content(blob, data)
    inflated = inflate(data, cap)
    if inflated.reason is None:
        return Content(blob, inflated.data)
    return Content(blob, inflated.data, _file_reject(blob, inflated.reason, inflated.detail))


@dataclass(frozen=True)
class Inflated:
    """What a gzip stream decompressed to, and why it stopped early if it did."""

    data: bytes
    reason: str | None = None
    detail: str = ""


def inflate(data: bytes, cap: int) -> Inflated:
    """Every gzip member of ``data``, streamed with at most ``cap + 1`` bytes of output.

    ``decompression_bomb``: the output passed ``cap`` (nothing is kept: the object is not
    a log). ``truncated_gzip``: the stream is cut short or damaged (what came before is kept).
    """
    out: list[bytes] = []
    total = 0
    rest = data
    while rest:
        d = isal_zlib.decompressobj(wbits=31)
        try:
            chunk = d.decompress(rest, cap + 1 - total)
        except (isal_zlib.error, zlib.error) as exc:
            return Inflated(b"".join(out), "truncated_gzip", str(exc))
        total += len(chunk)
        if total > cap:
            return Inflated(
                b"",
                "decompression_bomb",
                f"{len(data):,} compressed bytes inflate past the {_mib(cap)} "
                "per-object cap (--max-object-mb); stopped there",
            )
        out.append(chunk)
        if not d.eof:
            return Inflated(
                b"".join(out), "truncated_gzip", "compressed stream ended before its end marker"
            )
        rest = d.unused_data
        if rest[:2] != GZIP_MAGIC and rest.strip(b"\x00"):
            return Inflated(
                b"".join(out),
                "truncated_gzip",
                f"{len(rest):,} bytes after the last gzip member are not gzip",
            )
        if rest[:2] != GZIP_MAGIC:
            break
    return Inflated(out[0] if len(out) == 1 else b"".join(out))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def _file_reject(blob: Blob, reason: str, detail: str) -> Reject:
    return Reject(blob.uri, reason, detail, blob.data, records=None)


SkipRule = Callable[[str], str | None]
SKIP_RULES: list[SkipRule] = []
"""Functions of an object key returning a skip reason (e.g. ``cloudtrail_digest``) or None."""


def skip_rule(fn: SkipRule) -> SkipRule:
    """Decorator: register a rule that recognises objects that are not events (digests...)."""
    SKIP_RULES.append(fn)
    return fn


NOT_LOG_SUFFIXES = (
    *(".md", ".rst", ".py", ".pyc", ".sql", ".sh", ".toml", ".yaml", ".yml", ".ini", ".cfg"),
    *(".conf", ".html", ".htm", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".csv"),
    ".parquet",
)
"""Files that sit beside logs in a folder or bucket (docs, scripts, settings, exports)."""
SIDECAR_NAMES = frozenset({"MANIFEST.json", "manifest.json", "manifest.checksum", "LICENSE"})


@skip_rule
def not_a_log(key: str) -> str | None:
    """Documentation, settings and manifests beside the logs: skipped and counted, not
    quarantined (a folder of logs often holds a README or a config)."""
    name = key.rsplit("/", 1)[-1]
    if name in SIDECAR_NAMES or name.lower().endswith(NOT_LOG_SUFFIXES):
        return "not_a_log"
    return None


def normalise_tls(expr: pl.Expr) -> pl.Expr:
    """``TLSV1.2`` (access logs) and ``TLSv1.2`` (CloudTrail) name the same thing."""
    return expr.str.replace(r"^(?i)tlsv", "TLSv")
