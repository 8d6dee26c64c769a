"""The hostile-input corpus: every class of broken or malicious input, generated, never stored.

Each builder returns bytes (or writes a folder) small enough to make in milliseconds, even
the bombs: a gzip bomb is one compressed member of zeros repeated, so "5 MB that inflates to
5 GB" costs one 64 MiB compression. Tests import the builders; run as a script, it writes
the whole corpus to a folder for manual tries::

    python tests/hostile_corpus.py /tmp/hostile
    detector backfill /tmp/hostile/backfill --lake /tmp/hostile-lake
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import sys
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import CT_KEY, ct_record, trail_file

MEMBER_BYTES = 64 << 20
"""Zeros per gzip member of a bomb (compresses to ~64 KB)."""


@cache
def _zero_member() -> bytes:
    return gzip.compress(b"\0" * MEMBER_BYTES, compresslevel=9)


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A multi-member gzip stream of zeros that inflates to about ``inflated_bytes``."""
    return _zero_member() * max(1, inflated_bytes // MEMBER_BYTES)


def trail_bomb(inflated_bytes: int) -> bytes:
    """A gzipped CloudTrail file whose Records array is padded to ``inflated_bytes``."""
    head = gzip.compress(b'{"Records":[' + json.dumps(ct_record(0)).encode() + b",")
    return head + gzip_bomb(inflated_bytes)


def deep_json(depth: int) -> bytes:
    """``[[[...]]]``: the shape that blows recursive decoders' stacks."""
    return b"[" * depth + b"]" * depth


DEEP = "@@deep@@"
"""Stands for a deep value until ``encode_records`` writes it (json.dumps cannot)."""


def deep_record(i: int) -> dict[str, Any]:
    """A CloudTrail record with a deep value inside requestParameters (see ``DEEP``)."""
    rec = ct_record(i)
    rec["requestParameters"] = {**rec["requestParameters"], "deep": DEEP}
    return rec


def encode_records(records: list[dict[str, Any]], depth: int = 2000, gz: bool = True) -> bytes:
    """A trail file of ``records``, each ``DEEP`` written ``depth`` objects deep."""
    deep = '{"x":' * depth + '"bottom"' + "}" * depth
    text = json.dumps({"Records": records}, separators=(",", ":")).replace(f'"{DEEP}"', deep)
    return gzip.compress(text.encode()) if gz else text.encode()


def overflow_record(i: int) -> dict[str, Any]:
    """bytesTransferredOut of 1e20: more than an int64 holds."""
    return ct_record(i, additionalEventData={"bytesTransferredOut": 1e20, "bytesTransferredIn": 0})


def list_identity_record(i: int) -> dict[str, Any]:
    """userIdentity as a list: a container where an object belongs."""
    rec = ct_record(i)
    rec["userIdentity"] = [rec["userIdentity"]]
    return rec


def mixed_trail(n: int = 100) -> tuple[bytes, dict[int, str]]:
    """``n`` records where three are hostile; returns the file and {index: expected reason}.

    The overflow record is kept (its byte count becomes null) and flagged ``bad_field_type``.
    """
    records = [ct_record(i) for i in range(n)]
    records[10] = deep_record(10)
    records[20] = overflow_record(20)
    records[30] = list_identity_record(30)
    return encode_records(records), {10: "too_deep", 20: "bad_field_type", 30: "bad_record_shape"}


TIME_FORMS: dict[str, Any] = {
    "iso": "2026-11-02T10:00:01Z",
    "iso_fraction": "2026-11-02T10:00:02.123Z",
    "space_nanos": "2026-11-02 10:00:03.000000000",
    "space_plain": "2026-11-02 10:00:04",
    "offset": "2026-11-02T11:00:05+01:00",
    "epoch_ms": 1793613606000,
    "epoch_ms_text": "1793613607000",
    "epoch_s": 1793613608,
}
"""Event times as CloudTrail, Athena / CloudTrail Lake and Logstash exports write them; all
name 2026-11-02 10:00:0N UTC (N = the position in this table + 1)."""

BAD_TIMES: dict[str, Any] = {
    "garbage": "yesterday at noon",
    "empty": "",
    "impossible": "2026-13-45T99:99:99Z",
    "object": {"t": 1},
    "huge_epoch": 10**30,
}


def time_records() -> tuple[list[dict[str, Any]], int, int]:
    """Records with every time form, a Logstash record with ``@timestamp`` only, records
    with no time at all and with bad times; returns (records, good count, bad count)."""
    records = [ct_record(i, eventTime=t) for i, t in enumerate(TIME_FORMS.values())]
    logstash = ct_record(100)
    del logstash["eventTime"]
    logstash["@timestamp"] = "2026-11-02T10:00:09.000Z"
    records.append(logstash)
    missing = ct_record(101)
    del missing["eventTime"]
    records.append(missing)
    records += [ct_record(200 + i, eventTime=t) for i, t in enumerate(BAD_TIMES.values())]
    return records, len(TIME_FORMS) + 1, 1 + len(BAD_TIMES)


def special_files(root: Path) -> list[str]:
    """A FIFO, a socket, a dangling symlink and a symlink loop beside the logs; their names."""
    root.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / "fifo.json")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "listener.sock"))
    (root / "dangling.json.gz").symlink_to(root / "nowhere.json.gz")
    (root / "loop-a.json").symlink_to(root / "loop-b.json")
    (root / "loop-b.json").symlink_to(root / "loop-a.json")
    return ["fifo.json", "listener.sock", "dangling.json.gz", "loop-a.json", "loop-b.json"]


