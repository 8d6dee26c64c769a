"""The fast tier for CloudTrail records: raw record JSON → canonical Arrow columns in DuckDB.

Why DuckDB: its JSON reader builds typed Arrow columns natively and keeps
``requestParameters`` and friends as JSON text, so no Python object is made per event or
per field (building Python strings for ~40 columns costs more than parsing the JSON). It
reads newline-delimited records from a scratch file, one query for a whole batch of files.

Any error here (a field of an unexpected JSON type, say) makes the caller fall back to the
msgspec tiers in ``_cloudtrail_records``, which reject exactly the records at fault.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cache

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from detector.interrupts import reraise_if_interrupted
from detector.logtypes import _cloudtrail_fields as fields
from detector.scratch import ScratchFiles

log = logging.getLogger(__name__)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duck_type(name: str, sub: fields.Tree | None) -> str:
    """The DuckDB type ``read_json`` gives a record field, from the field map's tree."""
    if name in fields.SIDES:
        return "JSON"
    if name in fields.FLAGS:
        return "BOOLEAN"
    if name == fields.RESOURCES:
        return f"STRUCT({', '.join(f'{_ident(f)} VARCHAR' for f in fields.RESOURCE_FIELDS)})[]"
    if sub is None:
        return "VARCHAR"
    return f"STRUCT({', '.join(f'{_ident(k)} {_duck_type(k, v)}' for k, v in sub.items())})"


def _path_expr(path: str) -> str:
    """SQL reading one declared path: a column, a struct member, or a side's member."""
    head, *rest = path.split(".")
    if head in fields.SIDES:
        if not rest:
            return f"{_ident(head)}::VARCHAR"
        return f"{_ident('_' + head)}[{_text('.'.join(rest))}]"
    return _ident(head) + "".join(f"[{_text(part)}]" for part in rest)


@cache
def _select(fmt: str, filenames: bool) -> str:
    """The one query, generated from the field map: every path into a column named by it."""
    tree = fields.record_tree()
    columns = (
        "{" + ", ".join(f"{_text(k)}: {_text(_duck_type(k, v))}" for k, v in tree.items()) + "}"
    )
    sides = ", ".join(
        f"json_transform({_ident(side)}, "
        f"{_text(json.dumps(dict.fromkeys(fields.side_members(side), 'VARCHAR')))}) "
        f"AS {_ident('_' + side)}"
        for side in fields.SIDES
    )
    reads = [f"{_path_expr(p)} AS {_ident(p)}" for p in fields.PATHS]
    reads.append(_ident(fields.RESOURCES))
    if filenames:
        reads.append("filename")
    options = f"columns={columns}, format='{fmt}', maximum_object_size=16777216"
    if filenames:
        options += ", filename=true"
    return f"SELECT {', '.join(reads)} FROM (SELECT *, {sides} FROM read_json(?, {options}))"


@dataclass
class RawRecords:
    """Raw JSON of many records, in file order, with per-file segments for lineage."""

    raws: list[bytes] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    indices: list[np.ndarray] = field(default_factory=list)
    may_span_lines: bool = False
    """Whether a record may hold a line break (then each is put on one line before DuckDB
    reads them as JSON lines); not for records cut from a file that has none."""

    def extend(self, origin: str, items: list[tuple[int, bytes]], one_line: bool = False) -> None:
        """Add a file's records; ``one_line`` when none of them can hold a line break."""
        if not items:
            return
        self.may_span_lines |= not one_line
        self.raws.extend(raw for _, raw in items)
        self.files.append(origin)
        self.counts.append(len(items))
        self.indices.append(np.fromiter((i for i, _ in items), np.int64, len(items)))

    def segments(self) -> list[tuple[str, list[tuple[int, bytes]]]]:
        """Per file: (origin, [(index, raw)]) — for the fallback tiers."""
        out, start = [], 0
        for origin, n, idx in zip(self.files, self.counts, self.indices, strict=True):
            out.append((origin, list(zip(idx.tolist(), self.raws[start : start + n], strict=True))))
            start += n
        return out


class NativeDecodeError(Exception):
    """DuckDB could not type these records; the caller falls back to exact decoding."""


_CONNECTION: duckdb.DuckDBPyConnection | None = None


