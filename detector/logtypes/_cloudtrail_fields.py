"""The one declaration of how a CloudTrail record becomes canonical columns.

Both decoding tiers are generated from ``COLUMNS``: the native tier's DuckDB query (its
``read_json`` column types and the JSON members it extracts) and the exact tier's msgspec
structs. A tier only *reads* the declared JSON paths into flat columns named by path;
``canonicalise`` then coalesces and transforms them into canonical columns in one polars
step that both tiers share, so the two cannot drift apart. ``tests/test_cloudtrail_parity.py``
parses the bundled samples in both tiers and fails on any difference.

To read a new field: add a ``Column`` here (and the field to ``detector/schema.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from detector.logtypes._times import parse_event_times
from detector.logtypes.base import normalise_tls
from detector.schema import SOURCE_CLOUDTRAIL, conform

Rule = Callable[[list[pl.Expr]], pl.Expr]
"""Canonical value from the columns of a ``Column``'s paths, in declared order."""


def first(parts: list[pl.Expr]) -> pl.Expr:
    """The first path that has a value."""
    return pl.coalesce(parts) if len(parts) > 1 else parts[0]


def _tls(parts: list[pl.Expr]) -> pl.Expr:
    return normalise_tls(parts[0])


def _session_name(parts: list[pl.Expr]) -> pl.Expr:
    """An assumed role's session name is the last part of its ARN."""
    arn = parts[0]
    return pl.when(arn.str.contains(":assumed-role/", literal=True)).then(
        arn.str.split("/").list.last()
    )


def _byte_count(parts: list[pl.Expr]) -> pl.Expr:
    """A count as int64 from a JSON number or numeric text; null if neither or too large."""
    text = parts[0].str.strip_chars()
    exact = text.cast(pl.Int64, strict=False)
    return exact.fill_null(text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False))


