"""``detector backfill --engine ray`` on a real local multi-node Ray cluster (``ray start
--head`` and a second ``ray start --address``, one CPU each), writing an Iceberg lake on S3
(the moto server): the same rows and alert ids as one process, also when a worker process,
a whole worker node or the driver dies mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pytest
from conftest import REPO, MotoServer, backfill_cli, free_port, pids_where, s3
from pyiceberg.catalog import Catalog, load_catalog

from detector.lake import read_events

SAMPLES = REPO / "sample_logs"
RAY = str(Path(sys.executable).parent / "ray")
SMALL = ("--batch-mb", "1", "--commit-batches", "4")


class RayCluster:
    """A head node and worker nodes on this machine, started with ``ray start``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        """Ray's token authentication (the default for local clusters since Ray 2.59): every
        node and driver presents the cluster's token."""
        self.env = {**env, **self.auth}
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: socket paths
        self._start("--head", f"--port={self.port}", "--include-dashboard=false")

    def _start(self, *args: str, env: dict[str, str] | None = None) -> None:
        cmd = [RAY, "start", "--num-cpus=1", f"--temp-dir={self.temp}", "--disable-usage-stats"]
        proc = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, env={**self.env, **(env or {})}
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    @contextmanager
    def node(self, failpoints: str = "") -> Iterator[int]:
        """A worker node for the block (its workers see ``failpoints``), registered before
        the block starts and killed after it; yields its node manager port."""
        port = free_port()
        self._start(
            f"--address={self.address}",
            f"--node-manager-port={port}",
            env={"DETECTOR_FAILPOINTS": failpoints},
        )
        try:
            self._wait_until_registered(port)
            yield port
        finally:  # SIGKILL its raylet (its workers die with it), if still running
            for pid in _pids_with(f"--node_manager_port={port}"):
                os.kill(pid, signal.SIGKILL)

    def _wait_until_registered(self, port: int, timeout: float = 60.0) -> None:
        """Poll the cluster (from one short-lived driver) until the node is alive in it."""
        script = (
            f"import ray, time; ray.init(address='{self.address}', logging_level='ERROR')\n"
            f"deadline = time.monotonic() + {timeout}\n"
            "while time.monotonic() < deadline:\n"
            f"    if any(n['Alive'] and n['NodeManagerPort'] == {port} for n in ray.nodes()):\n"
            "        print('REGISTERED'); break\n"
            "    time.sleep(0.2)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=self.env
        )
        assert "REGISTERED" in proc.stdout, proc.stdout + proc.stderr[-2000:]

    def stop(self) -> None:
        """SIGKILL this cluster's processes (they all name its temp folder), none other's."""
        for pid in _pids_with(str(self.temp)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


def _pids_with(text: str) -> list[int]:
    """Processes whose command line holds ``text``."""
    return pids_where(lambda p: text.encode() in (p / "cmdline").read_bytes().replace(b"\0", b" "))


@pytest.fixture(scope="module")
def cluster(moto_server: MotoServer) -> Iterator[RayCluster]:
    """The head node: Ray's workers reach S3 through their own AWS configuration."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # A dead node is noticed in ~1.5 s instead of ~15 s: the test waits less for it.
        "RAY_health_check_period_ms": "500",
        "RAY_health_check_timeout_ms": "500",
        "RAY_health_check_failure_threshold": "3",
    }
    env.pop("DETECTOR_FAILPOINTS", None)
    ray_cluster = RayCluster(env)
    yield ray_cluster
    ray_cluster.stop()


def backfill(
    tmp: Path, name: str, *extra: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``detector backfill sample_logs`` into the S3 lake ``name`` (SQL catalog in ``tmp``)."""
    alerts = tmp / f"{name}.alerts.jsonl"  # it stays between runs: delivered once, across them
    env = {"XDG_STATE_HOME": str(tmp / "state"), **(env or {})}  # the sinks' outbox
    args = [str(SAMPLES / "AWSLogs"), str(SAMPLES / "s3-access-logs")]
    args += ["--lake", f"s3://lake-bucket/{name}"]
    args += ["--catalog-uri", f"sqlite:///{tmp}/{name}.catalog.db", *SMALL, *extra]
    args += [] if "--no-detect" in extra else ["--sink", f"jsonl={alerts}"]
    proc, summary = backfill_cli(*args, summary=tmp / f"{name}.summary.json", env=env)
    return {
        "code": proc.returncode,
        "stderr": proc.stderr,
        "summary": summary,
        "delivered": [json.loads(line)["alert_id"] for line in alerts.read_text().splitlines()]
        if alerts.exists()
        else [],
    }


def catalog(tmp: Path, name: str, endpoint: str) -> Catalog:
    return load_catalog(
        "detector",
        type="sql",
        uri=f"sqlite:///{tmp}/{name}.catalog.db",
        warehouse=f"s3://lake-bucket/{name}",
        **{"s3.endpoint": endpoint, "s3.region": "us-east-1"},
        **{"s3.access-key-id": "testing", "s3.secret-access-key": "testing"},
    )


def contents(tmp: Path, name: str, endpoint: str) -> tuple[list[tuple[str, ...]], list[str]]:
    """The lake's events, as sorted (source, event id, request id, object), and its alert
    ids, sorted: equal pairs, equal lakes."""
    cat = catalog(tmp, name, endpoint)
    events: pa.Table = cat.load_table("detector.events").scan().to_arrow()
    cols = ("source", "event_id", "request_id", "origin_object")
    rows = sorted(zip(*(map(str, events.column(c).to_pylist()) for c in cols), strict=True))
    if not cat.table_exists("detector.alerts"):  # ingest only
        return rows, []
    alerts = cat.load_table("detector.alerts").scan(selected_fields=("alert_id",)).to_arrow()
    return rows, sorted(alerts.column("alert_id").to_pylist())


@pytest.fixture(scope="module")
def reference(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
    """One process, no Ray: the lake's rows and alert ids, and the alerts delivered."""
    tmp = tmp_path_factory.mktemp("reference")
    env = {"AWS_ENDPOINT_URL": moto_server.url, "AWS_ACCESS_KEY_ID": "testing"}
    env |= {"AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if "lake-bucket" not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="lake-bucket")
    out = backfill(tmp, "reference", env=env)
    assert out["code"] == 0, out["stderr"][-3000:]
    rows, alerts = contents(tmp, "reference", moto_server.url)
    assert len(rows) == out["summary"]["events"]["total"] > 4_000 and len(alerts) >= 5
    return rows, alerts, sorted(out["delivered"])


@pytest.fixture
def lake_bucket(aws: str) -> str:
    s3().create_bucket(Bucket="lake-bucket")
    return aws


def ray_backfill(
    cluster: RayCluster, tmp: Path, name: str, *extra: str, **env: str
) -> dict[str, Any]:
    ray = ("--engine", "ray", "--ray-address", cluster.address, *extra)
    return backfill(tmp, name, *ray, env={**cluster.auth, **env})


def assert_same(out: dict[str, Any], tmp: Path, name: str, endpoint: str, reference: Any) -> None:
    """The run ended well, and its lake and delivered alerts are the reference run's."""
    assert out["code"] == 0, out["stderr"][-3000:]
    assert contents(tmp, name, endpoint) == tuple(reference[:2])
    assert sorted(out["delivered"]) == reference[2]  # each alert delivered once


def test_ray_backfill_on_two_nodes_equals_one_process(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    with cluster.node():
        out = ray_backfill(cluster, tmp_path, "ray")
    assert_same(out, tmp_path, "ray", lake_bucket, reference)
    # Every batch was parsed by a Ray task, and both nodes ran some.
    assert out["summary"]["ray"] == {"batches": out["summary"]["batches"], "nodes": 2}


def test_a_worker_node_dying_mid_run_changes_nothing(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    """The worker node's raylet SIGKILLed by its first batch (its workers die with it): Ray
    runs the lost batches again on the head, and the lake and the alerts are the
    undisturbed run's."""
    with cluster.node(failpoints="ray.parse_task:1=parent") as node:
        out = ray_backfill(cluster, tmp_path, "chaos")
        assert not _pids_with(f"--node_manager_port={node}")  # the node did die, mid-run
    assert_same(out, tmp_path, "chaos", lake_bucket, reference)
    assert out["summary"]["ray"]["batches"] == out["summary"]["batches"]


def test_detection_state_on_partition_actors_equals_one_process(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    """--partitions 3: the principals' profiles and baselines on three actors spread over
    the two nodes, judged there; the lake and the alerts are one process's."""
    with cluster.node():
        out = ray_backfill(cluster, tmp_path, "partitioned", "--partitions", "3")
    assert_same(out, tmp_path, "partitioned", lake_bucket, reference)
    assert out["summary"]["partitions"] == {"actors": 3, "rollbacks": 0}


def test_a_partition_actor_dying_mid_run_changes_nothing(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    """Each partition actor SIGKILLed at its 12th call (the driver's failpoints reach its
    actors): its share of the state is gone, so detection goes back to the checkpoint,
    replays the committed batches from the lake and detects the batch in hand again (Ray
    restarts the actor, which is seeded again). The lake and the alerts are the
    undisturbed run's."""
    with cluster.node():
        # One batch per commit: only the batch in hand is ever detected and not committed,
        # which a rollback can detect again (a commit group's staged batches it cannot).
        args = ("--partitions", "2", "--commit-batches", "1")
        env = {"DETECTOR_FAILPOINTS": "ray.partition:12"}
        out = ray_backfill(cluster, tmp_path, "lost-partition", *args, **env)
    assert_same(out, tmp_path, "lost-partition", lake_bucket, reference)
    assert out["summary"]["partitions"]["rollbacks"] >= 1  # the actor did die, mid-run
    assert "detecting again from the last checkpoint" in out["stderr"]


def test_ingest_only_the_tasks_send_back_counts_and_the_lake_is_the_same(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    """--no-detect: the events stay on the workers (deduplication reads the event ids from
    the written files), and the lake holds the same rows."""
    out = ray_backfill(cluster, tmp_path, "ingest", "--no-detect")
    assert out["code"] == 0, out["stderr"][-3000:]
    assert out["summary"]["ray"]["batches"] == out["summary"]["batches"] > 1
    assert contents(tmp_path, "ingest", lake_bucket)[0] == reference[0]


def test_a_killed_driver_resumes_with_nothing_lost_or_sent_twice(
    cluster: RayCluster, reference: Any, lake_bucket: str, tmp_path: Path
) -> None:
    crashed = ray_backfill(cluster, tmp_path, "resumed", DETECTOR_FAILPOINTS="lake.commit:2")
    assert crashed["code"] == -9, crashed["stderr"][-3000:]
    again = ray_backfill(cluster, tmp_path, "resumed")
    assert_same(again, tmp_path, "resumed", lake_bucket, reference)


def test_a_cluster_of_its_own_and_a_full_disk_on_a_worker(tmp_path: Path) -> None:
    """Without --ray-address the run starts its own cluster (its workers inherit this
    environment, failpoints included); a worker's full disk stops the run with exit status
    3 and nothing committed, as in one process."""
    lake = tmp_path / "lake"
    args = (str(SAMPLES / "AWSLogs"), "--lake", str(lake), "--no-detect", "--engine", "ray")
    env = {"DETECTOR_FAILPOINTS": "lake.write=enospc", "RAY_ADDRESS": ""}
    proc, _ = backfill_cli(*args, summary=tmp_path / "summary.json", env=env)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    assert read_events(lake).num_rows == 0
