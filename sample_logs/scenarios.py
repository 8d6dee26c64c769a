"""The labelled evaluation world behind ``generate.py --scenarios``.

Weeks of benign traffic (``scenario_world``), benign traps and attacks (``attacks``), and what
an evaluation needs beside the logs, all written into ``--out``:

- ``labels.json``: the world (accounts, buckets, CI roles, ...) and every scenario with the
  CloudTrail eventIDs and access-log-only request IDs of every event it generated (and, in
  ``joined_request_ids``, the request IDs its access-log lines share with its CloudTrail
  records, for matching evidence taken from access logs);
- ``detector.toml``: a detector configuration for this world;
- ``threat_intel_ips.txt`` and ``decoys.txt``: the files that configuration points to.

Labels come from what was written: a request counts for its actor's label when it produced a
CloudTrail record or access-log lines (logging switched off by an attack writes nothing).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import attacks
import generate as g
import scenario_world as sw
from generate import ANALYTICS, PROD, SECURITY, TRAIL_BUCKET, VENDOR, Req, World

DEFAULT_DAYS, MIN_DAYS = 16, 14
CT_PER_DAY, AL_PER_DAY = 14000, 7000  # targets; 16 days stay well under 400k events


def build_world(seed: int, start: int, days: int) -> World:
    """The scenario world; ``world.meta`` keeps the ``Env`` and the scenario list."""
    env = sw.build_env(seed, start, days)
    attacks.add_attacks(env)
    labels = {a.label for a in env.world.actors if a.label != "benign"}
    ids = [s.id for s in env.scenarios]
    assert labels == set(ids) and len(ids) == len(set(ids)), (labels ^ set(ids), ids)
    env.world.meta.update(env=env, scenarios=sorted(env.scenarios, key=lambda s: s.id))
    return env.world


class Tracker:
    """Collects, per label, the eventIDs and request IDs of what was written."""

    def __init__(self) -> None:
        self.by: dict[str, dict[str, Any]] = {}

    def add(self, label: str, r: Req, ct: dict[str, Any] | None, lines: list[str]) -> None:
        if ct is None and not lines:
            return
        s = self.by.get(label)
        if s is None:
            s = self.by[label] = {"events": [], "ct_rids": set(), "al_rids": {}, "first": r.t,
                                  "last": r.t, "ct": 0, "al": 0}  # fmt: skip
        if ct is not None:
            s["events"].append(ct["eventID"])
            s["ct_rids"].add(ct.get("requestID"))
            s["ct"] += 1
        if lines:
            s["al_rids"][r.rid] = None
            s["al"] += len(lines)
        s["first"], s["last"] = min(s["first"], r.t), max(s["last"], r.t)


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def world_info(env: sw.Env, start: int, days: int) -> dict[str, Any]:
    ci = [f"arn:aws:iam::{a}:role/github-actions-deploy" for a in (PROD, ANALYTICS)]
    return {
        "start": iso(start), "end": iso(start + days * g.DAY), "days": days,
        "attack_days": [time.strftime("%Y-%m-%d", time.gmtime(env.at(d, "00:00")))
                        for d in range(days - 4, days)],
        "our_accounts": [PROD, ANALYTICS, SECURITY], "partner_accounts": [VENDOR],
        "org_id": sw.ORG_ID,
        "account_names": {PROD: "prod", ANALYTICS: "analytics", SECURITY: "security",
                          VENDOR: "vendor (benign, cross-account)",
                          sw.FOREIGN: "attacker (not ours)"},
        "website_buckets": [sw.WEBSITE], "log_buckets": [TRAIL_BUCKET, sw.ACCESS_LOG_BUCKET],
        "ci_roles": ci,
        "vpc_endpoints": {v[0]: {"account": v[1], "name": k} for k, v in env.vpce.items()},
        "buckets": {b.name: {"account": b.account, "region": b.region,
                             "cloudtrail_data_events": ("writes only" if b.writes_only
                                                        else b.data_events),
                             "access_logs": b.access_logs} for b in env.buckets.values()},
        "decoys_file": "decoys.txt", "threat_intel_file": "threat_intel_ips.txt",
    }  # fmt: skip


def detector_toml(info: dict[str, Any]) -> str:
    def arr(xs: list[str]) -> str:
        return "[" + ", ".join(json.dumps(x) for x in xs) + "]"

    return f"""# Detector configuration for the world of `generate.py --scenarios` (paths are
