"""The source interface and the dispatch from a command-line spec to a source."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError


class Source(Protocol):
    """Lists log objects and fetches them. Fetch failures are ``SourceError`` values."""

    spec: str

    def list(self) -> Iterator[ObjectRef]: ...

    def fetch_many(self, refs: Iterable[ObjectRef]) -> Iterator[Blob | SourceError]: ...


def open_source(spec: str) -> Source:
    """``s3://bucket/prefix`` → S3 (boto3, standard AWS config); anything else → local path."""
    if spec.startswith("s3://"):
        from detector.sources.s3 import S3Source

        return S3Source(spec)
    if "://" in spec:
        raise UsageError(f"{spec}: unsupported source; use a local path or s3://bucket/prefix")
    from detector.sources.local import LocalSource

    return LocalSource(spec)
