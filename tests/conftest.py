"""Shared fixtures: a real S3-speaking HTTP server (moto in server mode) and log builders."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"


def backfill_cli(
    *args: str, summary: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``detector backfill ARGS --no-progress --summary SUMMARY`` as a child process, with
    ``env`` over this one's: the process and its summary (empty when none was written)."""
    summary.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "detector.cli", "backfill", *args, "--no-progress"]
    proc = subprocess.run(
        [*cmd, "--summary", str(summary)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    return proc, json.loads(summary.read_text()) if summary.exists() else {}


def pids_where(matches: Callable[[Path], bool]) -> list[int]:
    """Processes (by their ``/proc`` entry) for which ``matches`` holds; ones that end
    while being read are left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if matches(entry):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``moto_server`` in its own process on a free loopback port."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **(extra_env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto_server did not start")

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        ).read()

    def enforce_iam(self) -> None:
        """From now on every request is signed by a known IAM identity and its policies are
        checked (moto's ``reset-auth``): deterministic, unlike counting free setup calls."""
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(
                f"{self.url}/moto-api/reset-auth",
                data=b"0",
                headers={"Content-Type": "text/plain"},
                method="POST",
            )
        ).read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Standard AWS configuration pointed at the moto server; a clean server per test."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    yield moto_server.url


def s3(endpoint: str | None = None) -> Any:
    return boto3.client("s3", endpoint_url=endpoint) if endpoint else boto3.client("s3")


# --- log builders -------------------------------------------------------------------------
def ct_record(i: int, **overrides: Any) -> dict[str, Any]:
    """A realistic S3 GetObject data event, numbered so tests can find it again."""
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:i-0abc",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
            "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": "arn:aws:iam::111122223333:role/app",
                    "userName": "app",
                },
            },
        },
        "eventTime": f"2026-11-02T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.5",
        "userAgent": "[aws-sdk-java/2.25.1]",
        "requestParameters": {
            "bucketName": "data",
            "Host": "data.s3.amazonaws.com",
            "key": f"k/{i}",
        },
        "responseElements": None,
        "additionalEventData": {"bytesTransferredOut": 100 + i, "bytesTransferredIn": 0},
        "requestID": f"REQ{i:013d}",
        "eventID": f"00000000-0000-0000-0000-{i:012d}",
        "readOnly": True,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::data/k/{i}"},
            {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }
    rec.update(overrides)
    return rec


def trail_file(records: list[dict[str, Any]], gz: bool = True) -> bytes:
    data = json.dumps({"Records": records}, separators=(",", ":")).encode()
    return gzip.compress(data) if gz else data


def access_line(i: int, key: str = "k/file.txt", requester: str | None = None) -> str:
    """A 27-field S3 server access log line (the newest format)."""
    who = requester or "arn:aws:sts::111122223333:assumed-role/app/i-0abc"
    return (
        f"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be data "
        f"[02/Nov/2026:10:{i // 60 % 60:02d}:{i % 60:02d} +0000] 10.0.0.5 {who} "
        f'REQ{i:013d} REST.GET.OBJECT {key} "GET /data/{key} HTTP/1.1" 200 - {100 + i} '
        f'5000 7 3 "-" "aws-sdk-java/2.25.1" - hostid{i}= SigV4 '
        f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader data.s3.us-east-1.amazonaws.com TLSv1.2 "
        f"- - us-east-1"
    )


CT_KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/"
ACCESS_KEY = "s3-access-logs/data/"


# --- a local stand-in for Slack's incoming-webhook endpoint --------------------------------
class SlackReceiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as scripted.

    ``script`` holds (status, headers) answers used in turn; once it is empty every request
    gets ``default`` (200 ``ok`` unless changed), so ``receiver.default = 500`` is an outage.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.default = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status, headers = (
                        receiver.script.pop(0) if receiver.script else (receiver.default, {})
                    )
                    receiver.requests.append(
                        {
                            "at": time.monotonic(),
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                        }
                    )
                answer = b"ok" if status < 300 else b"error_from_receiver"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict[str, Any]]:
        """JSON bodies of the requests that were answered 2xx."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["status"] < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack_receiver() -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


def has_a_commit(lake: Path) -> bool:
    """Whether a writer has committed a batch to ``lake`` yet, in either lake format."""
    manifests = lake / "_manifest"
    if manifests.exists():
        return any(p.stat().st_size for p in manifests.glob("*.jsonl"))
    if not (lake / "catalog.db").is_file():
        return False
    from detector.icelake.catalog import open_catalog

    try:
        catalog = open_catalog(lake, create=False)
        ledger = catalog.load_table("detector.ledger")
    except Exception:  # the catalog or the ledger is still being created
        return False
    return ledger.current_snapshot() is not None


def committed_checkpoints(lake: Path) -> list[dict[str, Any]]:
    """The stream positions committed to ``lake``: the manifest's, or (Iceberg) the merged
    ones in the ledger's current snapshot summary, read with pyiceberg."""
    manifests = lake / "_manifest"
    if manifests.exists():
        lines = [
            json.loads(line)
            for f in sorted(manifests.glob("*.jsonl"))
            for line in f.read_text().splitlines()
        ]
        return [m["checkpoint"] for m in lines if "checkpoint" in m]
    from detector.icelake.catalog import open_catalog

    ledger = open_catalog(lake, create=False).load_table("detector.ledger")
    snapshot = ledger.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    text = snapshot.summary.additional_properties.get("detector.checkpoint")
    return [json.loads(text)] if text else []
