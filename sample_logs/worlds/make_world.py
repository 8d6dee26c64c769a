"""Write a labelled evaluation world in one of three styles, seeded.

    python3 sample_logs/worlds/make_world.py --style saas --seed 101 --days 14 --out /tmp/w

Writes into ``--out``: ``AWSLogs/`` (CloudTrail, real key layout), ``s3-access-logs/`` (server
access log objects), ``labels.json`` (what ``detector evaluate`` reads), ``detector.toml`` (a
first-run configuration: comments only, unless ``--with-org-config`` or
``--with-threat-intel``), ``threat_intel_ips.txt`` and ``MANIFEST.json`` (counts).
Standard library only; the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from aws import iso  # noqa: E402
from net import THREAT_INTEL  # noqa: E402
from seeds import STYLES  # noqa: E402
from sim import Result, run  # noqa: E402
from world import World  # noqa: E402

OWNED = ("AWSLogs", "s3-access-logs")
OWNED_FILES = ("labels.json", "detector.toml", "threat_intel_ips.txt", "MANIFEST.json")


def build(style: str, seed: int, days: int, scale: float, start: str | None = None) -> World:
    mod = importlib.import_module(style)
    day = start or mod.DEFAULT_START
    t0 = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    return mod.build(seed, t0, days, scale)


def world_info(w: World) -> dict[str, Any]:
    return {
        "style": w.style,
        "seed": w.seed,
        "company": w.company,
        "scale": w.scale,
        "start": iso(w.start),
        "end": iso(w.end),
        "days": w.days,
        "scenario_days_from": iso(w.day0(w.scenario_day(0.0))),
        "time_zones": w.tz,
        "org_id": w.org_id,
        "our_accounts": sorted(w.accounts),
        "account_names": {**w.accounts, **w.partners, **w.foreign},
        "partner_accounts": sorted(w.partners),
        "foreign_accounts": sorted(w.foreign),
        "trail": {
            "name": w.trail_name,
            "bucket": w.trail_bucket.name if w.trail_bucket else None,
            "organization_trail": bool(w.org_id),
        },
        "log_buckets": sorted(
            {b.name for b in w.buckets.values() if b is w.trail_bucket or "access-log" in b.name}
        ),
        "website_buckets": sorted(b.name for b in w.buckets.values() if b.website),
        "ci_roles": w.ci_roles,
        "vpc_endpoints": {v[0]: {"account": v[1], "name": k} for k, v in w.vpce.items()},
        "access_log_layout": w.access_log_layout,
        "buckets": {
            b.name: {
                "account": b.account,
                "region": b.region,
                "cloudtrail_data_events": b.data_events,
                "access_logs": b.access_logs,
                "website": b.website,
            }
            for b in w.buckets.values()
        },
        "threat_intel_file": "threat_intel_ips.txt",
    }


def labels(w: World, res: Result) -> dict[str, Any]:
    entries = []
    for s in w.scenarios:
        t = res.tracker.by.get(s.id)
        if t is None:
            t = {"events": [], "ct_rids": set(), "al_rids": {}, "first": w.start, "last": w.start}
        first, last = t["first"], t["last"]
        if s.window:
            first, last = min(first, s.window[0]), max(last, min(s.window[1], w.end))
        entries.append(
            {
                "id": s.id,
                "kind": s.kind,
                "capabilities": s.capabilities,
                "description": s.description,
                "principal": s.principal,
                "start": iso(first),
                "end": iso(last),
                "event_ids": t["events"],
                "request_ids": [r for r in t["al_rids"] if r not in t["ct_rids"]],
                "joined_request_ids": [r for r in t["al_rids"] if r in t["ct_rids"]],
            }
        )
    return {"world": world_info(w), "scenarios": entries}


def detector_toml(w: World, org: bool, threat_intel: bool) -> str:
    text = (
        f"# Detector configuration for a {w.style} world (seed {w.seed}), as on a first run:\n"
        "# nothing is known of the organisation yet. The detector must learn accounts, log\n"
        "# buckets, website buckets, CI roles and service principals from the logs.\n"
    )
    if org:
        text += "\n[org]\naccounts = [" + ", ".join(f'"{a}"' for a in sorted(w.accounts)) + "]\n"
    if threat_intel:
        text += '\n[threat_intel]\nip_files = ["threat_intel_ips.txt"]\n'
    return text


def manifest(w: World, res: Result) -> dict[str, Any]:
    return {
        "generator": "sample_logs/worlds/make_world.py",
        "style": w.style,
        "seed": w.seed,
        "days": w.days,
        "scale": w.scale,
        "cloudtrail": {
            "records": res.ct_records,
            "files": res.ct_files,
            "digest_files": res.digest_files,
        },
        "s3_access_logs": {"lines": res.al_lines, "files": res.al_files},
        "events": res.ct_records + res.al_lines,
        "bytes": res.bytes,
        "events_by_label": dict(sorted(res.by_label.items())),
        "scenarios": {
            "attack": sum(s.kind == "attack" for s in w.scenarios),
            "trap": sum(s.kind == "trap" for s in w.scenarios),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--style", choices=STYLES, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--scale", type=float, default=1.0, help="benign volume (1: ~15-30k events/day)"
    )
    ap.add_argument("--start", help="first UTC day, YYYY-MM-DD (default: the style's)")
    ap.add_argument(
        "--with-org-config",
        action="store_true",
        help="name our accounts in detector.toml ([org] accounts)",
    )
    ap.add_argument(
        "--with-threat-intel",
        action="store_true",
        help="point detector.toml at threat_intel_ips.txt",
    )
    args = ap.parse_args(argv)
    if args.days < 4:
        ap.error("--days must be at least 4")
    if not 0.01 <= args.scale <= 20:
        ap.error("--scale must be between 0.01 and 20")
    began = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for d in OWNED:
        shutil.rmtree(out / d, ignore_errors=True)
    for f in OWNED_FILES:
        (out / f).unlink(missing_ok=True)
    w = build(args.style, args.seed, args.days, args.scale, args.start)
    res = run(w, out)
    (out / "labels.json").write_text(
        json.dumps(labels(w, res), indent=1, ensure_ascii=False) + "\n"
    )
    (out / "detector.toml").write_text(
        detector_toml(w, args.with_org_config, args.with_threat_intel)
    )
    (out / "threat_intel_ips.txt").write_text(
        "# Threat-intel addresses (Tor exits and known-bad hosts): one IP or CIDR per line\n"
        + "\n".join(THREAT_INTEL)
        + "\n"
    )
    m = manifest(w, res)
    (out / "MANIFEST.json").write_text(json.dumps(m, indent=1) + "\n")
    n_att, n_trap = m["scenarios"]["attack"], m["scenarios"]["trap"]
    print(
        f"{w.style} seed {w.seed}: {m['events']:,} events ({res.ct_records:,} CloudTrail records "
        f"in {res.ct_files:,} files, {res.al_lines:,} access-log lines in {res.al_files:,} "
        f"files), {res.bytes:,} bytes, {n_att} attacks, {n_trap} traps, {w.days} days "
        f"({m['events'] / w.days:,.0f}/day) in {time.perf_counter() - began:.1f}s -> {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
