"""Backfill from S3 through boto3 against a real S3-speaking server (moto in server mode)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import ACCESS_KEY, CT_KEY, MotoServer, access_line, ct_record, s3, trail_file

from detector.cli import main
from detector.ingest import process_batch
from detector.lake import Lake, read_events, read_quarantine
from detector.lakes import LakeAddress
from detector.sources.s3 import S3Source


def put_logs(client: object, bucket: str, n_files: int = 3) -> int:
    """Upload CloudTrail files for two days and one access log; returns events uploaded."""
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    n = 0
    for day in ("01", "02"):
        for f in range(n_files):
            recs = [ct_record(int(day) * 1000 + f * 100 + i) for i in range(10)]
            key = f"{CT_KEY.replace('/02/', f'/{day}/')}f{f}.json.gz"
            client.put_object(Bucket=bucket, Key=key, Body=trail_file(recs))  # type: ignore[attr-defined]
            n += 10
    body = "\n".join(access_line(i) for i in range(7)).encode()
    client.put_object(
        Bucket=bucket,
        Key=ACCESS_KEY + "2026-11-02-10-00-00-0123456789ABCDEF",  # type: ignore[attr-defined]
        Body=body,
    )
    return n + 7


def backfill(args: list[str], tmp_path: Path) -> dict:
    summary = tmp_path / "summary.json"
    code = main(["backfill", *args, "--summary", str(summary), "--no-progress"])
    out = json.loads(summary.read_text())
    assert code == out["exit_code"]
    return out


def test_backfill_from_s3_prefix_is_idempotent(aws: str, tmp_path: Path) -> None:
    n = put_logs(s3(), "logs")
    lake = tmp_path / "lake"
    first = backfill(["s3://logs/", "--lake", str(lake)], tmp_path)
    assert first["events"]["total"] == n
    assert first["objects"]["read"] == 7
    assert first["events"]["by_source"] == {"cloudtrail": 60, "s3_access": 7}
    again = backfill(["s3://logs/", "--lake", str(lake)], tmp_path)
    assert again["objects"]["already_ingested"] == 7
    assert again["events"]["total"] == 0
    assert again["exit_code"] == 0
    assert read_events(lake).num_rows == n
    uris = set(read_events(lake).column("origin_object").to_pylist())
    assert all(u.startswith("s3://logs/") for u in uris)


def test_since_until_prune_by_key_date(aws: str, tmp_path: Path) -> None:
    put_logs(s3(), "logs")
    out = backfill(
        [
            "s3://logs/AWSLogs/",
            "--lake",
            str(tmp_path / "lake"),
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-02",
        ],
        tmp_path,
    )
    assert out["objects"]["out_of_range"] == 3
    assert out["events"]["total"] == 30


def test_prefix_lists_across_pages(aws: str, tmp_path: Path) -> None:
    client = s3()
    client.create_bucket(Bucket="many")
    for i in range(1005):  # more than one ListObjectsV2 page of 1000
        client.put_object(
            Bucket="many", Key=f"{CT_KEY}f{i:04d}.json", Body=trail_file([ct_record(i)], gz=False)
        )
    out = backfill(
        ["s3://many/AWSLogs", "--lake", str(tmp_path / "lake"), "--workers", "2"], tmp_path
    )
    assert out["objects"]["read"] == 1005
    assert out["events"]["total"] == 1005


def test_object_deleted_between_listing_and_reading(aws: str, tmp_path: Path) -> None:
    client = s3()
    put_logs(client, "logs", n_files=1)
    source = S3Source("s3://logs/")
    refs = list(source.list())
    gone = refs[0]
    client.delete_object(Bucket="logs", Key=gone.key)
    lake = Lake(tmp_path / "lake")
    files, stats = process_batch("s3://logs/", refs, LakeAddress(str(tmp_path / "lake"), "parquet"))
    lake.commit(files)
    assert stats.objects_failed == 1
    assert stats.rejects == {"object_missing": 1}
    q = read_quarantine(tmp_path / "lake").to_pylist()
    assert q[0]["origin_object"] == gone.uri and q[0]["reason"] == "object_missing"
    assert read_events(tmp_path / "lake").num_rows == 10 + 7
    seen, _ = lake.committed()
    assert gone.identity not in seen  # a later run retries it


def test_bucket_that_does_not_exist(aws: str, tmp_path: Path) -> None:
    out = backfill(["s3://no-such-bucket/x", "--lake", str(tmp_path / "lake")], tmp_path)
    assert out["exit_code"] == 1
    assert "no-such-bucket" in out["source_errors"][0]


@pytest.fixture
def iam_enforcing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A second moto server, whose IAM enforcement the test turns on after its setup."""
    server = MotoServer()
    yield server
    server.stop()


def test_access_denied_objects_are_quarantined(
    iam_enforcing_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = iam_enforcing_server.url
    admin = {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "admin",
        "aws_secret_access_key": "admin",
    }
    s3a = boto3.client("s3", **admin)
    iam = boto3.client("iam", **admin)
    s3a.create_bucket(Bucket="locked")
    s3a.put_object(
        Bucket="locked", Key=CT_KEY + "open.json", Body=trail_file([ct_record(1)], gz=False)
    )
    s3a.put_object(
        Bucket="locked", Key=CT_KEY + "secret/x.json", Body=trail_file([ct_record(2)], gz=False)
    )
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        # s3:List*: moto 5.2.6 checks listing as s3:ListObjectsV2 (the
                        # operation's name), earlier versions and AWS as s3:ListBucket.
                        "Action": ["s3:List*", "s3:GetObject"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Deny",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::locked/*/secret/*",
                    },
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    iam_enforcing_server.enforce_iam()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = backfill(["s3://locked/", "--lake", str(tmp_path / "lake")], tmp_path)
    assert out["rejects"]["access_denied"]["rejects"] == 1
    assert out["events"]["total"] == 1
    assert out["exit_code"] == 0
