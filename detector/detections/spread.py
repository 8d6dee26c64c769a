"""Breadth rather than volume: sweeps over keys and buckets, new buckets, enumeration and
access-denied storms (C10, C11, C17, C18)."""

from __future__ import annotations

from detector.config import Settings
from detector.detections.base import Finding, Reason, register
from detector.detections.habits import familiar, person
from detector.detections.volume import EXTREME_PEAK_MULTIPLE, risky_context
from detector.detections.window_base import Verdict, WindowDetection, deviation_reason

NEW_BUCKET_MIN_READS = 50
NEW_BUCKET_MIN_BYTES = 50_000_000
NEW_PRINCIPAL_DENIED = 30
"""Refusals in one window that make a caller without history a prober (the model's floor)."""
PROBED_OBJECTS = 10
"""Distinct keys plus buckets refused: a retry loop on one object is a bug, not a probe."""


def uploads(v: Verdict) -> bool:
    """Nearly every request of the window writes, into buckets the principal never used:
    filling a new place (a backfill, an archive), not a sweep over existing objects. Bulk
    writes into its own buckets stay a sweep: that is how overwriting in place looks."""
    w = v.window
    data = sum(w.get(f, 0) for f in ("n_read", "n_write", "n_list", "n_delete"))
    if w.get("n_write", 0) < 0.9 * max(data, 1):
        return False
    new = set(v.news.get("buckets") or ())
    return bool(new) and set(w.get("data_buckets") or ()) <= new


@register
class Sweep(WindowDetection):
    id = "object_sweep"
    title = "Sweep over far more keys, prefixes or buckets than usual"
    severity = "low"
    capabilities = ("C10",)
    attack = ("T1530", "T1619")
    runbook = "Look for a List-then-Get crawl in the evidence; compare with the principal's job."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        devs = [d for f in ("n_keys", "n_prefixes", "n_buckets", "n_list") if (d := v.deviation(f))]
        if not devs or uploads(v):
            return None
        context = risky_context(v)
        crawl = v.window.get("n_list", 0) > 10 and v.window.get("n_read", 0) > 50
        reasons = [deviation_reason(d) for d in devs] + context
        if crawl:
            reasons.append(
                Reason(
                    "list_then_get",
                    f"{v.window['n_list']} lists, {v.window['n_read']} reads",
                    None,
                    "listings followed by reads: a crawl",
                )
            )
        n = len(context) + crawl
        extreme = any(d.observed >= EXTREME_PEAK_MULTIPLE * max(d.baseline_peak, 1) for d in devs)
        # A person downloading many files from their usual buckets, network and client at a
        # usual hour is doing their job in bulk (an export, a support case): a weak signal.
        extreme = extreme and not (person(v) and familiar(v))
        return v.finding(
            self,
            reasons,
            max(d.z for d in devs) + n,
            "high" if n >= 2 else "medium" if n or extreme else "low",
        )


@register
class NewBucketWithVolume(WindowDetection):
    id = "new_principal_bucket"
    title = "Established principal reads a bucket it never used, in volume"
    severity = "medium"
    capabilities = ("C11",)
    attack = ("T1530",)
    runbook = "Confirm the principal has a reason to read that bucket; check its policy."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        w = v.window
        # Its own object requests: listing a bucket, or Athena writing results for the
        # principal, is not reading the bucket's data.
        used = set(w.get("data_buckets") or ())
        new = [b for b in v.news.get("buckets") or [] if b in used]
        if not (v.established and new):
            return None
        if (
            w.get("n_read", 0) < NEW_BUCKET_MIN_READS
            and w.get("bytes_out", 0) < NEW_BUCKET_MIN_BYTES
        ):
            return None
        reasons = [
            Reason(
                "new_buckets",
                ", ".join(new[:5]),
                "buckets used before",
                f"first access to {', '.join(new[:5])} with {w['n_read']:,} reads",
            )
        ]
        return v.finding(self, reasons + risky_context(v), 5.0)


@register
class Enumeration(WindowDetection):
    id = "bucket_enumeration"
    title = "Bucket enumeration burst (policies, ACLs, locations across buckets)"
    severity = "medium"
    capabilities = ("C17",)
    attack = ("T1619", "T1580")
    runbook = "Check whether the principal is a known scanner (CSPM, audit); if not, contain."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        dev = v.deviation("n_recon")
        # IaC plans read every bucket's configuration: that is what CI roles are for.
        if dev is None or v.window.get("n_buckets", 0) < 3 or v.principal in settings.ci_roles:
            return None
        return v.finding(self, [deviation_reason(dev), *risky_context(v)], dev.z)


@register
class DeniedStorm(WindowDetection):
    id = "access_denied_storm"
    title = "Access-denied storm across buckets or keys"
    severity = "medium"
    capabilities = ("C18",)
    attack = ("T1619", "T1530")
    runbook = "Someone is probing with these credentials: find what they tried, rotate keys."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        dev = v.deviation("n_denied")
        if dev is not None:
            return v.finding(self, [deviation_reason(dev), *risky_context(v)], dev.z)
        return None if v.established else self._unknown_prober(v)

    def _unknown_prober(self, v: Verdict) -> Finding | None:
        """A caller with no history here (new credentials, the anonymous internet) has no
        baseline and often no peers; nearly all of a window refused across many objects
        is probing whoever it is."""
        w = v.window
        denied, total = w.get("n_denied", 0), max(w.get("n_events", 0), 1)
        spread = w.get("n_keys", 0) + w.get("n_buckets", 0)
        if denied < NEW_PRINCIPAL_DENIED or denied < 0.8 * total or spread < PROBED_OBJECTS:
            return None
        reason = Reason(
            "n_denied",
            f"{denied:,}",
            "no history",
            f"{denied:,} of {total:,} requests refused across {w.get('n_keys', 0):,} keys in "
            f"{w.get('n_buckets', 0):,} bucket(s) from {w.get('n_ip_prefixes', 0):,} network(s), "
            "by a caller with no history here",
        )
        return v.finding(self, [reason], float(denied) / NEW_PRINCIPAL_DENIED)
