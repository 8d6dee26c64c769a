"""S3 server access logs, every field-count generation (18, 24, 25, 26, 27 fields and newer).

Fast path: all objects of a batch are concatenated into one buffer and cut into lines once;
quotes and spaces are located with numpy, which gives every line's token count and finds
any line the two tokenizers would cut differently. Lines of regular objects are grouped by
token count (one object may hold two generations) and each group is tokenised at once by
Arrow's CSV reader (space-delimited, ``"``-quoted; the ``[time +zone]`` field splits into
two tokens, which we join again). Anything irregular in an object (ragged quoting, empty
fields, bytes that are not UTF-8, oversized or short lines, unparseable times) sends just
that object through the exact path, which walks its lines so every reject keeps its line
number. Both paths hand token columns to one builder, so they cannot disagree; rows come
out in object and line order.
"""

from __future__ import annotations

import codecs
import io
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from detector.logtypes._times import in_sane_range
from detector.logtypes.base import (
    Content,
    LogType,
    ParseResult,
    Reject,
    normalise_tls,
    register,
)
from detector.schema import SOURCE_S3_ACCESS, conform, empty_events

MAX_LINE_BYTES = 128 * 1024
"""Longer lines are rejected: real ones are a few KB even with presigned query strings."""

MIN_TOKENS = 19
"""The legacy 18-field format, with the bracketed time counted as two tokens."""

KNOWN_TOKENS = 28
"""The 27-field format (Source region last) plus the split time; more are extra fields."""

_KEY_LAYOUT = re.compile(r"(^|/)\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]{16}$")
_LINE_HEAD = re.compile(rb"^\S+ \S+ \[\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] ")
_TOKEN = re.compile(r'"[^"]*"|[^ ]+')
"""A quoted field or a run of anything but the space: S3 separates fields by one space, and
only by it (a tab or U+001F inside a field is part of it, as Arrow's reader sees it too)."""
_HOST_REGION = (
    r"(?:^|\.)s3(?:-[a-z]+)*[.-](?:dualstack\.|fips\.)?"
    r"((?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]*)?-[a-z]+-\d)\.amazonaws\.com"
)
"""The region label right after the S3 service label; the legacy global endpoint has none."""

# Token positions after splitting: the time is tokens 2 and 3.
_NAMES = (
    "bucket_owner",
    "bucket",
    "time_a",
    "time_b",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turnaround_time",
    "referrer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "auth_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
)

# Access-log operations named as CloudTrail names them. Context-dependent ones
# (ACLs on bucket vs object, ListObjects V1 vs V2) are refined in ``_event_name``.
OPERATION_TO_EVENT: dict[str, str] = {
    "REST.GET.OBJECT": "GetObject",
    "REST.HEAD.OBJECT": "HeadObject",
    "REST.PUT.OBJECT": "PutObject",
    "REST.POST.OBJECT": "PutObject",
    "REST.COPY.OBJECT": "CopyObject",
    "REST.COPY.OBJECT_GET": "CopyObject",
    "REST.COPY.PART": "UploadPartCopy",
    "REST.COPY.PART_GET": "UploadPartCopy",
    "REST.DELETE.OBJECT": "DeleteObject",
    "REST.POST.MULTI_OBJECT_DELETE": "DeleteObjects",
    "BATCH.DELETE.OBJECT": "DeleteObjects",
    "REST.POST.UPLOADS": "CreateMultipartUpload",
    "REST.PUT.PART": "UploadPart",
    "REST.POST.UPLOAD": "CompleteMultipartUpload",
    "REST.DELETE.UPLOAD": "AbortMultipartUpload",
    "REST.GET.UPLOAD": "ListParts",
    "REST.GET.UPLOADS": "ListMultipartUploads",
    "REST.POST.RESTORE": "RestoreObject",
    "REST.POST.SELECT": "SelectObjectContent",
    "REST.GET.OBJECT_TAGGING": "GetObjectTagging",
    "REST.PUT.OBJECT_TAGGING": "PutObjectTagging",
    "REST.DELETE.OBJECT_TAGGING": "DeleteObjectTagging",
    "REST.GET.OBJECT_LOCK_CONFIGURATION": "GetObjectLockConfiguration",
    "REST.PUT.OBJECT_LOCK_CONFIGURATION": "PutObjectLockConfiguration",
    "REST.GET.RETENTION": "GetObjectRetention",
    "REST.PUT.RETENTION": "PutObjectRetention",
    "REST.GET.LEGAL_HOLD": "GetObjectLegalHold",
    "REST.PUT.LEGAL_HOLD": "PutObjectLegalHold",
    "REST.GET.OBJECT_ATTRIBUTES": "GetObjectAttributes",
    "REST.GET.BUCKET": "ListObjects",
    "REST.GET.BUCKETVERSIONS": "ListObjectVersions",
    "REST.HEAD.BUCKET": "HeadBucket",
    "REST.GET.SERVICE": "ListBuckets",
    "REST.PUT.BUCKET": "CreateBucket",
    "REST.DELETE.BUCKET": "DeleteBucket",
    "REST.GET.ACL": "GetBucketAcl",
    "REST.PUT.ACL": "PutBucketAcl",
    "REST.GET.BUCKETPOLICY": "GetBucketPolicy",
    "REST.PUT.BUCKETPOLICY": "PutBucketPolicy",
    "REST.DELETE.BUCKETPOLICY": "DeleteBucketPolicy",
    "REST.GET.POLICY_STATUS": "GetBucketPolicyStatus",
    "REST.GET.LOCATION": "GetBucketLocation",
    "REST.GET.VERSIONING": "GetBucketVersioning",
    "REST.PUT.VERSIONING": "PutBucketVersioning",
    "REST.GET.LOGGING_STATUS": "GetBucketLogging",
    "REST.PUT.LOGGING_STATUS": "PutBucketLogging",
    "REST.GET.ENCRYPTION": "GetBucketEncryption",
    "REST.PUT.ENCRYPTION": "PutBucketEncryption",
    "REST.DELETE.ENCRYPTION": "DeleteBucketEncryption",
    "REST.GET.LIFECYCLE": "GetBucketLifecycle",
    "REST.PUT.LIFECYCLE": "PutBucketLifecycle",
    "REST.DELETE.LIFECYCLE": "DeleteBucketLifecycle",
    "REST.GET.REPLICATION": "GetBucketReplication",
    "REST.PUT.REPLICATION": "PutBucketReplication",
    "REST.DELETE.REPLICATION": "DeleteBucketReplication",
    "REST.GET.PUBLIC_ACCESS_BLOCK": "GetBucketPublicAccessBlock",
    "REST.PUT.PUBLIC_ACCESS_BLOCK": "PutBucketPublicAccessBlock",
    "REST.DELETE.PUBLIC_ACCESS_BLOCK": "DeleteBucketPublicAccessBlock",
    "REST.GET.OWNERSHIP_CONTROLS": "GetBucketOwnershipControls",
    "REST.PUT.OWNERSHIP_CONTROLS": "PutBucketOwnershipControls",
    "REST.DELETE.OWNERSHIP_CONTROLS": "DeleteBucketOwnershipControls",
    "REST.GET.TAGGING": "GetBucketTagging",
    "REST.PUT.TAGGING": "PutBucketTagging",
    "REST.DELETE.TAGGING": "DeleteBucketTagging",
    "REST.GET.CORS": "GetBucketCors",
    "REST.PUT.CORS": "PutBucketCors",
    "REST.DELETE.CORS": "DeleteBucketCors",
    "REST.GET.WEBSITE": "GetBucketWebsite",
    "REST.PUT.WEBSITE": "PutBucketWebsite",
    "REST.DELETE.WEBSITE": "DeleteBucketWebsite",
    "REST.GET.NOTIFICATION": "GetBucketNotificationConfiguration",
    "REST.PUT.NOTIFICATION": "PutBucketNotificationConfiguration",
    "REST.GET.ACCELERATE": "GetBucketAccelerateConfiguration",
    "REST.PUT.ACCELERATE": "PutBucketAccelerateConfiguration",
    "REST.GET.REQUEST_PAYMENT": "GetBucketRequestPayment",
    "REST.PUT.REQUEST_PAYMENT": "PutBucketRequestPayment",
    "REST.GET.INVENTORY": "GetBucketInventoryConfiguration",
    "REST.PUT.INVENTORY": "PutBucketInventoryConfiguration",
    "REST.GET.ANALYTICS": "GetBucketAnalyticsConfiguration",
    "REST.PUT.ANALYTICS": "PutBucketAnalyticsConfiguration",
    "REST.GET.METRICS": "GetBucketMetricsConfiguration",
    "REST.PUT.METRICS": "PutBucketMetricsConfiguration",
    "REST.GET.INTELLIGENT_TIERING": "GetBucketIntelligentTieringConfiguration",
    "REST.PUT.INTELLIGENT_TIERING": "PutBucketIntelligentTieringConfiguration",
}

