"""One detection on sample events: does it fire, and why. Pure (bytes in, findings out).

``detector detections test`` and the detections' embedded examples (tests/test_detections.py)
both come through ``judge``, so what a user tries is what the test suite checks. Events go
through the real parser and enrichment. An event rule judges them as a batch; a window
detection judges their 5-minute windows as those of principals with no history yet (the
engine, with a state, is ``detector detections test --state``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from detector.blob import Blob, ObjectRef
from detector.config import Settings
from detector.detections.base import Detection, EventRule, Example, Finding
from detector.detections.window_base import Verdict, WindowDetection
from detector.errors import UsageError
from detector.features.enrich import enrich
from detector.features.windows import finalize, partial_windows
from detector.logtypes import parse_blobs
from detector.logtypes.base import Reject

CT_KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/05/sample.json"
"""Where a sample's CloudTrail records are said to come from (the parser routes by key)."""
SAL_KEY = "s3-access-logs/sample/2026-11-05-10-00-00-0123456789ABCDEF"


@dataclass
class Judgement:
    """What one detection made of some events."""

    fires: bool
    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    rejects: list[Reject] = field(default_factory=list)


def judgeable(d: Detection) -> bool:
    """Whether events alone can make this detection fire (correlations, incidents and
    silence judge alerts and streams over time: they need the engine)."""
    return isinstance(d, (EventRule, WindowDetection))


def sample_blobs(data: bytes, name: str = "sample") -> list[Blob]:
    """A sample file as log objects: CloudTrail (a ``{"Records": […]}`` file, a JSON list of
    records, one record, JSON lines of records, EventBridge envelopes) or access-log lines."""
    text = data.lstrip()
    if text.startswith((b"{", b"[")):
        records = _records(data)
        if records is not None:
            body = json.dumps({"Records": records}).encode()
            return [Blob(ObjectRef(f"/{name}/ct.json", CT_KEY, len(body)), body)]
        return [Blob(ObjectRef(f"/{name}", f"samples/{name}", len(data)), data)]
    return [Blob(ObjectRef(f"/{name}/sal", SAL_KEY, len(data)), data)]


def _records(data: bytes) -> list[dict[str, Any]] | None:
    """CloudTrail records in a sample, or None when it is another JSON shape (left to the
    parser's own routing: EventBridge envelopes, CloudWatch Logs payloads)."""
    try:
        doc = json.loads(data)
    except ValueError:
        try:
            doc = [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError:
            return None
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"]
    if isinstance(doc, dict) and "eventName" in doc:
        return [doc]
    if isinstance(doc, list) and doc and all(isinstance(r, dict) and "eventName" in r for r in doc):
        return doc
    return None


def judge(d: Detection, blobs: list[Blob], settings: Settings) -> Judgement:
    """``d`` on the events of ``blobs``, with no history."""
    if not judgeable(d):
        raise UsageError(
            f"{d.id} judges {d.stage} over time, not events: run a backfill on the sample "
            "and look at the alerts (detector alerts list --status all)"
        )
    parsed = parse_blobs(blobs)
    events = enrich(parsed.events, settings)
    if isinstance(d, EventRule):
        found = list(d.findings(events, settings))
    else:
        assert isinstance(d, WindowDetection)
        found = [f for v in fresh_windows(events) if (f := d.check(v, settings)) is not None]
    return Judgement(bool(found), found, events.height, parsed.rejects)


def fresh_windows(events: pl.DataFrame) -> list[Verdict]:
    """Enriched events as closed 5-minute windows of principals with no history."""
    windows = finalize(partial_windows(events, 5))
    return [
        Verdict(w["principal"], w["account_id"], w["principal_type"], w)
        for w in windows.iter_rows(named=True)
    ]


def example_blobs(ex: Example) -> list[Blob]:
    """A detection's embedded example as log objects."""
    blobs = []
    if ex.records:
        data = json.dumps({"Records": list(ex.records)}).encode()
        blobs.append(Blob(ObjectRef("/ex/ct.json", CT_KEY, len(data)), data))
    if ex.access_lines:
        data = "\n".join(ex.access_lines).encode()
        blobs.append(Blob(ObjectRef("/ex/sal", SAL_KEY, len(data)), data))
    return blobs
