"""Tail benchmark: alert latency at a sustained rate, throughput at saturation, memory soak.

    python bench/tail_bench.py [--rate 5000] [--events-per-object 500] [--soak-minutes 30]
                               [--backlog-objects 1000] [--wait 20] [--phase all]

Everything runs on this machine: a moto server (S3 + SQS, in its own process) stands in for
AWS, a local HTTP server stands in for Slack, and ``detector tail sqs`` runs as a child
process pointed at both through the standard AWS environment (AWS_ENDPOINT_URL, set for the
children only). The bucket sends ObjectCreated notifications to the queue, as S3 does.

* **throughput** (phase ``throughput``): a backlog of ``--backlog-objects`` CloudTrail files
  is uploaded first; the tail is started on it and timed until every event is committed
  (its Prometheus counter ``detector_events``); then ``detector backfill s3://…`` reads the
  same objects into another lake. Both with detection and the same Slack sink. moto's own
  cost is measured apart: a bare receive+delete loop over an identical backlog (a second
  queue the bucket also notifies) and a bare 16-thread GET of every object.
* **latency and soak** (phase ``soak``): a producer uploads ``--rate`` events/s as gzipped
  CloudTrail files (``--events-per-object`` each) for ``--soak-minutes``, with event times of
  now. Every file also holds one PutBucketAcl granting AllUsers READ on its own bucket
  ``tailbench-NNNNNNN``: ``public_acl_granted`` fires once per file, so each Slack POST names
  the file it came from. Latency = Slack POST received − S3 PUT returned (the notification is on the
  queue by then); the first ``--warmup`` seconds are left out. The tail's RSS (and moto's) is
  sampled every 10 s from /proc.

Records come from ``sample_logs/generate.py`` (seed 7, benign traffic of the bundled world,
cached under bench/data/tail-pool) with fresh event ids and times; the tail runs with that
world's settings (sample_logs/demo.toml). Results go to bench/results/tail.json and a
Markdown summary on stdout; logs and lakes under --out (lakes removed unless --keep).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.config import Config
from ingest_bench import generate
from isal import igzip

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
CONFIG = REPO / "sample_logs" / "demo.toml"
DETECTOR = str(Path(sys.executable).with_name("detector"))
MARKER_DETECTION = "public_acl_granted"
MARKER_BUCKET = re.compile(rb"tailbench-(\d{7})")
DETECTION_FIELD = re.compile(rb"\*Detection\*\\n`([a-z0-9_]+)`")
BUCKET = "logs"
REGION = "us-east-1"


# --- the stand-ins for AWS and Slack ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``moto.server`` in its own process on a free loopback port (as in tests/conftest.py)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def env(self) -> dict[str, str]:
        """The environment of a child process that should talk to this server."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
        }
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
        )
        return env

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(max_pool_connections=32, retries={"max_attempts": 8}),
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@dataclass
class Arrival:
    at: float
    seq: int | None
    detection: str


