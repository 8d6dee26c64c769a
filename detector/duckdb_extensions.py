"""DuckDB extensions from the ``duckdb-ext-*`` packages, never downloaded at run time."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import duckdb

from detector.errors import LakeError


def extension_file(name: str, needed_for: str) -> Path:
    """The ``name`` extension file that the ``duckdb-ext-<name>`` wheel installed for this
    DuckDB; a ``LakeError`` saying what to install when it is missing."""
    want = f"v{duckdb.__version__}/"
    try:
        dist = importlib.metadata.distribution(f"duckdb-ext-{name}")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    for f in (dist.files or []) if dist else []:
        if f.name == f"{name}.duckdb_extension" and want in str(f):
            path = Path(str(dist.locate_file(f)))  # type: ignore[union-attr]
            if path.is_file():
                return path
    version = duckdb.__version__
    raise LakeError(
        f"{needed_for} need DuckDB's {name} extension for DuckDB {version}: "
        f"pip install 'duckdb-ext-{name}=={version}.*'"
    )
