"""How the lake writes Parquet, in either lake format: zstd, dictionaries where they pay,
statistics where hunts prune on them."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DICTIONARY_COLUMNS = frozenset(
    {
        "source",
        "event_name",
        "operation",
        "event_source",
        "event_type",
        "aws_region",
        "principal_arn",
        "principal_type",
        "principal_id",
        "account_id",
        "user_name",
        "access_key_id",
        "session_name",
        "session_issuer_arn",
        "invoked_by",
        "source_ip",
        "user_agent",
        "vpc_endpoint_id",
        "vpc_endpoint_account_id",
        "tls_version",
        "cipher_suite",
        "signature_version",
        "auth_method",
        "host_header",
        "bucket",
        "bucket_account_id",
        "bucket_owner",
        "recipient_account_id",
        "access_point_arn",
        "http_status",
        "error_code",
        "read_only",
        "management_event",
        "event_category",
        "sse",
        "kms_key_id",
        "acl_required",
        "source_region",
        "origin_object",
        "reason",
    }
)
"""Columns with few distinct values: dictionary-encoded. Ids, keys and raw JSON are not,
which saves the writer from trying (and failing) on every batch."""

STATISTICS_COLUMNS = frozenset(
    {
        "event_time",
        "source",
        "event_name",
        "principal_arn",
        "account_id",
        "bucket",
        "source_ip",
        "request_id",
        "event_id",
        "origin_object",
        "quarantined_at",
        "window_start",
        "first_seen",
        "principal",
    }
)
"""Columns with min/max statistics: for row-group pruning in hunts, and for Iceberg, which
takes a data file's day partition from its day column's statistics (``window_start`` of
the features, ``first_seen`` of the alerts: without them those files had no partition, and
a time predicate pruned every one of them away)."""


def write_parquet_stream(table: pa.Table, where: Any) -> None:
    """Write ``table`` to a path or an open binary stream."""
    pq.write_table(
        table,
        where,
        compression="zstd",
        row_group_size=256 * 1024,
        use_dictionary=[c for c in table.column_names if c in DICTIONARY_COLUMNS],
        write_statistics=[c for c in table.column_names if c in STATISTICS_COLUMNS],
    )