class SlackReceiver:
    """A webhook endpoint on 127.0.0.1 that answers 200 and notes when each POST arrived."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                found = MARKER_BUCKET.search(body)
                name = DETECTION_FIELD.search(body)
                with receiver.lock:
                    receiver.arrivals.append(
                        Arrival(
                            at,
                            int(found.group(1)) if found else None,
                            name.group(1).decode() if name else "?",
                        )
                    )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/bench"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def snapshot(self) -> list[Arrival]:
        with self.lock:
            return list(self.arrivals)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def notified_bucket(moto: MotoServer, queues: list[str]) -> list[str]:
    """The log bucket, sending ObjectCreated notifications to each named queue; their URLs."""
    s3, sqs = moto.client("s3"), moto.client("sqs")
    urls, arns = [], []
    for name in queues:
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        urls.append(url)
        arns.append(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": a, "Events": ["s3:ObjectCreated:*"]} for a in arns]
        },
    )
    return urls


# --- the log files ------------------------------------------------------------------------
class Pool:
    """CloudTrail records of the generated world, by (account, region), to build files from."""

    def __init__(self, root: Path) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for path in sorted(root.rglob("*.json.gz")):
            for r in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]:
                if r["eventName"] in ("PutBucketPolicy", "PutBucketAcl"):
                    continue  # only the marker event changes who may read a bucket
                groups.setdefault((r["recipientAccountId"], r["awsRegion"]), []).append(r)
        self.groups = list(groups.items())
        self.weights = [len(v) for _, v in self.groups]
        self.records = sum(self.weights)
        self.lock = threading.Lock()

    def build(self, seq: int, events: int) -> tuple[str, bytes]:
        """Key and gzipped body of file ``seq``: ``events`` records, one of them the marker."""
        with self.lock:  # random.Random is not thread-safe for sequences of draws
            (account, region), records = random.choices(self.groups, self.weights)[0]
            picked = random.choices(records, k=events - 1)
            at = random.randrange(events)
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        out = [
            dict(
                r, eventTime=stamp, eventID=str(uuid.uuid4()), requestID=os.urandom(8).hex().upper()
            )
            for r in picked
        ]
        out.insert(at, marker(seq, stamp, account, region))
        day = time.strftime("%Y/%m/%d", time.gmtime(now))
        name = (
            f"{account}_CloudTrail_{region}_{time.strftime('%Y%m%dT%H%MZ', time.gmtime(now))}"
            f"_{uuid.uuid4().hex[:16]}.json.gz"
        )
        key = f"AWSLogs/{account}/CloudTrail/{region}/{day}/{name}"
        return key, igzip.compress(orjson.dumps({"Records": out}))


def marker(seq: int, stamp: str, account: str, region: str) -> dict[str, Any]:
    """User ``tailbench-<seq>`` granting AllUsers READ on bucket ``tailbench-<seq>``: one
    notification per file.

    A principal's signals join one incident, which notifies once (issue 2 of 6); a user and
    a bucket per file give every file its own incident and its own Slack message. (A
    PutBucketPolicy marker would do the same but makes every batch pay the policy rules'
    fixed cost; see bench/README.md.) The soak's state grows by one principal per file.
    """
    bucket = f"tailbench-{seq:07d}"
    user = f"tailbench-{seq:07d}"
    return {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA0TAILBENCH{seq:07d}",
            "arn": f"arn:aws:iam::418295730164:user/{user}",
            "accountId": "418295730164",
            "accessKeyId": f"AKIA0TAILBENCH{seq:07d}",
            "userName": user,
        },
        "eventTime": stamp,
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketAcl",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22]",
        "requestParameters": {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{region}.amazonaws.com",
            "acl": "",
            "AccessControlPolicy": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "AccessControlList": {
                    "Grant": [
                        {
                            "Grantee": {
                                "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                "xsi:type": "Group",
                                "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                            },
                            "Permission": "READ",
                        }
                    ]
                },
                "Owner": {"ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd"},
            },
        },
        "responseElements": None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "bytesTransferredIn": 512,
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredOut": 0,
        },
        "requestID": os.urandom(8).hex().upper(),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
        ],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


@dataclass
class Put:
    seq: int
    key: str
    scheduled: float
    started: float
    returned: float


@dataclass
class Producer:
    """Uploads file ``seq`` at ``t0 + seq / objects_per_second`` with a few threads."""

    pool: Pool
    s3: Any
    events: int
    objects_per_second: float
    threads: int = 4
    puts: list[Put] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.t0 = time.time() + 0.5
        self._workers = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)
        ]
        for w in self._workers:
            w.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                seq = self._next
                self._next += 1
            due = self.t0 + seq / self.objects_per_second
            if self.stop.wait(max(0.0, due - time.time())):
                return
            key, body = self.pool.build(seq, self.events)
            started = time.time()
            try:
                self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            except Exception as exc:  # counted and reported; the run goes on
                self.errors.append(f"{seq}: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self.puts.append(Put(seq, key, due, started, time.time()))

    def join(self) -> None:
        self.stop.set()
        for w in self._workers:
            w.join()


def preload(pool: Pool, s3: Any, objects: int, events: int) -> float:
    """Upload ``objects`` files as fast as moto takes them; seconds taken."""
    started = time.perf_counter()

    def one(seq: int) -> None:
        key, body = pool.build(seq, events)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(one, range(objects)))
    return time.perf_counter() - started


# --- watching the consumer ----------------------------------------------------------------
def proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int) -> dict[str, float] | None:
    """The tail's Prometheus metrics summed by name (labels dropped); None if not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            base = name.split("{", 1)[0]
            out[base] = out.get(base, 0.0) + float(value)
    return out


