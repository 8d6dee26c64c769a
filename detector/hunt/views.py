"""A read-only DuckDB connection with views over a lake's committed files.

Views (each over the files that a manifest line committed, never a glob, so a batch being
written is invisible until it commits):

* ``events``     the canonical events, with ``source`` and ``date`` from the partition path
  (a filter on them skips whole files), plus ``principal``: the key alerts and baselines
  use (the role, not the session; SSO roles per person; ``anonymous``; ``service:<name>``);
* ``requests``   ``events`` with each S3 request once: an access-log line is dropped when
  CloudTrail has the same ``request_id`` (sums of bytes or counts do not double);
* ``alerts``, ``quarantine``, and ``features`` when the lake has persisted window features.

Read-only, three ways: only single SELECT (or EXPLAIN SELECT) statements run; DuckDB may
touch no file but the committed ones (``allowed_paths``, ``enable_external_access=false``);
and the configuration is locked so neither can be switched back. A committed file must lie
inside the lake: a manifest line naming ``..``, an absolute path or a glob, or (local lakes)
a file whose real path is elsewhere (a symlink out) is skipped with a warning.

No credential is readable from SQL: the httpfs extension copies ``AWS_*`` variables into its
``s3_*`` settings when loaded, so those are blanked (the S3 secret is what DuckDB uses), and a
query calling a function or view that shows settings, secrets, variables or logs, or that
runs SQL from a string (``current_setting``, ``duckdb_settings``, ``pg_settings``,
``duckdb_secrets``, ``query``…; ``refused_names``) is refused. The check walks DuckDB's own
parse tree (``json_serialize_sql``), so case, quoting, schemas, subqueries and CTEs do not
hide a call.

For ``s3://bucket/prefix`` lakes, the manifests are read with boto3 and DuckDB reads the
Parquet files through the httpfs extension shipped by the ``duckdb-ext-httpfs`` package
(loaded from disk: nothing is downloaded), with credentials, region and endpoint
(``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``) from the standard AWS chain.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa

from detector.duckdb_extensions import extension_file
from detector.errors import DetectorError, LakeError, QueryError, UsageError
from detector.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA
from detector.terminal import visible

if TYPE_CHECKING:  # pyiceberg loads only for Iceberg lakes
    from detector.icelake.catalog import CatalogChoice

log = logging.getLogger(__name__)

MANIFEST = "_manifest"
TABLES = ("events", "features", "alerts", "quarantine")
"""Top-level lake folders that become views of the same name."""

ROLE_PATH = r"(:role/)(?:[^/]+/)*([^/]+)$"


def _strip_role_path(arn: str) -> str:
    # LIKE first: the regular expression runs only on ARNs of roles with a path.
    return (
        f"(CASE WHEN {arn} LIKE '%:role/%/%' "
        f"THEN regexp_replace({arn}, '{ROLE_PATH}', '\\1\\2') ELSE {arn} END)"
    )


PRINCIPAL_SQL = f"""CASE
    WHEN principal_type = 'Anonymous' OR account_id = 'anonymous' THEN 'anonymous'
    WHEN session_name IS NOT NULL AND contains(session_issuer_arn, ':role/')
         AND contains(session_issuer_arn, 'AWSReservedSSO_')
      THEN {_strip_role_path("session_issuer_arn")} || '/' || session_name
    WHEN principal_type = 'AWSService' AND invoked_by IS NOT NULL THEN 'service:' || invoked_by
    ELSE {_strip_role_path("coalesce(session_issuer_arn, principal_arn, invoked_by, principal_id)")}
  END"""
"""``detector.features.enrich.principal_key`` in SQL (a test keeps the two equal)."""

MACROS = (
    """CREATE MACRO is_public_ip(ip) AS coalesce(CASE
    WHEN length(ip) - length(replace(ip, '.', '')) = 3
         AND TRY_CAST(replace(ip, '.', '') AS UBIGINT) IS NOT NULL THEN NOT (
      starts_with(ip, '10.') OR starts_with(ip, '192.168.') OR starts_with(ip, '127.')
      OR starts_with(ip, '169.254.') OR starts_with(ip, '0.')
      OR (starts_with(ip, '172.') AND TRY_CAST(split_part(ip, '.', 2) AS INT) BETWEEN 16 AND 31)
      OR (starts_with(ip, '100.') AND TRY_CAST(split_part(ip, '.', 2) AS INT) BETWEEN 64 AND 127))
    WHEN contains(ip, ':') THEN NOT regexp_matches(lower(ip), '^(fc|fd|fe80|::1$|::$)|[g-z]')
    ELSE false END, false)""",
)
"""Helpers for hunts: ``is_public_ip(source_ip)``: an IPv4 or IPv6 address outside the
private, loopback, link-local and carrier-grade NAT ranges (AWS service names such as
``s3.amazonaws.com`` are not addresses). String tests first: a regular expression on
every row of a large lake costs seconds."""

REQUESTS_SQL = """CREATE VIEW requests AS
SELECT * FROM events WHERE source IS DISTINCT FROM 's3_access'
UNION ALL
SELECT * FROM events a WHERE a.source = 's3_access' AND (a.request_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM events c WHERE c.source = 'cloudtrail' AND c.request_id = a.request_id))"""


def one_line(exc: BaseException) -> str:
    """DuckDB's message without its multi-line context (it may quote log data: control
    characters are escaped)."""
    text = str(exc).strip().splitlines()
    return visible(text[0].strip()) if text else type(exc).__name__


@dataclass
class LakeFiles:
    """The committed files of a lake, by top-level folder, as paths DuckDB can open."""

    root: str
    tables: dict[str, list[str]] = field(default_factory=dict)
    batches: int = 0

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")


def _entries(lines: Iterable[str], where: str) -> Iterator[dict[str, object]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s:%d: torn manifest line ignored (uncommitted batch)", where, n)
            continue
        if isinstance(entry, dict):
            yield entry


_GLOB = re.compile(r"[*?\[\]{}]")


def _confined(rel: str) -> bool:
    """A manifest's relative path that can only name a file inside the lake: no absolute
    path, no ``.``/``..`` or empty segment, no glob character (DuckDB expands globs)."""
    return (
        not rel.startswith("/")
        and not _GLOB.search(rel)
        and all(part not in ("", ".", "..") for part in rel.split("/"))
    )


def _collect(root: str, entries: Iterable[dict[str, object]]) -> LakeFiles:
    files = LakeFiles(root)
    seen: set[str] = set()
    for entry in entries:
        files.batches += 1
        for rel in entry.get("files") or ():  # type: ignore[union-attr]
            rel = str(rel)
            if not _confined(rel):
                log.warning(
                    "%s: the manifest names %s, which is not a file inside the lake; skipped",
                    root,
                    rel,
                )
                continue
            table = rel.split("/", 1)[0]
            if table in TABLES and rel.endswith(".parquet") and rel not in seen:
                seen.add(rel)
                files.tables.setdefault(table, []).append(f"{root}/{rel}")
    return files


def local_files(lake: str | os.PathLike[str]) -> LakeFiles:
    root = Path(lake).expanduser()
    if not root.is_dir():
        raise LakeError(f"{lake}: no lake here (not a directory)")
    manifests = sorted((root / MANIFEST).glob("*.jsonl"))
    if not manifests and (root / ICEBERG_CATALOG).is_file():
        return _inside(lake, _iceberg_files(root))
    if not manifests:
        raise LakeError(
            f"{lake}: not a lake, or an empty one (no {MANIFEST}/*.jsonl); "
            "write one with: detector backfill SOURCE --lake DIR"
        )

    def lines() -> Iterator[dict[str, object]]:
        for path in manifests:
            with path.open("r", encoding="utf-8") as fh:
                yield from _entries(fh, str(path))

    return _inside(lake, _collect(str(root.resolve()), lines()))


ICEBERG_CATALOG = "catalog.db"
"""An Iceberg lake's embedded catalog (``detector.icelake``): its tables' current files."""


def _iceberg_files(root: Path | str, catalog: CatalogChoice | None = None) -> LakeFiles:
    """The current data files of an Iceberg lake's tables, from its catalog."""
    from detector.icelake.catalog import open_catalog
    from detector.icelake.info import data_files

    try:
        current = data_files(open_catalog(root, catalog, create=False))
    except DetectorError:
        raise
    except Exception as exc:  # pyiceberg and SQLAlchemy raise their own kinds
        raise LakeError(f"{root}: cannot read the Iceberg catalog: {one_line(exc)}") from None
    files = LakeFiles(str(root).rstrip("/") if isinstance(root, str) else str(root.resolve()))
    for table, uris in current.items():
        paths = [u.removeprefix("file://") for u in uris if table in TABLES]
        if files.is_s3:  # only the lake's own objects, by whole path segments
            prefix = files.root + "/"
            paths = [p for p in paths if p.startswith(prefix) and _confined(p[len(prefix) :])]
        for path in [p for p in paths if _GLOB.search(p)]:  # DuckDB would expand it
            log.warning("%s: the catalog names %s, a glob; skipped", root, path)
        files.tables[table] = [p for p in paths if not _GLOB.search(p)]
    return files


