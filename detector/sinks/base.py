"""What every sink shares: the ``Sink`` contract, the registry, specs, secrets and routes.

A sink delivers one alert (a plain dict, as ``Alert`` serialises) to one place and either
returns or raises ``DeliveryError``; it never retries by itself beyond its client's own
retries, and it never sees the pipeline: the outbox (``delivery.py``) queues, retries and
records. Sinks register under their kind when their module is imported, so a new destination
is one new file here, addressed on the command line as ``kind=value``::

    >>> parse_sink_spec("jsonl=-").target_id
    'jsonl-stdout'

Webhook URLs are credentials: a sink keeps its secret value to itself and shows the world a
``target_id`` (stable, redacted, safe in file names) and a ``label`` (readable, redacted, for
logs). Values of secret kinds may be given as ``env:VAR`` or ``file:/path`` so they need not
be written into a pipeline file in git.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from detector.detections.base import SEVERITIES, severity_rank
from detector.errors import DeliveryError, UsageError

__all__ = [
    "REGISTRY",
    "DeliveryError",
    "Route",
    "Sink",
    "digest",
    "make_sink",
    "parse_sink_spec",
    "register",
    "resolve_secret",
]


class Sink:
    """One destination for alerts. Subclasses set ``name`` and implement ``send``.

    ``__init__`` validates the value and raises ``UsageError`` so that a bad sink stops a run
    before any data is read; it must not touch the network (clients are built on first send).
    ``send`` is only ever called from one thread at a time (the sink's outbox lane).
    """

    name: ClassVar[str]
    secret_value: ClassVar[bool] = False
    """Whether the value is a credential: then ``env:``/``file:`` forms are resolved."""

    target_id: str
    """Stable across runs for the same destination, redacted, safe in file names."""
    label: str
    """Readable and redacted, for logs and messages."""

    def __init__(self, value: str) -> None:
        raise NotImplementedError

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver one alert or raise ``DeliveryError`` saying whether a retry can help."""
        raise NotImplementedError

    def close(self) -> None:
        """Release files and connections; the default has none."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"


REGISTRY: dict[str, type[Sink]] = {}
_S = TypeVar("_S", bound=type[Sink])


def register(cls: _S) -> _S:
    """Class decorator: make a sink kind available to ``kind=value`` specs."""
    if cls.name in REGISTRY:
        raise ValueError(f"sink kind {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def digest(text: str, n: int = 12) -> str:
    """A short stable hash: names a secret destination without revealing it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def resolve_secret(value: str, what: str) -> str:
    """``env:VAR`` → the variable's value, ``file:/path`` → the file's stripped text.

    Error messages name the variable or file, never the secret itself. Any other value is
    returned as it is.
    """
    if value.startswith("env:"):
        var = value[4:]
        if not var:
            raise UsageError(f"{what}: 'env:' needs a variable name")
        secret = os.environ.get(var, "").strip()
        if not secret:
            raise UsageError(f"{what}: environment variable {var} is not set or empty")
        return secret
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{what}: cannot read secret file {path}: {type(exc).__name__}"
            ) from None
        if not secret:
            raise UsageError(f"{what}: secret file {path} is empty")
        return secret
    return value


def _load() -> dict[str, type[Sink]]:
    from detector.sinks import load_all

    return load_all()


def make_sink(kind: str, value: str) -> Sink:
    """The sink of this kind for this value (pipeline files give them separately)."""
    registry = _load()
    cls = registry.get(kind.strip().lower())
    if cls is None:
        shown = repr(kind) if re.fullmatch(r"[\w-]{1,20}", kind) else "given"
        raise UsageError(f"unknown sink kind {shown}; known: {', '.join(sorted(registry))}")
    value = value.strip()
    if not value:
        raise UsageError(f"sink {cls.name}: empty value")
    if cls.secret_value:
        value = resolve_secret(value, f"sink {cls.name}")
    return cls(value)


def parse_sink_spec(spec: str) -> Sink:
    """``--sink slack=URL | sns=ARN | jsonl=PATH|-`` → a validated sink, or ``UsageError``.

    The spec itself is never echoed in errors: it may be a webhook URL typed without its kind.
    """
    kind, sep, value = spec.partition("=")
    if not sep or not kind.strip():
        known = ", ".join(f"{k}=…" for k in sorted(_load()))
        raise UsageError(f"a sink is given as kind=value ({known})")
    return make_sink(kind, value)


@dataclass(frozen=True)
class Route:
    """Which alerts a sink gets: at least ``min_severity``, and by detection id.

    ``include`` (when given) lists the only detections sent; ``exclude`` removes some. An alert
    whose severity is not one we know is sent rather than dropped: losing an alert silently is
    worse than one too many.

    >>> Route("high").accepts({"severity": "medium", "detection": "x"})
    False
    """

    min_severity: str = "low"
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise UsageError(
                f"min_severity {self.min_severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        if self.include is not None:
            object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "exclude", tuple(self.exclude))

    def accepts(self, alert: dict[str, Any]) -> bool:
        """Whether this alert goes to the sink."""
        detection = alert.get("detection")
        if self.include is not None and detection not in self.include:
            return False
        if detection in self.exclude:
            return False
        severity = alert.get("severity")
        if severity not in SEVERITIES:
            return True
        return severity_rank(str(severity)) >= severity_rank(self.min_severity)

    def check(self, known: Iterable[str], where: str = "route") -> None:
        """Raise ``UsageError`` for detection ids that do not exist (a typo routes nothing)."""
        known = set(known)
        unknown = sorted({*(self.include or ()), *self.exclude} - known)
        if unknown:
            raise UsageError(f"{where}: unknown detection id(s) {', '.join(unknown)}")
