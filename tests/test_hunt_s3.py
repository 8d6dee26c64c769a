"""``detector hunt --lake s3://…``: the same lake on the S3 test server (moto in server mode),
read by DuckDB's httpfs extension from the installed wheel, credentials from the AWS chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import s3
from hunt_world import ALERT_ID, ETL, build_lake, request_id

from detector.cli import main


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("hunt-s3"))


def upload(lake: Path, bucket: str, prefix: str) -> None:
    client = s3()
    client.create_bucket(Bucket=bucket)
    for path in lake.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(lake)}")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["hunt", *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_s3_lake_answers_like_the_local_one(
    aws: str, local_lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(local_lake, "sec-lake", "lakes/prod")
    remote = "s3://sec-lake/lakes/prod/"
    for name, params in (
        ("deletes-per-hour", []),
        ("principal-timeline", ["--param", f"principal={ETL}"]),
        ("alert-evidence", ["--param", f"alert_id={ALERT_ID}"]),
        ("outside-requests", []),
    ):
        local = run_json(capsys, name, "--lake", str(local_lake), *params)
        got = run_json(capsys, name, "--lake", remote, *params)
        assert got == local and got, name
    evidence = run_json(
        capsys, "alert-evidence", "--lake", remote, "--param", f"alert_id={ALERT_ID}"
    )
    assert [r["request_id"] for r in evidence] == [request_id(27), request_id(27), request_id(52)]
    counts = run_json(
        capsys,
        "--lake",
        remote,
        "SELECT source, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL",
    )
    assert counts == [{"source": "cloudtrail", "n": 37}, {"source": "s3_access", "n": 7}]


def test_s3_lake_is_read_only(
    aws: str, local_lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(local_lake, "ro-lake", "l")
    keys = {o["Key"] for o in s3().list_objects_v2(Bucket="ro-lake")["Contents"]}
    for sql in (
        "COPY (SELECT 1) TO 's3://ro-lake/l/events/x.parquet'",
        "SELECT * FROM read_parquet('s3://ro-lake/l/events/**/*.parquet')",
        "SELECT * FROM read_csv('s3://ro-lake/other.csv')",
    ):
        assert main(["hunt", "--lake", "s3://ro-lake/l", sql]) == 2
        err = capsys.readouterr().err
        assert err.startswith("detector: error:") and err.count("\n") == 1, err
    assert {o["Key"] for o in s3().list_objects_v2(Bucket="ro-lake")["Contents"]} == keys


def test_s3_bad_lakes(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--lake", "s3://no-such-bucket/x", "SELECT 1"]) == 1
    err = capsys.readouterr().err
    assert "NoSuchBucket" in err and err.count("\n") == 1
    s3().create_bucket(Bucket="empty")
    assert main(["hunt", "--lake", "s3://empty/lake", "SELECT 1"]) == 1
    assert "empty one" in capsys.readouterr().err
    assert main(["hunt", "--lake", "s3://", "SELECT 1"]) == 2
    assert "not an s3://bucket/prefix" in capsys.readouterr().err
    assert "testing" not in err  # no credential in any message


def test_missing_httpfs_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from detector import duckdb_extensions
    from detector.errors import LakeError
    from detector.hunt import views

    assert views.httpfs_extension().is_file()  # the installed wheel's, never a download

    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(duckdb_extensions.importlib.metadata, "distribution", missing)
    with pytest.raises(LakeError, match="pip install 'duckdb-ext-httpfs=="):
        views.httpfs_extension()
