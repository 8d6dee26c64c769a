"""The pure pieces of the hardening, one by one: capped inflation, the non-recursive array
splitter, event times, detection isolation, redelivered events, failpoints and stop requests."""

from __future__ import annotations

import gzip
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from conftest import CT_KEY, ct_record, trail_file
from hostile_corpus import deep_json, gzip_bomb
from test_behaviour import SETTINGS, START, reads, table

from detector import failpoints
from detector.blob import Blob, ObjectRef
from detector.dedup import SeenEvents
from detector.detections.base import EventRule, Finding, Reason
from detector.engine import Engine
from detector.interrupts import StopRequest
from detector.lake import BatchFiles, new_batch_id
from detector.lakes import open_lake
from detector.logtypes import parse_blobs
from detector.logtypes._json_split import array_elements
from detector.logtypes._times import parse_event_times
from detector.logtypes.base import inflate
from detector.scoring.model import load_model_spec


# --- inflate ---------------------------------------------------------------------------------
def test_inflate_stops_at_the_cap_and_says_how_big() -> None:
    bomb = gzip_bomb(256 << 20)
    out = inflate(bomb, 1 << 20)
    assert (out.data, out.reason) == (b"", "decompression_bomb")
    assert f"{len(bomb):,} compressed bytes" in out.detail and "1 MiB" in out.detail


def test_inflate_reads_every_member_and_keeps_what_precedes_damage() -> None:
    two = gzip.compress(b"first\n") + gzip.compress(b"second\n")
    assert inflate(two, 100).data == b"first\nsecond\n"
    assert inflate(two + b"\0\0\0", 100).reason is None  # zero padding after the last member
    cut = inflate(two[:-20], 100)
    assert cut.reason == "truncated_gzip" and cut.data.startswith(b"first\n")
    junk = inflate(two + b"not gzip", 100)
    assert junk.reason == "truncated_gzip" and junk.data == b"first\nsecond\n"
    exact = inflate(gzip.compress(b"x" * 100), 100)
    assert (exact.data, exact.reason) == (b"x" * 100, None)


# --- array_elements --------------------------------------------------------------------------
def test_array_elements_cuts_any_depth_and_respects_strings() -> None:
    deep = b"[" + deep_json(5000) + b',{"a":"]}\\"[,"}, 7 ,"x,y"]'
    found = array_elements(deep, 0)
    assert found is not None and found.closed and found.end == len(deep)
    assert [deep[a:z] for a, z in found.spans][1:] == [b'{"a":"]}\\"[,"}', b"7", b'"x,y"']
    assert found.spans[0] == (1, 10001)
    cut = b'{"Records":[{"a":1},{"b":'
    found = array_elements(cut, cut.index(b"["))
    assert found is not None and not found.closed
    assert [cut[a:z] for a, z in found.spans] == [b'{"a":1}', b'{"b":']
    assert array_elements(b'{"a":1}', 0) is None
    missing = b'{"Records":[{"a":{"b":1},{"c":2}]}'  # a "}" missing, the last one balances
    assert array_elements(missing, missing.index(b"[")) is None


