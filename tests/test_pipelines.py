"""Pipeline files: the bundled definitions load, and bad ones fail with the file and field."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO

from detector.cli import main
from detector.detections import load_all
from detector.errors import UsageError
from detector.pipeline import load_pipeline
from detector.sinks import Route

PIPELINES = sorted((REPO / "pipelines").glob("*.toml"))


def test_the_three_ways_to_run_are_bundled() -> None:
    kinds = {load_pipeline(p).kind for p in PIPELINES}
    assert kinds == {"backfill", "sqs", "kinesis"}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_bundled_pipelines_are_valid(path: Path) -> None:
    p = load_pipeline(path)
    assert p.sinks, "every bundled pipeline shows how alerts leave"
    for s in p.sinks:
        route = Route(s.min_severity, tuple(s.include) if s.include else None, tuple(s.exclude))
        route.check(load_all(), path.name)
        if s.kind == "slack":
            assert s.value.startswith(("env:", "file:"))


BASE = """
[source]
kind = "sqs"
queue_url = "https://sqs.us-east-1.amazonaws.com/1/q"
[lake]
path = "/tmp/lake"
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[sinks]]\nkind = "slack"\nvalue = "https://hooks.slack.com/services/T/B/x"\n',
            "must not be in the pipeline file",
        ),
        ("[run]\nmetrics_prot = 9108\n", "metrics_prot"),
        (
            '[detect]\nenabled = false\n[[sinks]]\nkind = "jsonl"\nvalue = "-"\n',
            "sinks need detection",
        ),
    ],
)
def test_bad_pipeline_files_name_the_problem(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE + extra)
    with pytest.raises(UsageError, match=message) as err:
        load_pipeline(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("lake", "message"),
    [
        ('path = "/tmp/lake"\nformat = "orc"\n', "lake format must be one of iceberg, parquet"),
        ('path = "/tmp/lake"\ncatalog = "glue"\n', "a catalog is for s3://"),
        ('path = "s3://b/lake"\nformat = "parquet"\n', "a lake on S3 is an Iceberg lake"),
        ('path = "/tmp/lake"\ncommit_batches = 0\n', "commit_batches must be 1 or more"),
    ],
)
def test_bad_lake_sections(tmp_path: Path, lake: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE.replace('path = "/tmp/lake"\n', lake))
    with pytest.raises(UsageError, match=message):
        load_pipeline(path)


def test_a_lake_on_s3_with_its_catalog(tmp_path: Path) -> None:
    from detector.icelake.catalog import CatalogChoice

    path = tmp_path / "p.toml"
    lake = 'path = "s3://bucket/security/lake"\ncatalog = "glue"\ncommit_batches = 8\n'
    path.write_text(BASE.replace('path = "/tmp/lake"\n', lake))
    p = load_pipeline(path)
    assert p.lake == "s3://bucket/security/lake"  # not folded into a Path ("s3:/bucket…")
    assert p.catalog_choice == CatalogChoice("glue", None)
    assert p.commit_batches == 8


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('kind = "backfill"\npaths = ["/logs"]\nengine = "spark"\n', "engine must be one of"),
        (
            'kind = "sqs"\nqueue_url = "https://q"\nconsumers = 2\n',
            "consumers is for a tail on the ray engine",
        ),
        (
            'kind = "backfill"\npaths = ["/logs"]\nengine = "ray"\nconsumers = 2\n',
            "consumers is for a tail on the ray engine",
        ),
        (
            'kind = "sqs"\nqueue_url = "https://q"\nengine = "ray"\nconsumers = 0\n',
            "consumers, batch_mb",
        ),
        ('kind = "backfill"\npaths = ["/logs"]\nray_address = "auto"\n', "needs the ray engine"),
        (
            'kind = "backfill"\npaths = ["/logs"]\npartitions = 4\n',
            "partitions is for detection on the ray engine",
        ),
        (
            'kind = "backfill"\npaths = ["/logs"]\nengine = "ray"\npartitions = -1\n',
            "partitions must be 0",
        ),
        (
            'kind = "backfill"\npaths = ["/logs"]\nengine = "ray"\nray_address = "auto"\n'
            "workers = 4\n",
            "a joined cluster uses all its CPUs",
        ),
    ],
)
def test_bad_engine_settings(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[source]\n{source}[lake]\npath = "/tmp/lake"\n')
    with pytest.raises(UsageError, match=message):
        load_pipeline(path)


def test_a_backfill_on_a_ray_cluster(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    source = 'kind = "backfill"\npaths = ["s3://logs/"]\nengine = "ray"\nray_address = "auto"\n'
    path.write_text(f'[source]\n{source}partitions = 8\n[lake]\npath = "s3://lake/x"\n')
    p = load_pipeline(path)
    assert p.partitions == 8
    assert (p.engine, p.ray_address) == ("ray", "auto")


def test_wrong_source_kind_and_missing_queue(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE.replace('"sqs"', '"ftp"'))
    with pytest.raises(UsageError, match="'ftp' is not one of backfill, sqs, kinesis"):
        load_pipeline(path)
    path.write_text(BASE.replace('queue_url = "https://sqs.us-east-1.amazonaws.com/1/q"\n', ""))
    with pytest.raises(UsageError, match="needs queue_url"):
        load_pipeline(path)


def test_run_reports_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[source\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("detector: error:") and "not valid TOML" in err
    assert len(err.splitlines()) == 1


def test_backfill_pipeline_runs_on_local_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = REPO / "sample_logs"
    path = tmp_path / "p.toml"
    out = tmp_path / "alerts.jsonl"
    path.write_text(f"""
[source]
kind = "backfill"
paths = ["{sample / "AWSLogs"}", "{sample / "s3-access-logs"}"]
[lake]
path = "{tmp_path / "lake"}"
[detect]
config = "{sample / "demo.toml"}"
[[sinks]]
kind = "jsonl"
value = "{out}"
min_severity = "high"
""")
    assert main(["run", str(path), "--no-progress"]) == 0
    import json

    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert alerts and {a["severity"] for a in alerts} <= {"high", "critical"}
    assert all(a["hunt"].startswith("detector hunt alert-evidence") for a in alerts)

    # Each alert's hunt command, run as given, lists its evidence events.
    import shlex

    capsys.readouterr()
    for alert in alerts:
        argv = shlex.split(alert["hunt"])
        assert argv[:2] == ["detector", "hunt"]
        assert main([*argv[1:], "--format", "json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        found = {r.get("event_id") for r in rows} | {r.get("request_id") for r in rows}
        assert set(alert["evidence_event_ids"]) <= found, alert["detection"]


def test_the_ray_engine_without_ray_is_a_usage_error_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    lake = tmp_path / "lake"
    code = main(["backfill", str(REPO / "sample_logs"), "--lake", str(lake), "--engine", "ray"])
    assert code == 2
    assert "pip install 's3-anomaly-detector[ray]'" in capsys.readouterr().err
    assert not lake.exists()