# relative to this file). Written by sample_logs/generate.py; labels.json has the truth.

[org]
accounts = {arr(info["our_accounts"])}   # ours: prod, analytics, security
partner_accounts = {arr(info["partner_accounts"])}   # the vendor: its bucket grant is sanctioned

[buckets]
website = {arr(info["website_buckets"])}
log_buckets = {arr(info["log_buckets"])}
decoys_file = "decoys.txt"

[threat_intel]
ip_files = ["threat_intel_ips.txt"]

[allowlist]
principals = []          # ARNs or role ARNs never alerted on
ci_roles = {arr(info["ci_roles"])}
user_agents = []
"""


def write_outputs(out: Path, world: World, tracker: Tracker, start: int,
                  days: int) -> tuple[dict[str, Any], str]:  # fmt: skip
    """labels.json, detector.toml, threat_intel_ips.txt, decoys.txt; the MANIFEST section and
    the summary line's tail."""
    env: sw.Env = world.meta["env"]
    info = world_info(env, start, days)
    entries, manifest = [], {}
    totals: dict[str, list[int]] = {"attack": [0, 0, 0], "trap": [0, 0, 0]}
    for s in world.meta["scenarios"]:
        t = tracker.by.get(s.id, {"events": [], "ct_rids": set(), "al_rids": {}, "first": start,
                                  "last": start, "ct": 0, "al": 0})  # fmt: skip
        first, last = t["first"], t["last"]
        if s.window:  # e.g. a silence: from the change until logging is back
            first, last = min(first, s.window[0]), max(last, s.window[1])
        only_al = [rid for rid in t["al_rids"] if rid not in t["ct_rids"]]
        entries.append({
            "id": s.id, "kind": s.kind, "capabilities": list(s.capabilities),
            "description": s.description, "principal": s.principal,
            "start": iso(first), "end": iso(last),
            "event_ids": t["events"], "request_ids": only_al,
            "joined_request_ids": [rid for rid in t["al_rids"] if rid in t["ct_rids"]],
        })  # fmt: skip
        manifest[s.id] = {"kind": s.kind, "capabilities": list(s.capabilities),
                          "cloudtrail_records": t["ct"], "access_log_lines": t["al"],
                          "access_log_only_requests": len(only_al)}  # fmt: skip
        tot = totals[s.kind]
        tot[0], tot[1], tot[2] = tot[0] + 1, tot[1] + t["ct"], tot[2] + t["al"]
    labels = {"world": info, "scenarios": entries}
    (out / "labels.json").write_text(json.dumps(labels, indent=1, ensure_ascii=False) + "\n")
    (out / "detector.toml").write_text(detector_toml(info))
    (out / "threat_intel_ips.txt").write_text(
        "# Threat-intel IPs for the scenario world: one IP or CIDR per line, '#' starts a comment\n"
        + "\n".join(sw.THREAT_INTEL)
        + "\n"
    )
    (out / "decoys.txt").write_text(
        "# Decoy (canary) objects: one per line, <bucket>/<key> for an object, <bucket>/<prefix>/\n"
        "# (ending in /) for every key under a prefix; '#' starts a comment\n"
        + "\n".join(sw.DECOYS)
        + "\n"
    )
    a, tr = totals["attack"], totals["trap"]
    summary = (f"; scenarios: {a[0]} attacks ({a[1]} CloudTrail records, {a[2]} access-log "
               f"lines), {tr[0]} traps ({tr[1]} records, {tr[2]} lines)")  # fmt: skip
    return manifest, summary
