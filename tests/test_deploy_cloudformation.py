"""deploy/cloudformation: cfn-lint passes, every policy names its actions and resources,
and the roles grant what the code calls (read off the source: a new call needs a grant)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from conftest import REPO

TEMPLATES = sorted((REPO / "deploy" / "cloudformation").glob("*.yaml"))
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def template(name: str) -> dict[str, Any]:
    doc, problems = decode(str(REPO / "deploy" / "cloudformation" / name))
    assert not problems and doc is not None, problems
    return doc


def statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement anywhere in a template (roles, managed and queue policies)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Statement" in node and isinstance(node["Statement"], list):
            found += [s for s in node["Statement"] if isinstance(s, dict)]
        for value in node.values():
            found += statements(value)
    elif isinstance(node, list):
        for value in node:
            found += statements(value)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_there_are_templates_and_cfn_lint_passes() -> None:
    assert {t.name for t in TEMPLATES} >= {
        "notifications-sqs.yaml",
        "eventbridge-kinesis.yaml",
        "iam.yaml",
    }
    out = subprocess.run([CFN_LINT, *map(str, TEMPLATES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_wildcard_actions_or_resources(path: Path) -> None:
    for s in statements(template(path.name)["Resources"]):
        for action in as_list(s.get("Action", [])):
            assert "*" not in str(action), (path.name, s)
        for resource in as_list(s.get("Resource", [])):
            assert resource != "*", (path.name, s)


def calls(module: str) -> set[str]:
    """The AWS operations a source module calls on its client (``self.client.op(``)."""
    text = (REPO / "detector" / "sources" / module).read_text()
    return set(re.findall(r"self\.client\.([a-z_]+)\(", text)) - {"close"}


def iam_action(service: str, operation: str) -> str:
    """``receive_message`` → ``sqs:ReceiveMessage``; batch calls need the single action."""
    name = "".join(part.title() for part in operation.removesuffix("_batch").split("_"))
    return f"{service}:{name}"


def granted(role: dict[str, Any]) -> set[str]:
    return {str(a) for s in statements(role) for a in as_list(s.get("Action", []))}


def test_the_tail_role_grants_what_the_stream_sources_call() -> None:
    roles = template("iam.yaml")["Resources"]
    tail = granted(roles["TailRole"])
    needed = {iam_action("sqs", op) for op in calls("sqs.py")}
    needed |= {iam_action("kinesis", op) for op in calls("kinesis.py")}
    assert needed == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "kinesis:ListShards",
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
    }
    assert needed <= tail
    # The Ray consumers (tail sqs --engine ray) call the same SQS operations.
    assert {a for a in needed if a.startswith("sqs:")} <= granted(roles["RayWorkerRole"])
    # Workers commit nothing: no catalog writes, no deletes in the lake.
    worker = granted(roles["RayWorkerRole"])
    assert not {"glue:CreateTable", "glue:UpdateTable", "s3:DeleteObject"} & worker


def test_the_queue_dead_letters_and_accepts_only_its_bucket_and_rule() -> None:
    resources = template("notifications-sqs.yaml")["Resources"]
    redrive = resources["Queue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    for s in statements(resources["QueuePolicy"]):
        assert s["Action"] == "sqs:SendMessage" and "Condition" in s  # never open to all
    pattern = resources["ObjectCreatedRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]  # what detector.sources.notifications reads


def test_the_stream_rule_sends_cloudtrail_s3_calls() -> None:
    resources = template("eventbridge-kinesis.yaml")["Resources"]
    pattern = resources["CloudTrailEventsRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert "aws.s3" in pattern["source"] and "aws.cloudtrail" in pattern["source"]
    put = granted(resources["PutRecordsRole"]["Properties"]["Policies"])
    assert put == {"kinesis:PutRecord", "kinesis:PutRecords"}


def test_analysts_read_the_lake_and_write_only_its_triage_table() -> None:
    policy = template("iam.yaml")["Resources"]["AnalystPolicy"]
    writes = [s for s in statements(policy) if "s3:PutObject" in as_list(s["Action"])]
    assert len(writes) == 1 and writes[0]["Resource"]["Fn::Sub"].endswith("/triage/*")
    commits = [s for s in statements(policy) if "glue:UpdateTable" in as_list(s["Action"])]
    assert len(commits) == 1 and commits[0]["Resource"][-1]["Fn::Sub"].endswith("/triage")
