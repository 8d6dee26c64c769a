"""Discovery: what the logs say about the estate, learned without configuration, and
``detector discover``. Configuration overrides discovery."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import CT_KEY, trail_file

from detector.blob import Blob, ObjectRef
from detector.cli import main
from detector.config import Settings
from detector.detections._examples import FOREIGN, OUR_ACCOUNT, data_event, record
from detector.discovery import Discovered, discover
from detector.logtypes import parse_blobs

PARTNER_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAPARTNER:sync",
    "arn": f"arn:aws:sts::{FOREIGN}:assumed-role/partner-sync/sync",
    "accountId": FOREIGN,
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{FOREIGN}:role/partner-sync",
            "accountId": FOREIGN,
        }
    },
}


def events(records: list[dict], uri: str = CT_KEY + "x.json.gz"):  # type: ignore[no-untyped-def]
    data = trail_file(records)
    return parse_blobs([Blob(ObjectRef(uri, uri, len(data)), data)]).events


def on_day(rec: dict, day: int) -> dict:
    rec = copy.deepcopy(rec)
    rec["eventTime"] = rec["eventTime"].replace("2026-11-05", f"2026-11-{day:02d}")
    return rec


def test_log_buckets_accounts_and_websites_come_from_the_logs() -> None:
    found = discover(
        events(
            [
                record(
                    "CreateTrail",
                    "cloudtrail.amazonaws.com",
                    {"name": "org", "s3BucketName": "trail-b"},
                ),
                record(
                    "PutBucketLogging",
                    params := "s3.amazonaws.com",
                    {
                        "bucketName": "data",
                        "BucketLoggingStatus": {
                            "LoggingEnabled": {"TargetBucket": "access-b", "TargetPrefix": "d/"}
                        },
                    },
                ),
                data_event(
                    "PutObject",
                    "delivery-b",
                    f"AWSLogs/{OUR_ACCOUNT}/CloudTrail/us-east-1/2026/11/05/f.json.gz",
                ),
                record("PutBucketWebsite", params, {"bucketName": "www-b"}),
            ]
        )
    )
    assert found.accounts == {OUR_ACCOUNT: 4}
    assert set(found.log_buckets) == {"trail-b", "access-b", "delivery-b"}
    assert found.website_buckets == {"www-b": 1}


def test_the_bucket_logs_are_read_from_is_a_log_bucket() -> None:
    found = discover(events([record("ListBuckets")], uri="s3://org-trail-logs/" + CT_KEY + "f.gz"))
    assert found.log_buckets == {"org-trail-logs": 1}


def test_a_foreign_account_using_our_buckets_for_days_is_a_partner() -> None:
    read = data_event("GetObject", "acme-data", "feed.csv", identity=PARTNER_ROLE)
    learned = Discovered()
    for day in (2, 3):
        learned.merge(discover(events([on_day(read, day)])))
    assert learned.partner_accounts == frozenset()
    assert learned.merge(discover(events([on_day(read, 4)])))  # the third day: news
    assert learned.partner_accounts == {FOREIGN}
    denied = on_day(read, 6) | {"errorCode": "AccessDenied"}
    other = Discovered()
    for day in (6, 7, 8):
        other.merge(discover(events([on_day(denied, day)])))
    assert other.partner_accounts == frozenset()  # refused calls teach nothing


def test_configuration_overrides_discovery() -> None:
    learned = Discovered(accounts={"111122223333": 5}, log_buckets={"trail-b": 1})
    assert learned.effective(Settings()).log_buckets == {"trail-b"}
    configured = Settings(log_buckets=frozenset({"mine"}))
    assert learned.effective(configured).log_buckets == {"mine"}
    assert learned.effective(configured).our_accounts == {"111122223333"}


def test_discover_command_prints_and_writes_a_starter_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = Path(__file__).resolve().parents[1]
    lake = tmp_path / "lake"
    assert main(["backfill", str(repo / "sample_logs" / "AWSLogs"), "--lake", str(lake),
                 "--no-progress", "--no-detect"]) == 0  # fmt: skip
    capsys.readouterr()
    config = tmp_path / "detector.toml"
    assert main(["discover", "--lake", str(lake), "--write-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "418295730164" in out and "our account" in out
    text = config.read_text()
    assert 'accounts = ["206841937552", "418295730164", "739105824617"]' in text
    assert main(["backfill", str(repo / "sample_logs" / "AWSLogs"), "--lake", str(tmp_path / "l2"),
                 "--config", str(config), "--no-progress", "--no-detect"]) == 0  # fmt: skip
    assert main(["discover", "--lake", str(lake), "--write-config", str(config)]) == 2
    assert "exists" in capsys.readouterr().err
