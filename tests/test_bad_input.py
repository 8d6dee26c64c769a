"""Bad input never crashes a run, and nothing is silently dropped.

Every case is fed through ``detector backfill`` alongside good files, and the run must
account for every event: events in = events parsed + events quarantined.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from conftest import ACCESS_KEY, CT_KEY, access_line, ct_record, trail_file

from detector.cli import main
from detector.lake import read_events, read_quarantine


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def run(src: Path, lake: Path, tmp_path: Path) -> dict:
    summary = tmp_path / "summary.json"
    code = main(
        ["backfill", str(src), "--lake", str(lake), "--summary", str(summary), "--no-progress"]
    )
    result = json.loads(summary.read_text())
    assert code == result["exit_code"]
    return result


@pytest.fixture
def mixed_input(tmp_path: Path) -> tuple[Path, int]:
    """Good and bad log objects with a known number of events in them."""
    src = tmp_path / "logs"
    n_in = 0
    good = [ct_record(i) for i in range(50)]
    write(src, CT_KEY + "good.json.gz", trail_file(good))
    n_in += 50

    shapes = [ct_record(100 + i) for i in range(10)]
    shapes[3]["userIdentity"] = "root"  # a string where an object belongs: rejected
    shapes[9]["eventName"] = 123  # a number where text belongs: kept as its text
    shapes[4].pop("userIdentity")  # missing fields: kept, nulls
    shapes[5]["brandNewField"] = {"x": 1}  # extra fields: kept
    shapes[6]["requestParameters"] = None  # null fields: kept
    shapes[7]["additionalEventData"]["bytesTransferredOut"] = "12"  # numeric string: coerced
    shapes[8]["additionalEventData"]["bytesTransferredOut"] = "lots"  # kept, field flagged
    write(src, CT_KEY + "shapes.json.gz", trail_file(shapes))
    n_in += 10

    lines = [access_line(200 + i) for i in range(20)]
    lines[2] = "79a5 data [02/Nov/2026:10:00:00 +0000] 10.0.0.5 - REQ1 REST.GET.OBJECT"
    lines[5] = lines[5].replace("aws-sdk-java", "caf\xe9-client")  # to be latin-1 encoded
    lines[9] = lines[9].replace("k/file.txt", "k/" + "x" * 300_000)  # oversized
    body = "\n".join(lines).encode("utf-8")
    bad_utf8 = lines[5].encode("utf-8")
    body = body.replace(bad_utf8, lines[5].encode("latin-1"))
    write(src, ACCESS_KEY + "2026-11-02-10-00-00-0123456789ABCDEF", body)
    n_in += 20

    jsonl = [json.dumps(ct_record(300 + i)) for i in range(5)]
    jsonl[1] = jsonl[1][:40]  # one invalid JSON line among JSON lines
    write(src, "exports/events.jsonl", "\n".join(jsonl).encode())
    n_in += 5

    write(src, CT_KEY + "empty.json.gz", b"")
    write(src, CT_KEY + "no_records.json", b'{"Foo": []}')
    write(src, CT_KEY + "not_gzip.json.gz", b"this is not gzip and not a log")
    return src, n_in


def test_every_event_is_parsed_or_quarantined(
    mixed_input: tuple[Path, int], tmp_path: Path
) -> None:
    src, n_in = mixed_input
    lake = tmp_path / "lake"
    summary = run(src, lake, tmp_path)
    parsed = summary["events"]["total"]
    quarantined = summary["records_quarantined"]
    assert parsed + quarantined == n_in
    assert summary["exit_code"] == 0
    rejects = {k: v["rejects"] for k, v in summary["rejects"].items()}
    assert rejects == {
        "bad_field_type": 1,
        "bad_record_shape": 1,
        "empty_file": 1,
        "invalid_json": 1,
        "invalid_utf8": 1,
        "line_too_long": 1,
        "no_records": 1,
        "not_gzip": 1,
        "too_few_fields": 1,
    }
    events = read_events(lake)
    assert events.num_rows == parsed == 50 + 9 + 17 + 4
    q = read_quarantine(lake)
    assert q.num_rows == sum(rejects.values())
    # every quarantined record says where it came from and why, with its raw bytes
    by_reason = {r["reason"]: r for r in q.to_pylist()}
    assert by_reason["invalid_utf8"]["origin_index"] == 5
    assert b"caf\xe9" in by_reason["invalid_utf8"]["raw"]
    assert by_reason["too_few_fields"]["origin_index"] == 2
    assert by_reason["bad_record_shape"]["origin_index"] == 3
    assert "userIdentity" in by_reason["bad_record_shape"]["detail"]
    assert by_reason["line_too_long"]["raw"].startswith(b"79a59df9")


def test_wrong_types_are_coerced_or_nulled(mixed_input: tuple[Path, int], tmp_path: Path) -> None:
    src, _ = mixed_input
    lake = tmp_path / "lake"
    run(src, lake, tmp_path)
    events = read_events(lake)
    by_id = {r["event_id"]: r for r in events.to_pylist() if r["event_id"]}
    assert by_id["00000000-0000-0000-0000-000000000107"]["bytes_out"] == 12
    assert by_id["00000000-0000-0000-0000-000000000108"]["bytes_out"] is None
    assert by_id["00000000-0000-0000-0000-000000000104"]["principal_arn"] is None
    assert by_id["00000000-0000-0000-0000-000000000106"]["request_parameters"] is None
    assert by_id["00000000-0000-0000-0000-000000000105"]["event_name"] == "GetObject"
    assert by_id["00000000-0000-0000-0000-000000000109"]["event_name"] == "123"


def test_truncated_gzip_salvages_complete_records(tmp_path: Path) -> None:
    src = tmp_path / "logs"
    data = trail_file([ct_record(i) for i in range(200)])
    write(src, CT_KEY + "cut.json.gz", data[: len(data) * 2 // 3])
    write(src, CT_KEY + "ok.json.gz", trail_file([ct_record(1000)]))
    summary = run(src, tmp_path / "lake", tmp_path)
    assert summary["exit_code"] == 0
    assert "truncated_gzip" in summary["rejects"]
    salvaged = summary["events"]["total"] - 1
    assert 0 < salvaged < 200
    ids = pc.unique(read_events(tmp_path / "lake").column("event_id")).to_pylist()
    assert len(ids) == salvaged + 1  # salvaged records are whole, each once


def test_nothing_processable_exits_non_zero(tmp_path: Path) -> None:
    src = tmp_path / "logs"
    write(src, "junk.bin", b"\x00\x01garbage")
    summary = run(src, tmp_path / "lake", tmp_path)
    assert summary["exit_code"] == 1
    assert summary["rejects"]["unknown_format"]["rejects"] == 1


def test_missing_source_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backfill", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")])
    assert code == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    src = tmp_path / "logs"
    write(src, CT_KEY + "plain.json.gz", trail_file([ct_record(1)], gz=False))
    write(src, CT_KEY + "zipped.json", gzip.compress(trail_file([ct_record(2)], gz=False)))
    summary = run(src, tmp_path / "lake", tmp_path)
    assert summary["events"]["total"] == 2
    assert summary["rejects"] == {}


def test_a_parser_bug_costs_one_file_not_the_batch() -> None:
    from detector.blob import Blob, ObjectRef
    from detector.logtypes import _parse_guarded
    from detector.logtypes.base import Content, LogType, ParseResult

    class Fragile(LogType):
        name = "fragile"
        source = "test"

        def parse(self, contents: list[Content]) -> ParseResult:  # type: ignore[override]
            if any(b"boom" in c.data for c in contents):
                raise RuntimeError("parser bug")
            return ParseResult(skipped={"ok": len(contents)})

    contents = [
        Content(Blob(ObjectRef(f"/x/{i}", str(i), 4), d), d)
        for i, d in enumerate([b"fine", b"boom", b"good"])
    ]
    result = _parse_guarded(Fragile(), contents)
    assert result.skipped == {"ok": 2}
    (reject,) = result.rejects
    assert (reject.origin_object, reject.reason) == ("/x/1", "parser_error")
    assert "parser bug" in reject.detail
