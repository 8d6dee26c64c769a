"""CloudTrail records → canonical Arrow columns, shared by every CloudTrail container.

Why msgspec: a typed decode builds only the fields we keep and skips the rest in C, and
``msgspec.Raw`` keeps ``requestParameters`` and friends as their original JSON text without
building Python objects. That is what makes the bulk path several times faster than
``json.loads`` of the same bytes (see bench/README.md).

Three tiers, fastest first:
1. a whole array decodes at once (the normal case);
2. if validation fails, records are decoded one by one and the bad ones rejected;
3. if the JSON itself is broken (truncated, invalid), complete records are salvaged in order
   and the rest is rejected with the decoder's message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from detector.logtypes import _cloudtrail_native as native
from detector.logtypes._cloudtrail_native import NativeDecodeError, RawRecords
from detector.logtypes.base import ParseResult, Reject
from detector.schema import SOURCE_CLOUDTRAIL, conform

_NULL = msgspec.Raw(b"null")

DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)
"""What decoding bad bytes can raise (msgspec reports invalid UTF-8 in strings as the last)."""

Text = str | int | float | bool | None
"""A field meant to be text. A number or boolean there is kept as its JSON text (as the
native tier does); an object or array there makes the record's shape wrong."""


class SessionIssuer(msgspec.Struct, gc=False):
    arn: Text = None
    userName: Text = None


class SessionContext(msgspec.Struct, gc=False):
    sessionIssuer: SessionIssuer | None = None


class UserIdentity(msgspec.Struct, gc=False):
    type: Text = None
    principalId: Text = None
    arn: Text = None
    accountId: Text = None
    accessKeyId: Text = None
    userName: Text = None
    invokedBy: Text = None
    sessionContext: SessionContext | None = None


class TlsDetails(msgspec.Struct, gc=False):
    tlsVersion: Text = None
    cipherSuite: Text = None
    clientProvidedHostHeader: Text = None


class Resource(msgspec.Struct, gc=False):
    type: Text = None
    ARN: Text = None
    accountId: Text = None


class Record(msgspec.Struct, gc=False):
    """The parts of a CloudTrail record we type; everything else is skipped or kept raw."""

    eventVersion: Text = None
    eventTime: Text = None
    eventID: Text = None
    requestID: Text = None
    eventName: Text = None
    eventSource: Text = None
    eventType: Text = None
    awsRegion: Text = None
    sourceIPAddress: Text = None
    userAgent: Text = None
    errorCode: Text = None
    errorMessage: Text = None
    recipientAccountId: Text = None
    vpcEndpointId: Text = None
    vpcEndpointAccountId: Text = None
    eventCategory: Text = None
    readOnly: bool | None = None
    managementEvent: bool | None = None
    userIdentity: UserIdentity | None = None
    tlsDetails: TlsDetails | None = None
    resources: list[Resource] | None = None
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL
    additionalEventData: msgspec.Raw = _NULL


class RequestParameters(msgspec.Struct, gc=False):
    """Fields read out of requestParameters; typed Any because other services reuse names."""

    bucketName: Any = None
    key: Any = None
    versionId: Any = None
    Host: Any = None
    sse: Any = msgspec.field(default=None, name="x-amz-server-side-encryption")
    sse_customer: Any = msgspec.field(
        default=None, name="x-amz-server-side-encryption-customer-algorithm"
    )
    kms_key: Any = msgspec.field(
        default=None, name="x-amz-server-side-encryption-aws-kms-key-id"
    )


class AdditionalEventData(msgspec.Struct, gc=False):
    bytesTransferredIn: Any = None
    bytesTransferredOut: Any = None
    SignatureVersion: Any = None
    CipherSuite: Any = None
    AuthenticationMethod: Any = None
    SSEApplied: Any = None


_EMPTY_UI = UserIdentity()
_EMPTY_ISSUER = SessionIssuer()
_EMPTY_TLS = TlsDetails()
_EMPTY_RP = RequestParameters()
_EMPTY_AED = AdditionalEventData()

