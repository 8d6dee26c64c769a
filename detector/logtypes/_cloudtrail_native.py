"""The fast tier for CloudTrail records: raw record JSON → canonical Arrow columns in DuckDB.

Why DuckDB: its JSON reader builds typed Arrow columns natively and keeps
``requestParameters`` and friends as JSON text, so no Python object is made per event or
per field (building Python strings for ~40 columns costs more than parsing the JSON). It
reads newline-delimited records from a scratch file, one query for a whole batch of files.

Any error here (a field of an unexpected JSON type, say) makes the caller fall back to the
msgspec tiers in ``_cloudtrail_records``, which reject exactly the records at fault.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from detector.interrupts import reraise_if_interrupted
from detector.logtypes._times import parse_event_times
from detector.schema import conform
from detector.scratch import ScratchFiles

log = logging.getLogger(__name__)

_COLUMNS = {
    "eventVersion": "VARCHAR",
    "eventTime": "VARCHAR",
    "@timestamp": "VARCHAR",
    "eventID": "VARCHAR",
    "requestID": "VARCHAR",
    "eventName": "VARCHAR",
    "eventSource": "VARCHAR",
    "eventType": "VARCHAR",
    "awsRegion": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "errorCode": "VARCHAR",
    "errorMessage": "VARCHAR",
    "recipientAccountId": "VARCHAR",
    "vpcEndpointId": "VARCHAR",
    "vpcEndpointAccountId": "VARCHAR",
    "eventCategory": "VARCHAR",
    "readOnly": "BOOLEAN",
    "managementEvent": "BOOLEAN",
    "userIdentity": "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, "
    "accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR, "
    "sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR, userName VARCHAR)))",
    "tlsDetails": "STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR, "
    "clientProvidedHostHeader VARCHAR)",
    "resources": "STRUCT(type VARCHAR, ARN VARCHAR, accountId VARCHAR)[]",
    "requestParameters": "JSON",
    "responseElements": "JSON",
    "additionalEventData": "JSON",
}


_RP_FIELDS = (
    "bucketName",
    "key",
    "versionId",
    "Host",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-aws-kms-key-id",
)
_AED_FIELDS = (
    "bytesTransferredIn",
    "bytesTransferredOut",
    "SignatureVersion",
    "CipherSuite",
    "AuthenticationMethod",
    "SSEApplied",
)


def _bytes(field: str) -> str:
    """A byte count as BIGINT: numbers and numeric text; null for text or an overflow."""
    return f"TRY_CAST(TRY_CAST({field} AS DOUBLE) AS BIGINT)"


def _shape(fields: tuple[str, ...]) -> str:
    """A json_transform shape: every wanted member as text, parsed once per record."""
    return "'{" + ",".join(f'"{f}":"VARCHAR"' for f in fields) + "}'"


_SELECT = f"""
SELECT
  'cloudtrail' AS source,
  eventTime AS event_time, "@timestamp" AS _timestamp,
  eventID AS event_id, requestID AS request_id, eventName AS event_name,
  eventSource AS event_source, eventType AS event_type, awsRegion AS aws_region,
  userIdentity.arn AS principal_arn, userIdentity.type AS principal_type,
  userIdentity.principalId AS principal_id, userIdentity.accountId AS account_id,
  COALESCE(userIdentity.userName, userIdentity.sessionContext.sessionIssuer.userName)
    AS user_name,
  userIdentity.accessKeyId AS access_key_id,
  CASE WHEN contains(userIdentity.arn, ':assumed-role/')
       THEN regexp_extract(userIdentity.arn, '[^/]*$') END AS session_name,
  userIdentity.sessionContext.sessionIssuer.arn AS session_issuer_arn,
  userIdentity.invokedBy AS invoked_by,
  sourceIPAddress AS source_ip, userAgent AS user_agent,
  vpcEndpointId AS vpc_endpoint_id, vpcEndpointAccountId AS vpc_endpoint_account_id,
  regexp_replace(tlsDetails.tlsVersion, '^[Tt][Ll][Ss][Vv]', 'TLSv') AS tls_version,
  COALESCE(tlsDetails.cipherSuite, aed.CipherSuite) AS cipher_suite,
  aed.SignatureVersion AS signature_version,
  aed.AuthenticationMethod AS auth_method,
  COALESCE(tlsDetails.clientProvidedHostHeader, rp.Host) AS host_header,
  rp.bucketName AS bucket, rp."key" AS key, rp.versionId AS version_id,
  COALESCE(
    list_filter(resources, r -> r.type = 'AWS::S3::Bucket' AND r.accountId IS NOT NULL
                AND ends_with(r.ARN, ':s3:::' || rp.bucketName))[1].accountId,
    list_filter(resources, r -> r.type = 'AWS::S3::Bucket' AND r.accountId IS NOT NULL)[1]
      .accountId
  ) AS bucket_account_id,
  recipientAccountId AS recipient_account_id,
  errorCode AS error_code, errorMessage AS error_message,
  {_bytes("aed.bytesTransferredOut")} AS bytes_out,
  {_bytes("aed.bytesTransferredIn")} AS bytes_in,
  readOnly AS read_only, managementEvent AS management_event,
  eventCategory AS event_category,
  CASE WHEN COALESCE(rp."x-amz-server-side-encryption-customer-algorithm",
                     re."x-amz-server-side-encryption-customer-algorithm") IS NOT NULL
       THEN 'SSE-C'
       ELSE CASE COALESCE(rp."x-amz-server-side-encryption", re."x-amz-server-side-encryption",
                          aed.SSEApplied)
         WHEN 'aws:kms' THEN 'SSE-KMS' WHEN 'AES256' THEN 'SSE-S3'
         WHEN 'aws:kms:dsse' THEN 'DSSE-KMS'
         WHEN 'Default_SSE_S3' THEN 'SSE-S3' WHEN 'SSE_S3' THEN 'SSE-S3'
         WHEN 'Default_SSE_KMS' THEN 'SSE-KMS' WHEN 'SSE_KMS' THEN 'SSE-KMS'
         WHEN 'SSE_C' THEN 'SSE-C' WHEN 'DSSE_KMS' THEN 'DSSE-KMS' END
  END AS sse,
  COALESCE(rp."x-amz-server-side-encryption-aws-kms-key-id",
           re."x-amz-server-side-encryption-aws-kms-key-id") AS kms_key_id,
  requestParameters::VARCHAR AS request_parameters,
  responseElements::VARCHAR AS response_elements,
  additionalEventData::VARCHAR AS additional_event_data,
  (eventVersion IS NULL AND eventTime IS NULL AND eventName IS NULL
   AND eventSource IS NULL AND eventID IS NULL) AS _not_a_record,
  (aed.bytesTransferredOut IS NOT NULL AND {_bytes("aed.bytesTransferredOut")} IS NULL)
  OR (aed.bytesTransferredIn IS NOT NULL AND {_bytes("aed.bytesTransferredIn")} IS NULL)
    AS _bad_bytes
