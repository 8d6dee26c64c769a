"""Log types: bytes of a log object → Arrow events of the canonical schema, plus rejects.

Every module in this package is imported on first use and registers its log type, so a new
format is one new file. ``parse_blobs`` routes each object by its key (how AWS lays logs
out), then by a sniff of its first bytes, never by trying parsers in turn.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from detector import failpoints
from detector.blob import Blob
from detector.errors import InfrastructureError, infrastructure
from detector.interrupts import reraise_if_interrupted
from detector.logtypes.base import (
    DEFAULT_MAX_OBJECT_MB,
    REGISTRY,
    SKIP_RULES,
    Content,
    LogType,
    ParseResult,
    Reject,
    unwrap,
)
from detector.plugins import import_all

__all__ = ["REGISTRY", "LogType", "ParseResult", "Reject", "load_all", "parse_blobs", "route"]

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
BOM = b"\xef\xbb\xbf"
DEFAULT_CHUNK_BYTES = 16 << 20
"""Decompressed bytes parsed at once: a batch of small objects is parsed in chunks of about
this much, so memory follows this budget however well its objects compress."""


def load_all() -> dict[str, LogType]:
    """Import every log-type module here so that each registers itself."""
    import_all(__name__, __path__)
    return REGISTRY


def skip_reason(key: str) -> str | None:
    """Why an object is not events at all (a CloudTrail digest, say), or None."""
    for rule in SKIP_RULES:
        reason = rule(key)
        if reason:
            return reason
    return None


def route(content: Content) -> LogType | None:
    """The log type for this content: by key first, then by a sniff of the first bytes.

    A ``.gz`` object that is not gzip is routed by content alone: its key promised one thing
    and the bytes are another, so only the bytes can be trusted.
    """
    types = sorted(load_all().values(), key=lambda t: t.priority)
    trust_key = content.problem is None or content.problem.reason != "not_gzip"
    for lt in types:
        if trust_key and lt.claims_key(content.blob.key):
            return lt
    head = content.data[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    for lt in types:
        if lt.sniff(head):
            return lt
    return None


def parse_blobs(
    blobs: Iterable[Blob],
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> ParseResult:
    """Parse many log objects, grouped per log type so each parses in bulk.

    Objects are decompressed one at a time (never past ``max_object_bytes``) and parsed in
    chunks of about ``chunk_bytes`` decompressed bytes. Bad input becomes rejects; a failure
    of our own machine (disk full, I/O error, out of memory) is an ``InfrastructureError``.
    """
    load_all()
    result = ParseResult()
    groups: dict[str, list[Content]] = defaultdict(list)
    held = 0
    for blob in blobs:
        reason = skip_reason(blob.key)
        if reason:
            result.skipped[reason] = result.skipped.get(reason, 0) + 1
            continue
        try:
            failpoints.hit("parse.object")
            content = unwrap(blob, max_object_bytes)
        except MemoryError as exc:
            raise infrastructure(exc, f"decompressing {blob.uri}") from exc
        if content.data.startswith(BOM):  # every parser, and line numbers, start after it
            content = replace(content, data=content.data[len(BOM) :])
        lt = _route_or_reject(content, result)
        if lt is None:
            continue
        groups[lt.name].append(content)
        held += len(content.data)
        if held >= chunk_bytes:
            _parse_groups(groups, result)
            held = 0
    _parse_groups(groups, result)
    return result


def _route_or_reject(content: Content, result: ParseResult) -> LogType | None:
    """The log type to parse ``content`` with, or None after recording why there is none."""
    blob = content.blob
    if not content.data.strip():
        result.rejects.append(
            content.problem or Reject(blob.uri, "empty_file", "object has no content", records=0)
        )
        return None
    lt = route(content)
    if lt is None:
        result.rejects.append(
            content.problem
            or Reject(
                blob.uri,
                "unknown_format",
                "not a known log format (by key or content)",
                content.data,
                records=None,
            )
        )
        return None
    if content.problem is not None and content.problem.reason != "not_gzip":
        p = content.problem
        result.rejects.append(
            Reject(
                p.origin_object,
                p.reason,
                p.detail + "; salvaged what decompressed",
                p.raw,
                None,
                None,
                lt.source,
            )
        )
    return lt


def _parse_groups(groups: dict[str, list[Content]], result: ParseResult) -> None:
    for name, contents in groups.items():
        result.merge(_parse_guarded(REGISTRY[name], contents))
    groups.clear()


_OURS = (OSError, MemoryError)
"""Parsing is pure computation on bytes in memory; these can only be our machine failing."""


def _parse_guarded(lt: LogType, contents: list[Content]) -> ParseResult:
    """A parser bug must not cost the batch: retry file by file, quarantine what still fails.

    Our own failures are not the input's: they abandon the batch as ``InfrastructureError``.
    """
    try:
        return lt.parse(contents)
    except InfrastructureError:
        raise
    except _OURS as exc:
        raise infrastructure(exc, f"parsing {len(contents)} {lt.name} object(s)") from exc
    except Exception as exc:
        reraise_if_interrupted(exc)
        log.exception(
            "%s parser failed on a batch of %d objects; retrying one by one", lt.name, len(contents)
        )
    result = ParseResult()
    for content in contents:
        try:
            result.merge(lt.parse([content]))
        except InfrastructureError:
            raise
        except _OURS as exc:
            raise infrastructure(exc, f"parsing {content.blob.uri}") from exc
        except Exception as exc:
            reraise_if_interrupted(exc)
            log.exception("%s parser failed on %s", lt.name, content.blob.uri)
            result.rejects.append(
                Reject(
                    content.blob.uri,
                    "parser_error",
                    f"{type(exc).__name__}: {exc}",
                    content.data,
                    records=None,
                    source=lt.source,
                )
            )
    return result