RECORDS_ARRAY = msgspec.json.Decoder(list[Record], strict=False)
RECORD = msgspec.json.Decoder(Record, strict=False)
RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_RP_ARRAY = msgspec.json.Decoder(list[RequestParameters | str | list | float | bool | None])
_AED_ARRAY = msgspec.json.Decoder(list[AdditionalEventData | str | list | float | bool | None])


@dataclass
class RecordBatch:
    """Decoded records of many files, with where each came from."""

    records: list[Record] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def add(self, records: Sequence[Record], origin: str, indices: Sequence[int]) -> None:
        self.records.extend(records)
        self.origins.extend(repeat(origin, len(records)))
        self.indices.extend(indices)

    def reject(self, origin: str, reason: str, detail: str, raw: bytes,
               index: int | None = None, records: int | None = 1) -> None:
        self.rejects.append(
            Reject(origin, reason, detail, raw, index, records, SOURCE_CLOUDTRAIL)
        )


def finish(batch: RecordBatch, records: RawRecords | None = None,
           arrays: Sequence[tuple[str, memoryview]] = ()) -> ParseResult:
    """Events from every tier: whole arrays and raw records natively, the rest exactly.

    ``arrays`` are trail files' Records arrays and ``records`` raw records (JSON lines,
    envelope details); both go to DuckDB in one query each, and whatever DuckDB cannot type
    falls back to msgspec (``batch``), which rejects exactly the records at fault.
    """
    tables: list[pa.Table] = []
    if arrays:
        try:
            tables.append(_accept_native(batch, native.arrays_to_table(list(arrays)),
                                         _array_raws(arrays)))
        except NativeDecodeError:
            for one in arrays:
                try:
                    result = native.arrays_to_table([one])
                    tables.append(_accept_native(batch, result, _array_raws([one])))
                except NativeDecodeError:
                    origin, arr = one
                    whole = arr.obj if isinstance(arr.obj, bytes) else bytes(arr)
                    decode_array(batch, bytes(arr), origin, salvage_from=whole)
    if records is not None and records.raws:
        try:
            result = native.records_to_table(records)
        except NativeDecodeError:
            for origin, items in records.segments():
                decode_lines(batch, items, origin)
        else:
            positions = {(o, int(i)): n for n, (o, i) in enumerate(zip(
                result.events.column("origin_object").to_pylist(),
                result.events.column("origin_index").to_pylist(), strict=True))} \
                if (result.not_record.any() or result.bad_bytes.any()) else {}
            tables.append(_accept_native(
                batch, result, lambda origin, index: records.raws[positions[(origin, index)]]))
    if batch.records or not tables:
        tables.append(to_table(batch))
    events = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return ParseResult(events, batch.rejects)


def _array_raws(arrays: Sequence[tuple[str, memoryview]]) -> Callable[[str, int], bytes]:
    """Raw text of record ``index`` in a file's array, decoded only when a reject needs it."""
    cache: dict[str, list[msgspec.Raw]] = {}
    by_origin = dict(arrays)

    def raw_of(origin: str, index: int) -> bytes:
        if origin not in cache:
            cache[origin] = RAW_ARRAY.decode(by_origin[origin])
        return bytes(cache[origin][index])

    return raw_of


def _accept_native(batch: RecordBatch, result: native.NativeResult,
                   raw_of: Callable[[str, int], bytes]) -> pa.Table:
    """Reject native rows that are not records; flag bad byte counts; keep the rest."""
    table = result.events
    flagged = np.flatnonzero(result.not_record | result.bad_bytes)
    if len(flagged):
        origins = table.column("origin_object").take(pa.array(flagged)).to_pylist()
        positions = table.column("origin_index").take(pa.array(flagged)).to_pylist()
        for row, origin, index in zip(flagged, origins, positions, strict=True):
            if result.not_record[row]:
                batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD,
                             raw_of(origin, index), index)
            else:
                batch.reject(origin, "bad_field_type", BAD_BYTES, raw_of(origin, index), index,
                             records=0)
    if result.not_record.any():
        table = table.filter(pa.array(~result.not_record))
    return table


