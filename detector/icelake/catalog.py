"""Which Iceberg catalog a lake location uses, and opening it.

A local folder ``DIR`` gets an embedded SQL catalog in ``DIR/catalog.db`` (SQLite) with the
warehouse under ``DIR``: no server, and any Iceberg client opens it with the properties
``catalog_properties`` returns. Remote warehouses (``s3://…``) with Glue, REST or SQL
catalogs come next (issue 12).
"""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

NAMESPACE = "detector"
CATALOG_NAME = "detector"
CATALOG_FILE = "catalog.db"


def catalog_properties(lake: Path) -> dict[str, str]:
    """The properties that open a local lake's catalog from any pyiceberg client."""
    root = lake.resolve()
    return {"uri": f"sqlite:///{root / CATALOG_FILE}", "warehouse": root.as_uri()}


def open_catalog(lake: Path) -> Catalog:
    """The lake's catalog, with its namespace; created on first use."""
    lake.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog(CATALOG_NAME, **catalog_properties(lake))
    catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog
