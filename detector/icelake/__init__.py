"""The lake as Apache Iceberg tables (issue 12), readable by any Iceberg engine.

``catalog`` opens the catalog a lake location names (an embedded SQLite catalog for a local
folder); ``tables`` declares the tables and their partitioning; ``commit`` is the protocol
that makes a group of batches visible in every table, or in none. See docs/iceberg.md.
"""