_UPLOAD_OPERATIONS = ["REST.PUT.OBJECT", "REST.PUT.PART", "REST.POST.OBJECT"]


@register
class S3AccessLog(LogType):
    """S3 server access log objects, as S3 delivers them to the target bucket."""

    name = "s3_access"
    source = SOURCE_S3_ACCESS
    priority = 20

    def claims_key(self, key: str) -> bool:
        return _KEY_LAYOUT.search(key) is not None

    def sniff(self, head: bytes) -> bool:
        return _LINE_HEAD.match(head) is not None

    def parse(self, contents: Sequence[Content]) -> ParseResult:
        shapes: dict[int, list[int]] = defaultdict(list)
        for i, content in enumerate(contents):
            shapes[_first_line_tokens(content.data)].append(i)
        parts: list[tuple[pa.Table, np.ndarray]] = []
        rest: list[int] = []
        for n_tokens, members in shapes.items():
            whole = _parse_whole(contents, members) if n_tokens >= MIN_TOKENS else None
            if whole is None:
                rest.extend(members)
            else:
                parts.append(whole)
        result = ParseResult()
        if rest:
            parts += _parse_lines(sorted(rest), contents, result)
        result.events = _in_file_order(parts)
        return result


def _first_line_tokens(data: bytes) -> int:
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    return len(_TOKEN.findall(line.decode("utf-8", errors="replace")))


def _parse_whole(
    contents: Sequence[Content], members: list[int]
) -> tuple[pa.Table, np.ndarray] | None:
    """Objects whose lines all look like their first: one Arrow CSV pass over them all, with
    only the quotes checked beforehand (what S3 writes, nearly always). None when anything
    differs (a line of another generation, a blank line, an odd byte): they go line by
    line."""
    body, ends = _concat([contents[i].data for i in members])
    newlines = np.flatnonzero(np.frombuffer(body, np.uint8) == _NEWLINE)
    lengths = np.diff(newlines, prepend=-1)
    if lengths.max(initial=0) > MAX_LINE_BYTES or not _tokenises_alike(body, newlines):
        return None
    try:
        codecs.utf_8_decode(body, "strict", True)
    except UnicodeDecodeError:
        return None
    table = _tokenise(body, len(newlines))
    if table is None:
        return None
    counts = np.diff(np.searchsorted(newlines, ends), prepend=0)
    files = np.repeat(np.array(members, np.int64), counts)
    index = np.arange(len(newlines)) - np.repeat(np.cumsum(counts) - counts, counts)
    events, bad = _build(_tokens(table, files, index, [c.blob.uri for c in contents]))
    return None if bad.any() else (events, (files << 32) + index)


def _concat(datas: list[bytes]) -> tuple[bytes, np.ndarray]:
    """Objects' bytes as one buffer, each ending with a newline, and where each object ends."""
    datas = [d if d.endswith(b"\n") else d + b"\n" for d in datas]
    return b"".join(datas), np.cumsum(np.fromiter(map(len, datas), np.int64, len(datas)))


def _tokenises_alike(body: bytes, newlines: np.ndarray) -> bool:
    """Whether Arrow's CSV reader cuts every line of ``body`` into the fields the exact
    path's tokenizer would: no bare CR (Arrow ends a row there), no escaped quote, and every
    quote either opening a field (after a space or at a line's start) or closing it (before
    a space or the line's end), in turn, on one line. Spacing that would make an empty field
    is caught on Arrow's output (``_has_empty_fields``). One pass over the quotes only."""
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return False
    if b'\\"' in body:
        return False
    b = np.frombuffer(body, np.uint8)
    quotes = np.flatnonzero(b == _QUOTE)
    if not quotes.size:
        return True
    if quotes.size % 2:
        return False
    before = np.where(quotes > 0, b[np.maximum(quotes - 1, 0)], _NEWLINE)
    after = b[np.minimum(quotes + 1, b.size - 1)]
    if not (
        np.isin(before[0::2], _FIELD_START).all()
        and (np.isin(after[1::2], _FIELD_END) | (quotes[1::2] + 1 == b.size)).all()
    ):
        return False
    lines = np.searchsorted(newlines, quotes)
    return bool((lines[0::2] == lines[1::2]).all())


