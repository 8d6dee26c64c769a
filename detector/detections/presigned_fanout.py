"""One presigned URL fetched from many addresses: a leaked link (C31).

A presigned URL is handed to one client (a customer's browser, a partner's job), which
fetches it from one address or a few. Many URLs each fetched once is a service working;
one URL fetched from dozens of addresses within minutes has been posted or shared where
the signer never meant it to be. Volume of presigned requests (``presigned_url_anomaly``)
cannot tell the two apart; the fan-out of each URL can, with no history at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from detector.config import Settings
from detector.detections._examples import APP_ARN, access_line
from detector.detections.base import Example, Finding, Reason, register
from detector.detections.window_base import Verdict, WindowDetection
from detector.features.enrich import FETCH_SEPARATOR

MIN_ADDRESSES = 10
"""Addresses fetching one presigned object within one window before it is a leak."""
HIGH_ADDRESSES = 50


def fan_out(fetches: list[str]) -> dict[str, set[str]]:
    """Object (``bucket/key``) → the addresses that fetched it with a presigned URL."""
    out: dict[str, set[str]] = defaultdict(set)
    for fetch in fetches:
        bucket, _, rest = fetch.partition(FETCH_SEPARATOR)
        key, _, address = rest.rpartition(FETCH_SEPARATOR)
        out[f"{bucket}/{key}"].add(address)
    return out


def _fetches(minute: int, addresses: range, key: str) -> tuple[str, ...]:
    return tuple(
        access_line(
            "REST.GET.OBJECT",
            "acme-exports",
            key,
            requester=APP_ARN,
            ip=f"198.18.{i}.{7 + i}",
            user_agent="curl/8.5.0",
            minute=minute,
            auth="QueryString",
        )
        for i in addresses
    )


@register
class PresignedFanout(WindowDetection):
    id = "presigned_url_fanout"
    title = "One presigned URL fetched from many addresses (a leaked link)"
    severity = "medium"
    capabilities = ("C31",)
    attack = ("T1567", "T1530")
    dedup_window = timedelta(hours=6)
    habit = ("finding", "principal")
    runbook = (
        "Find where the URL was published (the object, its signer's session and the "
        "referrers in the access logs); revoke it by removing the signer's permission or "
        "rotating its key (a presigned URL lives as long as its credentials), and check "
        "what else the signer presigned for long lifetimes."
    )
    examples = (
        Example(
            "one export URL fetched from 12 addresses in a few minutes",
            access_lines=_fetches(3, range(12), "exports/2026/11/customers.zip"),
        ),
        Example(
            "twelve customers each fetching their own export once",
            access_lines=tuple(
                line
                for i in range(12)
                for line in _fetches(3, range(i, i + 1), f"exports/2026/11/c{i}.zip")
            ),
            fires=False,
        ),
        Example(
            "one URL fetched from three addresses (a phone, a laptop, a proxy)",
            access_lines=_fetches(3, range(3), "exports/2026/11/customers.zip"),
            fires=False,
        ),
    )

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        fetches = v.window.get("presigned_fetches") or []
        if len(fetches) < MIN_ADDRESSES:
            return None
        spread = fan_out(fetches)
        obj, addresses = max(spread.items(), key=lambda item: len(item[1]))
        if len(addresses) < MIN_ADDRESSES:
            return None
        others = [len(a) for o, a in spread.items() if o != obj]
        rest = (
            f"; the principal's {len(others)} other presigned objects in the window were "
            f"fetched from at most {max(others)} address(es) each"
            if others
            else ""
        )
        reason = Reason(
            "presigned_fanout",
            str(len(addresses)),
            "1 to a few addresses per URL",
            f"presigned URL for {obj} fetched from {len(addresses)} addresses "
            f"(sample {', '.join(sorted(addresses)[:3])}){rest}",
        )
        finding = v.finding(self, [reason], float(len(addresses)))
        finding.severity = "high" if len(addresses) >= HIGH_ADDRESSES else None
        finding.source_ips = sorted(addresses)[:10]
        return finding
