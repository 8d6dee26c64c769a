"""Human-readable output of a run: the summary tables and, for the demo, a first look."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from detector.alerts import Alert
from detector.detections.base import severity_rank
from detector.lake import read_events
from detector.summary import RunSummary
from detector.terminal import safe_text, say, short_principal, visible

TOP_TYPES = 12


def render_summary(summary: RunSummary, console: Console) -> None:
    d = summary.to_dict()
    objects = d["objects"]
    console.print(
        Text.assemble(
            (summary.kind, "bold"),
            f" {d['events']['total']:,} events from {objects['read']:,} "
            f"objects ({d['bytes_read'] / 1e6:,.1f} MB) in {d['seconds']:.2f}s: "
            f"{d['events_per_second']:,.0f} events/s, {d['mb_per_second']:,.1f} MB/s",
        )
    )
    skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(objects["skipped"].items()))
    if summary.kind == "tail":  # notified objects, not listed ones
        say(
            console,
            f"objects: {objects['read']:,} read from {summary.batches:,} batches, "
            f"skipped {skipped or 'none'}",
        )
    else:
        say(
            console,
            f"objects: {objects['listed']:,} listed, {objects['already_ingested']:,} already "
            f"in the lake, {objects['out_of_range']:,} outside --since/--until, "
            f"{objects['failed']:,} unreadable, skipped {skipped or 'none'}",
        )
    events = Table(title="events by source and type", show_edge=False)
    for col in ("source", "event", "count"):
        events.add_column(col, justify="right" if col == "count" else "left")
    for source, types in d["events"]["by_source_and_type"].items():
        ranked = sorted(types.items(), key=lambda kv: -kv[1])
        for name, n in ranked[:TOP_TYPES]:
            events.add_row(safe_text(source), safe_text(name), f"{n:,}")
        if len(ranked) > TOP_TYPES:
            rest = sum(n for _, n in ranked[TOP_TYPES:])
            events.add_row(
                safe_text(source), f"({len(ranked) - TOP_TYPES} more types)", f"{rest:,}"
            )
        events.add_row(
            safe_text(source, "bold"),
            Text("total", "bold"),
            Text(f"{d['events']['by_source'][source]:,}", "bold"),
        )
    if d["events"]["total"]:
        console.print(events)
    if d["rejects"]:
        rejects = Table(title="rejects (in <lake>/quarantine/)", show_edge=False)
        for col in ("reason", "rejects", "events lost", "of unknown size"):
            rejects.add_column(col, justify="left" if col == "reason" else "right")
        for reason, r in d["rejects"].items():
            rejects.add_row(
                safe_text(reason),
                f"{r['rejects']:,}",
                f"{r['records']:,}",
                f"{r['of_unknown_size']:,}",
            )
        console.print(rejects)
    else:
        console.print("rejects: none")
    if d["duplicates"]:
        copies = ", ".join(f"{n:,} {src}" for src, n in sorted(d["duplicates"].items()))
        say(console, f"duplicates: {copies} event(s) already stored (redelivered), stored once")
    recorded = (d.get("alerts") or {}).get("recorded") or {}
    if recorded:
        why = ", ".join(f"{n:,} {k}" for k, n in sorted(recorded.items()))
        say(console, f"signals recorded in the lake without notifying: {why}")
    if d["detection_errors"]:
        failed = ", ".join(f"{k} ×{n}" for k, n in sorted(d["detection_errors"].items()))
        console.print(
            Text.assemble(
                ("detections that raised", "red"),
                " (the others ran; see the log): ",
                safe_text(failed),
            )
        )
    for err in d["source_errors"]:
        console.print(Text.assemble(("source error:", "red"), " ", safe_text(err)))
    say(console, f"lake: {summary.lake}")


def render_findings(lake: Path, console: Console) -> None:
    """A first look at the sample lake: who moved data, and from where."""
    df = pl.from_arrow(read_events(lake))
    assert isinstance(df, pl.DataFrame)
    if df.is_empty():
        return
    data = df.filter(pl.col("bucket").is_not_null() & pl.col("principal_arn").is_not_null())
    arn = pl.coalesce("session_issuer_arn", "principal_arn")
    cloudtrail = pl.col("source") == "cloudtrail"
    top = (
        data.group_by(
            arn.str.split(":").list.get(4, null_on_oob=True).alias("account"),
            arn.str.split("/").list.last().str.slice(0, 28).alias("role or user"),
        )
        .agg(
            pl.len().alias("requests"),
            (pl.col("bytes_out").sum() / 1e6).round(1).alias("MB out"),
            pl.col("bucket").n_unique().alias("buckets"),
            pl.col("source_ip").n_unique().alias("IPs"),
            pl.col("vpc_endpoint_id")
            .is_null()
            .filter(cloudtrail)
            .mean()
            .mul(100)
            .round(0)
            .alias("no VPCE %"),
        )
        .sort("MB out", descending=True)
        .head(8)
    )
    table = Table(title="top principals by bytes out (S3 requests)", show_edge=False)
    for col in top.columns:
        table.add_column(col)
    for row in top.iter_rows():
        table.add_row(*[safe_text(v) for v in row])
    console.print(table)
    console.print(
        "(no VPCE %: share of the principal's CloudTrail S3 events that did not come "
        "through a VPC endpoint)"
    )
    joined = (
        df.filter(pl.col("source") == "cloudtrail")
        .select("request_id")
        .join(df.filter(pl.col("source") == "s3_access").select("request_id"), on="request_id")
        .height
    )
    console.print(
        f"requests seen in both CloudTrail and the access logs (joined on request_id): {joined:,}"
    )


def alert_counts(signals: list[Alert]) -> dict[str, Any]:
    """Notifications by severity and detection, and the signals only recorded, by why."""
    sent = [a for a in signals if a.notifies]
    return {
        "total": len(sent),
        "by_severity": dict(Counter(a.severity for a in sent)),
        "by_detection": dict(Counter(a.detection for a in sent)),
        "incidents": len({a.incident_id for a in sent if a.incident_id}),
        "recorded": dict(Counter(a.status for a in signals if not a.notifies)),
    }


def render_alerts(
    alerts: list[Alert],
    console: Console,
    lake: object = None,
    alerts_file: str | None = None,
    limit: int = 25,
) -> None:
    """The run's alerts, most severe first: who and what, why, the runbook and the hunt
    that lists the evidence; each with its id, as Slack shows it."""
    triage = f"detector alerts list --lake {lake}" if lake is not None else ""
    if not alerts:
        say(
            console, "alerts: none new in this run" + (f" (the lake's: {triage})" if triage else "")
        )
        return
    ranked = sorted(alerts, key=lambda a: (-severity_rank(a.severity), a.first_seen))
    console.print(Text(f"alerts ({len(alerts)})", "bold"))
    for a in ranked[:limit]:
        merged = f" ×{a.count}" if a.count > 1 else ""
        who = short_principal(a.principal) or "no principal"
        say(
            console,
            f"{a.severity.upper():8} {a.first_seen[:16].replace('T', ' ')}  {a.detection}{merged}"
            f"  {who}  alert {a.alert_id}",
        )
        for reason in a.reasons[:3] or [{"text": a.title}]:
            say(console, f"{'':9}{visible(reason['text'])[:300]}")
        if a.runbook:
            say(console, f"{'':9}runbook: {a.runbook}")
        if a.hunt:
            say(console, f"{'':9}evidence: {a.hunt}")
    if len(ranked) > limit:
        where = (
            f"all of them are in {alerts_file}"
            if alerts_file and alerts_file != "-"
            else "--alerts FILE writes them all"
        )
        say(console, f"(+{len(ranked) - limit} more; {where})")
    if triage:
        say(console, f"triage: {triage}; detector alerts show ALERT_ID --lake {lake}")


def render_evaluation(r: dict[str, Any], console: Console) -> None:
    """Per-scenario detection, then recall and false alerts."""
    for s in r["scenarios"]:
        if s["kind"] == "attack":
            mark = "detected" if s["detected"] else "MISSED"
        else:
            mark = "quiet" if s["best_severity"] is None else f"alerted ({s['best_severity']})"
        ttd = f"{s['time_to_detect_s'] / 60:.0f} min" if s["time_to_detect_s"] is not None else "-"
        say(
            console,
            f"{s['kind']:6} {s['id']:38} {','.join(s['capabilities']):22} "
            f"{mark:18} ttd {ttd:>8}  {visible(', '.join(s['detections']))[:60]}",
        )
    say(
        console,
        f"recall {r['detected']}/{r['attacks']} = {r['recall']:.0%}; missed capabilities: "
        f"{', '.join(r['capabilities_missed']) or 'none'}; median time to detect "
        f"{(r['median_time_to_detect_s'] or 0) / 60:.0f} min",
    )
    say(
        console,
        f"false alerts {r['false_alerts']} ({r['false_alerts_by_severity'] or 'none'}), "
        f"{r['false_alerts_medium_or_higher']} at medium or higher; "
        f"{r['false_alerts_per_million_benign_events']} per million benign events "
        f"({r['benign_events']:,} benign events)",
    )
    for a in r["false_alert_samples"][:10]:
        say(
            console,
            f"  false: {a['severity']:8} {a['detection']:30} {a['principal']}: "
            f"{visible(a['why'])[:100]}",
        )
