"""Baselines, state checkpoints and settings: determinism, anomalies, restore, bad input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.config import load_settings
from detector.detections import active
from detector.errors import UsageError
from detector.scoring.model import Scorer, load_model_spec
from detector.scoring.state import DetectorState, load, save

SPEC = load_model_spec("default")


def normal_window(rng: random.Random) -> dict[str, float]:
    return {
        "n_read": rng.randint(80, 120),
        "bytes_out": rng.randint(8, 12) * 10**6,
        "n_keys": rng.randint(60, 90),
        "n_prefixes": 3,
        "n_buckets": 1,
        "n_write": 5,
        "n_delete": 0,
        "n_denied": 0,
        "n_recon": 0,
        "n_presigned": 0,
    }


def trained(seed: int = 7, windows: int = 200) -> Scorer:
    rng = random.Random(seed)
    scorer = Scorer(SPEC)
    for _ in range(windows):
        assert scorer.score("role/app", "acct|AssumedRole", normal_window(rng)) == []
    return scorer


def test_anomalous_window_deviates_normal_does_not() -> None:
    scorer = trained()
    spike = {**normal_window(random.Random(1)), "n_read": 3000, "bytes_out": 3 * 10**9}
    devs = {d.feature: d for d in scorer.score("role/app", "acct|AssumedRole", spike)}
    assert set(devs) == {"n_read", "bytes_out"}
    assert devs["bytes_out"].z > scorer.threshold
    assert devs["bytes_out"].baseline_typical < 20 * 10**6
    assert scorer.score("role/app", "acct|AssumedRole", normal_window(random.Random(2))) == []


def test_flagged_windows_are_not_learned() -> None:
    scorer = trained()
    before = scorer.principals["role/app"].n
    spike = {**normal_window(random.Random(1)), "n_read": 5000}
    assert scorer.score("role/app", "acct|AssumedRole", spike)
    assert scorer.principals["role/app"].n == before
    assert scorer.score("role/app", "acct|AssumedRole", spike), "still anomalous next time"


def test_small_numbers_never_alert() -> None:
    scorer = trained()
    tiny = {**normal_window(random.Random(1)), "n_delete": 40}  # far above 0, below floor
    assert scorer.score("role/app", "acct|AssumedRole", tiny) == []


def test_new_principal_is_judged_by_its_peers() -> None:
    scorer = trained()
    assert scorer.score("role/new", "acct|AssumedRole", normal_window(random.Random(3))) == []
    spike = {**normal_window(random.Random(3)), "n_read": 4000}
    assert [d.feature for d in scorer.score("role/other", "acct|AssumedRole", spike)] == ["n_read"]
    assert all(d.peer for d in scorer.score("role/other", "acct|AssumedRole", spike))


def test_seeded_runs_are_identical() -> None:
    a, b = trained(seed=11), trained(seed=11)
    x = {**normal_window(random.Random(5)), "n_read": 900}
    assert [(d.feature, d.z) for d in a.score("role/app", "p", x)] == [
        (d.feature, d.z) for d in b.score("role/app", "p", x)
    ]


def test_state_save_restore_gives_same_scores(tmp_path: Path) -> None:
    state = DetectorState(model_name="default", scorer=trained())
    path = tmp_path / "state" / "detector.state"
    save(state, path)
    restored = load(path, "default")
    assert restored is not None and restored.scorer is not None
    x = {**normal_window(random.Random(9)), "n_read": 2500, "bytes_out": 10**9}
    original = [(d.feature, round(d.z, 9)) for d in state.scorer.score("role/app", "p", x)]  # type: ignore[union-attr]
    again = [(d.feature, round(d.z, 9)) for d in restored.scorer.score("role/app", "p", x)]
    assert original == again and original


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"garbage", "bad header"),
        (lambda b: b.replace(b"S3DETECTOR-STATE 4 ", b"S3DETECTOR-STATE 99 ", 1), "version 99"),
        (lambda b: b[:-10] + b"0123456789", "damaged"),
    ],
)
def test_bad_checkpoints_fail_loudly(tmp_path: Path, damage, message: str) -> None:
    path = tmp_path / "detector.state"
    save(DetectorState(model_name="default", scorer=trained(windows=5)), path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UsageError, match=message):
        load(path, "default")
    assert path.exists(), "a damaged checkpoint is never replaced silently"


def test_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "detector.state"
    save(DetectorState(model_name="other"), path)
    with pytest.raises(UsageError, match="model 'other'"):
        load(path, "default")


def write(tmp_path: Path, text: str, name: str = "detector.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[org]\naccounts = [1234]\n", r"\$\.org\.accounts\[0\]"),
        ("[org]\naccounts = ['12345']\n", "org.accounts"),
        ("[org]\nnope = 1\n", "nope"),
        ("[threat_intel]\nip_files = ['missing.txt']\n", "missing.txt not found"),
        ("[windows]\nminutes = 0\n", "windows.minutes"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_settings_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError, match=message) as exc:
        load_settings(path)
    assert str(path) in str(exc.value)


def test_bad_threat_intel_line_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "# tor exits\n198.51.100.7\nnot-an-ip\n", "ti.txt")
    path = write(tmp_path, "[threat_intel]\nip_files = ['ti.txt']\n")
    with pytest.raises(UsageError, match=r"ti\.txt:3: 'not-an-ip'"):
        load_settings(path)


def test_settings_resolve_lists_relative_to_the_file(tmp_path: Path) -> None:
    write(tmp_path, "198.51.100.0/24  # bad range\n", "ti.txt")
    write(tmp_path, "secrets/decoy-\n", "decoys.txt")
    s = load_settings(
        write(
            tmp_path,
            "[org]\naccounts = ['111122223333']\n"
            "[buckets]\ndecoys_file = 'decoys.txt'\n"
            "[threat_intel]\nip_files = ['ti.txt']\n",
        )
    )
    assert s.our_accounts == {"111122223333"}
    assert s.decoys == ("secrets/decoy-",)
    assert str(s.threat_networks[0]) == "198.51.100.0/24"


def test_unknown_disabled_detection_is_an_error(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "[detections]\ndisabled = ['no_such_rule']\n"))
    with pytest.raises(UsageError, match="no_such_rule"):
        active(s)


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(UsageError, match="known: default"):
        load_model_spec("nope")


def test_window_start_is_utc_aligned() -> None:
    from detector.alerts import window_start

    t = datetime(2026, 11, 5, 10, 47, 13, tzinfo=UTC)
    assert window_start(t, timedelta(hours=1)) == datetime(2026, 11, 5, 10, tzinfo=UTC)