def _tokens(table: pa.Table, files: np.ndarray, index: np.ndarray, uris: list[str]) -> _Tokens:
    """Arrow's token columns, named, with each row's object and line number."""
    cols = table.columns
    columns = {name: cols[i].combine_chunks() for i, name in enumerate(_NAMES) if i < len(cols)}
    extra = _join_extra([c.combine_chunks() for c in cols[KNOWN_TOKENS:]], table.num_rows)
    origins = pa.DictionaryArray.from_arrays(
        pa.array(files, pa.int32()), pa.array(uris, pa.string())
    ).cast(pa.string())
    return _Tokens(columns, extra, origins, pa.array(index))


def _parse_lines(
    members: list[int], contents: Sequence[Content], result: ParseResult
) -> list[tuple[pa.Table, np.ndarray]]:
    """Objects whose lines differ in shape, cut line by line in bulk: lines grouped by token
    count, one Arrow pass per group; an irregular object goes through the exact path."""
    lines = _Lines([contents[i].data for i in members])
    exact = lines.irregular_files()
    uris = [contents[i].blob.uri for i in members]
    parts: list[tuple[pa.Table, np.ndarray]] = []
    for rows in lines.groups(exact):
        built = _parse_rows(lines, rows, uris, exact)
        if built is not None:
            parts.append(built)
    # A group may send an object to the exact path after another group took some of its
    # lines: those go, the exact path reads the whole object.
    parts = [_without(part, exact) for part in parts]
    for f in np.flatnonzero(exact):
        one = _parse_exact(contents[members[f]])
        result.rejects.extend(one.rejects)
        if one.events.num_rows:
            index = one.events.column("origin_index").to_numpy()
            parts.append((one.events, (int(f) << 32) + index))
    ordinals = np.array(members, np.int64)
    return [(table, (ordinals[order >> 32] << 32) + (order & 0xFFFFFFFF)) for table, order in parts]


