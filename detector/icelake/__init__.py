"""The lake as Apache Iceberg tables (issue 12), readable by any Iceberg engine.

``catalog`` opens the catalog a lake location names (an embedded SQLite catalog for a local
folder); ``tables`` declares the tables and their partitioning; ``commit`` is the protocol
that makes a group of batches visible in every table, or in none. See docs/iceberg.md.
"""

import logging


def _not_missing_statistics(record: logging.LogRecord) -> bool:
    """pyiceberg warns for every column of a data file without min/max statistics; the lake
    writes them only where hunts prune (``detector.parquet_layout``), on purpose."""
    return "statistics missing" not in record.getMessage()


logging.getLogger("pyiceberg.io.pyarrow").addFilter(_not_missing_statistics)