def _connection() -> duckdb.DuckDBPyConnection:
    global _CONNECTION
    if _CONNECTION is None:
        # One thread: parallelism comes from worker processes (--workers), not from here.
        # Scratch paths (/proc/self/fd/N) are reused with new content: never cache files.
        _CONNECTION = duckdb.connect(
            config={"threads": 1, "memory_limit": "256MB", "enable_external_file_cache": False}
        )
    return _CONNECTION


def records_to_table(records: RawRecords) -> fields.Canonical:
    """Events from raw records (JSON lines, EventBridge details, CloudWatch messages)."""
    body = b"\n".join(records.raws)
    if records.may_span_lines and body.count(b"\n") != len(records.raws) - 1:
        # A pretty-printed record spans lines; put each record on one line.
        body = b"\n".join(r.replace(b"\r", b" ").replace(b"\n", b" ") for r in records.raws)
    with ScratchFiles([body]) as paths:
        table = _query(paths, "newline_delimited", filenames=False)
    if table.num_rows != len(records.raws):
        raise NativeDecodeError(f"{table.num_rows} rows for {len(records.raws)} records")
    which = np.repeat(np.arange(len(records.files)), records.counts)
    origins = pc.take(pa.array(records.files, pa.string()), pa.array(which))
    return _finish(table, origins, pa.array(np.concatenate(records.indices)))


def arrays_to_table(files: list[tuple[str, memoryview]]) -> fields.Canonical:
    """Events from whole JSON arrays of records (trail files), one scratch file each."""
    with ScratchFiles([arr for _, arr in files]) as paths:
        table = _query(paths, "array", filenames=True)
        names = table.column("filename").combine_chunks().dictionary_encode()
        by_path = {p: i for i, p in enumerate(paths)}
        to_origin = np.array([by_path[p] for p in names.dictionary.to_pylist()], np.int64)
    file_of_row = to_origin[names.indices.to_numpy(zero_copy_only=False)]
    starts = np.flatnonzero(np.r_[True, file_of_row[1:] != file_of_row[:-1]])
    run_lengths = np.diff(np.r_[starts, len(file_of_row)])
    indices = np.arange(len(file_of_row)) - np.repeat(starts, run_lengths)
    origins = pc.take(pa.array([o for o, _ in files], pa.string()), pa.array(file_of_row))
    return _finish(table.drop_columns(["filename"]), origins, pa.array(indices))


def _with_paths(sql: str, paths: list[str]) -> str:
    """The query reading ``paths``, written into it: DuckDB's Python binding tries to import
    pandas twice for every item of a list parameter (0.3 ms a file when it is absent). The
    paths are our own scratch files, never input; they are quoted all the same."""
    return sql.replace("read_json(?", "read_json([" + ", ".join(map(_text, paths)) + "]", 1)


def _query(paths: list[str], fmt: str, filenames: bool) -> pa.Table:
    try:
        return (
            _connection().execute(_with_paths(_select(fmt, filenames), paths)).fetch_arrow_table()
        )
    except RuntimeError as exc:
        reraise_if_interrupted(exc)  # DuckDB wraps our KeyboardInterrupt as RuntimeError
        raise
    except UnicodeDecodeError as exc:
        # DuckDB quoted the bad record in its message and cut it inside a character.
        raise NativeDecodeError(f"DuckDB rejected a record: {exc.reason}") from exc
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None  # Ctrl-C pressed twice: abandon, do not fall back
    except duckdb.Error as exc:
        reraise_if_interrupted(exc)
        # Bad data is expected (the exact tier will reject it precisely); anything else,
        # such as running out of memory, is ours to fix and must not hide as a slow path.
        expected = isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException)
        log.log(
            logging.INFO if expected else logging.WARNING,
            "native CloudTrail decode fell back to exact decoding: %s",
            exc,
        )
        raise NativeDecodeError(str(exc)) from exc


def _finish(table: pa.Table, origins: pa.Array, indices: pa.Array) -> fields.Canonical:
    paths = pl.from_arrow(
        table.append_column("origin_object", origins).append_column("origin_index", indices)
    )
    assert isinstance(paths, pl.DataFrame)
    return fields.canonicalise(paths)
