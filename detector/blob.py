"""What flows from sources to log types: a log object's identity and its bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectRef:
    """A log object found by listing: enough to fetch it and to know if it was seen before."""

    uri: str
    key: str
    size: int
    etag: str | None = None

    @property
    def identity(self) -> str:
        """Key of the lake manifest: the same object re-delivered is the same identity."""
        return f"{self.uri}|{self.etag or ''}|{self.size}"


@dataclass(frozen=True)
class Blob:
    """A fetched log object. ``key`` is the object key (or relative path) used for routing.

    ``oversize`` is set (to the object's real size) when the object is larger than the
    per-object cap: only its first bytes were read, into ``data``, for the quarantine.
    """

    ref: ObjectRef
    data: bytes
    oversize: int | None = None

    @property
    def uri(self) -> str:
        return self.ref.uri

    @property
    def key(self) -> str:
        return self.ref.key
