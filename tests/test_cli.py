"""End to end through the CLI on the bundled sample logs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from detector.cli import SAMPLE_LOGS, main
from detector.lake import read_events


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo")
    summary = root / "summary.json"
    code = main(["demo", "--lake", str(root / "lake"), "--summary", str(summary), "--no-progress"])
    assert code == 0
    return root / "lake", json.loads(summary.read_text())


def test_demo_ingests_every_sample_event(sample_lake: tuple[Path, dict]) -> None:
    _, summary = sample_lake
    manifest = json.loads((SAMPLE_LOGS / "MANIFEST.json").read_text())
    ct = manifest["cloudtrail"]["records"]
    sal = manifest["s3_access_logs"]["lines"]
    assert summary["events"]["by_source"] == {"cloudtrail": ct, "s3_access": sal}
    assert summary["rejects"] == {}
    assert summary["objects"]["skipped"] == {"cloudtrail_digest": 1}


def test_sources_agree_on_joined_requests(sample_lake: tuple[Path, dict]) -> None:
    """Access-log keys, decoded, equal CloudTrail's for the same request."""
    lake, _ = sample_lake
    df = pl.from_arrow(read_events(lake))
    assert isinstance(df, pl.DataFrame)
    cols = ["request_id", "bucket", "key", "event_time"]
    ct = df.filter(pl.col("source") == "cloudtrail").select(cols)
    # A copy logs its source read under the same request id, and a DeleteObjects record
    # has no key while the access log has a line per key: compare the rest.
    sal = df.filter(
        (pl.col("source") == "s3_access")
        & ~pl.col("operation").is_in(["REST.COPY.OBJECT_GET", "BATCH.DELETE.OBJECT"])
    ).select(cols)
    joined = ct.join(sal, on="request_id", suffix="_sal")
    assert (
        joined.get_column("request_id").n_unique()
        == json.loads((SAMPLE_LOGS / "MANIFEST.json").read_text())["requests_in_both_sources"]
    )
    for col in ("bucket", "key", "event_time"):
        differ = joined.filter(pl.col(col).ne_missing(pl.col(f"{col}_sal")))
        assert differ.is_empty(), differ.head(5)
    assert joined.filter(pl.col("key").str.contains(r"[ +()%]")).height > 0


def test_demo_prints_what_it_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "events by source and type" in out
    assert "top principals by bytes out" in out
    assert "joined on request_id" in out


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["backfill", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    assert "--since" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backfill", "x", "--lake", "y", "--since", "yesterday"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err