@dataclass
class Sampler:
    """Every ``every`` seconds: RSS and CPU time of the tail and moto, and the tail's metrics."""

    tail_pid: int
    moto_pid: int
    metrics_port: int
    t0: float
    every: float = 10.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample(self) -> dict[str, Any]:
        m = scrape(self.metrics_port) or {}
        s = {
            "t": round(time.time() - self.t0, 1),
            "tail_rss_mb": proc_rss_mb(self.tail_pid),
            "tail_cpu_s": proc_cpu_seconds(self.tail_pid),
            "moto_rss_mb": proc_rss_mb(self.moto_pid),
            "moto_cpu_s": proc_cpu_seconds(self.moto_pid),
            **{
                k.removeprefix("detector_"): m.get(k)
                for k in (
                    "detector_events_total",
                    "detector_objects_total",
                    "detector_batches_total",
                    "detector_alerts_total",
                    "detector_duplicate_objects_total",
                    "detector_batch_failures_total",
                    "detector_outbox_pending",
                    "detector_source_lag",
                )
            },
        }
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while True:
            self.sample()
            if self.stop.wait(self.every):
                return


def windows(args: argparse.Namespace) -> tuple[int, int] | None:
    """(window, lateness) minutes when --window/--lateness-minutes override the defaults."""
    if args.window_minutes is None and args.lateness_minutes is None:
        return None
    return (
        args.window_minutes or 5,
        15 if args.lateness_minutes is None else args.lateness_minutes,
    )


def detector_config(args: argparse.Namespace) -> Path:
    """The world's settings, with the event-time windows of --window/--lateness-minutes."""
    w = windows(args)
    if w is None:
        return CONFIG
    path = args.out / "tail-bench.toml"
    path.write_text(
        CONFIG.read_text() + f"\n[windows]\nminutes = {w[0]}\nlateness_minutes = {w[1]}\n"
    )
    return path


def tail_cmd(
    args: argparse.Namespace, queue: str, lake: Path, sink: str, port: int, *extra: str
) -> list[str]:
    return [
        DETECTOR,
        "tail",
        "sqs",
        "--queue-url",
        queue,
        "--lake",
        str(lake),
        "--wait",
        str(args.wait),
        "--sink",
        f"slack={sink}",
        "--config",
        str(detector_config(args)),
        "--status-seconds",
        "10",
        "--metrics-port",
        str(port),
        *engine_args(args),
        *extra,
    ]


def engine_args(args: argparse.Namespace) -> list[str]:
    """``--engine ray --consumers N`` (a Ray cluster of the tail's own) when asked for."""
    if args.consumers is None:
        return []
    return ["--engine", "ray", "--consumers", str(args.consumers)]


