"""Many access-log objects parsed as one buffer: rows in object and line order, exact line
numbers, two field-count generations in one object, and an irregular object read on its own
without costing the others their fast path."""

from __future__ import annotations

import pyarrow as pa

from detector.blob import Blob, ObjectRef
from detector.logtypes import s3_access
from detector.logtypes.base import Content

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def line(n: int, *, fields: int = 27, agent: str = "aws-sdk-java/2.25.1") -> bytes:
    """One access-log line of ``fields`` fields (27: today's; 24: 2019's), request id n."""
    head = (
        f"{OWNER} data [02/Nov/2026:10:00:{n % 60:02d} +0000] 10.0.0.5 "
        f"arn:aws:sts::111122223333:assumed-role/app/i-0abc REQ{n:013d} REST.GET.OBJECT "
        f'k/f{n}.txt "GET /data/k/f{n}.txt HTTP/1.1" 200 - 100 5000 7 3 "-" "{agent}" - '
        f"hostid{n}= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader data.s3.us-east-1.amazonaws.com"
    )
    tail = {27: " TLSv1.2 - - us-east-1", 24: ""}[fields]
    return (head + tail).encode()


def content(name: str, *lines: bytes, end: bytes = b"\n") -> Content:
    data = end.join(lines) + end
    uri = f"s3://logs/s3-access-logs/{name}"
    return Content(Blob(ObjectRef(uri, f"s3-access-logs/{name}", len(data)), data), data)


def parse(*contents: Content) -> tuple[pa.Table, list]:
    result = s3_access.S3AccessLog().parse(list(contents))
    return result.events, result.rejects


def test_rows_keep_their_object_and_line_across_generations_blank_lines_and_crlf() -> None:
    a = content("2026-11-02-10-00-00-AAAAAAAAAAAAAAAA", line(1), b"", line(2, fields=24), line(3))
    b = content("2026-11-02-10-05-00-BBBBBBBBBBBBBBBB", line(4), line(5), end=b"\r\n")
    events, rejects = parse(a, b)
    assert rejects == []
    got = list(
        zip(
            events.column("origin_object").to_pylist(),
            events.column("origin_index").to_pylist(),
            events.column("request_id").to_pylist(),
            events.column("tls_version").to_pylist(),
            strict=True,
        )
    )
    assert got == [
        (a.blob.uri, 0, "REQ0000000000001", "TLSv1.2"),
        (a.blob.uri, 2, "REQ0000000000002", None),
        (a.blob.uri, 3, "REQ0000000000003", "TLSv1.2"),
        (b.blob.uri, 0, "REQ0000000000004", "TLSv1.2"),
        (b.blob.uri, 1, "REQ0000000000005", "TLSv1.2"),
    ]
    assert events.column("user_agent").to_pylist() == ["aws-sdk-java/2.25.1"] * 5


def test_an_irregular_object_is_read_alone_and_rejects_only_its_bad_line() -> None:
    good = content("2026-11-02-10-00-00-AAAAAAAAAAAAAAAA", line(1), line(2))
    broken = content(
        "2026-11-02-10-05-00-BBBBBBBBBBBBBBBB",
        line(3),
        line(4).replace(b"aws-sdk", b"\xff\xfesdk"),  # not UTF-8
        line(5),
    )
    short = content("2026-11-02-10-10-00-CCCCCCCCCCCCCCCC", line(6), b"just a few fields here")
    events, rejects = parse(good, broken, short)
    assert events.column("request_id").to_pylist() == [f"REQ{n:013d}" for n in (1, 2, 3, 5, 6)]
    assert [(r.origin_object, r.origin_index, r.reason) for r in rejects] == [
        (broken.blob.uri, 1, "invalid_utf8"),
        (short.blob.uri, 1, "too_few_fields"),
    ]


def test_lines_are_cut_in_bulk_and_the_odd_ones_found() -> None:
    quoted_space = line(1, agent="Mozilla/5.0 (X11; Linux x86_64)")
    double_space = line(2).replace(b" 200 ", b"  200 ")
    stray_quote = line(3).replace(b"REST.GET.OBJECT", b'REST.GET"OBJECT')
    lines = s3_access._Lines([quoted_space + b"\n", double_space + b"\n", stray_quote])
    irregular = lines.irregular_files()
    assert irregular.tolist() == [False, True, True]
    assert lines.tokens[0] == 28  # the split time counts twice; the quoted agent once