FROM (
  SELECT *,
    json_transform(requestParameters, {_shape(_RP_FIELDS)}) AS rp,
    json_transform(responseElements, {_shape(_RP_FIELDS)}) AS re,
    json_transform(additionalEventData, {_shape(_AED_FIELDS)}) AS aed
  FROM read_json(?, columns={_COLUMNS!r}, format='newline_delimited',
                 maximum_object_size=16777216)
)
"""


@dataclass
class RawRecords:
    """Raw JSON of many records, in file order, with per-file segments for lineage."""

    raws: list[bytes] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    indices: list[np.ndarray] = field(default_factory=list)

    def extend(self, origin: str, items: list[tuple[int, bytes]]) -> None:
        if not items:
            return
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


@dataclass
class NativeResult:
    """Canonical events, and the rows that are not records, have bad byte counts, or have
    no usable event time (``event_time`` null there: the caller rejects them)."""

    events: pa.Table
    not_record: np.ndarray
    bad_bytes: np.ndarray
    bad_time: np.ndarray


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


def records_to_table(records: RawRecords) -> NativeResult:
    """Events from raw records (JSON lines, EventBridge details, CloudWatch messages)."""
    body = b"\n".join(records.raws)
    if body.count(b"\n") != len(records.raws) - 1:
        # A pretty-printed record spans lines; put each record on one line.
        body = b"\n".join(r.replace(b"\r", b" ").replace(b"\n", b" ") for r in records.raws)
    with ScratchFiles([body]) as paths:
        table = _query(paths, "newline_delimited", filenames=False)
    if table.num_rows != len(records.raws):
        raise NativeDecodeError(f"{table.num_rows} rows for {len(records.raws)} records")
    which = np.repeat(np.arange(len(records.files)), records.counts)
    origins = pc.take(pa.array(records.files, pa.string()), pa.array(which))
    return _finish(table, origins, pa.array(np.concatenate(records.indices)))


def arrays_to_table(files: list[tuple[str, memoryview]]) -> NativeResult:
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


def _query(paths: list[str], fmt: str, filenames: bool) -> pa.Table:
    sql = _SELECT.replace("format='newline_delimited'", f"format='{fmt}'")
    if filenames:
        sql = sql.replace(
            "maximum_object_size=16777216", "maximum_object_size=16777216, filename=true"
        ).replace("AS _bad_bytes", "AS _bad_bytes, filename")
    try:
        return _connection().execute(sql, [paths]).fetch_arrow_table()
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


def _finish(table: pa.Table, origins: pa.Array, indices: pa.Array) -> NativeResult:
    not_record = table.column("_not_a_record").to_numpy(zero_copy_only=False)
    bad_bytes = table.column("_bad_bytes").fill_null(False).to_numpy(zero_copy_only=False)
    texts = pl.from_arrow(table.select(["event_time", "_timestamp"]))
    assert isinstance(texts, pl.DataFrame)
    times = parse_event_times(texts.get_column("event_time"), texts.get_column("_timestamp"))
    bad_time = times.is_null().to_numpy() & ~not_record
    table = table.drop_columns(["_not_a_record", "_bad_bytes", "_timestamp"])
    table = (
        table.set_column(table.schema.get_field_index("event_time"), "event_time", times.to_arrow())
        .append_column("origin_object", origins)
        .append_column("origin_index", indices)
    )
    return NativeResult(conform(table), not_record, bad_bytes, bad_time)