class _Lines:
    """Many objects' bytes as one buffer, cut into lines: for each line where its content
    starts and ends (before CR LF), which object it came from and its number there."""

    def __init__(self, datas: list[bytes]) -> None:
        self.body, ends = _concat(datas)
        self.b = b = np.frombuffer(self.body, np.uint8)
        self.newlines = newlines = np.flatnonzero(b == _NEWLINE)
        self.start = np.concatenate([[0], newlines[:-1] + 1]).astype(np.int64)
        cr = (newlines > self.start) & (b[np.maximum(newlines - 1, 0)] == _CR)
        self.end = newlines - cr
        self.file = np.searchsorted(ends, self.start, side="right")
        first = np.searchsorted(self.start, np.concatenate([[0], ends[:-1]]))
        self.index = np.arange(len(self.start)) - first[self.file]
        self.n_files = len(datas)
        self.tokens = np.zeros(len(self.start), np.int64)

    def line_of(self, positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.start, positions, side="right") - 1

    def irregular_files(self) -> np.ndarray:
        """Objects with a line Arrow's CSV reader would cut differently from the exact
        path's tokenizer, or that the exact path rejects: S3 writes none, so one such line
        sends its object (only it) through the exact path, which keeps its line numbers.
        Counts each line's tokens on the way: whole-buffer passes, a search per quote."""
        b, start, end, n = self.b, self.start, self.end, len(self.start)
        flagged: list[np.ndarray] = [np.flatnonzero(end - start > MAX_LINE_BYTES)]
        if b"\r" in self.body:
            crs = np.flatnonzero(b == _CR)
            flagged.append(self.line_of(crs[b[np.minimum(crs + 1, b.size - 1)] != _NEWLINE]))
        if b'\\"' in self.body:
            escaped = np.flatnonzero((b[:-1] == _BACKSLASH) & (b[1:] == _QUOTE))
            flagged.append(self.line_of(escaped))
        # Quotes: an even number per line, each pair opening a field and closing it.
        q = np.flatnonzero(b == _QUOTE)
        q_line = self.line_of(q)
        odd = np.bincount(q_line, minlength=n) % 2 == 1
        flagged.append(np.flatnonzero(odd))
        rank = np.arange(q.size) - np.searchsorted(q_line, q_line)
        before = b[np.maximum(q - 1, 0)]
        after = b[np.minimum(q + 1, b.size - 1)]
        opens = rank % 2 == 0
        bad_open = opens & (q != start[q_line]) & (before != _SPACE)
        bad_close = ~opens & (q + 1 != end[q_line]) & (after != _SPACE)
        flagged.append(q_line[bad_open | bad_close])
        # Spaces outside quotes separate tokens: a line's spaces less those between each
        # opening quote and its closing one (counted over quote pairs of even lines only).
        space = b == _SPACE
        counted = np.cumsum(space, dtype=np.int32)  # spaces up to and including each byte
        spaces = counted[self.newlines] - counted[start] + space[start]
        paired = ~odd[q_line]
        qp, qp_line = q[paired], q_line[paired]
        quoted = counted[qp[1::2]] - counted[qp[0::2]]
        inside = np.bincount(qp_line[0::2], weights=quoted, minlength=n).astype(np.int64)
        blank = end == start
        self.tokens = np.where(blank, 0, spaces - inside + 1)
        # An empty token (two spaces in a row outside quotes, or one at either end of a
        # line) is one the tokenizers would place differently.
        twice = np.flatnonzero(space[:-1] & space[1:])
        twice_line = self.line_of(twice)
        within = (np.searchsorted(q, twice) - np.searchsorted(q, start[twice_line])) % 2 == 1
        flagged.append(twice_line[~within])
        flagged.append(np.flatnonzero(~blank & (space[start] | space[np.maximum(end - 1, 0)])))
        flagged.append(np.flatnonzero(~blank & (self.tokens < MIN_TOKENS)))
        irregular = np.zeros(self.n_files, bool)
        irregular[self.file[np.concatenate(flagged)]] = True
        irregular |= self._not_utf8()
        return irregular

    def _not_utf8(self) -> np.ndarray:
        """Objects holding bytes that are not UTF-8 (Arrow cannot hand such a line to its
        invalid-row handler); one decode of the whole buffer when, as usual, none do."""
        bad = np.zeros(self.n_files, bool)
        at = 0
        while at < len(self.body):
            try:
                codecs.utf_8_decode(self.body[at:] if at else self.body, "strict", True)
                break
            except UnicodeDecodeError as exc:
                f = int(self.file[self.line_of(np.array([at + exc.start]))[0]])
                bad[f] = True
                later = np.flatnonzero(self.file > f)
                at = int(self.start[later[0]]) if later.size else len(self.body)
        return bad

    def groups(self, exact: np.ndarray) -> list[np.ndarray]:
        """Lines of regular objects, by token count (S3 added fields over the years; one
        object may hold lines of two generations): each group tokenises as one table."""
        regular = ~exact[self.file] & (self.tokens > 0)
        return [
            np.flatnonzero(regular & (self.tokens == n)) for n in np.unique(self.tokens[regular])
        ]

    def bytes_of(self, rows: np.ndarray) -> bytes:
        """The lines ``rows`` (with their line ends) as one buffer."""
        if rows.size == len(self.start):
            return self.body
        keep = np.zeros(len(self.start), bool)
        keep[rows] = True
        return self.b[np.repeat(keep, self.newlines - self.start + 1)].tobytes()


def _parse_rows(
    lines: _Lines, rows: np.ndarray, uris: list[str], exact: np.ndarray
) -> tuple[pa.Table, np.ndarray] | None:
    """Tokenise same-shaped lines in one Arrow CSV pass and build their events, with each
    row's order key (object, line). Objects whose lines Arrow reads otherwise, or whose
    times do not parse, are marked ``exact`` and left out."""
    while rows.size:
        table = _tokenise(lines.bytes_of(rows), rows.size)
        if table is None:
            exact[np.unique(lines.file[rows])] = True
            return None
        files = lines.file[rows]
        index = lines.index[rows]
        events, bad = _build(_tokens(table, files, index, uris))
        if not bad.any():
            return events, (files.astype(np.int64) << 32) + index
        exact[np.unique(files[bad])] = True
        rows = rows[~exact[files]]
    return None


