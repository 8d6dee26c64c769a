"""Registration by import: a package's modules register themselves when imported.

Log types and detections both work this way, so that a new one is one new file: this is the
one place that imports every module of such a package (``base`` and ``_private`` excepted).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

_loaded: set[str] = set()


def import_all(package: str, path: Iterable[str]) -> None:
    """Import every public module of ``package`` (once per process)."""
    if package in _loaded:
        return
    for mod in pkgutil.iter_modules(path):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{package}.{mod.name}")
    _loaded.add(package)
