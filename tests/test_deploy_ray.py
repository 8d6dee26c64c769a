"""The Ray deployment files say what the code does: the driver's command line parses with our
CLI and asks for the ray engine, workers get read-only catalog access, the head runs no
parse tasks."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO

from detector.cli import build_parser

DEPLOY = REPO / "deploy" / "ray"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_rayjob_entrypoint_is_a_valid_ray_backfill() -> None:
    job = next(d for d in documents(DEPLOY / "kuberay-rayjob.yaml") if d["kind"] == "RayJob")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[0] == "detector"
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.engine, args.ray_address) == ("backfill", "ray", "auto")
    assert args.partitions == 4  # the detection state on actors too
    assert str(args.lake).startswith("s3://") and args.catalog == "glue"
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # the driver's node detects and commits
    accounts = {
        d["metadata"]["name"]
        for d in documents(DEPLOY / "kuberay-rayjob.yaml")
        if d["kind"] == "ServiceAccount"
    }
    workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert {head["template"]["spec"]["serviceAccountName"], workers["serviceAccountName"]} == (
        accounts
    )
    assert job["spec"]["rayClusterSpec"]["authOptions"] == {"mode": "token"}  # Ray's token
    for pod in (head["template"]["spec"], workers):  # boto3 needs a region on every node
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["AWS_REGION"]


def test_the_cluster_launcher_config_gives_each_node_its_role() -> None:
    (config,) = documents(DEPLOY / "cluster-aws.yaml")
    nodes = config["available_node_types"]
    assert nodes[config["head_node_type"]]["resources"] == {"CPU": 0}
    profiles = {n["node_config"]["IamInstanceProfile"]["Name"] for n in nodes.values()}
    assert profiles == {"s3-detector-ray-head", "s3-detector-ray-worker"}
    assert any("[ray]" in c for c in config["setup_commands"])
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("ray-auth.env" in c for c in starts if " start " in c)  # token, region
    env_file = next(c for c in config["setup_commands"] if "ray-auth.env" in c)
    assert "RAY_AUTH_MODE=token" in env_file and "AWS_REGION=" in env_file
    install = next(c for c in config["setup_commands"] if "pip install" in c)
    assert "ray==" in install and "@v" in install  # one pinned version on every node
    assert all("--address" in c for c in config["worker_start_ray_commands"] if " start " in c)


def actions(policy: Path) -> set[str]:
    doc = json.loads(policy.read_text())
    assert doc["Version"] == "2012-10-17"
    out: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        acts = statement["Action"]
        out |= {acts} if isinstance(acts, str) else set(acts)
    return out


def test_workers_may_write_data_files_but_not_the_catalog() -> None:
    head, worker = actions(DEPLOY / "iam-head.json"), actions(DEPLOY / "iam-worker.json")
    assert {"s3:PutObject", "s3:GetObject", "glue:GetTable"} <= worker
    assert not {a for a in worker if a.startswith("glue:") and not a.startswith("glue:Get")}
    assert "s3:DeleteObject" not in worker and "sns:Publish" not in worker
    assert {"glue:CreateTable", "glue:UpdateTable", "s3:ListBucket", "sns:Publish"} <= head
    assert "secretsmanager:GetSecretValue" in head & worker  # the cluster's Ray token