def log_problems(log: Path) -> dict[str, Any]:
    """WARNING/ERROR lines and tracebacks of a consumer's log (first few of each)."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    bad = [ln for ln in lines if " WARNING " in ln or " ERROR " in ln or "Traceback" in ln]
    kinds = Counter(re.sub(r"^\S+ \S+ ", "", ln)[:90] for ln in bad)
    return {
        "lines": len(lines),
        "warnings_or_errors": len(bad),
        "distinct": dict(kinds.most_common(10)),
    }


def stop_tail(proc: subprocess.Popen[bytes], timeout: float = 120.0) -> dict[str, float]:
    """SIGTERM (finish the batch, checkpoint, drain the sinks) and wait; exit code, seconds."""
    started = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return {"exit_code": code, "stop_seconds": round(time.perf_counter() - started, 1)}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    v = sorted(values)

    def q(p: float) -> float:  # nearest rank
        return round(v[min(len(v), max(1, math.ceil(p * len(v)))) - 1], 3)

    return {
        "count": len(v),
        "p50": q(0.50),
        "p95": q(0.95),
        "p99": q(0.99),
        "max": round(v[-1], 3),
        "mean": round(statistics.fmean(v), 3),
    }


# --- phase 1: throughput at saturation ----------------------------------------------------
def bare_receive(sqs: Any, queue: str, visibility: int = 60) -> dict[str, float]:
    """Receive (10 at a time, no wait) and delete every message, as the tail's calls do."""
    calls = messages = 0
    receive_s = delete_s = 0.0
    while True:
        t = time.perf_counter()
        got = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        ).get("Messages", [])
        receive_s += time.perf_counter() - t
        calls += 1
        if not got:
            break
        messages += len(got)
        t = time.perf_counter()
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
            ],
        )
        delete_s += time.perf_counter() - t
    return {
        "messages": messages,
        "receive_calls": calls,
        "receive_seconds": receive_s,
        "delete_seconds": delete_s,
        "ms_per_receive": 1000 * receive_s / calls,
        "seconds": receive_s + delete_s,
    }


def bare_get(s3: Any) -> dict[str, float]:
    """GET every object of the bucket with 16 threads (what the tail's fetch does)."""
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as ex:
        sizes = list(
            ex.map(lambda k: len(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()), keys)
        )
    seconds = time.perf_counter() - started
    return {"objects": len(keys), "bytes": sum(sizes), "seconds": seconds}


