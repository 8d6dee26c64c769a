"""Where requests come from, against where the principal usually comes from: network,
agent, access path (C12, C13 anomaly part, C14 anomaly part)."""

from __future__ import annotations

from detector.config import Settings
from detector.detections.base import Finding, Reason, register
from detector.detections.habits import automation
from detector.detections.window_base import Verdict, WindowDetection
from detector.scoring.state import Profile

MIN_DATA_REQUESTS = 5
STABLE_NETWORKS = 8
"""Code that runs behind NAT comes from a handful of networks; people roam."""


ROAMING_DAYS = 3
"""Days on which a network was first seen that make a principal's networks change routinely
(hosted CI runners draw a new address range most days)."""


def roams(p: Profile) -> bool:
    """New networks keep appearing on many of the principal's days: they are its habit."""
    firsts = {t.date() for t in p.since.get("ip_prefixes", {}).values()}
    return len(firsts) >= ROAMING_DAYS and len(firsts) * 3 >= p.days


def moved(v: Verdict) -> bool:
    """Every network of the window is new, and nothing else is (client, bucket, API)."""
    w = v.window
    networks = [n for n in w.get("ip_prefixes") or () if n]
    if not networks or len(v.news.get("ip_prefixes") or ()) < len(networks):
        return False
    return not any(v.news.get(k) for k in ("agents", "buckets", "operations", "vpces"))


@register
class NewNetworkOrigin(WindowDetection):
    id = "unusual_network_origin"
    title = "Principal that uses private networks calls from a new public network"
    severity = "medium"
    capabilities = ("C12",)
    attack = ("T1078.004",)
    runbook = "Check the new source IPs; if the credentials leaked, revoke the sessions."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        w, p = v.window, v.profile
        if not (v.established and p and v.news.get("ip_prefixes")) or w.get("n_public_ip", 0) < 1:
            return None
        nets = ", ".join(v.news["ip_prefixes"][:5])
        if p.public_share <= 0.02:
            baseline = "private networks only"
        elif automation(v) and len(p.seen["ip_prefixes"]) <= STABLE_NETWORKS and not roams(p):
            baseline = f"{len(p.seen['ip_prefixes'])} known networks (NAT)"
        else:
            return None
        reasons = [
            Reason(
                "new_public_network",
                nets,
                baseline,
                f"requests from new public network(s) {nets}; this principal uses {baseline}",
            )
        ]
        if moved(v):
            # All of its traffic, with its usual client, now comes from elsewhere: a new NAT
            # gateway or a replaced instance more often than a thief (who runs beside it).
            reasons.append(
                Reason(
                    "moved",
                    "all traffic",
                    "known networks",
                    "none of the window's requests came from a known network and nothing else "
                    "is new: an egress change looks like this",
                )
            )
            return v.finding(self, reasons, 3.0, "low")
        return v.finding(self, reasons, 6.0)


@register
class NewAgentFamily(WindowDetection):
    id = "new_user_agent_family"
    title = "New client software for an established principal, moving data"
    severity = "low"
    capabilities = ("C13",)
    attack = ("T1078.004",)
    runbook = "Ask the owner whether the new client is theirs."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        w = v.window
        new = v.new_clients
        if not (v.established and new):
            return None
        data = w.get("n_read", 0) + w.get("n_write", 0) + w.get("n_delete", 0)
        if data < 20:
            return None
        return v.finding(
            self,
            [
                Reason(
                    "new_agent",
                    ", ".join(new),
                    "known agents",
                    f"new client {', '.join(new)} with {data} data requests",
                )
            ],
            3.0,
            "medium" if data >= 200 else "low",
        )


@register
class AccessPathChange(WindowDetection):
    id = "access_path_change"
    title = "Principal that always uses a VPC endpoint arrives without it"
    severity = "medium"
    capabilities = ("C14",)
    attack = ("T1078.004", "T1537")
    runbook = (
        "The role's credentials are used outside its VPC: find the source IPs, "
        "revoke sessions, and add aws:SourceVpce conditions."
    )

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        w = v.window
        if not (v.established and v.profile and v.profile.vpce_share > 0.97):
            return None
        if w.get("n_no_vpce", 0) < MIN_DATA_REQUESTS:
            return None
        reasons = [
            Reason(
                "no_vpc_endpoint",
                str(w["n_no_vpce"]),
                f"{v.profile.vpce_share:.0%} via VPC endpoint",
                f"{w['n_no_vpce']} data requests without the VPC endpoint this "
                f"principal uses {v.profile.vpce_share:.0%} of the time",
            )
        ]
        severity = "high" if w.get("n_public_ip", 0) else "medium"
        return v.finding(self, reasons, 6.0, severity)