SSE_NAMES = {
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
"""Encryption as S3 headers and as additionalEventData name it, to one vocabulary."""


def _sse(parts: list[pl.Expr]) -> pl.Expr:
    """SSE-C when a customer algorithm is given (request or response), else the named kind."""
    customer, named = pl.coalesce(parts[:2]), pl.coalesce(parts[2:])
    kind = named.replace_strict(SSE_NAMES, default=None, return_dtype=pl.String)
    return pl.when(customer.is_not_null()).then(pl.lit("SSE-C")).otherwise(kind)


@dataclass(frozen=True)
class Column:
    """One canonical column: the record paths it is read from and how they combine."""

    name: str
    paths: tuple[str, ...]
    rule: Rule = first


_RP, _RE, _AED = "requestParameters.", "responseElements.", "additionalEventData."
_SSE_HEADER = "x-amz-server-side-encryption"

COLUMNS: tuple[Column, ...] = (
    Column("event_id", ("eventID",)),
    Column("request_id", ("requestID",)),
    Column("event_name", ("eventName",)),
    Column("event_source", ("eventSource",)),
    Column("event_type", ("eventType",)),
    Column("aws_region", ("awsRegion",)),
    Column("principal_arn", ("userIdentity.arn",)),
    Column("principal_type", ("userIdentity.type",)),
    Column("principal_id", ("userIdentity.principalId",)),
    Column("account_id", ("userIdentity.accountId",)),
    Column(
        "user_name",
        ("userIdentity.userName", "userIdentity.sessionContext.sessionIssuer.userName"),
    ),
    Column("access_key_id", ("userIdentity.accessKeyId",)),
    Column("session_name", ("userIdentity.arn",), _session_name),
    Column("session_issuer_arn", ("userIdentity.sessionContext.sessionIssuer.arn",)),
    Column("invoked_by", ("userIdentity.invokedBy",)),
    Column("source_ip", ("sourceIPAddress",)),
    Column("user_agent", ("userAgent",)),
    Column("vpc_endpoint_id", ("vpcEndpointId",)),
    Column("vpc_endpoint_account_id", ("vpcEndpointAccountId",)),
    Column("tls_version", ("tlsDetails.tlsVersion",), _tls),
    Column("cipher_suite", ("tlsDetails.cipherSuite", _AED + "CipherSuite")),
    Column("signature_version", (_AED + "SignatureVersion",)),
    Column("auth_method", (_AED + "AuthenticationMethod",)),
    Column("host_header", ("tlsDetails.clientProvidedHostHeader", _RP + "Host")),
    Column("bucket", (_RP + "bucketName",)),
    Column("key", (_RP + "key",)),
    Column("version_id", (_RP + "versionId",)),
    Column("recipient_account_id", ("recipientAccountId",)),
    Column("error_code", ("errorCode",)),
    Column("error_message", ("errorMessage",)),
    Column("bytes_out", (_AED + "bytesTransferredOut",), _byte_count),
    Column("bytes_in", (_AED + "bytesTransferredIn",), _byte_count),
    Column("read_only", ("readOnly",)),
    Column("management_event", ("managementEvent",)),
    Column("event_category", ("eventCategory",)),
    Column(
        "sse",
        (
            _RP + _SSE_HEADER + "-customer-algorithm",
            _RE + _SSE_HEADER + "-customer-algorithm",
            _RP + _SSE_HEADER,
            _RE + _SSE_HEADER,
            _AED + "SSEApplied",
        ),
        _sse,
    ),
    Column(
        "kms_key_id",
        (_RP + _SSE_HEADER + "-aws-kms-key-id", _RE + _SSE_HEADER + "-aws-kms-key-id"),
    ),
    Column("request_parameters", ("requestParameters",)),
    Column("response_elements", ("responseElements",)),
    Column("additional_event_data", ("additionalEventData",)),
)
"""Every canonical column read from a record by a plain rule (event time and the bucket's
owner need more than an expression: see ``canonicalise``)."""

TIME_PATHS = ("eventTime", "@timestamp")
"""Where the event time is: CloudTrail's own field, else an export's ``@timestamp``."""
BUCKET_OWNER = "bucket_account_id"
"""Read from ``resources``: the owner of the bucket resource that names ``bucket``."""
IDENTIFYING = ("eventVersion", "eventTime", "eventName", "eventSource", "eventID")
"""A JSON object with none of these is not a CloudTrail record (some other document)."""

SIDES = ("requestParameters", "responseElements", "additionalEventData")
"""Free-form sub-objects: kept whole as JSON text, with a few members read out of them."""
FLAGS = ("readOnly", "managementEvent")
"""Boolean fields; every other field is text (a number there is kept as its JSON text)."""
RESOURCES = "resources"
RESOURCE_FIELDS = ("type", "ARN", "accountId")
_BYTE_PATHS = tuple(p for c in COLUMNS if c.rule is _byte_count for p in c.paths)


def _all_paths() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for path in (*IDENTIFYING, *TIME_PATHS, *(p for c in COLUMNS for p in c.paths)):
        seen.setdefault(path, None)
    return tuple(seen)


PATHS: tuple[str, ...] = _all_paths()
"""Every path a tier reads (besides ``resources``), each into a column named by the path."""


def side_members(side: str) -> tuple[str, ...]:
    """The members read out of one free-form sub-object."""
    return tuple(p.removeprefix(side + ".") for p in PATHS if p.startswith(side + "."))


Tree = dict[str, "Tree | None"]


def record_tree() -> Tree:
    """The typed part of a record as a tree: ``{"userIdentity": {"arn": None, ...}, ...}``.

    Leaves are text or flags; sides are leaves too (their members are read separately).
    """
    tree: Tree = {}
    for path in PATHS:
        head = path.split(".", 1)[0]
        if head in SIDES:
            tree[head] = None
            continue
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            assert child is not None, f"{part} is both a leaf and a parent"
            node = child
        node.setdefault(leaf, None)
    tree[RESOURCES] = None
    return tree


def walk(tree: Tree, prefix: str = "") -> Iterator[tuple[str, Tree | None]]:
    """(dotted path, subtree) of every node, parents before children."""
    for name, sub in tree.items():
        yield prefix + name, sub
        if sub is not None:
            yield from walk(sub, prefix + name + ".")


@dataclass
class Canonical:
    """Canonical events from one tier, and which rows cannot be kept as they are.

    ``not_record``: no identifying field at all. ``bad_time``: no usable event time (the
    row is rejected). ``bad_bytes``: a byte count that is not a number int64 holds (the
    event is kept with the count null, and flagged).
    """

    events: pa.Table
    not_record: np.ndarray
    bad_time: np.ndarray
    bad_bytes: np.ndarray

    def flagged(self) -> np.ndarray:
        return np.flatnonzero(self.not_record | self.bad_time | self.bad_bytes)

    def dropped(self) -> np.ndarray:
        return self.not_record | self.bad_time


def canonicalise(raw: pl.DataFrame) -> Canonical:
    """Canonical columns from a tier's path columns (plus ``origin_object``/``origin_index``).

    The one step both tiers share: coalescing, normalising, typing byte counts, parsing
    event times and picking the bucket's owner all happen here and nowhere else.
    """
    times = parse_event_times(raw.get_column(TIME_PATHS[0]), raw.get_column(TIME_PATHS[1]))
    raw = raw.with_columns(times.alias("event_time"), _bucket_owner(raw))
    out = raw.select(
        pl.lit(SOURCE_CLOUDTRAIL).alias("source"),
        "event_time",
        *(c.rule([pl.col(p) for p in c.paths]).alias(c.name) for c in COLUMNS),
        BUCKET_OWNER,
        "origin_object",
        "origin_index",
    )
    flags = raw.select(
        pl.all_horizontal(pl.col(p).is_null() for p in IDENTIFYING).alias("not_record"),
        pl.any_horizontal(
            pl.col(p).is_not_null() & _byte_count([pl.col(p)]).is_null() for p in _BYTE_PATHS
        ).alias("bad_bytes"),
    )
    not_record = flags.get_column("not_record").to_numpy()
    return Canonical(
        conform(out.to_arrow()),
        not_record,
        times.is_null().to_numpy() & ~not_record,
        flags.get_column("bad_bytes").to_numpy(),
    )


def _bucket_owner(raw: pl.DataFrame) -> pl.Series:
    """Owner account of the target bucket: from the first ``AWS::S3::Bucket`` resource whose
    ARN names the bucket, else from the first bucket resource with an account."""
    bucket = pl.col(_RP + "bucketName")
    candidates = (
        raw.select(pl.int_range(pl.len()).alias("row"), bucket.alias("bucket"), RESOURCES)
        .filter(pl.col(RESOURCES).list.len() > 0)
        .explode(RESOURCES)
        .unnest(RESOURCES)
        .filter((pl.col("type") == "AWS::S3::Bucket") & pl.col("accountId").is_not_null())
    )
    if candidates.is_empty():
        return pl.Series(BUCKET_OWNER, [None] * raw.height, dtype=pl.String)
    names_other = ~pl.col("ARN").str.ends_with(pl.lit(":s3:::") + pl.col("bucket")).fill_null(False)
    best = (
        candidates.with_columns(names_other.alias("other"))
        .sort("row", "other", maintain_order=True)
        .unique("row", keep="first", maintain_order=True)
    )
    owners = pl.Series(BUCKET_OWNER, [None] * raw.height, dtype=pl.String)
    return owners.scatter(best.get_column("row"), best.get_column("accountId"))


def resource_type() -> pa.DataType:
    """``resources`` as every tier hands it over: a list of text structs."""
    return pa.list_(pa.struct([(f, pa.string()) for f in RESOURCE_FIELDS]))