NOT_A_RECORD = ("JSON object has none of eventVersion, eventTime, eventName, eventSource, "
                "eventID")
BAD_BYTES = ("additionalEventData.bytesTransferredIn/Out is not a number; kept the event "
             "with the value null")


def decode_array(batch: RecordBatch, data: bytes, origin: str, first_index: int = 0,
                 salvage_from: bytes | None = None) -> None:
    """Decode a JSON array of records into ``batch``; fall back tier by tier on bad input.

    ``salvage_from`` is the whole file the array was cut from, so that the positions in
    salvage messages are positions in the file.
    """
    try:
        records = RECORDS_ARRAY.decode(data)
    except (msgspec.ValidationError, UnicodeDecodeError):
        try:
            raws = RAW_ARRAY.decode(data)
        except DECODE_ERRORS:
            salvage_array(batch, salvage_from or data, origin, first_index)
            return
        decode_each(batch, [(first_index + i, bytes(r)) for i, r in enumerate(raws)], origin)
        return
    except msgspec.DecodeError:
        salvage_array(batch, salvage_from or data, origin, first_index)
        return
    accept(batch, records, origin, range(first_index, first_index + len(records)),
           lambda: [bytes(r) for r in RAW_ARRAY.decode(data)])


def accept(batch: RecordBatch, records: Sequence[Record], origin: str, indices: Sequence[int],
           raws: Callable[[], Sequence[bytes]]) -> None:
    """Add decoded records, rejecting JSON objects that are not CloudTrail records at all.

    Any JSON object decodes (every field is optional); one with none of the identifying
    fields is some other document, e.g. a wrapper around a record.
    """
    if all(r.eventTime is not None for r in records):
        batch.add(records, origin, indices)
        return
    raw = raws()
    keep = [i for i, r in enumerate(records) if _is_record(r)]
    for i in sorted(set(range(len(records))) - set(keep)):
        batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD, raw[i], indices[i])
    batch.add([records[i] for i in keep], origin, [indices[i] for i in keep])


def _is_record(r: Record) -> bool:
    return any(v is not None for v in (r.eventVersion, r.eventTime, r.eventName,
                                       r.eventSource, r.eventID))


def decode_lines(batch: RecordBatch, lines: Sequence[tuple[int, bytes]], origin: str) -> None:
    """Decode JSON lines (one record each) in one call, or one by one if any is bad."""
    try:
        records = RECORDS_ARRAY.decode(b"[" + b",".join(ln for _, ln in lines) + b"]")
    except DECODE_ERRORS:
        decode_each(batch, lines, origin)
        return
    accept(batch, records, origin, [i for i, _ in lines], lambda: [ln for _, ln in lines])


def decode_each(batch: RecordBatch, raws: Sequence[tuple[int, bytes]], origin: str,
                text_was_repaired: bool = False) -> None:
    """Decode records one at a time, rejecting each one that does not fit."""
    good: list[Record] = []
    idx: list[int] = []
    for i, raw in raws:
        if text_was_repaired and "\ufffd".encode() in raw:
            batch.reject(origin, "invalid_utf8", "record contains bytes that are not UTF-8",
                         raw, i)
            continue
        try:
            record = RECORD.decode(raw)
        except msgspec.ValidationError as exc:
            batch.reject(origin, "bad_record_shape", str(exc), raw, i)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            reason = "invalid_json" if _is_utf8(raw) else "invalid_utf8"
            batch.reject(origin, reason, str(exc), raw, i)
        else:
            if _is_record(record):
                good.append(record)
                idx.append(i)
            else:
                batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD, raw, i)
    batch.add(good, origin, idx)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_NEXT_RECORD = re.compile(r'\{\s*"eventVersion"\s*:')
