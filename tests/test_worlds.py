"""The evaluation-world generator (sample_logs/worlds): small worlds of each style are
well-formed, labelled completely and reproducible. About 15 s."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.evaluate import load_labels

REPO = Path(__file__).resolve().parents[1]
MAKE_WORLD = REPO / "sample_logs" / "worlds" / "make_world.py"
STYLES = ("saas", "enterprise", "dataplatform")


def make(out: Path, style: str, seed: int = 101, *extra: str) -> None:
    cmd = [
        sys.executable,
        str(MAKE_WORLD),
        "--style",
        style,
        "--seed",
        str(seed),
        "--days",
        "5",
        "--scale",
        "0.2",
        "--out",
        str(out),
        *extra,
    ]
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module", params=STYLES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    make(out, request.param)
    return out


def cloudtrail(world: Path) -> tuple[set[str], int]:
    """(eventIDs, digest files) of every CloudTrail object written."""
    ids: set[str] = set()
    digests = 0
    for f in (world / "AWSLogs").rglob("*.json.gz"):
        body = json.loads(gzip.decompress(f.read_bytes()))
        if "CloudTrail-Digest" in f.parts:
            digests += 1
            assert "logFiles" in body
            continue
        assert "/CloudTrail/" in f.as_posix() and "_CloudTrail_" in f.name
        ids.update(r["eventID"] for r in body["Records"])
    return ids, digests


def request_ids(world: Path) -> set[str]:
    return {
        ln.split(" ")[6]
        for f in (world / "s3-access-logs").rglob("*")
        if f.is_file()
        for ln in f.read_text().splitlines()
    }


def test_files_and_first_run_config(world: Path) -> None:
    assert any((world / "AWSLogs").rglob("*.json.gz"))
    assert any(f.is_file() for f in (world / "s3-access-logs").rglob("*"))
    toml = (world / "detector.toml").read_text()
    assert all(ln.startswith("#") or not ln.strip() for ln in toml.splitlines())
    intel = [
        ln
        for ln in (world / "threat_intel_ips.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert len(intel) >= 3
    manifest = json.loads((world / "MANIFEST.json").read_text())
    assert manifest["events"] > 20_000


def test_labels_complete(world: Path) -> None:
    scenarios = load_labels(world / "labels.json")
    raw = json.loads((world / "labels.json").read_text())
    attacks = [s for s in scenarios if s.kind == "attack"]
    traps = [s for s in scenarios if s.kind == "trap"]
    assert len(attacks) >= 15 and len(traps) >= len(attacks)
    assert len({s.id for s in scenarios}) == len(scenarios)
    caps = {c for s in attacks for c in s.capabilities}
    assert len(caps) >= 20, sorted(caps)
    assert all(not s.capabilities for s in traps)
    ct_ids, _ = cloudtrail(world)
    al_ids = request_ids(world)
    for s in raw["scenarios"]:
        assert set(s["event_ids"]) <= ct_ids, s["id"]
        assert set(s["request_ids"]) | set(s["joined_request_ids"]) <= al_ids, s["id"]
        if s["kind"] == "attack":
            assert s["event_ids"] or s["request_ids"], f"{s['id']} wrote nothing"
    first_attack = min(s.start for s in attacks)
    start = raw["world"]["start"]
    assert first_attack.isoformat()[:10] > start[:10]


CAPABILITIES = """
import json, sys
sys.path.insert(0, sys.argv[1])
import make_world
out = {}
for style in make_world.STYLES:
    w = make_world.build(style, 101, 14, 0.05)
    first = {}
    for calls in w.episodes.values():
        for c in calls:
            first[c.label] = min(first.get(c.label, c.t), c.t)
    attacks = [s for s in w.scenarios if s.kind == "attack"]
    out[style] = {"caps": sorted({c for s in attacks for c in s.capabilities}),
                  "days": sorted({(first[s.id] - w.start) // 86400 for s in attacks})}
print(json.dumps(out))
"""


def test_capabilities_and_attack_days() -> None:
    """Each style covers 20+ capabilities, all three together C01-C32; a 14-day world has
    attacks on five or more days, none in its first week (the learning period)."""
    done = subprocess.run(
        [sys.executable, "-c", CAPABILITIES, str(MAKE_WORLD.parent)],
        check=True,
        capture_output=True,
        text=True,
    )
    styles = json.loads(done.stdout)
    for style, got in styles.items():
        assert len(got["caps"]) >= 20, (style, got["caps"])
        assert min(got["days"]) >= 7 and len(got["days"]) >= 5, (style, got["days"])
    assert set().union(*(set(g["caps"]) for g in styles.values())) == {
        f"C{i:02d}" for i in range(1, 33)
    }


def test_deterministic(world: Path, tmp_path: Path) -> None:
    style = json.loads((world / "labels.json").read_text())["world"]["style"]
    make(tmp_path, style)
    assert (tmp_path / "labels.json").read_bytes() == (world / "labels.json").read_bytes()


def test_org_and_threat_intel_config(tmp_path: Path) -> None:
    make(tmp_path, "enterprise", 101, "--with-org-config", "--with-threat-intel")
    text = (tmp_path / "detector.toml").read_text()
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert "[org]" in text and all(a in text for a in labels["world"]["our_accounts"])
    assert 'ip_files = ["threat_intel_ips.txt"]' in text
    assert any((tmp_path / "AWSLogs").glob("o-*/*/CloudTrail"))
