"""The exact tier for CloudTrail records: typed msgspec decoding and Python columnarising.

It is slower than the native tier (every field becomes a Python object before Arrow) but
exact: records are decoded one by one when needed, so a record of the wrong shape is rejected
with msgspec's message naming the field, and the rest of its file is kept. The tiers module
uses it only for input the native tier could not read.
"""

from __future__ import annotations

import codecs
import json
from bisect import bisect_right
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

from detector.logtypes._times import parse_event_times
from detector.logtypes.base import Reject, normalise_tls
from detector.schema import SOURCE_CLOUDTRAIL, conform

_NULL = msgspec.Raw(b"null")

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
    timestamp: Text = msgspec.field(default=None, name="@timestamp")
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
    kms_key: Any = msgspec.field(default=None, name="x-amz-server-side-encryption-aws-kms-key-id")


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


RawOf = Callable[[int], bytes]
"""The raw text of the k-th record of one ``add`` (for a reject found later)."""


@dataclass
class RecordBatch:
    """Decoded records of many files, with where each came from."""

    records: list[Record] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    _raw_starts: list[int] = field(default_factory=list)
    _raw_ofs: list[RawOf | None] = field(default_factory=list)

    def add(
        self,
        records: Sequence[Record],
        origin: str,
        indices: Sequence[int],
        raw_of: RawOf | None = None,
    ) -> None:
        self._raw_starts.append(len(self.records))
        self._raw_ofs.append(raw_of)
        self.records.extend(records)
        self.origins.extend(repeat(origin, len(records)))
        self.indices.extend(indices)

    def raw(self, i: int) -> bytes:
        """Record ``i``'s raw text as read (its typed fields re-encoded if not known)."""
        seg = bisect_right(self._raw_starts, i) - 1
        raw_of = self._raw_ofs[seg] if seg >= 0 else None
        if raw_of is None:
            return msgspec.json.encode(self.records[i])
        return raw_of(i - self._raw_starts[seg])

    def reject(
        self,
        origin: str,
        reason: str,
        detail: str,
        raw: bytes,
        index: int | None = None,
        records: int | None = 1,
    ) -> None:
        self.rejects.append(Reject(origin, reason, detail, raw, index, records, SOURCE_CLOUDTRAIL))


BAD_BYTES = (
    "additionalEventData.bytesTransferredIn/Out is not a number an int64 can hold; "
    "kept the event with the value null"
)
BAD_TIME = (
    "no usable event time: eventTime (or @timestamp) is missing, in no known form, "
    "or before 2006 or in the future"
)


def to_table(batch: RecordBatch) -> pa.Table:
    """Columnarise decoded records into the canonical schema."""
    recs = batch.records
    n = len(recs)
    if not n:
        return conform(pa.table({}).append_column("source", pa.array([], pa.string())))

    def strs(objs: Sequence[Any], attr: str) -> pa.Array:
        return _strings(list(map(attrgetter(attr), objs)))

    rps, res, aeds = _screen_sides(batch)
    times = parse_event_times(
        pl.from_arrow(strs(recs, "eventTime")),  # type: ignore[arg-type]
        pl.from_arrow(strs(recs, "timestamp")),
    )  # type: ignore[arg-type]
    for i in times.is_null().arg_true().to_list():
        if rps[i] is not None:
            batch.reject(
                batch.origins[i], "bad_event_time", BAD_TIME, batch.raw(i), batch.indices[i]
            )
            rps[i] = None
    keep = [i for i, rp in enumerate(rps) if rp is not None]
    if len(keep) < n:
        recs = [recs[i] for i in keep]
        rps, res, aeds = [rps[i] for i in keep], [res[i] for i in keep], [aeds[i] for i in keep]
        times = times.gather(keep)
    origins = [batch.origins[i] for i in keep]
    indices = [batch.indices[i] for i in keep]
    uis = [r.userIdentity or _EMPTY_UI for r in recs]
    issuers = [
        (u.sessionContext.sessionIssuer if u.sessionContext else None) or _EMPTY_ISSUER for u in uis
    ]
    tls = [r.tlsDetails or _EMPTY_TLS for r in recs]
    rp_raw = list(map(attrgetter("requestParameters"), recs))
    re_raw = list(map(attrgetter("responseElements"), recs))
    aed_raw = list(map(attrgetter("additionalEventData"), recs))
    bytes_out, bad_out = _ints([a.bytesTransferredOut for a in aeds])
    bytes_in, bad_in = _ints([a.bytesTransferredIn for a in aeds])
    for j in sorted(set(bad_out) | set(bad_in)):
        i = keep[j]
        batch.reject(
            batch.origins[i], "bad_field_type", BAD_BYTES, batch.raw(i), batch.indices[i], records=0
        )

    cols: dict[str, pa.Array] = {
        "event_time": times.to_arrow(),
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
        "origin_object": pa.array(origins, pa.string()),
        "origin_index": pa.array(indices, pa.int64()),
    }
    df = pl.from_arrow(pa.table(cols))
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(_bucket_accounts(recs, df.get_column("bucket")).alias("bucket_account_id"))
    out = df.select(
        pl.lit(SOURCE_CLOUDTRAIL).alias("source"),
        "event_time",
        "event_id",
        "request_id",
        "event_name",
        "event_source",
        "event_type",
        "aws_region",
        "principal_arn",
        "principal_type",
        "principal_id",
        "account_id",
        pl.coalesce("ui_user_name", "issuer_user_name").alias("user_name"),
        "access_key_id",
        pl.when(pl.col("principal_arn").str.contains(":assumed-role/", literal=True))
        .then(pl.col("principal_arn").str.split("/").list.last())
        .alias("session_name"),
        "session_issuer_arn",
        "invoked_by",
        "source_ip",
        "user_agent",
        "vpc_endpoint_id",
        "vpc_endpoint_account_id",
        normalise_tls(pl.col("tls_version")).alias("tls_version"),
        pl.coalesce("tls_cipher", "aed_cipher").alias("cipher_suite"),
        "signature_version",
        "auth_method",
        pl.coalesce("tls_host", "rp_host").alias("host_header"),
        "bucket",
        "key",
        "version_id",
        "bucket_account_id",
        "recipient_account_id",
        "error_code",
        "error_message",
        "bytes_out",
        "bytes_in",
        "read_only",
        "management_event",
        "event_category",
        _sse_expr().alias("sse"),
        pl.coalesce("rp_kms", "re_kms").alias("kms_key_id"),
        "request_parameters",
        "response_elements",
        "additional_event_data",
        "origin_object",
        "origin_index",
    )
    return conform(out.to_arrow())


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
    res = pl.from_arrow(
        pa.table(
            {  # numbers where text belongs read as their text
                "row": np.repeat(np.arange(len(recs)), lens),
                "type": _strings(list(map(attrgetter("type"), flat))),
                "arn": _strings(list(map(attrgetter("ARN"), flat))),
                "acct": _strings(list(map(attrgetter("accountId"), flat))),
            }
        )
    )
    assert isinstance(res, pl.DataFrame)
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