"""Where a record begins (AWS writes eventVersion first): how salvage resynchronises."""

_ARRAY_START = re.compile(r'"Records"\s*:\s*\[|^\s*\[')


def salvage_array(batch: RecordBatch, data: bytes, origin: str, first_index: int = 0) -> None:
    """Keep every complete record before the damage; reject the damaged rest as one piece."""
    repaired = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        repaired = True
    m = _ARRAY_START.search(text)
    if m is None:
        batch.reject(origin, "no_records", "no Records array in this JSON", data, None, None)
        return
    decoder = json.JSONDecoder()
    pos, n, i = m.end(), len(text), first_index
    raws: list[tuple[int, bytes]] = []
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            batch.reject(origin, "invalid_json", "file ends inside the Records array",
                         b"", None, None)
            break
        if text[pos] == "]":
            break
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            resume = _NEXT_RECORD.search(text, pos + 1)
            stop = resume.start() if resume else n
            batch.reject(origin, "invalid_json",
                         f"{exc.msg} at char {exc.pos} of the file; record {i} rejected"
                         + ("; reading resumed at the next record" if resume else
                            " with everything after it"),
                         text[pos:stop].encode(), i, None)
            if resume is None:
                break
            pos, i = stop, i + 1
            continue
        raws.append((i, text[pos:end].encode()))
        pos, i = end, i + 1
    decode_each(batch, raws, origin, text_was_repaired=repaired)


