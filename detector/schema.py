"""The canonical event schema: one Arrow schema for every event, whatever its source.

Column names are a public contract (hunts, users' queries and downstream tools read them),
so each field is declared once here with its type and where it comes from in each source;
``docs/schema.md`` is generated from this table (``python -m detector.schema``) and a test
keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 1

SOURCE_CLOUDTRAIL = "cloudtrail"
SOURCE_S3_ACCESS = "s3_access"


@dataclass(frozen=True)
class Field:
    """One canonical column: its Arrow type and its lineage in each source."""

    name: str
    type: pa.DataType
    group: str
    cloudtrail: str
    s3_access: str
    doc: str


_TS = pa.timestamp("us", tz="UTC")
_S = pa.string()
_I64 = pa.int64()

FIELDS: tuple[Field, ...] = (
    # --- what
    Field("source", _S, "what", "`cloudtrail`", "`s3_access`", "Which log the event came from."),
    Field(
        "event_time",
        _TS,
        "what",
        "eventTime (null if absent or unparseable: the event is kept)",
        "Time (`[06/Feb/2019:00:00:38 +0000]`, any offset)",
        "When the request happened, UTC.",
    ),
    Field("event_id", _S, "what", "eventID", "null", "Unique id of the CloudTrail record."),
    Field(
        "request_id",
        _S,
        "what",
        "requestID",
        "Request ID",
        "The S3 request id; joins CloudTrail data events to access-log lines.",
    ),
    Field(
        "event_name",
        _S,
        "what",
        "eventName",
        "Operation mapped to the CloudTrail name "
        "(`REST.GET.OBJECT`→`GetObject`, `BATCH.DELETE.OBJECT`→`DeleteObjects`; "
        "null when S3 has no API name for it, e.g. `S3.EXPIRE.OBJECT`)",
        "The API action, named as CloudTrail names it.",
    ),
    Field(
        "operation",
        _S,
        "what",
        "null",
        "Operation (raw, e.g. `REST.GET.OBJECT`)",
        "The raw access-log operation.",
    ),
    Field(
        "event_source",
        _S,
        "what",
        "eventSource",
        "`s3.amazonaws.com`",
        "The AWS service endpoint that received the call.",
    ),
    Field("event_type", _S, "what", "eventType", "null", "AwsApiCall, AwsServiceEvent, ..."),
    Field(
        "aws_region",
        _S,
        "what",
        "awsRegion",
        "region named in the Host header (null for the legacy global endpoint)",
        "Region the request was made to.",
    ),
    # --- who
    Field(
        "principal_arn",
        _S,
        "who",
        "userIdentity.arn",
        "Requester when it is an ARN; the canonical user id otherwise; null for `-` (anonymous)",
        "Who made the call.",
    ),
    Field(
        "principal_type",
        _S,
        "who",
        "userIdentity.type",
        "derived from Requester: "
        "`AssumedRole`, `IAMUser`, `Root`, `FederatedUser`, `AWSAccount` (other ARNs), "
        "`AWSService` (`svc:…`, `AmazonS3`), `CanonicalUser` (64 hex), `Anonymous` (`-`), "
        "`Unknown`",
        "Kind of identity.",
    ),
    Field(
        "principal_id",
        _S,
        "who",
        "userIdentity.principalId",
        "null",
        "Stable id of the identity (`AROA…:session` for roles).",
    ),
    Field(
        "account_id",
        _S,
        "who",
        "userIdentity.accountId",
        "account in the Requester ARN",
        "Account that owns the identity; `anonymous` for unauthenticated CloudTrail events.",
    ),
    Field(
        "user_name",
        _S,
        "who",
        "userIdentity.userName, else sessionIssuer.userName",
        "user or role name in the Requester ARN",
        "IAM user or role name.",
    ),
    Field(
        "access_key_id",
        _S,
        "who",
        "userIdentity.accessKeyId",
        "null",
        "Access key used (AKIA… long-term, ASIA… temporary).",
    ),
    Field(
        "session_name",
        _S,
        "who",
        "last part of an assumed-role ARN",
        "last part of an assumed-role Requester ARN",
        "Role session name (EC2 instance id `i-…` for instance credentials).",
    ),
    Field(
        "session_issuer_arn",
        _S,
        "who",
        "userIdentity.sessionContext.sessionIssuer.arn",
        "`arn:aws:iam::<acct>:role/<role>` rebuilt from an assumed-role ARN (role path lost)",
        "The role behind a session: what per-principal baselines key on.",
    ),
    Field(
        "invoked_by",
        _S,
        "who",
        "userIdentity.invokedBy",
        "null",
        "AWS service that made the call on the principal's behalf.",
    ),
    # --- from where
    Field(
        "source_ip",
        _S,
        "from where",
        "sourceIPAddress",
        "Remote IP (null for `-`)",
        "Caller address, or an AWS service name for service calls.",
    ),
    Field("user_agent", _S, "from where", "userAgent", "User-Agent", "Client user agent, raw."),
    Field("vpc_endpoint_id", _S, "from where", "vpcEndpointId", "null", "VPC endpoint used."),
    Field(
        "vpc_endpoint_account_id",
        _S,
        "from where",
        "vpcEndpointAccountId",
        "null",
        "Account that owns that VPC endpoint.",
    ),
    Field(
        "tls_version",
        _S,
        "from where",
        "tlsDetails.tlsVersion",
        "TLS version",
        "Normalised to CloudTrail's spelling (`TLSV1.2` → `TLSv1.2`); null when not TLS.",
    ),
    Field(
        "cipher_suite",
        _S,
        "from where",
        "tlsDetails.cipherSuite, else additionalEventData.CipherSuite",
        "Cipher Suite",
        "TLS cipher suite.",
    ),
    Field(
        "signature_version",
        _S,
        "from where",
        "additionalEventData.SignatureVersion",
        "Signature Version",
        "SigV2 / SigV4.",
    ),
    Field(
        "auth_method",
        _S,
        "from where",
        "additionalEventData.AuthenticationMethod",
        "Authentication Type",
        "`AuthHeader`, or `QueryString` for presigned URLs.",
    ),
    Field(
        "host_header",
        _S,
        "from where",
        "tlsDetails.clientProvidedHostHeader, else requestParameters.Host",
        "Host Header",
        "Endpoint host name the client used.",
    ),
    # --- on what
    Field("bucket", _S, "on what", "requestParameters.bucketName", "Bucket", "Target bucket."),
    Field(
        "key",
        _S,
        "on what",
        "requestParameters.key",
        "Key, URL-decoded (twice, or once for BATCH.DELETE.OBJECT and S3.* operations, "
        "as S3 encodes it)",
        "Object key.",
    ),
    Field(
        "version_id",
        _S,
        "on what",
        "requestParameters.versionId",
        "Version Id",
        "Object version named in the request (set on permanent deletes).",
    ),
    Field(
        "bucket_account_id",
        _S,
        "on what",
        "resources[type=AWS::S3::Bucket].accountId (the one naming `bucket`, else the first)",
        "null",
        "Owner account of the bucket; a foreign value marks a cross-account target.",
    ),
    Field(
        "bucket_owner",
        _S,
        "on what",
        "null",
        "Bucket Owner (canonical user id)",
        "Canonical id of the bucket owner.",
    ),
    Field(
        "recipient_account_id",
        _S,
        "on what",
        "recipientAccountId",
        "null",
        "Account that received the event.",
    ),
    Field(
        "access_point_arn",
        _S,
        "on what",
        "null",
        "Access Point ARN",
        "Access point the request came through.",
    ),
    # --- outcome
    Field("http_status", pa.int32(), "outcome", "null", "HTTP status", "HTTP status code."),
    Field("error_code", _S, "outcome", "errorCode", "Error Code", "e.g. AccessDenied."),
    Field("error_message", _S, "outcome", "errorMessage", "null", "Error text."),
    Field(
        "bytes_out",
        _I64,
        "outcome",
        "additionalEventData.bytesTransferredOut",
        "Bytes Sent (`-` means zero, so 0)",
        "Bytes returned to the caller.",
    ),
    Field(
        "bytes_in",
        _I64,
        "outcome",
        "additionalEventData.bytesTransferredIn",
        "Object Size on REST.PUT.OBJECT, REST.PUT.PART, REST.POST.OBJECT",
        "Bytes sent by the caller.",
    ),
    Field("object_size", _I64, "outcome", "null", "Object Size", "Size of the object."),
    Field("total_time_ms", _I64, "outcome", "null", "Total Time", "Server-side time, ms."),
    Field(
        "turnaround_time_ms", _I64, "outcome", "null", "Turn-Around Time", "S3 processing time, ms."
    ),
    Field(
        "read_only",
        pa.bool_(),
        "outcome",
        "readOnly",
        "true for REST.GET/HEAD/OPTIONS, false for other REST and BATCH operations",
        "Whether the call only reads.",
    ),
    Field(
        "management_event",
        pa.bool_(),
        "outcome",
        "managementEvent",
        "null",
        "Control-plane (true) vs data-plane (false) event.",
    ),
    Field(
        "event_category",
        _S,
        "outcome",
        "eventCategory",
        "null",
        "Management, Data, Insight, NetworkActivity.",
    ),
    Field(
        "sse",
        _S,
        "outcome",
        "x-amz-server-side-encryption[-customer-algorithm] in request "
        "or response, else additionalEventData.SSEApplied",
        "null",
        "Server-side encryption named: `SSE-S3`, `SSE-KMS`, `DSSE-KMS` or `SSE-C`.",
    ),
    Field(
        "kms_key_id",
        _S,
        "outcome",
        "x-amz-server-side-encryption-aws-kms-key-id in request or response",
        "null",
        "KMS key used for SSE-KMS.",
    ),
    # --- raw detail
    Field(
        "request_parameters",
        _S,
        "raw",
        "requestParameters as JSON text",
        "null",
        "The whole object as compact JSON (whitespace dropped, numbers may be re-spelled); "
        "query it with DuckDB's JSON functions.",
    ),
    Field("response_elements", _S, "raw", "responseElements (raw JSON text)", "null", "Raw JSON."),
    Field(
        "additional_event_data",
        _S,
        "raw",
        "additionalEventData (raw JSON text)",
        "null",
        "Raw JSON.",
    ),
    Field(
        "request_uri",
        _S,
        "raw",
        "null",
        "Request-URI (method, path, protocol)",
        "Raw request line.",
    ),
    Field("referrer", _S, "raw", "null", "Referer", "HTTP referrer."),
    Field("acl_required", _S, "raw", "null", "aclRequired", "`Yes` when an ACL was needed."),
    Field("source_region", _S, "raw", "null", "Source region", "Region the request came from."),
    Field(
        "extra_fields",
        _S,
        "raw",
        "null",
        "tokens after the last known field, space-joined",
        "Fields from a newer log format than this parser knows; kept, not dropped.",
    ),
    # --- lineage
    Field(
        "origin_object",
        _S,
        "lineage",
        "URI of the log object (s3://… or local path)",
        "same",
        "Which log file the event was read from.",
    ),
    Field(
        "origin_index",
        _I64,
        "lineage",
        "index of the record in the file (0-based)",
        "line number in the file (0-based)",
        "Position of the event in that file.",
    ),
)

EVENT_SCHEMA: pa.Schema = pa.schema(
    [pa.field(f.name, f.type) for f in FIELDS],
    metadata={"detector.schema_version": str(SCHEMA_VERSION)},
)
COLUMN_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

QUARANTINE_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("origin_object", _S),
        pa.field("origin_index", _I64),
        pa.field("source", _S),
        pa.field("reason", _S),
        pa.field("detail", _S),
        pa.field("records", _I64),
        pa.field("raw", pa.binary()),
        pa.field("quarantined_at", _TS),
    ]
)
"""A rejected record or file: where it came from, why, and its raw bytes (capped)."""


def empty_events() -> pa.Table:
    """A zero-row table of the canonical schema."""
    return EVENT_SCHEMA.empty_table()


def conform(table: pa.Table) -> pa.Table:
    """Return ``table`` with exactly the canonical columns, order and types.

    Missing columns become nulls; this is how a log type fills only what its source has.
    """
    columns = []
    n = table.num_rows
    for f in EVENT_SCHEMA:
        if f.name in table.column_names:
            col = table.column(f.name)
            columns.append(col if col.type == f.type else col.cast(f.type))
        else:
            columns.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def render_markdown() -> str:
    """The field-by-field documentation in docs/schema.md."""
    lines = [
        "# Canonical event schema",
        "",
        "Every event, from either source, is one row of this Arrow schema (version "
        f"{SCHEMA_VERSION}); the lake stores it as Parquet under "
        "`events/source=<source>/date=<YYYY-MM-DD>/`. Column names are a public contract.",
        "",
        "Generated from `detector/schema.py` by `python -m detector.schema > docs/schema.md`; "
        "a test fails when the two differ.",
        "",
    ]
    group = None
    for f in FIELDS:
        if f.group != group:
            group = f.group
            lines += [
                f"## {group}",
                "",
                "| column | type | CloudTrail | S3 access log | meaning |",
                "|---|---|---|---|---|",
            ]
        lines.append(f"| `{f.name}` | {f.type} | {f.cloudtrail} | {f.s3_access} | {f.doc} |")
        nxt = FIELDS.index(f) + 1
        if nxt == len(FIELDS) or FIELDS[nxt].group != group:
            lines.append("")
    lines += [
        "## quarantine",
        "",
        "Rejected input is written to `quarantine/date=<YYYY-MM-DD>/` (the day it was rejected) "
        "with these columns:",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        "| `origin_object` | string | log object the input came from |",
        "| `origin_index` | int64 | record index or line number; null for a whole-file reject |",
        "| `source` | string | log type it was routed to, if any |",
        "| `reason` | string | short machine-readable reason (see README) |",
        "| `detail` | string | the parser's message |",
        "| `records` | int64 | events this reject stands for (1 per record; the known count "
        "for a file, or null when it cannot be known) |",
        "| `raw` | binary | the rejected bytes (capped at 1 MiB; `detail` says when cut) |",
        "| `quarantined_at` | timestamp | when it was rejected |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