def throughput(args: argparse.Namespace, pool: Pool) -> dict[str, Any]:
    out: Path = args.out
    moto = MotoServer(out / "moto-throughput.log")
    receiver = SlackReceiver()
    lakes = [out / "tail-throughput-lake", out / "backfill-throughput-lake"]
    for lake in lakes:
        shutil.rmtree(lake, ignore_errors=True)
    try:
        tail_q, bare_q = notified_bucket(moto, ["backlog", "bare"])
        s3, sqs = moto.client("s3"), moto.client("sqs")
        total = args.backlog_objects * args.events_per_object
        print(
            f"throughput: uploading {args.backlog_objects:,} files ({total:,} events) …",
            file=sys.stderr,
        )
        upload_s = preload(pool, s3, args.backlog_objects, args.events_per_object)
        moto_receive = bare_receive(sqs, bare_q)
        moto_get = bare_get(s3)
        print(
            f"throughput: moto alone: receive+delete {moto_receive['seconds']:.1f} s "
            f"({moto_receive['ms_per_receive']:.0f} ms per receive), GET all "
            f"{moto_get['seconds']:.1f} s",
            file=sys.stderr,
        )

        port = free_port()
        log = out / "tail-throughput.log"
        cmd = tail_cmd(args, tail_q, lakes[0], receiver.url, port, "--until-idle", "5")
        prefix: list[str] = []
        if args.profile:
            prefix = [sys.executable, "-m", "cProfile", "-o", str(out / "tail-throughput.prof")]
            cmd = [*prefix, "-m", "detector.cli", *cmd[1:]]
        started = time.perf_counter()
        with log.open("wb") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=moto.env())
        up = done = None
        peak_rss = 0.0
        series: list[tuple[float, float]] = []
        while proc.poll() is None:
            m = scrape(port)
            now = time.perf_counter()
            peak_rss = max(peak_rss, proc_rss_mb(proc.pid) or 0.0)
            if m is not None:
                up = up if up is not None else now
                events = m.get("detector_events_total", 0.0)
                if not series or series[-1][1] != events:
                    series.append((round(now - started, 2), events))
                if events >= total and done is None:
                    done = now
            time.sleep(0.25)
        exited = time.perf_counter()
        if done is None or up is None:
            raise SystemExit(f"tail did not ingest the backlog; see {log}")
        final = series[-1][1]
        tail = {
            "events": final,
            "objects": args.backlog_objects,
            "seconds_from_start": done - started,
            "seconds_from_ready": done - up,
            "events_per_second": final / (done - up),
            "events_per_second_wall": final / (done - started),
            "exit_code": proc.returncode,
            "seconds_to_exit": exited - started,
            "peak_rss_mb": peak_rss,
            "series": series,
            "first_commit_s": series[0][0] if series else None,
            "log": log_problems(log),
        }
        summary = out / "backfill-throughput-summary.json"
        cmd = [
            DETECTOR,
            "backfill",
            f"s3://{BUCKET}/AWSLogs/",
            "--lake",
            str(lakes[1]),
            "--config",
            str(detector_config(args)),
            "--sink",
            f"slack={receiver.url}",
            "--no-progress",
            "--summary",
            str(summary),
        ]
        started = time.perf_counter()
        with (out / "backfill-throughput.log").open("wb") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=moto.env())
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"backfill failed: {' '.join(cmd)}")
        s = json.loads(summary.read_text())
        backfill = {
            "events": s["events"]["total"],
            "seconds": s["seconds"],
            "events_per_second": s["events_per_second"],
            "wall_seconds": wall,
            "events_per_second_wall": s["events"]["total"] / wall,
            "peak_rss_mb": usage.ru_maxrss / 1024,
        }
        alerts = Counter(a.detection for a in receiver.snapshot())
        return {
            "backlog": {
                "objects": args.backlog_objects,
                "events": total,
                "upload_seconds": upload_s,
            },
            "moto_receive_delete": moto_receive,
            "moto_get_all": moto_get,
            "tail": tail,
            "backfill": backfill,
            "ratio": tail["events_per_second"] / backfill["events_per_second"],
            "ratio_wall": tail["events_per_second_wall"] / backfill["events_per_second_wall"],
            "moto_receive_share_of_tail": moto_receive["seconds"] / tail["seconds_from_ready"],
            "alerts_at_sink": dict(alerts),
        }
    finally:
        receiver.stop()
        moto.stop()
        if not args.keep:
            for lake in lakes:
                shutil.rmtree(lake, ignore_errors=True)


# --- phase 2: latency at a sustained rate, and the soak -----------------------------------
def soak(args: argparse.Namespace, pool: Pool) -> dict[str, Any]:
    out: Path = args.out
    moto = MotoServer(out / "moto-soak.log")
    receiver = SlackReceiver()
    lake = out / "tail-soak-lake"
    shutil.rmtree(lake, ignore_errors=True)
    try:
        (queue,) = notified_bucket(moto, ["live"])
        s3 = moto.client("s3")
        port = free_port()
        log = out / "tail-soak.log"
        with log.open("wb") as f:
            proc = subprocess.Popen(
                tail_cmd(args, queue, lake, receiver.url, port),
                stdout=f,
                stderr=subprocess.STDOUT,
                env=moto.env(),
            )
        deadline = time.monotonic() + 60
        while scrape(port) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"tail did not start; see {log}")
            time.sleep(0.2)
        ops = args.rate / args.events_per_object
        producer = Producer(pool, s3, args.events_per_object, ops)
        producer.start()
        sampler = Sampler(proc.pid, moto.proc.pid, port, producer.t0)
        sampler.start()
        seconds = args.soak_minutes * 60
        print(
            f"soak: {args.rate:,} events/s ({ops:g} files/s) for {args.soak_minutes:g} min",
            file=sys.stderr,
        )
        end = producer.t0 + seconds
        stopped_early: str | None = None
        shown = time.time()
        while time.time() < end:
            time.sleep(min(2.0, max(0.0, end - time.time())))
            rss = proc_rss_mb(proc.pid) or 0.0
            if proc.poll() is not None:
                stopped_early = f"the tail exited ({proc.returncode})"
            elif rss > args.rss_limit_mb:
                stopped_early = (
                    f"tail RSS {rss:,.0f} MB passed --rss-limit-mb "
                    f"{args.rss_limit_mb:,} at t={time.time() - producer.t0:.0f} s"
                )
            if stopped_early:
                print(f"  stopping early: {stopped_early}", file=sys.stderr)
                break
            if time.time() - shown >= 30:
                shown = time.time()
                s = sampler.samples[-1]
                print(
                    f"  t={time.time() - producer.t0:.0f}s tail rss {rss:,.0f} MB, events "
                    f"{s['events_total'] or 0:,.0f}, alerts at sink "
                    f"{len(receiver.arrivals):,}",
                    file=sys.stderr,
                )
        producer.join()
        produced_until = time.time()
        last = sampler.sample()
        puts = sorted(producer.puts, key=lambda p: p.seq)
        wanted = {p.seq for p in puts}
        grace = time.time() + args.drain_seconds
        while time.time() < grace and proc.poll() is None:
            got = {a.seq for a in receiver.snapshot() if a.detection == MARKER_DETECTION}
            if wanted <= got:
                break
            time.sleep(0.5)
        drained = time.time()
        sampler.stop.set()
        stopped = (
            stop_tail(proc)
            if proc.poll() is None
            else {"exit_code": proc.returncode, "stop_seconds": 0.0}
        )
        result = summarize_soak(
            args,
            producer,
            puts,
            receiver.snapshot(),
            sampler.samples,
            last,
            produced_until,
            drained,
            stopped,
            log,
        )
        result["stopped_early"] = stopped_early
        result["config"] = detector_config(args).read_text()
        return result
    finally:
        receiver.stop()
        moto.stop()
        if not args.keep:
            shutil.rmtree(lake, ignore_errors=True)


