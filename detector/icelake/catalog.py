"""Which Iceberg catalog a lake location uses, and opening it.

A local folder ``DIR`` gets an embedded SQL catalog in ``DIR/catalog.db`` (SQLite) with the
warehouse under ``DIR``: no server, and any Iceberg client opens it with the properties
``catalog_properties`` returns (catalog name ``detector``). A warehouse on S3
(``s3://bucket/prefix``) needs an external catalog: ``sql`` with a SQLAlchemy URI (SQLite
file, Postgres…), ``glue`` (the account's Glue Data Catalog) or ``rest`` (S3 Tables,
Polaris, Nessie…). S3 access follows boto3's standard configuration (profile, role, keys,
``AWS_ENDPOINT_URL``); the credentials are handed to pyiceberg's file IO, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pyiceberg.catalog import Catalog, load_catalog

from detector.aws import credential_fields
from detector.errors import LakeError, UsageError

NAMESPACE = "detector"
CATALOG_NAME = "detector"
CATALOG_FILE = "catalog.db"
KINDS = ("sql", "glue", "rest")


@dataclass(frozen=True)
class CatalogChoice:
    """The catalog of a lake on S3: its kind and, for ``sql`` and ``rest``, its URI."""

    kind: str = "sql"
    uri: str | None = None


def is_remote(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def catalog_properties(lake: Path) -> dict[str, str]:
    """The properties that open a local lake's catalog from any pyiceberg client.

    The warehouse is ``file://`` and the path as it is, not percent-encoded: pyiceberg's file
    IO does not decode, so a folder with a space would otherwise get a sibling ``%20`` one."""
    root = lake.resolve()
    return {"uri": f"sqlite:///{root / CATALOG_FILE}", "warehouse": f"file://{root}"}


def remote_properties(location: str, choice: CatalogChoice) -> dict[str, str]:
    """Catalog and S3 file-IO properties for a warehouse on S3, from boto3's configuration."""
    if choice.kind not in KINDS:
        raise UsageError(f"catalog {choice.kind!r} is not one of {', '.join(KINDS)}")
    if choice.kind in ("sql", "rest") and not choice.uri:
        raise UsageError(f"a {choice.kind} catalog needs its URI (--catalog-uri)")
    props = {"type": choice.kind, "warehouse": location.rstrip("/")}
    if choice.uri:
        props["uri"] = choice.uri
    props.update(_aws_properties(choice.kind))
    return props


def _aws_properties(kind: str) -> dict[str, str]:
    import boto3

    session = boto3.session.Session()
    props: dict[str, str] = {}
    region = session.region_name
    if region:
        props["s3.region"] = region
    endpoint = session.client("s3").meta.endpoint_url
    if endpoint and not endpoint.endswith(".amazonaws.com"):
        props["s3.endpoint"] = endpoint  # AWS_ENDPOINT_URL(_S3): a test server, MinIO…
    names = {
        "access_key": "access-key-id",
        "secret_key": "secret-access-key",
        "token": "session-token",
    }
    # Keys that expire (a role's) are left to each library's own chain, which renews them.
    for field, value in credential_fields(renewing=False).items():
        props[f"s3.{names[field]}"] = value
        if kind == "glue":
            props[f"glue.{names[field]}"] = value
    if kind == "glue":
        if region:
            props["glue.region"] = region
        glue_endpoint = session.client("glue").meta.endpoint_url
        if glue_endpoint and not glue_endpoint.endswith(".amazonaws.com"):
            props["glue.endpoint"] = glue_endpoint
    return props


def open_catalog(
    lake: str | Path, choice: CatalogChoice | None = None, create: bool = True
) -> Catalog:
    """The lake's catalog, with its namespace created on first use; with ``create=False``
    (readers: hunts) nothing is created, not even the catalog's own tables."""
    if is_remote(lake):
        props = remote_properties(str(lake), choice or CatalogChoice())
    else:
        if choice is not None and choice.kind != "sql":
            raise UsageError(
                "a local lake keeps its own catalog (catalog.db); --catalog is for s3://"
            )
        root = Path(lake)
        if create:
            root.mkdir(parents=True, exist_ok=True)
        props = {"type": "sql", **catalog_properties(root)}
    if not create and props["type"] == "sql":
        props["init_catalog_tables"] = "false"
    catalog = load_catalog(CATALOG_NAME, **props)
    if create:
        catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog


class WriterLock:
    """One writer per local Iceberg lake (migrate, compact, expire): recovery rolls back
    commits it cannot tell from a writer's commit in progress, so two writers must not meet.
    A lake on S3 has no lock yet: run one writer at a time."""

    def __init__(self, lake: str | Path) -> None:
        self.path = None if is_remote(lake) else Path(lake) / ".iceberg-writer.lock"
        self._file: IO[str] | None = None

    def __enter__(self) -> WriterLock:
        if self.path is None:
            return self
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise LakeError(
                f"{self.path.parent}: another detector process is writing this lake"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()  # releases the lock