def to_table(batch: RecordBatch) -> pa.Table:
    """Columnarise decoded records into the canonical schema."""
    recs = batch.records
    n = len(recs)
    if not n:
        return conform(pa.table({}).append_column("source", pa.array([], pa.string())))

    def strs(objs: Sequence[Any], attr: str) -> pa.Array:
        return _strings(list(map(attrgetter(attr), objs)))

    uis = [r.userIdentity or _EMPTY_UI for r in recs]
    issuers = [
        (u.sessionContext.sessionIssuer if u.sessionContext else None) or _EMPTY_ISSUER
        for u in uis
    ]
    tls = [r.tlsDetails or _EMPTY_TLS for r in recs]
    rp_raw = list(map(attrgetter("requestParameters"), recs))
    re_raw = list(map(attrgetter("responseElements"), recs))
    aed_raw = list(map(attrgetter("additionalEventData"), recs))
    rps = _decode_side(_RP_ARRAY, rp_raw, RequestParameters, _EMPTY_RP)
    res = _decode_side(_RP_ARRAY, re_raw, RequestParameters, _EMPTY_RP)
    aeds = _decode_side(_AED_ARRAY, aed_raw, AdditionalEventData, _EMPTY_AED)
    bytes_out, bad_out = _ints([a.bytesTransferredOut for a in aeds])
    bytes_in, bad_in = _ints([a.bytesTransferredIn for a in aeds])
    for i in sorted(set(bad_out) | set(bad_in)):
        batch.reject(batch.origins[i], "bad_field_type", BAD_BYTES, bytes(aed_raw[i]),
                     batch.indices[i], records=0)

    cols: dict[str, pa.Array] = {
        "event_time": strs(recs, "eventTime"),
        "event_id": strs(recs, "eventID"),
        "request_id": strs(recs, "requestID"),
        "event_name": strs(recs, "eventName"),
        "event_source": strs(recs, "eventSource"),
        "event_type": strs(recs, "eventType"),
        "aws_region": strs(recs, "awsRegion"),
        "principal_arn": strs(uis, "arn"),
        "principal_type": strs(uis, "type"),
        "principal_id": strs(uis, "principalId"),
        "account_id": strs(uis, "accountId"),
        "ui_user_name": strs(uis, "userName"),
        "issuer_user_name": strs(issuers, "userName"),
        "access_key_id": strs(uis, "accessKeyId"),
        "session_issuer_arn": strs(issuers, "arn"),
        "invoked_by": strs(uis, "invokedBy"),
        "source_ip": strs(recs, "sourceIPAddress"),
        "user_agent": strs(recs, "userAgent"),
        "vpc_endpoint_id": strs(recs, "vpcEndpointId"),
        "vpc_endpoint_account_id": strs(recs, "vpcEndpointAccountId"),
        "tls_version": strs(tls, "tlsVersion"),
        "tls_cipher": strs(tls, "cipherSuite"),
        "aed_cipher": strs(aeds, "CipherSuite"),
        "signature_version": strs(aeds, "SignatureVersion"),
        "auth_method": strs(aeds, "AuthenticationMethod"),
        "tls_host": strs(tls, "clientProvidedHostHeader"),
        "rp_host": strs(rps, "Host"),
        "bucket": strs(rps, "bucketName"),
        "key": strs(rps, "key"),
        "version_id": strs(rps, "versionId"),
        "recipient_account_id": strs(recs, "recipientAccountId"),
        "error_code": strs(recs, "errorCode"),
        "error_message": strs(recs, "errorMessage"),
        "bytes_out": bytes_out,
        "bytes_in": bytes_in,
        "read_only": pa.array(list(map(attrgetter("readOnly"), recs)), pa.bool_()),
        "management_event": pa.array(list(map(attrgetter("managementEvent"), recs)), pa.bool_()),
        "event_category": strs(recs, "eventCategory"),
        "rp_sse": strs(rps, "sse"),
        "rp_sse_c": strs(rps, "sse_customer"),
        "re_sse": strs(res, "sse"),
        "re_sse_c": strs(res, "sse_customer"),
        "aed_sse": strs(aeds, "SSEApplied"),
        "rp_kms": strs(rps, "kms_key"),
        "re_kms": strs(res, "kms_key"),
        "request_parameters": _raw_json(rp_raw),
        "response_elements": _raw_json(re_raw),
        "additional_event_data": _raw_json(aed_raw),
        "origin_object": pa.array(batch.origins, pa.string()),
        "origin_index": pa.array(batch.indices, pa.int64()),
    }
    df = pl.from_arrow(pa.table(cols))
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(
        _bucket_accounts(recs, df.get_column("bucket")).alias("bucket_account_id")
    )
    out = df.select(
        pl.lit(SOURCE_CLOUDTRAIL).alias("source"),
        pl.col("event_time").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", time_unit="us", strict=False
        ),
        "event_id", "request_id", "event_name", "event_source", "event_type", "aws_region",
        "principal_arn", "principal_type", "principal_id", "account_id",
        pl.coalesce("ui_user_name", "issuer_user_name").alias("user_name"),
        "access_key_id",
        pl.when(pl.col("principal_arn").str.contains(":assumed-role/", literal=True))
        .then(pl.col("principal_arn").str.split("/").list.last())
        .alias("session_name"),
        "session_issuer_arn", "invoked_by", "source_ip", "user_agent", "vpc_endpoint_id",
        "vpc_endpoint_account_id",
        normalise_tls(pl.col("tls_version")).alias("tls_version"),
        pl.coalesce("tls_cipher", "aed_cipher").alias("cipher_suite"),
        "signature_version", "auth_method",
        pl.coalesce("tls_host", "rp_host").alias("host_header"),
        "bucket", "key", "version_id", "bucket_account_id", "recipient_account_id",
        "error_code", "error_message", "bytes_out", "bytes_in", "read_only",
        "management_event", "event_category",
        _sse_expr().alias("sse"),
        pl.coalesce("rp_kms", "re_kms").alias("kms_key_id"),
        "request_parameters", "response_elements", "additional_event_data",
        "origin_object", "origin_index",
    )
    return conform(out.to_arrow())


def normalise_tls(expr: pl.Expr) -> pl.Expr:
    """``TLSV1.2`` (access logs) and ``TLSv1.2`` (CloudTrail) name the same thing."""
    return expr.str.replace(r"^(?i)tlsv", "TLSv")


