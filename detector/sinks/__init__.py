"""Alert sinks: one module per destination (``slack``, ``sns``, ``jsonl``), and the outbox.

Each sink module registers its kind on import; ``load_all`` imports them all. Formatting is
pure (``slack_message``, ``sns_message``) and separate from delivery; ``Outbox`` makes
delivery durable: it never blocks the pipeline, retries what can be retried, dead-letters
what cannot, and after a restart sends exactly what was committed but not yet delivered.
"""

from __future__ import annotations

from detector.errors import DeliveryError
from detector.plugins import import_all
from detector.sinks.base import REGISTRY, Route, Sink, make_sink, parse_sink_spec
from detector.sinks.delivery import Outbox

__all__ = [
    "REGISTRY",
    "DeliveryError",
    "Outbox",
    "Route",
    "Sink",
    "load_all",
    "make_sink",
    "parse_sink_spec",
]


def load_all() -> dict[str, type[Sink]]:
    """Import every sink module here so that each registers its kind."""
    import_all(__name__, __path__)
    return REGISTRY