# --- event times -----------------------------------------------------------------------------
def test_event_times_outside_the_sane_range_are_no_time() -> None:
    now = datetime.now(UTC)
    texts = pl.Series(
        [
            "2006-03-13T00:00:00Z",
            "2006-03-15T00:00:00Z",
            (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]
    )
    got = parse_event_times(texts).is_null().to_list()
    assert got == [True, False, True, False]


# --- detection isolation ---------------------------------------------------------------------
class RuleForTests(EventRule):
    """Metadata every rule needs; the tests' rules differ only in ``findings``."""

    title = "a test rule"
    severity = "low"
    capabilities = ("C01",)
    attack = ()
    kind = "rule"
    dedup_by = ("principal",)
    dedup_window = timedelta(hours=1)
    runbook = ""


class Exploding(RuleForTests):
    """A rule with a bug: raises on every batch."""

    id = "test_exploding"

    def findings(self, df: pl.DataFrame, settings: object) -> list[Finding]:
        raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'datetime'")


class EveryGet(RuleForTests):
    """A rule that works: one finding per batch."""

    id = "test_every_get"

    def findings(self, df: pl.DataFrame, settings: object) -> list[Finding]:
        first = df.row(0, named=True)
        return [
            Finding(
                detection=self.id,
                key=("x",),
                first_seen=first["event_time"],
                last_seen=first["event_time"],
                principal="p",
                account_id=None,
                evidence_ids=[],
                evidence_total=1,
                reasons=[Reason("f", 1, 0, "t")],
            )
        ]


def test_one_detection_raising_costs_only_itself() -> None:
    engine = Engine(SETTINGS, load_model_spec("default"))
    engine.rules = [Exploding(), EveryGet()]
    alerts = engine.process(table([reads(START, 5)]))
    assert [a.detection for a in alerts] == ["test_every_get"]
    assert engine.stats.errors == {"test_exploding": 1}


class Interrupted(EveryGet):
    """Native code (DuckDB) wraps a second Ctrl-C as its own error caused by it."""

    id = "test_interrupted"

    def findings(self, df: pl.DataFrame, settings: object) -> list[Finding]:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Query interrupted") from exc


def test_a_second_ctrl_c_inside_a_detection_is_not_its_failure() -> None:
    engine = Engine(SETTINGS, load_model_spec("default"))
    engine.rules = [Interrupted(), EveryGet()]
    with pytest.raises(KeyboardInterrupt):
        engine.process(table([reads(START, 5)]))
    assert engine.stats.errors == {}


def test_events_without_a_time_never_reach_detection() -> None:
    """Lakes written before bad_event_time existed hold some; replays must not crash."""
    engine = Engine(SETTINGS, load_model_spec("default"))
    engine.rules = [EveryGet()]
    events = table([reads(START, 3)])
    column = events.schema.get_field_index("event_time")
    times = events.column("event_time").to_pylist()
    events = events.set_column(
        column, "event_time", pa.array([None, *times[1:]], events.schema[column].type)
    )
    assert len(engine.process(events)) == 1
    assert engine.stats.untimed == 1 and engine.stats.errors == {}


# --- redelivered events ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "iceberg"])
def test_seen_events_drops_copies_within_and_across_batches(tmp_path: Path, fmt: str) -> None:
    lake = open_lake(tmp_path, fmt)
    seen = SeenEvents(lake)

    def batch(*ids: int) -> BatchFiles:
        data = trail_file([ct_record(i) for i in ids])
        key = CT_KEY + f"{ids[0]}.json.gz"
        events = parse_blobs([Blob(ObjectRef(key, key, len(data)), data)]).events
        return lake.write_batch(new_batch_id(), [], events, [])

    first = batch(1, 2, 2, 3)
    checked = seen.check(first)
    assert checked.count == 1 and first.events == 3
    lake.commit(first)
    assert lake.publish() == [first.batch]
    seen.confirm(checked)
    second = batch(3, 4)
    assert seen.check(second).count == 1  # 3 is in the lake already
    fresh = SeenEvents(lake)  # a new process reads the day's ids from the lake
    third = batch(1, 5)
    assert fresh.check(third).count == 1


# --- failpoints and stop requests ------------------------------------------------------------
def test_failpoint_ranges_fire_only_inside_them() -> None:
    failpoints.arm("x:2-3=enospc")
    try:
        failpoints.hit("x")
        for _ in range(2):
            with pytest.raises(OSError) as err:
                failpoints.hit("x")
            assert err.value.errno == 28
        failpoints.hit("x")
    finally:
        failpoints.arm("")


def test_stop_request_first_asks_then_abandons() -> None:
    stop = StopRequest()
    stop._handle(signal.SIGINT, None)
    assert stop.is_set() and stop.exit_code == 130
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)


def test_hashes_are_stable_within_a_version() -> None:
    from detector.dedup import _hashes

    ids = pa.array(["a", "b", None])
    assert np.array_equal(_hashes(ids), _hashes(pa.chunked_array([ids])))
    assert json.dumps([int(x) for x in _hashes(pa.array(["a"]))])