def _tokenise(body: bytes, n_rows: int) -> pa.Table | None:
    """Arrow's CSV reader on lines already checked to cut alike; None if it still differs."""
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=" ",
                quote_char='"',
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(64)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if invalid or table.num_rows != n_rows or _has_empty_fields(table):
        return None
    return table


def _without(part: tuple[pa.Table, np.ndarray], exact: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The part's rows of objects not marked for the exact path."""
    table, order = part
    keep = ~exact[order >> 32]
    return part if keep.all() else (table.filter(pa.array(keep)), order[keep])


def _in_file_order(parts: list[tuple[pa.Table, np.ndarray]]) -> pa.Table:
    """Events of every part, ordered by object then line, as the objects came."""
    if not parts:
        return empty_events()
    if len(parts) == 1:
        table, order = parts[0]
        return table if bool((np.diff(order) > 0).all()) else table.take(np.argsort(order))
    table = pa.concat_tables([t for t, _ in parts])
    return table.take(np.argsort(np.concatenate([o for _, o in parts]), kind="stable"))


@dataclass
class _Tokens:
    """Token columns of many lines, with where each line came from."""

    columns: dict[str, pa.Array]
    extra: pa.Array
    origins: pa.Array
    indices: pa.Array
    raw_lines: list[bytes] | None = field(default=None)


def _has_empty_fields(table: pa.Table) -> bool:
    """An unquoted empty field: two spaces in a row, or one at a line's start or end. S3
    writes ``-`` for nothing; the tokenizers would disagree on where later fields are."""
    return any(pc.any(pc.equal(col, "")).as_py() for col in table.columns)


_QUOTE, _NEWLINE, _CR, _SPACE, _BACKSLASH = (ord(c) for c in '"\n\r \\')
_FIELD_START = np.array([_SPACE, _NEWLINE], np.uint8)
_FIELD_END = np.array([_SPACE, _NEWLINE, _CR], np.uint8)


def _join_extra(extra_cols: list[pa.Array], n: int) -> pa.Array:
    if not extra_cols:
        return pa.nulls(n, pa.string())
    df = pl.DataFrame([pl.from_arrow(c).alias(f"x{i}") for i, c in enumerate(extra_cols)])
    joined = df.select(
        pl.concat_str(pl.all(), separator=" ", ignore_nulls=True).str.strip_chars()
    ).to_series()
    return pl.select(pl.when(joined != "").then(joined)).to_series().to_arrow().cast(pa.string())


def _parse_exact(content: Content) -> ParseResult:
    """Walk one file line by line: reject what cannot be a log line, build the rest."""
    origin = content.blob.uri
    rejects: list[Reject] = []
    rows: list[list[str | None]] = []
    idx: list[int] = []
    raw: list[bytes] = []
    for i, line in enumerate(content.data.split(b"\n")):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        reason, detail = None, ""
        if len(line) > MAX_LINE_BYTES:
            reason, detail = "line_too_long", f"{len(line)} bytes > {MAX_LINE_BYTES}"
        else:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason, detail = "invalid_utf8", str(exc)
            else:
                tokens = [
                    t[1:-1] if t.startswith('"') and len(t) > 1 else t for t in _TOKEN.findall(text)
                ]
                if len(tokens) < MIN_TOKENS:
                    reason = "too_few_fields"
                    detail = f"{len(tokens) - 1} fields; the oldest format has 18"
        if reason:
            rejects.append(Reject(origin, reason, detail, line, i, 1, SOURCE_S3_ACCESS))
            continue
        rows.append(tokens + [None] * (KNOWN_TOKENS - len(tokens)))
        idx.append(i)
        raw.append(line)
    if not rows:
        return ParseResult(empty_events(), rejects)
    columns = {name: pa.array([r[j] for r in rows], pa.string()) for j, name in enumerate(_NAMES)}
    extra = pa.array([" ".join(r[KNOWN_TOKENS:]).strip() or None for r in rows], pa.string())
    tokens = _Tokens(
        columns, extra, pa.array([origin] * len(rows), pa.string()), pa.array(idx, pa.int64()), raw
    )
    events, bad = _build(tokens)
    for pos in np.flatnonzero(bad):
        rejects.append(
            Reject(
                origin,
                "bad_timestamp",
                "time field does not parse, or is before 2006 or more than a day ahead",
                raw[pos],
                idx[pos],
                1,
                SOURCE_S3_ACCESS,
            )
        )
    return ParseResult(events, rejects)


def _build(tokens: _Tokens) -> tuple[pa.Table, np.ndarray]:
    """Token columns → canonical events; also a mask of rows whose time does not parse.

    Columns derived from requesters and host headers are computed once per distinct value
    (a log has few of each) and joined back, instead of once per line.
    """
    n = len(tokens.origins)
    data = {name: tokens.columns.get(name, pa.nulls(n, pa.string())) for name in _NAMES}
    df = pl.from_arrow(pa.table(data))
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.when(pl.all() != "-").then(pl.all()))  # "-" means empty
    df = df.join(
        _identities(df.get_column("requester").unique()),
        on="requester",
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    hosts = df.get_column("host_header").unique().to_frame()
    df = df.join(
        hosts.with_columns(pl.col("host_header").str.extract(_HOST_REGION, 1).alias("aws_region")),
        on="host_header",
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    operation = pl.col("operation")
    out = df.select(
        pl.lit(SOURCE_S3_ACCESS).alias("source"),
        in_sane_range(
            (pl.col("time_a") + " " + pl.col("time_b")).str.to_datetime(
                "[%d/%b/%Y:%H:%M:%S %z]", time_zone="UTC", time_unit="us", strict=False
            )
        ).alias("event_time"),
        "request_id",
        _event_name().alias("event_name"),
        "operation",
        pl.lit("s3.amazonaws.com").alias("event_source"),
        "aws_region",
        pl.col("requester").alias("principal_arn"),
        "principal_type",
        "account_id",
        "user_name",
        "session_name",
        "session_issuer_arn",
        pl.col("remote_ip").alias("source_ip"),
        "user_agent",
        normalise_tls(pl.col("tls_version")).alias("tls_version"),
        "cipher_suite",
        "signature_version",
        pl.col("auth_type").alias("auth_method"),
        "host_header",
        "bucket",
        "key",
        "version_id",
        "bucket_owner",
        "access_point_arn",
        pl.col("http_status").cast(pl.Int32, strict=False),
        "error_code",
        pl.col("bytes_sent").cast(pl.Int64, strict=False).fill_null(0).alias("bytes_out"),
        pl.when(operation.is_in(_UPLOAD_OPERATIONS))
        .then(pl.col("object_size").cast(pl.Int64, strict=False))
        .alias("bytes_in"),
        pl.col("object_size").cast(pl.Int64, strict=False),
        pl.col("total_time").cast(pl.Int64, strict=False).alias("total_time_ms"),
        pl.col("turnaround_time").cast(pl.Int64, strict=False).alias("turnaround_time_ms"),
        pl.when(
            operation.str.starts_with("REST.GET.")
            | operation.str.starts_with("REST.HEAD.")
            | operation.str.starts_with("REST.OPTIONS.")
        )
        .then(True)
        .when(operation.str.starts_with("REST.") | operation.str.starts_with("BATCH."))
        .then(False)
        .alias("read_only"),
        "request_uri",
        "referrer",
        "acl_required",
        "source_region",
    ).with_columns(
        extra_fields=pl.from_arrow(tokens.extra),
        origin_object=pl.from_arrow(tokens.origins),
        origin_index=pl.from_arrow(tokens.indices),
    )
    out = out.with_columns(_decode_keys(out.get_column("key"), out.get_column("operation")))
    bad = out.get_column("event_time").is_null().to_numpy()
    good = out.filter(~pl.Series(bad)) if bad.any() else out
    return conform(good.to_arrow()), bad


def _identities(requesters: pl.Series) -> pl.DataFrame:
    """Who each distinct requester is: type, account, user/role, session, role ARN."""
    parts = pl.col("requester").str.splitn(":", 6)
    resource = parts.struct.field("field_5")
    is_role = resource.str.starts_with("assumed-role/")
    role_name = resource.str.split("/").list.get(1, null_on_oob=True)
    return requesters.to_frame().with_columns(
        _principal_type().alias("principal_type"),
        pl.when(pl.col("requester").str.starts_with("arn:"))
        .then(parts.struct.field("field_4"))
        .alias("account_id"),
        pl.when(is_role)
        .then(role_name)
        .when(resource.str.starts_with("user/"))
        .then(resource.str.split("/").list.last())
        .alias("user_name"),
        pl.when(is_role).then(resource.str.split("/").list.last()).alias("session_name"),
        pl.when(is_role)
        .then(
            pl.lit("arn:")
            + parts.struct.field("field_1")
            + pl.lit(":iam::")
            + parts.struct.field("field_4")
            + pl.lit(":role/")
            + role_name
        )
        .alias("session_issuer_arn"),
    )


def _principal_type() -> pl.Expr:
    r = pl.col("requester")
    return (
        pl.when(r.is_null())
        .then(pl.lit("Anonymous"))
        .when(r.str.contains(r"^arn:[^:]+:sts::\d*:assumed-role/"))
        .then(pl.lit("AssumedRole"))
        .when(r.str.contains(r"^arn:[^:]+:iam::\d*:user/"))
        .then(pl.lit("IAMUser"))
        .when(r.str.contains(r"^arn:[^:]+:iam::\d*:root$"))
        .then(pl.lit("Root"))
        .when(r.str.contains(r"^arn:[^:]+:sts::\d*:federated-user/"))
        .then(pl.lit("FederatedUser"))
        .when(r.str.starts_with("arn:"))
        .then(pl.lit("AWSAccount"))
        .when(r.str.starts_with("svc:") | (r == "AmazonS3"))
        .then(pl.lit("AWSService"))
        .when(r.str.contains(r"^[0-9a-f]{64}$"))
        .then(pl.lit("CanonicalUser"))
        .otherwise(pl.lit("Unknown"))
    )


def _event_name() -> pl.Expr:
    op = pl.col("operation")
    base = op.replace_strict(OPERATION_TO_EVENT, default=None, return_dtype=pl.String)
    has_key = pl.col("key").is_not_null()
    return (
        pl.when((op == "REST.GET.BUCKET") & pl.col("request_uri").str.contains("list-type=2"))
        .then(pl.lit("ListObjectsV2"))
        .when((op == "REST.GET.ACL") & has_key)
        .then(pl.lit("GetObjectAcl"))
        .when((op == "REST.PUT.ACL") & has_key)
        .then(pl.lit("PutObjectAcl"))
        .otherwise(base)
    )


SINGLE_ENCODED_KEY_OPERATIONS = ("BATCH.DELETE.OBJECT", "S3.")
"""S3 URL-encodes the Key field twice for most operations but once for batch deletes and its
own lifecycle actions (observed at scale by Yelp, 2025; AWS documents only "URL encoded").
Both layers are form-style (space as ``+``), so decoding the right number of times gives
back the key exactly; a key logged by an operation we have not seen may still be ambiguous."""


def _decode_keys(keys: pl.Series, operations: pl.Series) -> pl.Series:
    """Decode keys once or twice, by operation, in bulk."""
    once = _url_decode(keys)
    single = (
        pl.Series([False] * len(keys))
        if once.is_empty()
        else (operations.str.starts_with("S3.") | (operations == "BATCH.DELETE.OBJECT")).fill_null(
            False
        )
    )
    if bool(single.all()):
        return once
    twice = _url_decode(once)
    return pl.select(pl.when(single).then(once).otherwise(twice)).to_series().alias(keys.name)


def _url_decode(keys: pl.Series) -> pl.Series:
    """Form-style URL decoding of a whole column: each distinct run of ``%XX`` escapes is
    decoded once in Python, then every run is replaced in one leftmost-longest pass."""
    keys = keys.str.replace_all("+", " ", literal=True)
    runs = keys.str.extract_all(r"(?:%[0-9A-Fa-f]{2})+").explode().drop_nulls().unique()
    if runs.is_empty():
        return keys
    patterns = sorted(runs.to_list(), key=len, reverse=True)
    return keys.str.replace_many(patterns, [unquote(p) for p in patterns], leftmost=True)
