"""The state checkpoint (docs/state.md): exact round trips, refusals, no code from the file.

Also checks that ``detector.scoring.ewstats`` computes what river's ``stats.EWMean``,
``stats.EWVar`` and ``stats.Quantile`` compute, on the same streams.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal
from river import stats

from detector.cli import main
from detector.config import Settings, load_settings
from detector.engine import Engine
from detector.errors import UsageError
from detector.features.windows import empty_partials, partials_schema
from detector.lake import read_events
from detector.scoring import ewstats
from detector.scoring.model import ModelSpec, Scorer, load_model_spec
from detector.scoring.state import MAGIC, STATE_VERSION, DetectorState, load, save

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_logs"
SPEC = load_model_spec("default")


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, Settings]:
    """The sample logs backfilled: the lake (with its state checkpoint) and its events."""
    lake = tmp_path_factory.mktemp("state") / "lake"
    code = main(
        [
            "backfill",
            str(SAMPLE / "AWSLogs"),
            str(SAMPLE / "s3-access-logs"),
            "--lake",
            str(lake),
            "--config",
            str(SAMPLE / "demo.toml"),
            "--no-progress",
        ]
    )
    assert code == 0
    events = read_events(lake)
    return (
        lake,
        events.take(pa.compute.sort_indices(events, [("event_time", "ascending")])),
        load_settings(SAMPLE / "demo.toml"),
    )


def body(path: Path) -> bytes:
    return path.read_bytes().partition(b"\n")[2]


def write_checkpoint(path: Path, version: int, payload: bytes) -> None:
    digest = hashlib.sha256(payload).hexdigest().encode()
    path.write_bytes(MAGIC + b" %d " % version + digest + b"\n" + payload)


def compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit a checkpoint's JSON and give it a valid checksum: only the content is wrong."""
    doc = json.loads(body(path))
    change(doc)
    write_checkpoint(path, STATE_VERSION, compact(doc))


def refused(path: Path, model: ModelSpec | str = "default") -> str:
    with pytest.raises(UsageError) as exc:
        load(path, model)
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert path.exists(), "a refused checkpoint is never replaced"
    return message


# Round trips ------------------------------------------------------------------------------


def test_backfill_checkpoint_loads_and_saves_the_same_bytes(backfill, tmp_path: Path) -> None:
    lake, _, _ = backfill
    original = lake / "state" / "detector.state"
    assert original.read_bytes().startswith(b"S3DETECTOR-STATE 4 ")
    state = load(original, SPEC)
    assert state is not None and state.profiles and state.alerts_seen and state.sequences
    assert state.streams is not None and state.streams.streams
    again = tmp_path / "again.state"
    save(state, again)
    assert again.read_bytes() == original.read_bytes()
    by_name = load(original, "default")
    assert by_name is not None and by_name.profiles == state.profiles