def summarize_soak(
    args: argparse.Namespace,
    producer: Producer,
    puts: list[Put],
    arrivals: list[Arrival],
    samples: list[dict[str, Any]],
    last: dict[str, Any],
    produced_until: float,
    drained: float,
    stopped: dict[str, float],
    log: Path,
) -> dict[str, Any]:
    t0 = producer.t0
    first_alert: dict[int, float] = {}
    times_seen: Counter[int] = Counter()
    for a in arrivals:
        if a.detection == MARKER_DETECTION and a.seq is not None:
            times_seen[a.seq] += 1
            first_alert.setdefault(a.seq, a.at)
    measured = [p for p in puts if p.scheduled - t0 >= args.warmup]
    latency = [first_alert[p.seq] - p.returned for p in measured if p.seq in first_alert]
    from_put_start = [first_alert[p.seq] - p.started for p in measured if p.seq in first_alert]
    # latency over time: p50/p99 per minute of the soak, to show drift or stalls
    by_minute: dict[int, list[float]] = {}
    for p in measured:
        if p.seq in first_alert:
            by_minute.setdefault(int((p.scheduled - t0) // 60), []).append(
                first_alert[p.seq] - p.returned
            )
    soak_samples = [s for s in samples if s["t"] >= args.warmup and s["tail_rss_mb"]]
    rss = [s["tail_rss_mb"] for s in soak_samples]
    span = (soak_samples[-1]["t"] - soak_samples[0]["t"]) if len(soak_samples) > 1 else 0.0
    cpu = (soak_samples[-1]["tail_cpu_s"] - soak_samples[0]["tail_cpu_s"]) / span if span else None
    moto_cpu = (
        (soak_samples[-1]["moto_cpu_s"] - soak_samples[0]["moto_cpu_s"]) / span if span else None
    )
    other = Counter(a.detection for a in arrivals if a.detection != MARKER_DETECTION)
    lateness = [p.started - p.scheduled for p in puts]
    return {
        "rate_events_per_second": args.rate,
        "events_per_object": args.events_per_object,
        "objects_per_second": args.rate / args.events_per_object,
        "soak_minutes": args.soak_minutes,
        "warmup_seconds": args.warmup,
        "window_minutes": (windows(args) or (5, 15))[0],
        "lateness_minutes": (windows(args) or (5, 15))[1],
        "wait_seconds": args.wait,
        "produced": {
            "objects": len(puts),
            "events": len(puts) * args.events_per_object,
            "seconds": produced_until - t0,
            "events_per_second": len(puts) * args.events_per_object / (produced_until - t0),
            "put_errors": len(producer.errors),
            "put_error_examples": producer.errors[:5],
            "put_seconds": percentiles([p.returned - p.started for p in puts]),
            "start_lateness_seconds": percentiles(lateness),
        },
        "latency_seconds": percentiles(latency),
        "latency_from_put_start_seconds": percentiles(from_put_start),
        "latency_by_minute": {
            m: {"p50": percentiles(v)["p50"], "p99": percentiles(v)["p99"], "count": len(v)}
            for m, v in sorted(by_minute.items())
        },
        "alerts": {
            "objects_measured": len(measured),
            "objects_with_alert": sum(1 for p in puts if p.seq in first_alert),
            "objects_without_alert": sorted(p.seq for p in puts if p.seq not in first_alert)[:50],
            "missing": sum(1 for p in puts if p.seq not in first_alert),
            "duplicates": sum(n - 1 for n in times_seen.values() if n > 1),
            "other_detections": dict(other),
        },
        "rss_mb": {
            "start": rss[0] if rss else None,
            "end": rss[-1] if rss else None,
            "max": max(rss) if rss else None,
            "min": min(rss) if rss else None,
            "slope_mb_per_hour": slope([s["t"] for s in soak_samples], rss) * 3600
            if len(rss) > 2
            else None,
        },
        "tail_cpu_cores": cpu,
        "moto_cpu_cores": moto_cpu,
        "final_metrics": last,
        "drain_seconds": drained - produced_until,
        "stop": stopped,
        "log": log_problems(log),
        "samples": samples,
    }


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


# --- report -------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`.", ""]
    t = results.get("throughput")
    if t:
        mr, tl, bf = t["moto_receive_delete"], t["tail"], t["backfill"]
        without = tl["events"] / (tl["seconds_from_ready"] - mr["seconds"])
        lines += [
            "| throughput at saturation | events | events/s | wall s (from process start) "
            "| peak RSS |",
            "|---|---:|---:|---:|---:|",
            f"| tail sqs (backlog of {t['backlog']['objects']:,} files) | {tl['events']:,.0f} "
            f"| {tl['events_per_second']:,.0f} | {tl['seconds_from_start']:.1f} "
            f"| {tl['peak_rss_mb']:,.0f} MB |",
            f"| backfill s3:// (same objects) | {bf['events']:,} "
            f"| {bf['events_per_second']:,.0f} | {bf['wall_seconds']:.1f} "
            f"| {bf['peak_rss_mb']:,.0f} MB |",
            f"| **tail / backfill** | | **{t['ratio']:.2f}×** | {t['ratio_wall']:.2f}× (wall) | |",
            f"| tail minus moto's receive+delete time (estimate) | "
            f"| {without:,.0f} ({without / bf['events_per_second']:.2f}×) | | |",
            "",
            f"moto alone over an identical backlog: receive+delete {mr['seconds']:.1f} s "
            f"({mr['receive_calls']} receives, {mr['ms_per_receive']:.0f} ms each) = "
            f"{t['moto_receive_share_of_tail']:.0%} of the tail's time; GET of every object "
            f"(16 threads) {t['moto_get_all']['seconds']:.1f} s.",
            "",
        ]
    for key, s in results.items():
        if not key.startswith("soak"):
            continue
        lat, rss = s["latency_seconds"], s["rss_mb"]
        ran = s["produced"]["seconds"] / 60
        lines += [
            "",
            f"| soak: {s['rate_events_per_second']:,} events/s, {ran:.1f} of "
            f"{s['soak_minutes']:g} min, windows {s['window_minutes']} min + "
            f"{s['lateness_minutes']} min lateness (--wait {s['wait_seconds']}) | value |",
            "|---|---:|",
            f"| stopped early | {s['stopped_early'] or 'no'} |",
            f"| objects measured (after {s['warmup_seconds']} s warm-up) | {lat['count']:,} |",
            f"| latency p50 / p95 / p99 / max | {lat.get('p50')} / {lat.get('p95')} / "
            f"{lat.get('p99')} / {lat.get('max')} s |",
            f"| alerts missing / duplicated | {s['alerts']['missing']} / "
            f"{s['alerts']['duplicates']} |",
            f"| tail RSS start / end / max | {rss['start']:,.0f} / {rss['end']:,.0f} / "
            f"{rss['max']:,.0f} MB |"
            if rss["start"]
            else "| tail RSS | - |",
            f"| tail RSS trend | {rss['slope_mb_per_hour'] or 0:+.0f} MB/hour |",
            f"| tail CPU / moto CPU | {s['tail_cpu_cores'] or 0:.2f} / "
            f"{s['moto_cpu_cores'] or 0:.2f} cores |",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=["all", "throughput", "soak"], default="all")
    ap.add_argument("--rate", type=int, default=5000, help="events/s during the soak")
    ap.add_argument("--events-per-object", type=int, default=500)
    ap.add_argument("--soak-minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds left out of latency")
    ap.add_argument(
        "--drain-seconds",
        type=float,
        default=120.0,
        help="after the producer stops, how long to wait for the last alerts",
    )
    ap.add_argument("--backlog-objects", type=int, default=1000)
    ap.add_argument("--wait", type=int, default=20, help="the tail's --wait (long poll)")
    ap.add_argument(
        "--window-minutes",
        type=int,
        help="event-time window of the detector (default: the config's, 5)",
    )
    ap.add_argument(
        "--lateness-minutes",
        type=int,
        help="allowed lateness before a window closes (default: the config's, 15)",
    )
    ap.add_argument(
        "--rss-limit-mb",
        type=int,
        default=10_000,
        help="stop the soak early if the tail's RSS passes this (protects the "
        "machine; the report says so)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="run the throughput tail under cProfile (out/tail-throughput.prof)",
    )
    ap.add_argument(
        "--consumers",
        type=int,
        help="run the tail with --engine ray and this many consumer actors (a Ray cluster "
        "the tail starts itself); default: one process",
    )
    ap.add_argument("--keep", action="store_true", help="keep the lakes under --out")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--results", type=Path, default=RESULTS / "tail.json")
    ap.add_argument(
        "--report",
        action="store_true",
        help="only print the Markdown summary of --results (run nothing)",
    )
    args = ap.parse_args()
    if args.report:
        saved = json.loads(args.results.read_text())
        for key, value in saved.items():
            if isinstance(value, dict) and "run" in value:
                print(markdown({**value["run"], key: value}) + "\n")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    pool_dir = generate(
        "tail-pool",
        ["--cloudtrail-events", "60000", "--access-lines", "0", "--days", "1", "--no-attacks"],
    )
    pool = Pool(pool_dir / "AWSLogs")
    run_info = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "command": " ".join(["python bench/tail_bench.py", *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pool_records": pool.records,
    }
    # Phases run separately (e.g. a second soak with other windows) add to the same file.
    results: dict[str, Any] = (
        json.loads(args.results.read_text())
        if args.results.exists() and args.phase != "all"
        else {}
    )
    results.update(machine=run_info["machine"], pool_records=pool.records)
    phases: dict[str, Callable[[argparse.Namespace, Pool], dict[str, Any]]] = {
        "throughput": throughput,
        "soak": soak,
    }
    done: dict[str, Any] = {}
    for name, run in phases.items():
        if args.phase in ("all", name):
            w = windows(args)
            key = f"soak_windows_{w[0]}m_lateness_{w[1]}m" if name == "soak" and w else name
            done[key] = results[key] = {**run(args, pool), "run": run_info}
            print(f"{key} done", file=sys.stderr)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(markdown({**run_info, **done}))


if __name__ == "__main__":
    main()
