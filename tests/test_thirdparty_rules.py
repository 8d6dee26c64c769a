"""Every event rule on every real third-party sample: what fires, reviewed by hand.

Samples are read from ``<repo>/../shared/testdata/`` (see its README.md): each CloudTrail
file under ``cloudtrail/`` on its own, each line of ``s3_object_level_events.jsonl`` on its
own (a one-record trail file, as tests/golden does: its lines come from different rule sets
and each has its own label), and each access-log file under ``s3access/``. They are parsed
with the project's parser, enriched with default settings (no organisation, log buckets or
lists configured: the samples come from many unrelated accounts), and every registered
event rule is run. ``EXPECTED`` is the full table; a new sample fails until it is reviewed.

Firings, reviewed (every other sample fires nothing, as expected: the AWS processing
library's robustness set, Elastic's two S3 data events, the access-log samples, the benign
Panther cases, and the 31 Stratus techniques outside the S3 capabilities — EC2, IAM,
Lambda, SSM, Secrets Manager, Bedrock, Organizations, Route 53 and VPC flow logs):

sample (jsonl: line of s3_object_level_events)  fires                             expected?
stratus defense-evasion.cloudtrail-stop         cloudtrail_stopped_or_deleted     yes C01
stratus defense-evasion.cloudtrail-delete       cloudtrail_stopped_or_deleted     yes C01
stratus defense-evasion.cloudtrail-event-sel..  cloudtrail_selectors_narrowed     yes C02 (a)
stratus credential-access.ec2-steal-instance..  instance_credentials_outside_vpc  yes C15 (b)
jsonl L2  Panther In-Place Copy with KMS change hostile_reencryption              yes C21 (c)
jsonl L4  Panther CopyObject to External Acct   write_to_foreign_bucket           yes C25 (c)
jsonl L6  Panther CopyObject with client-side   hostile_reencryption              yes C21 (c)
jsonl L10 Panther Ransomware Note               ransom_note_written               yes C23 (c)
jsonl L12 Panther VPC Endpoint Access Denied    vpc_endpoint_foreign_or_denied    yes C14 (c)
jsonl L15 Panther External Principal Access     vpc_endpoint_foreign_or_denied    yes C14 (c, d)
jsonl L18 Panther External IP Access            vpc_endpoint_foreign_or_denied    yes C14 (c, e)
jsonl L21-L29 OTRF SDAWS-200914011940           instance_credentials_outside_vpc  yes C15 (f)
jsonl L32 AWS docs, S3 on Outposts PutObject    hostile_reencryption              yes C21 (g)

(a) management events off and the S3 data-event values emptied. (b) session
``i-786a3A8B5C0d92eF4`` (mixed case) used from a public address. (c) Panther's own label is
true. (d) a foreign account's principal through the recipient's endpoint. (e) 8.8.8.8
through an endpoint. (f) the dataset's attack: a WAF instance's role session used from a
laptop at 1.2.3.4. (g) the object is written with SSE-C, which C21 flags on sight: a benign
docs sample, but exactly the rule's meaning.

Not fired, by design: Panther L6–L9 put a documentation address (192.0.2.0) behind a VPC
endpoint, which is not a public caller (Panther's own rule asks ``is_global``); Panther L8/L9
(single deletes) are for volume detections, not event rules; L1 (an instance session from
10.0.1.50) is Panther's benign case. The Stratus set holds no S3 technique detonation
(no ``s3-backdoor-bucket-policy`` or ``cloudtrail-lifecycle-rule`` file), so C03/C06/C07
are exercised by the rules' own examples and tests/test_event_shapes.py instead.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from detector.blob import Blob, ObjectRef
from detector.config import Settings
from detector.detections import load_all
from detector.detections.base import EventRule
from detector.features.enrich import enrich
from detector.logtypes import parse_blobs

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
if not (TESTDATA / "cloudtrail").is_dir() or not (TESTDATA / "s3access").is_dir():
    # Fail, never skip: a run without the real samples must not look like a passing one.
    pytest.fail(
        f"shared testdata not found at {TESTDATA}: these tests need ../shared/testdata "
        "beside the project",
        pytrace=False,
    )

JSONL = "cloudtrail/s3_object_level_events.jsonl"
STRATUS = "cloudtrail/stratus-red-team-detonations/aws."
LIBRARY = "cloudtrail/aws-cloudtrail-processing-library/"
C15 = ["instance_credentials_outside_vpc"]
C14 = ["vpc_endpoint_foreign_or_denied"]

EXPECTED: dict[str, list[str]] = {
    **{
        LIBRARY + name: []
        for name in (
            "SQSMessageBody",
            "SQSMessageBodyWrongFormat",
            "SerializerAllFieldsNull.json",
            "SerializerTestFile.json",
            "SerializerTestFileBadFieldName.json",
            "SerializerTestFileBadJsonFormat.json",
            "SerializerTestFileCompact.json",
            "SerializerTestFileCompact.json.gz",
            "SerializerTestFileLocation.json",
            "SerializerTestFileMissField.json",
            "SerializerTestFileNewFieldAtRandomPlaces.json",
            "SerializerTestFileNewFieldName.json",
            "SerializerTestFileNewFieldsInRoot.json",
            "SerializerTestFileNewFieldsInUserIdentity.json",
            "SerializerVariousUserIdentityTestFile.json",
        )
    },
    "cloudtrail/elastic-integrations/test-copy-object-json.log": [],
    "cloudtrail/elastic-integrations/test-put-object-json.log": [],
    **{f"{JSONL}#L{n}": [] for n in range(1, 33)},
    f"{JSONL}#L2": ["hostile_reencryption"],
    f"{JSONL}#L4": ["write_to_foreign_bucket"],
    f"{JSONL}#L6": ["hostile_reencryption"],
    f"{JSONL}#L10": ["ransom_note_written"],
    f"{JSONL}#L12": C14,
    f"{JSONL}#L15": C14,
    f"{JSONL}#L18": C14,
    **{f"{JSONL}#L{n}": C15 for n in range(21, 30)},
    f"{JSONL}#L32": ["hostile_reencryption"],
    **{
        f"{STRATUS}{name}.json": []
        for name in (
            "credential-access.ec2-get-password-data",
            "credential-access.secretsmanager-batch-retrieve-secrets",
            "credential-access.secretsmanager-retrieve-secrets",
            "credential-access.ssm-retrieve-securestring-parameters",
            "defense-evasion.dns-delete-logs",
            "defense-evasion.organizations-leave",
            "defense-evasion.vpc-remove-flow-logs",
            "discovery.ec2-download-user-data",
            "execution.ec2-launch-unusual-instances",
            "execution.ec2-user-data",
            "execution.ssm-send-command",
            "execution.ssm-start-session",
            "exfiltration.ec2-security-group-open-port-22-ingress",
            "exfiltration.ec2-share-ami",
            "exfiltration.ec2-share-ebs-snapshot",
            "exfiltration.rds-share-snapshot",
            "impact.bedrock-invoke-model",
            "initial-access.console-login-without-mfa",
            "lateral-movement.ec2-instance-connect",
            "lateral-movement.ec2-serial-console-send-ssh-public-key",
            "persistence.iam-backdoor-role",
            "persistence.iam-backdoor-user",
            "persistence.iam-create-admin-user",
            "persistence.iam-create-backdoor-role",
            "persistence.iam-create-user-login-profile",
            "persistence.lambda-backdoor-function",
            "persistence.lambda-layer-extension",
            "persistence.lambda-overwrite-code",
            "persistence.rolesanywhere-create-trust-anchor",
            "persistence.sts-federation-token",
            "privilege-escalation.iam-update-user-login-profile",
        )
    },
    f"{STRATUS}credential-access.ec2-steal-instance-credentials.json": C15,
    f"{STRATUS}defense-evasion.cloudtrail-delete.json": ["cloudtrail_stopped_or_deleted"],
    f"{STRATUS}defense-evasion.cloudtrail-event-selectors.json": ["cloudtrail_selectors_narrowed"],
    f"{STRATUS}defense-evasion.cloudtrail-stop.json": ["cloudtrail_stopped_or_deleted"],
    "s3access/awsdocs/LogFormat_2023-06_examples.log": [],
    "s3access/awsdocs/LogFormat_current_docs_first2_examples.log": [],
    "s3access/elastic-beats/s3_server_access.log": [],
    "s3access/elastic-beats/test.log": [],
    "s3access/elastic-integrations/test-s3-server-access.log": [],
    "s3access/realworld_misc/63Klabs_atlantis-tutorials_03-static-website_2026.log": [],
}


@cache
def samples() -> dict[str, bytes]:
    """Sample name (path under testdata, ``#L<n>`` for a jsonl line) to the bytes parsed."""
    out: dict[str, bytes] = {}
    for path in sorted((TESTDATA / "cloudtrail").rglob("*")):
        if not path.is_file() or path.name.startswith("_"):  # _index.yaml
            continue
        name = path.relative_to(TESTDATA).as_posix()
        if name == JSONL:
            for n, line in enumerate(path.read_text().splitlines(), start=1):
                if line.strip():
                    record = json.loads(line)["event"]
                    out[f"{name}#L{n}"] = json.dumps({"Records": [record]}).encode()
        else:
            out[name] = path.read_bytes()
    for path in sorted((TESTDATA / "s3access").rglob("*.log")):
        out[path.relative_to(TESTDATA).as_posix()] = path.read_bytes()
    return out


def fired(name: str) -> list[str]:
    data = samples()[name]
    key = name.rsplit("/", 1)[-1].replace("#", "-")
    result = parse_blobs([Blob(ObjectRef(f"{TESTDATA}/{name}", key, len(data)), data)])
    settings = Settings()
    events = enrich(result.events, settings)
    rules = [d for d in load_all().values() if isinstance(d, EventRule)]
    return sorted(d.id for d in rules if d.findings(events, settings))


def test_every_sample_is_in_the_table() -> None:
    assert sorted(samples()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rules_on_sample(name: str) -> None:
    assert fired(name) == EXPECTED[name]


def test_the_samples_hold_events() -> None:
    """Guard against a vacuous pass: the parser reads events from the samples."""
    counts = {
        name: parse_blobs([Blob(ObjectRef(name, name.rsplit("/", 1)[-1], len(d)), d)]).events
        for name, d in samples().items()
        if name.startswith((STRATUS, JSONL, "s3access/"))
    }
    assert all(table.num_rows > 0 for table in counts.values()), [
        n for n, t in counts.items() if t.num_rows == 0
    ]