def test_restored_engine_continues_exactly(backfill, tmp_path: Path) -> None:
    """Open windows, baselines, profiles, phases, streams: a restored engine raises the same
    alerts on the same further events, and ends in the same state, byte for byte."""
    _, events, settings = backfill
    half = events.num_rows // 2
    first, later = events.slice(0, half), events.slice(half)
    engine = Engine(settings, SPEC)
    for part in (first.slice(0, half // 2), first.slice(half // 2)):
        engine.process(part)
    state = engine.state
    assert state.windows is not None and state.windows.open.height
    path = tmp_path / "detector.state"
    save(state, path)
    restored = load(path, SPEC)
    assert restored is not None
    resaved = tmp_path / "resaved.state"
    save(restored, resaved)
    assert resaved.read_bytes() == path.read_bytes()
    assert restored.profiles == state.profiles
    assert restored.alerts_seen == state.alerts_seen
    assert restored.sequences == state.sequences and restored.streams == state.streams
    assert restored.through_batch == state.through_batch
    for a, b in (
        (restored.windows, state.windows),
        (restored.bucket_windows, state.bucket_windows),
    ):
        assert a is not None and b is not None
        assert_frame_equal(a.open, b.open)
        assert (a.minutes, a.lateness, a.distinct, a.newest) == (
            b.minutes,
            b.lateness,
            b.distinct,
            b.newest,
        )

    twin = Engine(settings, SPEC, restored)
    runs = []
    for e in (engine, twin):
        alerts = e.process(later) + e.flush()
        runs.append([json.loads(a.to_json()) for a in alerts])
    assert runs[0] == runs[1] and runs[0]
    save(engine.state, path)
    save(twin.state, resaved)
    assert resaved.read_bytes() == path.read_bytes()


def test_empty_and_partial_states_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state" / "detector.state"
    save(DetectorState(model_name="default", through_batch="b7"), path)
    loaded = load(path, "default")
    assert loaded == DetectorState(model_name="default", through_batch="b7")
    scorer = Scorer(SPEC)
    rng = random.Random(5)
    for _ in range(150):
        scorer.score("role/a", "acct|AssumedRole", {f: rng.randint(0, 500) for f in SPEC.features})
    save(DetectorState(model_name="default", scorer=scorer), path)
    restored = load(path, SPEC)
    assert restored is not None and restored.scorer is not None
    assert restored.scorer.to_state() == scorer.to_state()
    assert restored.scorer.threshold == scorer.threshold
    assert not list(path.parent.glob("*.tmp")), "written by rename"


# Refusals ---------------------------------------------------------------------------------


class _Marker:
    """Unpickling this creates the file ``path``: what a crafted checkpoint could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_old_pickle_checkpoint_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Marker(proof))).close()
    assert proof.exists(), "the payload does run code when unpickled"

    marker = tmp_path / "pwned"
    path = tmp_path / "detector.state"
    write_checkpoint(path, 2, pickle.dumps(_Marker(marker)))

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader unpickled the checkpoint")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, boom)
    message = refused(path)
    assert not marker.exists()
    for words in (
        "version-2",
        "pickle",
        "can run code",
        "Move the file away",
        "re-baseline",
        "starts a new state",
        "lake",
        "kept",
    ):
        assert words in message


def valid_checkpoint(path: Path) -> None:
    """A small but complete checkpoint: a profile, baselines, a window table."""
    scorer = Scorer(SPEC)
    rng = random.Random(3)
    for _ in range(40):
        scorer.score("role/a", "acct|AssumedRole", {f: rng.randint(0, 90) for f in SPEC.features})
    engine = Engine(Settings(), SPEC, DetectorState(model_name="default", scorer=scorer))
    save(engine.state, path)
    doc = json.loads(body(path))
    doc["profiles"]["role/a"] = {
        "first_seen": "2026-11-01T00:00:00Z",
        "last_seen": "2026-11-01T00:05:00Z",
        "windows": 1,
        "seen": {k: {} for k in ("buckets", "ip_prefixes", "agents", "vpces", "operations")},
        "hours": [0] * 24,
        "weekdays": [0] * 7,
        "vpce_share": 0.5,
        "public_share": 0.0,
    }
    write_checkpoint(path, STATE_VERSION, compact(doc))
    assert load(path, SPEC) is not None


def ipc(frame: pl.DataFrame) -> str:
    import base64

    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for k in keys[:-1]:
            doc = doc[k]
        doc[keys[-1]] = value

    return change


def _first_baseline(doc: dict[str, Any]) -> dict[str, Any]:
    return next(iter(doc["scorer"]["principals"].values()))


CONTENT = [
    (
        _set("profiles", "role/a", "hours", 3, value="x"),
        r"Expected `int`, got `str` - at `\$\.profiles\[\.\.\.\]\.hours\[3\]`",
    ),
    (_set("profiles", "role/a", "hours", 0, value=-1), r"`int` >= 0 - at `\$\.profiles"),
    (_set("profiles", "role/a", "weekdays", value=[0] * 6), r"length >= 7 - at .*weekdays"),
    (_set("profiles", "role/a", "last_seen", value="2026-11-01T00:05:00"), r"timezone"),
    (
        _set("profiles", "role/a", "seen", value={"buckets": {}}),
        r"kinds .* - at `\$\.profiles\['role/a'\]\.seen`",
    ),
    (_set("scorer", "scored", value=-5), r"`\$\.scorer\.scored`"),
    (_set("scorer", "quantile", "heights", value=[1.0, 2.0]), r"\$\.scorer\.quantile\.heights"),
    (
        _set("scorer", "quantile", "positions", value=[1.0, 2.0, 2.0, 4.0, 5.0]),
        r"not strictly ascending ranks from 1 - at `\$\.scorer\.quantile\.positions`",
    ),
    (
        _set("sequences", value={"bucket:b": {"seen": {"exfil": ["2026-11-01T00:00:00Z", 7]}}}),
        r"Expected `str`, got `int` - at `\$\.sequences\[\.\.\.\]\.seen\[\.\.\.\]\[1\]`",
    ),
    (
        lambda d: _first_baseline(d)["mean"].update(n_read="1"),
        r"Expected `float`, got `str` - at `\$\.scorer\.principals\[\.\.\.\]\.mean\[\.\.\.\]`",
    ),
    (
        lambda d: _first_baseline(d)["peak"].pop("n_read"),
        r"features .* - at `\$\.scorer\.principals\['role/a'\]\.peak`",
    ),
    (_set("windows", "open", value="not base64!"), r"base64.*\$\.windows\.open"),
    (
        _set("windows", "open", value=ipc(pl.DataFrame({"principal": ["x"]}))),
        r"missing window_start, .* - at `\$\.windows\.open`",
    ),
    (
        _set(
            "windows",
            "open",
            value=ipc(empty_partials().with_columns(pl.col("n_read").cast(pl.String))),
        ),
        r"n_read is String, not Int64\) - at `\$\.windows\.open`",
    ),
    (
        _set(
            "windows",
            "open",
            value=ipc(
                pl.DataFrame({c: [None] for c in partials_schema()}, schema=partials_schema())
            ),
        ),
        r"null principal or window_start - at `\$\.windows\.open`",
    ),
    (
        _set("windows", "distinct", value={"keys": "key", "secrets": "password"}),
        r"unknown feature .secrets.: .password. - at `\$\.windows\.distinct`",
    ),
    (_set("through_batch", value=7), r"Expected `str \| null`, got `int` - at `\$\.through"),
    (_set("extra", value=1), r"unknown field `extra`"),
    (_set("streams", value=[]), r"Expected `object \| null`, got `array` - at `\$\.streams`"),
]


@pytest.mark.parametrize(("change", "message"), CONTENT)
def test_content_that_breaks_the_schema_is_refused(tmp_path: Path, change, message: str) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    rewrite(path, change)
    text = refused(path, SPEC)
    assert "state checkpoint is damaged" in text
    assert re.search(message, text), text


def test_infinite_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    text = body(path).replace(b'"vpce_share":0.5', b'"vpce_share":1e999')
    write_checkpoint(path, STATE_VERSION, text)
    assert re.search(r"out of range - at `\$\.profiles\[\.\.\.\]\.vpce_share`", refused(path))


FILE = [
    (lambda b: b"garbage", r"not a detector state checkpoint \(bad header\)"),
    (lambda b: b"S3DETECTOR-STATE 4 ", "bad header"),
    (lambda b: b.replace(b"S3DETECTOR-STATE 4 ", b"S3DETECTOR-STATE x3 ", 1), "bad header"),
    (
        lambda b: b.replace(b"S3DETECTOR-STATE 4 ", b"S3DETECTOR-STATE 5 ", 1),
        "state version 5 but this detector reads version 4",
    ),
    (lambda b: b[: len(b) // 2], r"damaged \(checksum mismatch\)"),
    (lambda b: b[:-10] + b"0123456789", r"damaged \(checksum mismatch\)"),
    (lambda b: b.replace(b'"model":"default"', b'"model":"defaulx"', 1), "checksum mismatch"),
]


@pytest.mark.parametrize(("damage", "message"), FILE)
def test_bad_files_are_refused(tmp_path: Path, damage, message: str) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    path.write_bytes(damage(path.read_bytes()))
    assert re.search(message, refused(path))


def test_truncated_json_with_matching_checksum_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    write_checkpoint(path, STATE_VERSION, body(path)[:-40])
    assert "truncated" in refused(path)


def test_other_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    rewrite(path, _set("model", value="other"))
    assert "made with model 'other', not 'default'; use --model other" in refused(path)


def test_other_feature_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    fewer = replace(SPEC, floors={f: v for f, v in SPEC.floors.items() if f != "n_recon"})
    message = refused(path, fewer)
    assert "baselines score features n_read, bytes_out" in message
    assert "n_recon" in message and "re-baseline" in message


def test_no_code_loading_modules_in_the_package() -> None:
    banned = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|marshal|shelve|dill|cloudpickle)"
        r"\b|\b(pickle|marshal|shelve)\.|(?<![\w.])(eval|exec)\(",
        re.M,
    )
    hits = [
        f"{p.relative_to(REPO)}: {m.group(0).strip()}"
        for p in sorted((REPO / "detector").rglob("*.py"))
        for m in banned.finditer(p.read_text(encoding="utf-8"))
    ]
    assert hits == []


# ewstats against river --------------------------------------------------------------------


def streams() -> Iterator[tuple[str, list[float]]]:
    rng = random.Random(42)
    yield "gauss", [rng.gauss(0, 1) for _ in range(3000)]
    yield "first values", [5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    yield "constant", [3.0] * 100
    yield "negative", [-rng.expovariate(0.1) for _ in range(1000)]
    yield "large", [rng.uniform(-1e12, 1e12) for _ in range(1000)]
    yield "ties and zeros", [rng.choice([0.0, -0.0, 1.0, 2.0]) for _ in range(1000)]
    yield "heavy tail", [rng.lognormvariate(0, 3) for _ in range(3000)]
    yield "ascending", [float(i) for i in range(1000)]
    yield "descending", [float(-i) for i in range(1000)]
    yield "z-scores", [rng.gauss(0, 1) * rng.choice([1, 1, 1, 8]) for _ in range(5000)]


STREAMS = dict(streams())


def agree(ours: float | None, river: float | None) -> bool:
    if ours is None or river is None:
        return ours is river
    return math.isclose(ours, river, rel_tol=1e-9, abs_tol=1e-300)


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("fading_factor", [0.02, 0.3, 0.5, 1.0])
def test_ew_mean_and_variance_match_river(name: str, fading_factor: float) -> None:
    mine_m, mine_v = ewstats.EWMean(fading_factor), ewstats.EWVar(fading_factor)
    river_m, river_v = stats.EWMean(fading_factor), stats.EWVar(fading_factor)
    for i, x in enumerate(STREAMS[name]):
        for mine, theirs in ((mine_m, river_m), (mine_v, river_v)):
            mine.update(x)
            theirs.update(x)
            assert agree(mine.get(), theirs.get()), (i, type(mine).__name__)


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("q", [0.01, 0.25, 0.5, 0.9, 0.99, SPEC.score_quantile])
def test_quantile_matches_river(name: str, q: float) -> None:
    mine, theirs = ewstats.Quantile(q), stats.Quantile(q)
    assert mine.get() is None and theirs.get() is None
    for i, x in enumerate(STREAMS[name]):
        mine.update(x)
        theirs.update(x)
        assert agree(mine.get(), theirs.get()), i


def test_quantile_state_round_trip_continues_identically() -> None:
    rng = random.Random(1)
    q = ewstats.Quantile(0.9)
    for _ in range(50):
        q.update(rng.gauss(0, 1))
    twin = ewstats.Quantile.from_state(q.to_state(), 0.9)
    for _ in range(500):
        x = rng.gauss(0, 1)
        q.update(x)
        twin.update(x)
        assert twin.get() == q.get()


def test_a_version_3_checkpoint_is_carried_on(tmp_path: Path) -> None:
    """Version 4 only added fields with defaults (learning start, incidents, habits)."""
    path = tmp_path / "detector.state"
    valid_checkpoint(path)
    write_checkpoint(path, 3, body(path))
    state = load(path, SPEC)
    assert state is not None and state.incidents == {}
    # The learning period of an upgraded deployment counts from its oldest profile.
    assert state.started == state.profiles["role/a"].first_seen
    assert state.profiles["role/a"].since == {k: {} for k in state.profiles["role/a"].seen}