_SSE_NAMES = {
    "aws:kms": "SSE-KMS",
    "AES256": "SSE-S3",
    "aws:kms:dsse": "DSSE-KMS",
    "Default_SSE_S3": "SSE-S3",
    "SSE_S3": "SSE-S3",
    "Default_SSE_KMS": "SSE-KMS",
    "SSE_KMS": "SSE-KMS",
    "SSE_C": "SSE-C",
    "DSSE_KMS": "DSSE-KMS",
}


def _sse_expr() -> pl.Expr:
    named = pl.coalesce("rp_sse", "re_sse", "aed_sse").replace_strict(
        _SSE_NAMES, default=None, return_dtype=pl.String
    )
    customer = pl.coalesce("rp_sse_c", "re_sse_c")
    return pl.when(customer.is_not_null()).then(pl.lit("SSE-C")).otherwise(named)


def _bucket_accounts(recs: Sequence[Record], buckets: pl.Series) -> pl.Series:
    """Owner account of the target bucket, from resources[] (the one naming the bucket)."""
    lists = [r.resources or () for r in recs]
    lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(chain.from_iterable(lists))
    if not flat:
        return pl.Series("bucket_account_id", [None] * len(recs), dtype=pl.String)
    res = pl.DataFrame(
        {
            "row": np.repeat(np.arange(len(recs)), lens),
            "type": list(map(attrgetter("type"), flat)),
            "arn": list(map(attrgetter("ARN"), flat)),
            "acct": list(map(attrgetter("accountId"), flat)),
        },
        schema={"row": pl.Int64, "type": pl.String, "arn": pl.String, "acct": pl.String},
    )
    wanted = pl.DataFrame({"row": np.arange(len(recs)), "bucket": buckets})
    best = (
        res.filter((pl.col("type") == "AWS::S3::Bucket") & pl.col("acct").is_not_null())
        .join(wanted, on="row", how="left")
        .with_columns(
            (~pl.col("arn").str.ends_with(pl.lit(":s3:::") + pl.col("bucket"))).alias("other")
        )
        .sort("row", "other", nulls_last=True, maintain_order=True)
        .unique("row", keep="first", maintain_order=True)
    )
    return (
        wanted.join(best.select("row", "acct"), on="row", how="left")
        .get_column("acct")
        .alias("bucket_account_id")
    )


def _decode_side(decoder: msgspec.json.Decoder, raws: list[msgspec.Raw], typ: type,
                 empty: Any) -> list[Any]:
    """Decode many raw sub-objects in one call; anything not an object reads as empty."""
    values = decoder.decode(b"[" + b",".join(raws) + b"]")
    return [v if type(v) is typ else empty for v in values]


def _strings(values: list[Any]) -> pa.Array:
    """Text column; scalars that are not text become their JSON text, containers null."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([_as_text(v) for v in values], pa.string())


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _ints(values: list[Any]) -> tuple[pa.Array, list[int]]:
    """Integers from JSON numbers (or numeric strings); positions of values that are neither."""
    try:
        return pa.array(values, pa.int64()), []
    except (pa.ArrowTypeError, pa.ArrowInvalid, OverflowError):
        pass
    out: list[int | None] = []
    bad: list[int] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        try:
            out.append(int(float(v)) if not isinstance(v, bool) else None)
        except (TypeError, ValueError, OverflowError):
            out.append(None)
            bad.append(i)
    return pa.array(out, pa.int64()), bad


def _raw_json(raws: list[msgspec.Raw]) -> pa.Array:
    """Raw JSON sub-objects as text; JSON null becomes a SQL null."""
    n = len(raws)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, raws), dtype=np.int64, count=n), out=offsets[1:])
    arr = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raws))]
    ).cast(pa.large_string())
    return pc.if_else(pc.equal(arr, "null"), pa.scalar(None, pa.large_string()), arr).cast(
        pa.string()
    )
