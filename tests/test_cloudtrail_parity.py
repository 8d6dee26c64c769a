"""Parity of the two CloudTrail decoding tiers, and the one field map both are made from.

The native tier (DuckDB) reads what it can; the exact tier (msgspec) reads what the native
tier gives up on. Both are generated from ``_cloudtrail_fields`` and share its canonical
step, and these tests hold them to it: the bundled samples, the third-party samples and
hostile files, in every container, parse to the same rows and the same rejects whichever
tier reads them. Missing inputs fail the test; nothing here skips.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import ct_record
from hostile_corpus import mixed_trail, time_records
from test_envelopes import cwl_payload, envelope

from detector.blob import Blob, ObjectRef
from detector.logtypes import ParseResult, _cloudtrail_fields, _cloudtrail_native, parse_blobs
from detector.schema import FIELDS

REPO = Path(__file__).resolve().parents[1]
SAMPLE_TRAILS = REPO / "sample_logs" / "AWSLogs"
THIRD_PARTY = REPO.parent / "shared" / "testdata" / "cloudtrail"


def _blob(name: str, data: bytes) -> Blob:
    return Blob(ObjectRef(f"/parity/{name}", name, len(data)), data)


def _files(root: Path) -> list[Blob]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and "Digest" not in str(p))
    if not files:
        pytest.fail(f"no input under {root}: parity would pass vacuously")
    return [_blob(str(p.relative_to(root)), p.read_bytes()) for p in files]


def _sample_records(limit: int = 400) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for blob in _files(SAMPLE_TRAILS):
        records += json.loads(gzip.decompress(blob.data))["Records"]
        if len(records) >= limit:
            break
    return records[:limit]


def _envelopes() -> list[Blob]:
    """The sample records again, as EventBridge lines and CloudWatch Logs payloads."""
    records = _sample_records()
    lines = "\n".join(json.dumps(envelope(r)) for r in records).encode()
    payloads = "".join(json.dumps(cwl_payload(records[i : i + 50])) for i in range(0, 400, 50))
    return [_blob("eventbridge.jsonl", lines), _blob("cwl.gz", gzip.compress(payloads.encode()))]


def _hostile() -> list[Blob]:
    trail, _ = mixed_trail()
    times, _, _ = time_records()
    odd = [ct_record(i) for i in range(4)]  # free-form members of unexpected types
    odd[0]["additionalEventData"] = {"bytesTransferredOut": {"n": 1}}
    odd[1]["additionalEventData"] = {"bytesTransferredOut": " 12 ", "bytesTransferredIn": True}
    odd[2]["requestParameters"] = {"bucketName": {"a": [1, 2]}, "key": 7}
    odd[3]["requestParameters"] = {"bucketName": "b", "Host": ["x"], "key": 1.5e16}
    return [
        _blob("mixed.json.gz", trail),
        _blob("times.json", json.dumps({"Records": times}).encode()),
        _blob("odd.json", json.dumps({"Records": odd}).encode()),
    ]


@contextmanager
def _native_watched() -> Iterator[list[str]]:
    """Count the native tier's fallbacks (its query giving up on input it cannot type)."""
    real = _cloudtrail_native._query
    fallbacks: list[str] = []

    def watched(*args: Any, **kwargs: Any) -> pa.Table:
        try:
            return real(*args, **kwargs)
        except _cloudtrail_native.NativeDecodeError as exc:
            fallbacks.append(str(exc))
            raise

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_cloudtrail_native, "_query", watched)
        yield fallbacks


def _exact(blobs: Sequence[Blob]) -> ParseResult:
    """Parse with every native query made to give up, so the exact tier reads it all."""
    calls: list[object] = []

    def gives_up(*args: object, **kwargs: object) -> pa.Table:
        calls.append(args)
        raise _cloudtrail_native.NativeDecodeError("forced by the parity test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_cloudtrail_native, "_query", gives_up)
        result = parse_blobs(blobs)
    assert calls, "the native tier was not entered through _query: exact tier not forced"
    return result


def _rows(result: ParseResult) -> pa.Table:
    return result.events.sort_by([("origin_object", "ascending"), ("origin_index", "ascending")])


def _rejects(result: ParseResult) -> list[tuple[Any, ...]]:
    return sorted(
        (r.origin_object, r.origin_index or -1, r.reason, r.detail, r.records or -1, r.raw)
        for r in result.rejects
    )


def _differences(native: pa.Table, exact: pa.Table) -> list[str]:
    if native.num_rows != exact.num_rows:
        return [f"{native.num_rows} rows natively, {exact.num_rows} exactly"]
    out = []
    for name in native.column_names:
        a, b = native.column(name).to_pylist(), exact.column(name).to_pylist()
        bad = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if bad:
            i = bad[0]
            where = f"{native.column('origin_object')[i]}#{native.column('origin_index')[i]}"
            out.append(f"{name}: {len(bad)} rows differ, first {where}: {a[i]!r} vs {b[i]!r}")
    return out


INPUTS = {
    "bundled sample trails": lambda: _files(SAMPLE_TRAILS),
    "bundled records in EventBridge and CloudWatch Logs envelopes": _envelopes,
    "third-party CloudTrail samples": lambda: _files(THIRD_PARTY),
    "hostile trail files": _hostile,
}
NATIVE_READS_ALL = {
    "bundled sample trails",
    "bundled records in EventBridge and CloudWatch Logs envelopes",
}
"""Inputs the native tier must read without falling back (else parity would be trivial)."""


@pytest.mark.parametrize("name", list(INPUTS))
def test_both_tiers_give_the_same_rows_and_rejects(name: str) -> None:
    blobs = INPUTS[name]()
    with _native_watched() as fallbacks:
        native = parse_blobs(blobs)
    if name in NATIVE_READS_ALL:
        assert fallbacks == [], "the native tier fell back on well-formed input"
        assert native.events.num_rows >= 400
    exact = _exact(blobs)
    assert _differences(_rows(native), _rows(exact)) == []
    assert _rejects(native) == _rejects(exact)


def test_sample_trails_are_all_read() -> None:
    """The bundled trails parse whole: the parity above is over every sample record."""
    blobs = _files(SAMPLE_TRAILS)
    expected = sum(len(json.loads(gzip.decompress(b.data))["Records"]) for b in blobs)
    result = parse_blobs(blobs)
    assert result.rejects == []
    assert result.events.num_rows == expected > 2500


def test_the_field_map_covers_every_cloudtrail_column() -> None:
    """Every canonical column with a CloudTrail lineage is declared once in the map."""
    declared = [c.name for c in _cloudtrail_fields.COLUMNS]
    assert len(declared) == len(set(declared))
    special = {"source", "event_time", _cloudtrail_fields.BUCKET_OWNER}
    from_cloudtrail = {f.name for f in FIELDS if f.cloudtrail != "null"} - {
        "origin_object",
        "origin_index",
    }
    assert set(declared) | special == from_cloudtrail


def test_the_native_query_reads_each_declared_path() -> None:
    sql = _cloudtrail_native._select("array", filenames=True)
    for path in _cloudtrail_fields.PATHS:
        assert f'AS "{path}"' in sql
    assert "filename=true" in sql
