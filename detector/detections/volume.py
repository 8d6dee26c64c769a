"""Volume against a principal's own baseline: reads, writes, deletes, presigned use
(C09, C20, C22, C31). One deviating feature alone is low; with a risky context it is
medium or more (severity from corroboration)."""

from __future__ import annotations

from datetime import timedelta

from detector.config import Settings
from detector.detections.base import Finding, Reason, register
from detector.detections.habits import automation
from detector.detections.window_base import (
    Verdict,
    WindowDetection,
    deviation_reason,
    human_bytes,
    human_count,
)

SUSTAINED_MIN_AGE = timedelta(days=2)
"""Age a principal needs before its sustained excess is judged (the slow mean's memory)."""
EXTREME_PEAK_MULTIPLE = 10
"""A value ten times the principal's own past peak is medium even without other context."""


RELAY_SHARE = 0.5
"""Writes per read from which a principal counts as relaying what it reads (a mover)."""


def risky_context(v: Verdict) -> list[Reason]:
    """Circumstances that turn a volume deviation into a likely incident."""
    w, out = v.window, []
    if v.established and v.news.get("buckets"):
        names = ", ".join(v.news["buckets"][:5])
        out.append(
            Reason(
                "new_buckets", names, "none new", f"bucket(s) this principal never used: {names}"
            )
        )
    if w.get("n_public_ip", 0) and v.profile and v.profile.public_share < 0.05:
        out.append(
            Reason(
                "public_source",
                str(w["n_public_ip"]),
                "private network",
                "requests from public IPs for a principal that uses private ones",
            )
        )
    if w.get("n_no_vpce", 0) and v.profile and v.profile.vpce_share > 0.95:
        out.append(
            Reason(
                "no_vpc_endpoint",
                str(w["n_no_vpce"]),
                "always via VPC endpoint",
                "data requests without the VPC endpoint this principal always uses",
            )
        )
    if w.get("n_foreign_bucket", 0):
        out.append(
            Reason(
                "foreign_bucket",
                str(w["n_foreign_bucket"]),
                "0",
                "requests to buckets owned by accounts that are not ours",
            )
        )
    if v.established and (clients := v.new_clients):
        out.append(
            Reason(
                "new_agent",
                ", ".join(clients[:3]),
                "known agents",
                f"new client {', '.join(clients[:3])}",
            )
        )
    return out


def _volume(d: WindowDetection, v: Verdict, features: tuple[str, ...]) -> Finding | None:
    devs = [x for f in features if (x := v.deviation(f)) is not None]
    if not devs:
        return None
    context = risky_context(v)
    extreme = [x for x in devs if x.observed >= EXTREME_PEAK_MULTIPLE * max(x.baseline_peak, 1)]
    severity = "high" if len(context) >= 2 else "medium" if context or extreme else "low"
    score = max(x.z for x in devs) + 2 * len(context)
    return v.finding(d, [deviation_reason(x) for x in devs] + context, score, severity)


@register
class ReadVolume(WindowDetection):
    id = "read_volume_anomaly"
    title = "Read volume far above the principal's baseline"
    severity = "low"
    per_bucket = True
    capabilities = ("C09",)
    attack = ("T1530", "T1537")
    dedup_window = timedelta(hours=1)
    runbook = "Check what was read (evidence, hunt) and whether the principal's job changed."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        return _volume(self, v, ("n_read", "bytes_out"))


def _sustained(
    d: WindowDetection, v: Verdict, settings: Settings, features: tuple[str, ...]
) -> Finding | None:
    """A CUSUM crossing on ``features`` (``sustained_<feature>`` deviations), for code only.

    Code works at a steady rate, so hours above it mean something; people work in bursts.
    A role younger than the slow mean's memory has no steady rate yet."""
    wanted = {f"sustained_{f}" for f in features}
    devs = [x for x in v.deviations if x.feature in wanted]
    if not devs or not automation(v) or v.profile is None:
        return None
    if v.window["window_start"] - v.profile.first_seen < SUSTAINED_MIN_AGE:
        return None
    reasons = []
    for x in devs:
        feature = x.feature.removeprefix("sustained_")
        fmt = human_bytes if feature.startswith("bytes") else human_count
        minutes = x.held * settings.window_minutes
        per_window = x.baseline_typical + x.observed / max(x.held, 1)
        ratio = per_window / max(x.baseline_typical, 1.0)
        where = f" on {x.scope}" if x.scope else ""
        reasons.append(
            Reason(
                x.feature,
                fmt(x.observed),
                f"{fmt(x.baseline_typical)} per window",
                f"{feature}{where} held at {ratio:.1f}× usual for {minutes // 60} h "
                f"{minutes % 60:02d} min: {fmt(x.observed)} more than usual "
                f"(usual {fmt(x.baseline_typical)} per {settings.window_minutes}-minute "
                "window)",
            )
        )
    context = risky_context(v)
    severity = "high" if context else "medium"
    return v.finding(d, reasons + context, max(x.z for x in devs), severity)


