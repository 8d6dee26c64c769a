"""Detections: one module per family, each registering its detections on import.

``load_all`` imports every module here; ``active`` gives the enabled ones for a run.
"""

from __future__ import annotations

from detector.config import Settings
from detector.detections.base import REGISTRY, Detection
from detector.errors import UsageError
from detector.plugins import import_all


def load_all() -> dict[str, Detection]:
    """Import every family module so that each registers its detections."""
    import_all(__name__, __path__)
    return REGISTRY


def active(settings: Settings) -> list[Detection]:
    """Enabled detections; an unknown id in ``detections.disabled`` is a configuration error."""
    registry = load_all()
    unknown = sorted(set(settings.disabled) - set(registry))
    if unknown:
        raise UsageError(
            f"{settings.source}: detections.disabled names unknown detection(s) "
            f"{', '.join(unknown)}; known: {', '.join(sorted(registry))}"
        )
    return [d for i, d in sorted(registry.items()) if i not in settings.disabled]