def _inside(lake: str | os.PathLike[str], files: LakeFiles) -> LakeFiles:
    """Only files inside the lake that exist (a link leading out, or a lost file, skipped)."""
    root = Path(files.root)
    real_root = os.path.realpath(root) + os.sep
    for table, paths in files.tables.items():
        inside = []
        for path in paths:
            if os.path.realpath(path).startswith(real_root):
                inside.append(path)
            else:
                log.warning(
                    "%s: committed file %s leads outside the lake (a symbolic link?); skipped",
                    lake,
                    path,
                )
        present = [p for p in inside if os.path.exists(p)]
        if len(present) < len(inside):
            log.warning(
                "%s: %d committed %s file(s) are missing; querying the rest",
                lake,
                len(inside) - len(present),
                table,
            )
        files.tables[table] = present
    return files


def split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise UsageError(f"{uri}: not an s3://bucket/prefix address")
    return parts.netloc, parts.path.strip("/")


def s3_files(lake: str) -> LakeFiles:
    import boto3
    import botocore.exceptions

    bucket, prefix = split_s3(lake)
    root = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    manifest_prefix = f"{prefix}/{MANIFEST}/" if prefix else f"{MANIFEST}/"
    client = boto3.session.Session().client("s3")
    try:
        keys = sorted(
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=manifest_prefix
            )
            for o in page.get("Contents", ())
            if o["Key"].endswith(".jsonl")
        )
        texts = [
            (k, client.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8"))
            for k in keys
        ]
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        raise LakeError(
            f"{lake}: cannot read the lake's manifest: "
            f"{err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
        ) from None
    except (botocore.exceptions.BotoCoreError, UnicodeDecodeError) as exc:
        raise LakeError(f"{lake}: cannot read the lake's manifest: {exc}") from None
    if not texts:
        raise LakeError(f"{lake}: not a lake, or an empty one (no {MANIFEST}/*.jsonl)")
    return _collect(
        root, (e for k, text in texts for e in _entries(text.splitlines(), f"s3://{bucket}/{k}"))
    )


def lake_files(lake: str, catalog: CatalogChoice | None = None) -> LakeFiles:
    """The files to read: from the manifest, or from the Iceberg catalog (a local Iceberg
    lake's own, or for an S3 warehouse the ``catalog`` it is kept in)."""
    if catalog is not None and str(lake).startswith("s3://"):
        files = _iceberg_files(str(lake), catalog)
    else:
        files = s3_files(lake) if str(lake).startswith("s3://") else local_files(lake)
    if not any(files.tables.values()):
        raise LakeError(f"{lake}: the lake is empty (no committed files yet)")
    return files


# --- DuckDB ----------------------------------------------------------------------------
def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(paths: list[str]) -> str:
    return "[" + ", ".join(_quote(p) for p in paths) + "]"


def _empty_view(
    conn: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema, extra: str = ""
) -> None:
    rel = conn.from_arrow(schema.empty_table())
    cols = ", ".join(f'NULL::{t} AS "{c}"' for c, t in zip(rel.columns, rel.dtypes, strict=True))
    conn.execute(f"CREATE VIEW {name} AS SELECT {cols}{extra} WHERE false")


def _parquet_view(
    conn: duckdb.DuckDBPyConnection, name: str, paths: list[str], extra: str = ""
) -> None:
    hive = any("=" in p.rsplit("/", 2)[-2] for p in paths)
    options = f"hive_partitioning = {str(hive).lower()}, union_by_name = true"
    star = "*"
    if any("/date=" in p for p in paths):
        # Read as text so that ``date=unknown`` (no event time) becomes NULL, not an error;
        # filters on the cast still prune files.
        options += ", hive_types = {'date': 'VARCHAR'}"
        star = "* REPLACE (TRY_CAST(date AS DATE) AS date)"
    conn.execute(
        f"CREATE VIEW {name} AS SELECT {star}{extra} "
        f"FROM read_parquet({_file_list(paths)}, {options})"
    )


def _alert_schema() -> pa.Schema:
    from detector.alerts import ALERT_SCHEMA

    return ALERT_SCHEMA


def httpfs_extension() -> Path:
    """The httpfs extension file that the ``duckdb-ext-httpfs`` wheel installed."""
    return extension_file("httpfs", "s3:// lakes")


S3_CREDENTIAL_SETTINGS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")
"""httpfs fills these from ``AWS_*`` variables when it loads; blanked once the secret exists
(DuckDB takes a matching secret before them), so no query can read them."""


def _s3_secret(conn: duckdb.DuckDBPyConnection) -> None:
    """A DuckDB S3 secret from boto3's chain; nothing of it is logged or printed."""
    import boto3

    from detector.aws import credential_fields

    session = boto3.session.Session()
    opts = {"REGION": session.region_name or "us-east-1"}
    names = {"access_key": "KEY_ID", "secret_key": "SECRET", "token": "SESSION_TOKEN"}
    opts.update({names[field]: value for field, value in credential_fields().items()})
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    extra = ""
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        opts["ENDPOINT"] = parts.netloc
        opts["URL_STYLE"] = "path"
        extra = f", USE_SSL {'true' if parts.scheme == 'https' else 'false'}"
    body = ", ".join(f"{k} {_quote(v)}" for k, v in opts.items())
    try:
        conn.execute(f"CREATE SECRET hunt_lake (TYPE s3, {body}{extra})")
    except duckdb.Error:
        raise LakeError(
            "could not configure DuckDB's S3 access from the AWS configuration"
        ) from None


def connect(
    lake: str | os.PathLike[str], catalog: CatalogChoice | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's views, locked read-only."""
    lake = os.fspath(lake)
    files = lake_files(lake, catalog)
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        conn.execute("SET enable_progress_bar = false")
        if files.is_s3:
            conn.execute(f"LOAD {_quote(str(httpfs_extension()))}")
            _s3_secret(conn)
            for setting in S3_CREDENTIAL_SETTINGS:
                conn.execute(f"SET {setting} = ''")
        events = files.tables.get("events")
        if events:
            _parquet_view(conn, "events", events, f", {PRINCIPAL_SQL} AS principal")
        else:
            _empty_view(
                conn, "events", EVENT_SCHEMA, ", NULL::DATE AS date, NULL::VARCHAR AS principal"
            )
        conn.execute(REQUESTS_SQL)
        for macro in MACROS:
            conn.execute(macro)
        for name, schema in (("alerts", _alert_schema()), ("quarantine", QUARANTINE_SCHEMA)):
            if files.tables.get(name):
                _parquet_view(conn, name, files.tables[name])
            else:
                _empty_view(conn, name, schema)
        if files.tables.get("features"):
            _parquet_view(conn, "features", files.tables["features"])
        allowed = [p for paths in files.tables.values() for p in paths]
        conn.execute(f"SET allowed_paths = {_file_list(allowed)}")
        conn.execute("SET parquet_metadata_cache = true")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        conn.close()
        raise LakeError(f"{lake}: cannot open the lake: {one_line(exc)}") from None
    return conn


# --- the read-only guard ---------------------------------------------------------------
_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?", re.IGNORECASE)

REFUSED_FUNCTIONS = frozenset(
    {
        # settings (the s3_* credentials among them), secrets, variables
        "current_setting",
        "duckdb_settings",
        "duckdb_secrets",
        "which_secret",
        "duckdb_variables",
        "getvariable",
        "getenv",
        # SQL run from a string, out of the guard's sight
        "query",
        "query_table",
        "json_execute_serialized_sql",
        # DuckDB's own logs (HTTP requests among them) and the switches that fill them
        "duckdb_logs",
        "duckdb_log_contexts",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "write_log",
    }
)
"""Refused wherever they appear in a query. ``refused_names`` adds DuckDB's own views and
macros built on them (``pg_settings``, ``histogram_values``…)."""


@functools.cache
def refused_names() -> tuple[frozenset[str], frozenset[str]]:
    """(names refused as tables, views or table functions; names refused as functions).

    DuckDB's internal views and macros are read from its catalog, so a view or macro
    that calls a refused function (``pg_settings`` is ``duckdb_settings()``) is refused too,
    at any depth, in whatever DuckDB version is installed. An aggregate that shares a name
    with a refused table macro (``histogram``) stays usable.
    """
    tables, scalars = set(REFUSED_FUNCTIONS), set(REFUSED_FUNCTIONS)
    with duckdb.connect() as conn:
        defs = conn.execute(
            "SELECT lower(view_name), 'table', sql FROM duckdb_views() WHERE internal "
            "UNION ALL SELECT lower(function_name), CASE function_type WHEN 'table_macro' "
            "THEN 'table' ELSE 'scalar' END, macro_definition FROM duckdb_functions() "
            "WHERE macro_definition IS NOT NULL"
        ).fetchall()
    grown = True
    while grown:
        grown = False
        names = "|".join(re.escape(n) for n in sorted(tables | scalars))
        uses = re.compile(rf"\b(?:{names})\s*\(|\b(?:from|join)\s+(?:\w+\.)*(?:{names})\b")
        for name, kind, sql in defs:
            refused = tables if kind == "table" else scalars
            if name not in refused and uses.search(sql.lower()):
                refused.add(name)
                grown = True
    return frozenset(tables), frozenset(scalars)


def _named(tree: object) -> Iterator[tuple[bool, str]]:
    """(as a table?, name) for every function call and table name in a parse tree."""
    stack: list[tuple[object, bool]] = [(tree, False)]
    while stack:
        node, as_table = stack.pop()
        if isinstance(node, list):
            stack.extend((n, False) for n in node)
        elif isinstance(node, dict):
            if isinstance(node.get("function_name"), str):
                yield as_table, node["function_name"].lower()
            if isinstance(node.get("table_name"), str) and node["table_name"]:
                yield True, node["table_name"].lower()
            table_function = node.get("type") == "TABLE_FUNCTION"
            stack.extend((v, table_function and k == "function") for k, v in node.items())


def _check_names(conn: duckdb.DuckDBPyConnection, query: str) -> None:
    """Refuse a query that names a refused function, table function or view."""
    try:
        text = conn.execute("SELECT json_serialize_sql($1)", [query]).fetchone()
        tree = json.loads(text[0]) if text else {"error": True}
    except (duckdb.Error, json.JSONDecodeError) as exc:
        raise QueryError(f"refused: the query could not be checked: {one_line(exc)}") from None
    if tree.get("error"):
        raise QueryError(
            "refused: the query could not be checked: "
            f"{visible(tree.get('error_message', 'unknown error'))}"
        )
    tables, scalars = refused_names()
    for as_table, name in _named(tree):
        if name in (tables if as_table else scalars):
            raise QueryError(
                f"refused: {name} is not available in hunts (it shows settings, "
                "secrets, logs or runs SQL from text)"
            )


def check_query(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one SELECT statement in ``sql`` (trailing ``;`` dropped), or a ``QueryError``."""
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(one_line(exc)) from None
    if not statements:
        raise QueryError("no query given")
    if len(statements) > 1:
        raise QueryError(f"one query at a time, please (found {len(statements)} statements)")
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _EXPLAIN.sub("", statement.query, count=1)
        if inner == statement.query:
            raise QueryError("refused: only EXPLAIN [ANALYZE] SELECT is allowed")
        check_query(conn, inner)
    elif kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"refused: {kind.name} statements are not allowed; hunting is "
            "read-only (SELECT queries over the lake's views)"
        )
    else:
        _check_names(conn, statement.query)
    return statement.query


def execute(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object] | None = None,
    batch_rows: int = 65_536,
) -> Iterator[pa.RecordBatch]:
    """Check, then run ``sql`` with ``$name`` parameters bound (never pasted into the SQL),
    streaming the result; errors become one-line ``QueryError``/``DetectorError``."""
    query = check_query(conn, sql)
    with _errors():
        reader = conn.execute(query, params or None).fetch_record_batch(batch_rows)
    any_rows = False
    try:
        while True:
            with _errors():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
            any_rows = True
            yield batch
        if not any_rows:  # no rows: one empty batch still carries the columns
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    finally:
        reader.close()  # a reader stopped early (a table's first rows) computes no more


def run_query(
    conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> pa.Table:
    """The whole result of ``sql`` as one Arrow table (see ``execute``)."""
    query = check_query(conn, sql)
    with _errors():
        return conn.execute(query, params or None).fetch_arrow_table()


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (
        duckdb.ParserException,
        duckdb.BinderException,
        duckdb.CatalogException,
        duckdb.InvalidInputException,
    ) as exc:
        raise QueryError(one_line(exc)) from None
    except duckdb.PermissionException as exc:
        raise QueryError(f"refused: {one_line(exc)}") from None
    except duckdb.Error as exc:
        raise DetectorError(f"query failed: {one_line(exc)}") from None


def table_names(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
        ).fetchall()
    ]