@register
class SustainedReadExcess(WindowDetection):
    id = "sustained_read_excess"
    title = "Reads held well above the principal's usual for hours (slow exfiltration)"
    severity = "medium"
    per_bucket = True
    capabilities = ("C09",)
    attack = ("T1530", "T1537", "T1030")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Compare what was read over the period with the principal's job (hunt the evidence "
        "by bucket and prefix); a slow, steady excess is how exfiltration avoids spike alerts."
    )

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        found = _sustained(self, v, settings, ("n_read", "bytes_out"))
        if found is not None and relays(v):
            found.severity = "low"
            found.reasons.append(
                Reason(
                    "relay",
                    f"{_whole(v, 'n_write'):,} writes",
                    f"{_whole(v, 'n_read'):,} reads",
                    "writes what it reads into our own buckets: a pipeline stage whose input "
                    "grew, not data leaving",
                )
            )
        return found


def _whole(v: Verdict, feature: str) -> int:
    """The principal's own count in the window (a bucket window carries its principal's)."""
    return int(v.window.get(f"principal_{feature}", v.window.get(feature)) or 0)


def relays(v: Verdict) -> bool:
    """The principal writes, into buckets of ours, at least half as many objects as it
    reads in the window: a mover or ETL step relaying its input (an exfiltration reads far
    more than it writes, or writes to a foreign bucket)."""
    reads = _whole(v, "n_read")
    return (
        reads > 0
        and _whole(v, "n_write") >= RELAY_SHARE * reads
        and not _whole(v, "n_foreign_bucket")
    )


@register
class SustainedWriteExcess(WindowDetection):
    id = "sustained_write_excess"
    title = "Writes held far above the code's usual rate (overwrite or encryption in place)"
    severity = "medium"
    per_bucket = True
    capabilities = ("C22",)
    attack = ("T1486", "T1565.001")
    dedup_window = timedelta(hours=6)
    runbook = (
        "List the keys written (evidence, hunt): existing keys rewritten, new extensions or "
        "encryption settings point to tampering or ransomware; check object versions and stop "
        "the principal if its job does not explain it."
    )

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        return _sustained(self, v, settings, ("n_write",))


@register
class WriteBurst(WindowDetection):
    id = "write_burst_anomaly"
    title = "Write/overwrite burst far above the principal's baseline"
    severity = "low"
    per_bucket = True
    capabilities = ("C22",)
    attack = ("T1486", "T1565.001")
    runbook = "Check for in-place overwrites or re-encryption of existing objects."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        return _volume(self, v, ("n_write",))


@register
class MassDelete(WindowDetection):
    id = "mass_delete_anomaly"
    title = "Deletes far above the principal's baseline"
    severity = "medium"
    per_bucket = True
    capabilities = ("C20",)
    attack = ("T1485",)
    runbook = (
        "Stop the principal, check versioning and replicas, restore from versions or "
        "backups; permanent (version-id) deletes cannot be undone."
    )

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        f = _volume(self, v, ("n_delete",))
        permanent = v.window.get("n_version_deletes", 0)
        if f is not None:
            f.severity = "high" if permanent or f.severity == "high" else "medium"
            if permanent:
                f.reasons.append(
                    Reason(
                        "version_deletes",
                        str(permanent),
                        "0",
                        f"{permanent} permanent (version-id) deletes",
                    )
                )
        return f


@register
class PresignedAbuse(WindowDetection):
    id = "presigned_url_anomaly"
    title = "Presigned-URL requests at unusual volume or from new networks"
    severity = "low"
    per_bucket = True
    capabilities = ("C31",)
    attack = ("T1567",)
    runbook = "Find who generated the URLs and where they were shared; rotate the key."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        f = _volume(self, v, ("n_presigned",))
        if f is not None and v.established and v.news.get("ip_prefixes"):
            f.severity = "medium"
            f.reasons.append(
                Reason(
                    "new_networks",
                    ", ".join(v.news["ip_prefixes"][:5]),
                    "known networks",
                    "presigned requests from new networks",
                )
            )
        return f
