"""Files the program ships besides its code: models/, hunts/ and the demo's sample_logs/.

In a source checkout (and an editable install) they are the repository's own folders. A
wheel (``pip install .``, ``pipx install .``) has no source tree, so the build copies them
into the package as ``detector/_bundled/`` (setup.py); that copy wins when it is there.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
BUNDLED = ("models", "hunts", "sample_logs")


def resource_dir(name: str) -> Path:
    """The folder ``name`` (one of ``BUNDLED``): the installed copy, else the checkout's."""
    inside = PACKAGE / "_bundled" / name
    return inside if inside.is_dir() else PACKAGE.parent / name
