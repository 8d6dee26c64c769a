"""Detections: one module per family, each registering its detections on import.

``load_all`` imports every module here; ``active`` gives the enabled ones for a run.
"""

from __future__ import annotations

import importlib
import pkgutil

from detector.config import Settings
from detector.detections.base import REGISTRY, Detection
from detector.errors import UsageError

_loaded = False


def load_all() -> dict[str, Detection]:
    """Import every family module so that each registers its detections."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            if mod.name != "base" and not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    return REGISTRY


def active(settings: Settings) -> list[Detection]:
    """Enabled detections; an unknown id in ``detections.disabled`` is a configuration error."""
    registry = load_all()
    unknown = sorted(set(settings.disabled) - set(registry))
    if unknown:
        raise UsageError(f"{settings.source}: detections.disabled names unknown detection(s) "
                         f"{', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    return [d for i, d in sorted(registry.items()) if i not in settings.disabled]
