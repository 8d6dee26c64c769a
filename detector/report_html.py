"""The incident report as one self-contained HTML file. Pure: data in, text out.

No scripts, fonts, images or styles are fetched: the CSS is inline and every plot is an
inline SVG, so the file opens offline, in a mail attachment, or in a ticket. Every string
that came from a log is escaped (``html.escape``), so a user agent cannot inject markup.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PLOT_W, PLOT_H, PAD = 720, 150, 36
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#1d232b}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-top:1px solid #ccd;padding-top:1em}
table{border-collapse:collapse;font-size:.9em}
td,th{padding:.25em .6em;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
td.wrap{overflow-wrap:anywhere}td.t,td.id,.sev{white-space:nowrap}
code{font-size:.85em;background:#f2f4f7;padding:.1em .3em}
.critical{color:#fff;background:#8b0000}.high{color:#fff;background:#c0392b}
.medium{background:#f0ad4e}.low{background:#d9edf7}.info{background:#eee}
.sev{padding:.1em .4em;border-radius:3px;font-size:.85em}.muted{color:#667}
svg{background:#fbfcfd;border:1px solid #e3e6ea;margin:.3em 0}
"""


@dataclass
class Series:
    """One feature of one principal: its windows, and the baseline around the incident."""

    feature: str
    points: list[tuple[datetime, float]]
    median: float
    high: float
    """The 95th percentile of the windows before the incident (the usual ceiling)."""


@dataclass
class IncidentView:
    incident_id: str
    status: str
    severity: str
    principal: str
    account_id: str
    first_seen: str
    last_seen: str
    signals: list[dict[str, Any]]
    start: datetime
    end: datetime
    series: list[Series] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def render(incidents: list[IncidentView], lake: str, span: str, made: datetime) -> str:
    """The whole report."""
    e = html.escape
    rows = "".join(
        f"<tr><td class='id'><a href='#{e(i.incident_id)}'>{e(i.incident_id)}</a></td>"
        f"<td>{_sev(i.severity)}</td><td>{e(i.status)}</td><td class='wrap'>{e(i.principal)}</td>"
        f"<td class='t'>{e(_minute(i.first_seen))}</td><td>{len(i.signals)}</td>"
        f"<td class='wrap'>{e(', '.join(sorted({s['detection'] for s in i.signals})))}</td></tr>"
        for i in incidents
    )
    body = "".join(_incident(i) for i in incidents)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>S3 detector incidents, {e(span)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Incidents, {e(span)}</h1>"
        f"<p class='muted'>Lake {e(lake)}; made {e(made.strftime('%Y-%m-%d %H:%M'))} UTC; "
        f"{len(incidents)} incident(s).</p>"
        "<table><tr><th>incident</th><th>severity</th><th>status</th><th>principal</th>"
        f"<th>first seen</th><th>signals</th><th>detections</th></tr>{rows}</table>"
        f"{body}</body></html>\n"
    )


def _minute(iso: str) -> str:
    """``2026-11-02T20:43:34Z`` as ``2026-11-02 20:43``."""
    return iso[:16].replace("T", " ")


def _sev(severity: str) -> str:
    s = html.escape(severity)
    return f"<span class='sev {s}'>{s}</span>"


def _incident(i: IncidentView) -> str:
    e = html.escape
    timeline = "".join(
        f"<tr><td class='t'>{e(_minute(s['first_seen']))}</td><td>{_sev(s['severity'])}</td>"
        f"<td>{e(s['detection'])}</td><td>{e(s['status'])}</td>"
        f"<td class='wrap'>{e(s['title'])}<ul>"
        + "".join(f"<li>{e(r['text'])}</li>" for r in s.get("reasons") or [])
        + "</ul></td></tr>"
        for s in i.signals
    )
    notified = [s for s in i.signals if s["status"] in ("notify", "suppressed")]
    actions = "".join(
        f"<li><b>{e(s['detection'])}</b> ({e(s['alert_id'])}): {e(s['runbook'])}"
        + (f"<br>evidence: <code>{e(s['hunt'])}</code>" if s.get("hunt") else "")
        + "</li>"
        for s in notified
    )
    history = "".join(
        f"<li>{e(h['acted_at'])} {e(h['action'])} by {e(h['acted_by'])}: "
        f"{e(h['reason'] or '')}</li>"
        for h in i.history
    )
    plots = "".join(_plot(s, i.start, i.end) for s in i.series) or (
        "<p class='muted'>No windows of this principal in the lake's features table around "
        "the incident (rule-only signals, or features not kept).</p>"
    )
    return (
        f"<h2 id='{e(i.incident_id)}'>{e(i.incident_id)} {_sev(i.severity)} "
        f"<span class='muted'>{e(i.status)}</span></h2>"
        f"<p>{e(i.principal)} in account {e(i.account_id)}, from {e(i.first_seen)} to "
        f"{e(i.last_seen)}.</p>"
        "<h3>Timeline</h3><table><tr><th>first seen</th><th>severity</th><th>detection</th>"
        f"<th>status</th><th>what</th></tr>{timeline}</table>"
        f"<h3>Observed against the baseline</h3>{plots}"
        f"<h3>What to do</h3><ul>{actions}</ul>"
        + (f"<h3>Triage</h3><ul>{history}</ul>" if history else "")
    )


def _plot(s: Series, start: datetime, end: datetime) -> str:
    """One feature over the surrounding days: the windows as a line, the usual range (median
    to 95th percentile of the windows before the incident) as a band, the incident shaded."""
    e = html.escape
    if not s.points:
        return ""
    t0 = min(min(t for t, _ in s.points), start)
    t1 = max(max(t for t, _ in s.points), end)
    span = max((t1 - t0).total_seconds(), 1.0)
    top = max(max(v for _, v in s.points), s.high, 1.0)

    def x(t: datetime) -> float:
        return PAD + (PLOT_W - 2 * PAD) * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return PLOT_H - PAD / 2 - (PLOT_H - PAD) * math.log1p(v) / math.log1p(top)

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(s.points))
    band = (
        f"<rect x='{PAD}' y='{y(s.high):.1f}' width='{PLOT_W - 2 * PAD}' "
        f"height='{max(y(s.median) - y(s.high), 1):.1f}' fill='#cfe3f7'/>"
    )
    shade = (
        f"<rect x='{x(start):.1f}' y='0' width='{max(x(end) - x(start), 2):.1f}' "
        f"height='{PLOT_H}' fill='#f8d7da' opacity='.6'/>"
    )
    labels = (
        f"<text x='4' y='14' font-size='11'>{e(s.feature)} per window (log scale; band: "
        f"median {s.median:,.0f} to p95 {s.high:,.0f} before the incident)</text>"
        f"<text x='{PAD}' y='{PLOT_H - 2}' font-size='10'>{e(t0.strftime('%m-%d %H:%M'))}</text>"
        f"<text x='{PLOT_W - PAD - 60}' y='{PLOT_H - 2}' font-size='10'>"
        f"{e(t1.strftime('%m-%d %H:%M'))}</text>"
    )
    return (
        f"<svg width='{PLOT_W}' height='{PLOT_H}' "
        f"role='img' aria-label='{e(s.feature)}'>{shade}{band}"
        f"<polyline points='{line}' fill='none' stroke='#1f4e79' stroke-width='1.2'/>"
        f"{labels}</svg>"
    )
