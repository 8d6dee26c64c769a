"""Golden conformance tests: S3 server access logs against third-party oracles.

Every line of every sample under ``<repo>/../shared/testdata/s3access/`` is parsed with
``parse_blobs`` and checked against up to four independent oracles, one test id per
(file, line):

* ``test_aws_field_order``: the field order documented by AWS (18 to 27 fields, then
  unknown trailing tokens), tokenised here with a plain regex (not the parser's Arrow CSV path);
* ``test_derived_columns``: the columns our schema derives (``event_name``, ``aws_region``,
  ``principal_type``, ``read_only``, ...), computed by small rules written from
  ``docs/schema.md``, plus "CloudTrail-only columns are null";
* ``test_elastic_oracle``: Elastic's expected documents (elastic/integrations and
  elastic/beats), mapped through ``ELASTIC_FIELDS`` (Elastic field -> our column, converter);
* ``test_logstash_vector``: the logstash-patterns-core S3_ACCESS_LOG spec, incl. the legacy
  18-field format.

Deliberate differences from the oracles, encoded as the expected value of OUR parser:

| input                        | Elastic / Logstash         | our parser                       |
|------------------------------|----------------------------|----------------------------------|
| any field ``-``              | field absent (dropped)     | null (same meaning)              |
| Request-URI ``"-"`` (quoted) | ``request_uri: "-"``       | null                             |
| Key ``Screen+Shot+...png``   | kept URL-encoded           | URL-decoded ``Screen Shot ...``  |
| TLS version ``TLSV1.1``      | ``TLSV1.1`` verbatim       | ``TLSv1.1`` (CloudTrail spelling)|
| Bytes Sent ``-``             | absent / nil               | ``bytes_out = 0`` ("- if zero")  |
| tokens after field 27        | not parsed                 | space-joined in ``extra_fields`` |
| ``REST.GET.VERSIONING``      | ``event.action``: raw op   | ``operation``: raw op, and       |
|                              |                            | ``event_name``: CloudTrail name  |
|                              |                            | ``GetBucketVersioning``          |
| ``BATCH.DELETE.OBJECT``      | ``event.action``: raw op   | ``event_name = DeleteObjects``   |
| ``S3.EXPIRE.OBJECT``         | ``event.action``: raw op   | ``event_name`` null (no API)     |

Fields with no counterpart in our schema (Host Id, ``event.duration``, ``event.outcome``,
GeoIP/user-agent enrichment, ...) are listed in ``ELASTIC_IGNORED`` so that an unknown
oracle field fails the test instead of being skipped silently.

Parser discrepancies found by these tests are marked as strict xfails on the single case
concerned; see ``tests/golden/README.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pyarrow as pa
import pytest

from detector.blob import Blob, ObjectRef
from detector.logtypes import ParseResult, parse_blobs
from detector.schema import COLUMN_NAMES

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
S3ACCESS = TESTDATA / "s3access"
if not S3ACCESS.is_dir():
    # Fail, never skip: a run without the real samples must not look like a passing one.
    pytest.fail(
        f"shared testdata not found at {TESTDATA}: the golden tests need "
        "../shared/testdata beside the project",
        pytrace=False,
    )

Row = dict[str, Any]
Conv = Callable[[Any], Any]

ELASTIC_INTEGRATIONS = "elastic-integrations/test-s3-server-access.log"
ELASTIC_INTEGRATIONS_EXPECTED = f"{ELASTIC_INTEGRATIONS}-expected.condensed.json"
BEATS_TEST = "elastic-beats/test.log"
BEATS_TEST_EXPECTED = "elastic-beats/test.log-expected.first5lines.json"
BEATS_SAMPLE = "elastic-beats/s3_server_access.log"
LOGSTASH_VECTORS = "logstash-patterns-core/s3_access_log_spec_vectors.json"

LOG_FILES: tuple[str, ...] = (
    ELASTIC_INTEGRATIONS,
    BEATS_TEST,
    BEATS_SAMPLE,
    *sorted(p.relative_to(S3ACCESS).as_posix() for p in S3ACCESS.glob("awsdocs/*.log")),
    *sorted(p.relative_to(S3ACCESS).as_posix() for p in S3ACCESS.glob("realworld_misc/*.log")),
)


# --- parsing (once per file) --------------------------------------------------------------
def _blob(uri: str, key: str, data: bytes) -> Blob:
    return Blob(ObjectRef(uri=uri, key=key, size=len(data)), data)


def parse_bytes(data: bytes, name: str = "golden.log") -> ParseResult:
    return parse_blobs([_blob(f"mem://{name}", name, data)])


@cache
def parse_file(rel: str) -> ParseResult:
    path = S3ACCESS / rel
    return parse_blobs([_blob(str(path), path.name, path.read_bytes())])


def lines_of(rel: str) -> list[tuple[int, str]]:
    """(0-based line number, text) of every non-empty line of a sample file."""
    text = (S3ACCESS / rel).read_text(encoding="utf-8")
    return [(i, ln.rstrip("\r")) for i, ln in enumerate(text.split("\n")) if ln.strip()]


def rows_by_index(result: ParseResult) -> dict[int, Row]:
    rows = result.events.to_pylist()
    by_index = {r["origin_index"]: r for r in rows}
    assert len(by_index) == len(rows), "two events share one origin_index"
    return by_index


def row_of(rel: str, index: int) -> Row:
    rows = rows_by_index(parse_file(rel))
    assert index in rows, f"no event for line {index} of {rel}"
    return rows[index]


def compare(expected: Row, actual: Row) -> None:
    """Assert every expected column, reporting all mismatches at once."""
    bad = [
        f"  {col}: expected {exp!r}, got {actual.get(col)!r}"
        for col, exp in expected.items()
        if actual.get(col) != exp
    ]
    assert not bad, "mismatched columns:\n" + "\n".join(bad)


def case_id(rel: str, index: int) -> str:
    return f"{rel}:L{index + 1}"


# --- converters ---------------------------------------------------------------------------
def _text(v: str | None) -> str | None:
    return v


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _clf_time(v: str | None) -> datetime | None:
    """``06/Feb/2019:00:00:38 +0000`` (any offset) -> aware UTC datetime."""
    if v is None:
        return None
    return datetime.strptime(v.strip("[]"), "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)


def _iso_time(v: str) -> datetime:
    return datetime.fromisoformat(v).astimezone(UTC)


def _url_decoded(v: str | None) -> str | None:
    return None if v is None else unquote_plus(v)


def _tls_spelling(v: str | None) -> str | None:
    """``TLSV1.2`` / ``TLSv1.2`` -> ``TLSv1.2`` (CloudTrail's spelling)."""
    if v is None:
        return None
    return "TLSv" + v[4:] if v[:4].lower() == "tlsv" else v


def _tls_number(v: str) -> str:
    """ECS ``tls.version`` (``"1.2"``, protocol ``tls``) -> ``TLSv1.2``."""
    return f"TLSv{v}"


def _bytes_sent(v: str | int | None) -> int:
    """AWS: Bytes Sent is ``-`` if zero."""
    return 0 if v is None else int(v)


def _dash_null(v: str | None) -> str | None:
    return None if v in (None, "-") else v


def _unquoted(v: str) -> str | None:
    """Logstash legacy keeps the quotes around referrer/agent: ``"\\"-\\""``."""
    return _dash_null(v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v)


# --- oracle 1: the AWS documented field order ---------------------------------------------
AWS_FIELD_ORDER: tuple[tuple[str, str | None, Conv], ...] = (
    ("Bucket Owner", "bucket_owner", _text),
    ("Bucket", "bucket", _text),
    ("Time", "event_time", _clf_time),
    ("Remote IP", "source_ip", _text),
    ("Requester", "principal_arn", _text),
    ("Request ID", "request_id", _text),
    ("Operation", "operation", _text),
    ("Key", "key", _url_decoded),
    ("Request-URI", "request_uri", _text),
    ("HTTP status", "http_status", _int),
    ("Error Code", "error_code", _text),
    ("Bytes Sent", "bytes_out", _bytes_sent),
    ("Object Size", "object_size", _int),
    ("Total Time", "total_time_ms", _int),
    ("Turn-Around Time", "turnaround_time_ms", _int),
    ("Referer", "referrer", _text),
    ("User-Agent", "user_agent", _text),
    ("Version Id", "version_id", _text),
    ("Host Id", None, _text),
    ("Signature Version", "signature_version", _text),
    ("Cipher Suite", "cipher_suite", _text),
    ("Authentication Type", "auth_method", _text),
    ("Host Header", "host_header", _text),
    ("TLS version", "tls_version", _tls_spelling),
    ("Access Point ARN", "access_point_arn", _text),
    ("aclRequired", "acl_required", _text),
    ("Source region", "source_region", _text),
)
"""Field order from the AWS S3 user guide (LogFormat.md); 18 = legacy, 27 = newest."""

_AWS_TOKEN = re.compile(r'\[[^\]]*\]|"[^"]*"|\S+')


def aws_tokens(line: str) -> list[str | None]:
    """Tokens of one line: ``[...]`` and ``"..."`` are one token each; ``-`` is None."""
    out: list[str | None] = []
    for tok in _AWS_TOKEN.findall(line):
        if tok[0] in '["' and len(tok) > 1:
            tok = tok[1:-1]
        out.append(None if tok == "-" else tok)
    return out


def aws_layout(line: str) -> Row:
    """Columns read straight off the documented field positions of one log line."""
    tokens = aws_tokens(line)
    assert len(tokens) >= 18, f"{len(tokens)} fields: not an S3 access log line"
    row: Row = {}
    for pos, (_, column, conv) in enumerate(AWS_FIELD_ORDER):
        if column is not None:
            row[column] = conv(tokens[pos] if pos < len(tokens) else None)
    extra = _AWS_TOKEN.findall(line)[len(AWS_FIELD_ORDER) :]
    row["extra_fields"] = " ".join(extra) or None
    return row


# --- oracle 2: columns our schema derives (rules written from docs/schema.md) -------------
OPERATION_EVENT_NAME: dict[str, str | None] = {
    "REST.GET.LOCATION": "GetBucketLocation",
    "REST.GET.BUCKET": "ListObjects",  # no list-type=2 in these URIs, so not ListObjectsV2
    "REST.GET.VERSIONING": "GetBucketVersioning",
    "REST.GET.LOGGING_STATUS": "GetBucketLogging",
    "REST.GET.BUCKETPOLICY": "GetBucketPolicy",
    "REST.GET.OBJECT": "GetObject",
    "REST.PUT.OBJECT": "PutObject",
    "BATCH.DELETE.OBJECT": "DeleteObjects",
    "S3.EXPIRE.OBJECT": None,  # lifecycle expiry: S3 has no API name for it
    "REST.OPTIONS.PREFLIGHT": None,  # CORS preflight: not an API call CloudTrail names
    "REST.OPTIONS.FAKE": None,  # elastic-beats' made-up operation
}
"""The operations that occur in the samples; a new one must be added here (KeyError)."""

UPLOAD_OPERATIONS = frozenset({"REST.PUT.OBJECT", "REST.POST.OBJECT", "REST.PUT.PART"})

CLOUDTRAIL_ONLY = (
    "event_id", "event_type", "principal_id", "access_key_id", "invoked_by",
    "vpc_endpoint_id", "vpc_endpoint_account_id", "bucket_account_id",
    "recipient_account_id", "error_message", "management_event", "event_category", "sse",
    "kms_key_id", "request_parameters", "response_elements", "additional_event_data",
)  # fmt: skip

_ENDPOINT_REGION = re.compile(
    r"(?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+)\.amazonaws\.com$"
)


def endpoint_region(host: str | None) -> str | None:
    """The region of the S3 endpoint in a Host header (``s3.<region>.amazonaws.com``).

    The bucket-name label of a virtual-hosted host is not looked at, and the legacy global
    endpoint ``[bucket.]s3.amazonaws.com`` names no region: not us-east-1 (AWS: "some
    earlier Regions support legacy endpoints"; Elastic gives no cloud.region for it; the
    very records of elastic-beats/test.log appear in the current AWS docs with Host
    ``...s3.us-west-1.amazonaws.com``). Source region is where the request came *from*, so
    it is no fallback for the region the request was made *to*.
    """
    m = _ENDPOINT_REGION.search(host or "")
    return m.group(1) if m else None


def principal_type(requester: str | None) -> str:
    if requester is None:
        return "Anonymous"
    rules = (
        (r"arn:[^:]+:sts::\d*:assumed-role/", "AssumedRole"),
        (r"arn:[^:]+:iam::\d*:user/", "IAMUser"),
        (r"arn:[^:]+:iam::\d*:root$", "Root"),
        (r"svc:|AmazonS3$", "AWSService"),
        (r"[0-9a-f]{64}$", "CanonicalUser"),
    )
    for pattern, kind in rules:
        if re.match(pattern, requester):
            return kind
    return "Unknown"  # e.g. logstash's truncated canonical id "79a5"


def derived(layout: Row) -> Row:
    """Our derived columns for one line, from its documented fields."""
    requester: str | None = layout["principal_arn"]
    op: str = layout["operation"]
    arn = requester.split(":") if requester and requester.startswith("arn:") else None
    resource = arn[5] if arn and len(arn) > 5 else ""
    role = resource.split("/")[1] if resource.startswith("assumed-role/") else None
    row: Row = {
        "source": "s3_access",
        "event_source": "s3.amazonaws.com",
        "event_name": OPERATION_EVENT_NAME[op],
        "aws_region": endpoint_region(layout["host_header"]),
        "principal_type": principal_type(requester),
        "account_id": arn[4] if arn else None,
        "user_name": role or (resource.split("/")[-1] if resource.startswith("user/") else None),
        "session_name": resource.split("/")[-1] if role else None,
        "session_issuer_arn": f"arn:{arn[1]}:iam::{arn[4]}:role/{role}" if arn and role else None,
        # GET/HEAD per the schema; the parser also counts OPTIONS (CORS preflight) as a read.
        "read_only": (
            True
            if re.match(r"REST\.(GET|HEAD|OPTIONS)\.", op)
            else False
            if re.match(r"(REST|BATCH)\.", op)
            else None
        ),
        "bytes_in": layout["object_size"] if op in UPLOAD_OPERATIONS else None,
    }
    row.update(dict.fromkeys(CLOUDTRAIL_ONLY))
    return row


# --- oracle 3: Elastic's expected documents -----------------------------------------------
ELASTIC_FIELDS: dict[str, tuple[str, Conv]] = {
    "@timestamp": ("event_time", _iso_time),
    "aws.s3access.bucket_owner": ("bucket_owner", _text),
    "aws.s3access.bucket": ("bucket", _text),
    "aws.s3access.remote_ip": ("source_ip", _text),
    "aws.s3access.requester": ("principal_arn", _text),
    "aws.s3access.request_id": ("request_id", _text),
    "aws.s3access.operation": ("operation", _text),
    "aws.s3access.key": ("key", _url_decoded),  # Elastic keeps it URL-encoded
    "aws.s3access.request_uri": ("request_uri", _dash_null),  # Elastic keeps quoted "-"
    "aws.s3access.http_status": ("http_status", _int),
    "aws.s3access.error_code": ("error_code", _text),
    "aws.s3access.bytes_sent": ("bytes_out", _int),
    "aws.s3access.object_size": ("object_size", _int),
    "aws.s3access.total_time": ("total_time_ms", _int),
    "aws.s3access.turn_around_time": ("turnaround_time_ms", _int),
    "aws.s3access.referrer": ("referrer", _text),
    "aws.s3access.user_agent": ("user_agent", _text),
    "aws.s3access.version_id": ("version_id", _text),
    "aws.s3access.signature_version": ("signature_version", _text),
    "aws.s3access.cipher_suite": ("cipher_suite", _text),
    "aws.s3access.authentication_type": ("auth_method", _text),
    "aws.s3access.host_header": ("host_header", _text),
    "aws.s3access.tls_version": ("tls_version", _tls_spelling),  # Elastic keeps TLSV1.1
    "aws.s3access.point_arn": ("access_point_arn", _text),
    "aws.s3access.aclrequired": ("acl_required", _text),
    "cloud.region": ("aws_region", _text),
    "client.ip": ("source_ip", _text),
    "client.address": ("source_ip", _text),
    "client.user.id": ("principal_arn", _text),
    "event.id": ("request_id", _text),
    "event.action": ("operation", _text),
    "event.code": ("error_code", _text),
    "http.response.status_code": ("http_status", _int),
    "http.response.body.bytes": ("bytes_out", _int),
    "tls.version": ("tls_version", _tls_number),
    "tls.cipher": ("cipher_suite", _text),
    "user_agent.original": ("user_agent", _text),
    "timestamp": ("event_time", _clf_time),  # logstash ECS keeps the raw time text
}
"""Elastic/ECS field -> (our column, converter). The one place the mapping lives."""

ELASTIC_IGNORED: dict[str, str] = {
    "aws.s3access.host_id": "Host Id: no column in our schema",
    "cloud.provider": "always aws",
    "event.duration": "ns in integrations, ms-as-string in beats; total_time_ms covers it",
    "event.outcome": "derived from the status by Elastic; no column",
    "event.dataset": "Elastic bookkeeping",
    "event.kind": "Elastic bookkeeping",
    "event.module": "Elastic bookkeeping",
    "fileset.name": "Elastic bookkeeping",
    "input.type": "Elastic bookkeeping",
    "log.offset": "byte offset; we keep the line number (origin_index)",
    "service.type": "Elastic bookkeeping",
    "related.user": "Elastic correlation list",
    "tls.version_protocol": "always tls; folded into tls_version",
    "http.request.method": "checked through request_uri (see request_line)",
    "http.version": "checked through request_uri (see request_line)",
    "url.original": "checked through request_uri (see request_line)",
    "url.path": "part of url.original",
    "url.query": "part of url.original",
    "url.extension": "part of url.original",
    "user_agent.device.name": "user-agent enrichment",
    "user_agent.name": "user-agent enrichment",
}

ABSENT_MEANS_NULL = frozenset(
    col for key, (col, _) in ELASTIC_FIELDS.items()
    if key.startswith("aws.s3access.") or key == "cloud.region"
)  # fmt: skip
"""Elastic drops a field whose raw value is ``-``: absent there means null here ..."""
ABSENT_DEFAULT: Row = {"bytes_out": 0}
"""... except Bytes Sent, where ``-`` means zero (AWS docs)."""


def flatten(doc: dict[str, Any], prefix: str = "") -> Row:
    out: Row = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def map_oracle(flat: Row, absent_means_null: bool) -> Row:
    """Expected columns from one flattened Elastic/ECS document."""
    expected: Row = {}
    for key, value in flat.items():
        if key in ELASTIC_IGNORED:
            continue
        assert key in ELASTIC_FIELDS, f"oracle field {key!r} is neither mapped nor ignored"
        column, conv = ELASTIC_FIELDS[key]
        converted = conv(value)
        assert expected.get(column, converted) == converted, (
            f"oracle disagrees with itself on {column}: {expected[column]!r} vs {converted!r}"
        )
        expected[column] = converted
    if "url.original" in flat and "http.request.method" in flat:
        version = flat.get("http.version")
        expected["request_uri"] = request_line(
            flat["http.request.method"], flat["url.original"], version and str(version)
        )
    if absent_means_null:
        for column in ABSENT_MEANS_NULL - expected.keys():
            expected[column] = ABSENT_DEFAULT.get(column)
    return expected


def request_line(method: str, target: str, version: str | None) -> str:
    return f"{method} {target} HTTP/{version}" if version else f"{method} {target}"


def elastic_cases() -> Iterator[tuple[str, int, Row]]:
    doc = json.loads((S3ACCESS / ELASTIC_INTEGRATIONS_EXPECTED).read_text())
    raw_lines = dict(lines_of(ELASTIC_INTEGRATIONS))
    for case in doc["cases"]:
        index = case["line_no"] - 1
        assert raw_lines[index] == case["raw"], "oracle line does not match the log file"
        yield ELASTIC_INTEGRATIONS, index, flatten(case["expected"])
    beats = json.loads((S3ACCESS / BEATS_TEST_EXPECTED).read_text())
    assert len(beats) == 5
    for index, expected in enumerate(beats):
        yield BEATS_TEST, index, flatten(expected)


# --- file-level checks --------------------------------------------------------------------
@pytest.mark.parametrize("rel", LOG_FILES)
def test_file_parses_cleanly(rel: str) -> None:
    result = parse_file(rel)
    lines = lines_of(rel)
    assert result.rejects == []
    assert result.skipped == {}
    assert result.events.num_rows == len(lines)
    assert sorted(rows_by_index(result)) == [i for i, _ in lines]
    assert set(result.events.column("source").to_pylist()) == {"s3_access"}
    assert set(result.events.column("origin_object").to_pylist()) == {str(S3ACCESS / rel)}


def test_all_files_in_one_batch_match_one_by_one() -> None:
    """Files of different field counts parsed together give the same rows as one by one."""
    blobs = [
        _blob(str(S3ACCESS / rel), (S3ACCESS / rel).name, (S3ACCESS / rel).read_bytes())
        for rel in LOG_FILES
    ]
    together = parse_blobs(blobs)
    assert together.rejects == []
    one_by_one = pa.concat_tables([parse_file(rel).events for rel in LOG_FILES])
    key = [("origin_object", "ascending"), ("origin_index", "ascending")]
    assert together.events.sort_by(key).equals(one_by_one.sort_by(key))


@pytest.mark.parametrize("rel", LOG_FILES)
def test_line_by_line_path_agrees(rel: str) -> None:
    """A blank line sends a file through the exact (line-by-line) path: same events."""
    data = (S3ACCESS / rel).read_bytes()
    fast = parse_bytes(data, "same.log")
    exact = parse_bytes(data.rstrip(b"\n") + b"\n\n\n", "same.log")
    assert fast.rejects == exact.rejects == []
    assert exact.events.equals(fast.events)


def test_oracles_cover_every_column() -> None:
    """Layout + derived columns + lineage name every canonical column exactly."""
    _, line = lines_of(ELASTIC_INTEGRATIONS)[0]
    layout = aws_layout(line)
    covered = set(layout) | set(derived(layout)) | {"origin_object", "origin_index"}
    assert covered == set(COLUMN_NAMES)


# --- per-line checks ----------------------------------------------------------------------
ALL_LINES = [(rel, i) for rel in LOG_FILES for i, _ in lines_of(rel)]


@pytest.mark.parametrize(("rel", "index"), ALL_LINES, ids=[case_id(*c) for c in ALL_LINES])
def test_aws_field_order(rel: str, index: int) -> None:
    line = dict(lines_of(rel))[index]
    compare(aws_layout(line), row_of(rel, index))


@pytest.mark.parametrize(("rel", "index"), ALL_LINES, ids=[case_id(*c) for c in ALL_LINES])
def test_derived_columns(rel: str, index: int) -> None:
    line = dict(lines_of(rel))[index]
    compare(derived(aws_layout(line)), row_of(rel, index))


ELASTIC_CASES = list(elastic_cases())


@pytest.mark.parametrize(
    ("rel", "index", "flat"), ELASTIC_CASES, ids=[case_id(r, i) for r, i, _ in ELASTIC_CASES]
)
def test_elastic_oracle(rel: str, index: int, flat: Row) -> None:
    expected = map_oracle(flat, absent_means_null=True)
    compare(expected, row_of(rel, index))


# --- logstash-patterns-core vectors -------------------------------------------------------
LEGACY_FIELDS: dict[str, tuple[str, Conv]] = {
    "owner": ("bucket_owner", _text),
    "bucket": ("bucket", _text),
    "timestamp": ("event_time", _clf_time),
    "clientip": ("source_ip", _text),
    "requester": ("principal_arn", _dash_null),
    "request_id": ("request_id", _text),
    "operation": ("operation", _text),
    "key": ("key", lambda v: _url_decoded(_dash_null(v))),
    "response": ("http_status", _int),
    "error_code": ("error_code", _text),
    "bytes": ("bytes_out", _bytes_sent),
    "object_size": ("object_size", _int),
    "request_time_ms": ("total_time_ms", _int),
    "turnaround_time_ms": ("turnaround_time_ms", _int),
    "version_id": ("version_id", _text),
    "referrer": ("referrer", _unquoted),
    "agent": ("user_agent", _unquoted),
}
"""Logstash legacy grok names -> (our column, converter)."""
LEGACY_REQUEST_LINE = ("verb", "request", "httpversion")
LEGACY_IGNORED_NIL = {"tags"}  # "no _grokparsefailure tag": nothing to map


def logstash_vectors() -> list[dict[str, Any]]:
    return list(json.loads((S3ACCESS / LOGSTASH_VECTORS).read_text())["cases"])


def legacy_expected(case: dict[str, Any]) -> Row:
    legacy: dict[str, Any] = case["expected_legacy"]
    expected: Row = {}
    for key, value in legacy.items():
        if key in LEGACY_REQUEST_LINE:
            continue
        column, conv = LEGACY_FIELDS[key]
        expected[column] = conv(value)
    verb, target, version = (legacy[k] for k in LEGACY_REQUEST_LINE)
    expected["request_uri"] = request_line(verb, target, version)
    for key in case["expected_legacy_nil"]:
        if key not in LEGACY_IGNORED_NIL:
            column, conv = LEGACY_FIELDS[key]
            expected[column] = conv(None)  # bytes -> 0: Bytes Sent "-" means zero
    return expected


VECTORS = logstash_vectors()


@pytest.mark.parametrize("n", range(len(VECTORS)), ids=[f"vector{i}" for i in range(len(VECTORS))])
def test_logstash_vector(n: int) -> None:
    case = VECTORS[n]
    result = parse_bytes(case["raw"].encode() + b"\n", f"logstash-vector-{n}.log")
    assert result.rejects == []
    assert result.events.num_rows == 1
    (row,) = result.events.to_pylist()
    compare(legacy_expected(case), row)
    for ecs_key in ("expected_ecs", "expected_ecs_subset"):
        if ecs_key in case:  # include-style: listed keys only, no absent-means-null
            compare(map_oracle(flatten(case[ecs_key]), absent_means_null=False), row)
    layout = aws_layout(case["raw"])
    compare({**layout, **derived(layout)}, row)


def test_logstash_legacy_18_field_lines() -> None:
    """The two legacy vectors end at Version Id; everything after is null, not shifted."""
    for case in VECTORS[:2]:
        assert len(aws_tokens(case["raw"])) == 18
        row = parse_bytes(case["raw"].encode() + b"\n").events.to_pylist()[0]
        for column in (
            "signature_version",
            "cipher_suite",
            "auth_method",
            "host_header",
            "tls_version",
            "access_point_arn",
            "acl_required",
            "source_region",
            "extra_fields",
            "aws_region",
        ):
            assert row[column] is None, column


# --- literal spot checks (no oracle in between) -------------------------------------------
def test_elastic_quoted_dash_uri_and_expire() -> None:
    row = row_of(ELASTIC_INTEGRATIONS, 9)
    assert row["operation"] == "S3.EXPIRE.OBJECT"
    assert row["event_name"] is None
    assert row["request_uri"] is None  # raw token "-" in quotes; Elastic keeps "-"
    assert row["principal_arn"] == "AmazonS3"
    assert row["principal_type"] == "AWSService"
    assert row["version_id"] == "qsEq9bDa2VyxyZ4cz0c7oBnF67VYTTij"
    assert row["aws_region"] is None
    assert row["bytes_out"] == 0
    assert row["object_size"] == 317


def test_elastic_url_encoded_key_is_decoded() -> None:
    row = row_of(ELASTIC_INTEGRATIONS, 5)
    assert row["key"] == "Screen Shot 2019-09-09 at 9.08.44 AM.png"
    assert row["event_name"] == "DeleteObjects"


def test_elastic_status_dash_and_access_point() -> None:
    row = row_of(ELASTIC_INTEGRATIONS, 8)
    assert row["http_status"] is None
    assert row["access_point_arn"] == "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"
    assert row["acl_required"] is None
    assert row["source_ip"] is None
    assert row["principal_type"] == "AWSService"


def test_beats_offset_time_is_utc() -> None:
    """``[09/Feb/2021:14:48:42 +0200]`` is 12:48:42 UTC."""
    row = row_of(BEATS_TEST, 5)
    assert row["event_time"] == datetime(2021, 2, 9, 12, 48, 42, tzinfo=UTC)
    assert row["request_uri"] == "OPTIONS * HTTP/1.0"
    assert row["operation"] == "REST.OPTIONS.FAKE"
    assert row["event_name"] is None
    assert row["tls_version"] == "TLSv1.1"


def test_beats_sample_file() -> None:
    """elastic-beats/s3_server_access.log: the integrations lines 1-5 with real ids."""
    rows = rows_by_index(parse_file(BEATS_SAMPLE))
    assert [rows[i]["event_name"] for i in range(5)] == [
        "GetBucketLocation", "GetBucketLocation", "ListObjects", "GetBucketLocation",
        "DeleteObjects",
    ]  # fmt: skip
    assert rows[0]["event_time"] == datetime(2019, 8, 1, 0, 24, 41, tzinfo=UTC)
    assert rows[0]["account_id"] == "627959692251"
    assert rows[0]["session_issuer_arn"] == (
        "arn:aws:iam::627959692251:role/AWSServiceRoleForTrustedAdvisor"
    )
    assert rows[4]["principal_arn"] == "arn:aws:iam::627959692251:user/jaime.soriano@elastic.co"
    assert rows[4]["user_name"] == "jaime.soriano@elastic.co"
    assert rows[4]["aws_region"] == "eu-central-1"


AWSDOCS_2023 = "awsdocs/LogFormat_2023-06_examples.log"
AWSDOCS_CURRENT = "awsdocs/LogFormat_current_docs_first2_examples.log"
REALWORLD = "realworld_misc/63Klabs_atlantis-tutorials_03-static-website_2026.log"
EXAMPLE_AP = "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"


LITERALS: list[tuple[str, int, Row]] = [
    (AWSDOCS_2023, 0, {"access_point_arn": EXAMPLE_AP, "acl_required": "Yes"}),
    (AWSDOCS_2023, 1, {"access_point_arn": None, "acl_required": None}),
    # line 3 ends "Yes " (trailing space): still 26 fields, nothing extra
    (
        AWSDOCS_2023,
        2,
        {
            "acl_required": "Yes",
            "extra_fields": None,
            "http_status": 404,
            "error_code": "NoSuchBucketPolicy",
            "bytes_out": 297,
        },
    ),
    (
        AWSDOCS_2023,
        4,
        {
            "key": "s3-dg.pdf",
            "bytes_out": 0,
            "bytes_in": 4406583,
            "event_name": "PutObject",
            "tls_version": "TLSv1.2",
        },
    ),
    (
        AWSDOCS_CURRENT,
        0,
        {
            "access_point_arn": EXAMPLE_AP,
            "acl_required": "Yes",
            "source_region": "us-east-1",
            "aws_region": "us-west-1",
        },
    ),
    (
        AWSDOCS_CURRENT,
        1,
        {
            "access_point_arn": None,
            "acl_required": None,
            "source_region": "us-east-1",
            "aws_region": "us-west-1",
        },
    ),
    (
        REALWORLD,
        0,
        {
            "principal_arn": None,
            "principal_type": "Anonymous",
            "event_name": None,
            "read_only": True,
            "signature_version": None,
            "auth_method": None,
            "tls_version": "TLSv1.3",
            "source_region": None,
            "aws_region": "us-east-2",
            "referrer": "https://123456789012-z2xzmo4z.us-east-2.console.aws.amazon.com/",
        },
    ),
    (
        REALWORLD,
        1,
        {
            "source_region": "us-east-2",
            "principal_type": "AssumedRole",
            "session_name": "AWSCodeBuild-bbd32a55",
            "bytes_in": 17476,
            "key": "test/public/docs/use-cases/index.html",
            "bytes_out": 0,
        },
    ),
]


@pytest.mark.parametrize(
    ("rel", "index", "expected"), LITERALS, ids=[case_id(r, i) for r, i, _ in LITERALS]
)
def test_awsdocs_and_realworld_literals(rel: str, index: int, expected: Row) -> None:
    compare(expected, row_of(rel, index))


# --- derived from golden lines: the documented contract beyond the samples ----------------
def _current_docs_lines() -> list[str]:
    return [ln for _, ln in lines_of(AWSDOCS_CURRENT)]


def test_unknown_trailing_tokens_kept_fast_path() -> None:
    """Every line with two tokens from a future format: same-shaped file, bulk path."""
    lines = [ln + " futureA futureB" for ln in _current_docs_lines()]
    result = parse_bytes(("\n".join(lines) + "\n").encode())
    assert result.rejects == []
    assert result.events.column("extra_fields").to_pylist() == ["futureA futureB"] * 2
    assert result.events.column("source_region").to_pylist() == ["us-east-1"] * 2


def test_unknown_trailing_tokens_kept_ragged_file() -> None:
    """One line with extra tokens next to a plain one: ragged file, line-by-line path."""
    plain = _current_docs_lines()
    lines = [plain[0] + " futureA", plain[1]]
    result = parse_bytes(("\n".join(lines) + "\n").encode())
    assert result.rejects == []
    assert result.events.column("extra_fields").to_pylist() == ["futureA", None]
    for line, row in zip(lines, result.events.to_pylist(), strict=True):
        compare(aws_layout(line), row)


def test_region_not_taken_from_bucket_name() -> None:
    """A region-shaped bucket label (``web-eu-assets-2``) is not the endpoint's region."""
    line = _current_docs_lines()[0].replace("amzn-s3-demo-bucket1", "web-eu-assets-2")
    (row,) = parse_bytes((line + "\n").encode()).events.to_pylist()
    assert row["host_header"] == "web-eu-assets-2.s3.us-west-1.amazonaws.com"
    assert row["aws_region"] == "us-west-1"


def test_legacy_global_endpoint_has_no_region() -> None:
    """``awsexamplebucket.s3.amazonaws.com``: no region named, so null (not us-east-1)."""
    rows = rows_by_index(parse_file(BEATS_TEST))
    assert [rows[i]["aws_region"] for i in sorted(rows)] == [None] * 6
    assert {rows[i]["host_header"] for i in rows} == {"awsexamplebucket.s3.amazonaws.com"}


def test_region_is_not_source_region() -> None:
    """No Host header: aws_region is null even with a Source region (where it came from)."""
    host = " amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com "
    line = _current_docs_lines()[0].replace(host, " - ")
    (row,) = parse_bytes((line + "\n").encode()).events.to_pylist()
    assert row["host_header"] is None
    assert row["source_region"] == "us-east-1"
    assert row["aws_region"] is None
