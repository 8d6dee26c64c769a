"""Opening a lake in its format: Iceberg tables (the default) or the older Parquet lake.

A folder keeps the format it was made in: ``_manifest/`` marks a Parquet lake (convert it
with ``detector lake migrate``), ``catalog.db`` an Iceberg one; a new folder gets
``DEFAULT_FORMAT`` unless a format is asked for. A lake on S3 is always Iceberg.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from detector.errors import LakeError, UsageError
from detector.lake import MANIFEST, Lake

if TYPE_CHECKING:
    from detector.icelake.catalog import CatalogChoice
    from detector.icelake.lake import IcebergLake

FORMATS = ("iceberg", "parquet")
GROUP_BATCHES = 32
"""Backfill into an Iceberg lake: batches per commit (one costs 50–90 ms a table)."""
AnyLake = Lake | IcebergLake if TYPE_CHECKING else Lake
DEFAULT_FORMAT = "iceberg"


def lake_location(text: str) -> Path | str:
    """A ``--lake`` value: an ``s3://`` address stays text (a Path would fold its ``//``)."""
    return text if text.startswith("s3://") else Path(text)


def work_folder(lake: AnyLake) -> Path:
    """A local folder for what a run keeps beside its lake (the sinks' delivery queue): the
    lake's own folder, or for a lake on S3 one under ``$XDG_STATE_HOME`` named after it."""
    if not lake.address.startswith("s3://"):
        return Path(lake.address)
    import hashlib
    import os

    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(lake.address.encode()).hexdigest()[:16]
    return base / "s3-detector" / digest


def existing_format(location: str | Path) -> str | None:
    """The format of the lake at ``location``, or None when there is none yet."""
    if str(location).startswith("s3://"):
        return "iceberg"
    root = Path(location)
    if (root / MANIFEST).is_dir():
        return "parquet"
    if (root / "catalog.db").is_file():
        return "iceberg"
    return None


def open_lake(
    location: str | Path,
    fmt: str | None = None,
    choice: CatalogChoice | None = None,
    group_batches: int = GROUP_BATCHES,
    create: bool = True,
) -> AnyLake:
    """The lake to write at ``location``, in its existing format or ``fmt``; with
    ``create=False`` an Iceberg lake's catalog is only read (a worker's view)."""
    found = existing_format(location)
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"lake format {fmt!r} is not one of {', '.join(FORMATS)}")
    if found is not None and fmt is not None and fmt != found:
        raise UsageError(
            f"{location} is a {found} lake, not {fmt}"
            + ("; convert it with: detector lake migrate OLD NEW" if found == "parquet" else "")
        )
    chosen = found or fmt or DEFAULT_FORMAT
    if chosen == "parquet":
        if choice is not None:
            raise UsageError("--catalog is for Iceberg lakes")
        return Lake(location)
    from detector.icelake.lake import IcebergLake

    return IcebergLake(location, choice, group_batches, create=create)


@dataclass(frozen=True)
class LakeAddress:
    """What another process (a worker, a Ray task on another machine) needs to open the
    same lake: small and picklable, unlike the lake with its open catalog."""

    location: str
    format: str
    catalog: CatalogChoice | None = None

    def open(self) -> AnyLake:
        """The lake as a worker sees it: its files written, its catalog only read. A lake
        that is not there (a folder on another machine) is a ``LakeError``, never a new
        lake that the committer would not see."""
        if existing_format(self.location) != self.format:
            raise LakeError(f"{self.location}: no {self.format} lake here (is it on this machine?)")
        return open_lake(self.location, self.format, self.catalog, create=False)


def address_of(lake: AnyLake) -> LakeAddress:
    """The lake's address; a folder's made absolute (a worker's working folder differs)."""
    location = lake.address
    if not location.startswith("s3://"):
        location = str(Path(location).resolve())
    return LakeAddress(location, lake.format, getattr(lake, "choice", None))