SQS_POISON: dict[str, str] = {
    "not_json": "this is not json",
    "deep_array": "[" * 100_000 + "]" * 100_000,
    "deep_sns": json.dumps({"Type": "Notification", "Message": "[" * 100_000}),
    "s3_missing_fields": json.dumps(
        {
            "Records": [
                {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {}}}
            ]
        }
    ),
    "s3_wrong_types": json.dumps(
        {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": "b", "object": ["k"]}}]}
    ),
    "records_not_list": json.dumps({"Records": "x"}),
    "eventbridge_detail_text": json.dumps(
        {"source": "aws.s3", "detail-type": "Object Created", "detail": "x"}
    ),
    "eventbridge_bucket_text": json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": "b", "object": {"key": 5}},
        }
    ),
    "cloudtrail_keys_dict": json.dumps({"s3Bucket": "b", "s3ObjectKey": {"a": 1}}),
    "cloudtrail_bucket_list": json.dumps({"s3Bucket": ["b"], "s3ObjectKey": ["k"]}),
    "sns_message_number": json.dumps({"Type": "Notification", "Message": 5}),
    "top_level_list": json.dumps([1, 2, 3]),
    "null": "null",
    "huge_key": json.dumps({"s3Bucket": "b", "s3ObjectKey": ["k" * 200_000]}),
    "control_chars": json.dumps({"s3Bucket": "b\x1b[2J", "s3ObjectKey": ["\x00\x07"]}),
}
"""Queue message bodies of every wrong shape; none may stop a tail."""


def write_corpus(out: Path) -> None:
    """The backfill corpus as files (bombs at their real size: 5 MB inflating to 5 GB)."""
    trail = out / "backfill" / CT_KEY
    trail.mkdir(parents=True, exist_ok=True)
    (trail / "good.json.gz").write_bytes(trail_file([ct_record(i) for i in range(50)]))
    (trail / "bomb.json.gz").write_bytes(gzip_bomb(5 << 30))
    (trail / "mixed.json.gz").write_bytes(mixed_trail()[0])
    (trail / "times.json").write_bytes(trail_file(time_records()[0], gz=False))
    special_files(out / "backfill" / "special")
    sqs = out / "sqs"
    sqs.mkdir(parents=True, exist_ok=True)
    for name, body in SQS_POISON.items():
        (sqs / f"{name}.txt").write_text(body)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    write_corpus(target)
    print(f"hostile corpus written to {target}")