def _screen_sides(batch: RecordBatch) -> tuple[list[Any], list[Any], list[Any]]:
    """requestParameters, responseElements and additionalEventData decoded, per record.

    They are kept raw (``msgspec.Raw``) while records decode, so nothing has checked them
    yet: a record whose raw sub-object is not UTF-8, or holds what msgspec cannot decode (a
    number out of range), is rejected here, alone; its entries come back as None.
    """
    sides = [
        (_RP_ARRAY, "requestParameters", RequestParameters, _EMPTY_RP),
        (_RP_ARRAY, "responseElements", RequestParameters, _EMPTY_RP),
        (_AED_ARRAY, "additionalEventData", AdditionalEventData, _EMPTY_AED),
    ]
    out: list[list[Any]] = []
    bad: dict[int, tuple[str, str]] = {}
    for decoder, name, typ, empty in sides:
        raws = [getattr(r, name) for r in batch.records]
        try:
            values = decoder.decode(b"[" + b",".join(raws) + b"]")
            _utf8(b"".join(raws))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            values = []
            for i, raw in enumerate(raws):
                try:
                    _utf8(raw)
                    values.append(decoder.decode(b"[" + raw + b"]")[0])
                except UnicodeDecodeError:
                    bad.setdefault(i, ("invalid_utf8", f"{name} holds bytes that are not UTF-8"))
                    values.append(None)
                except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                    bad.setdefault(
                        i,
                        (
                            "invalid_utf8" if not _is_text(raw) else "bad_record_shape",
                            f"{name}: {exc}",
                        ),
                    )
                    values.append(None)
        out.append([v if type(v) is typ else empty for v in values])
    for i, (reason, detail) in sorted(bad.items()):
        batch.reject(batch.origins[i], reason, detail, batch.raw(i), batch.indices[i])
        out[0][i] = None
    return out[0], out[1], out[2]


def _utf8(raw: bytes) -> None:
    """Raise UnicodeDecodeError unless ``raw`` is UTF-8 (JSON strings may not be anything
    else, but ``msgspec.Raw`` keeps bytes unchecked)."""
    codecs.utf_8_decode(raw, "strict", True)


def _is_text(raw: bytes) -> bool:
    try:
        _utf8(raw)
    except UnicodeDecodeError:
        return False
    return True


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
            n = int(float(v)) if not isinstance(v, bool) else None
        except (TypeError, ValueError, OverflowError):
            n = None
        if n is not None and not _INT64_MIN <= n <= _INT64_MAX:
            n = None
        if n is None and not isinstance(v, bool):
            bad.append(i)
        out.append(n)
    return pa.array(out, pa.int64()), bad


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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
