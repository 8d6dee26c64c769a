"""Every detection's own examples, through the real parser: one parametrized test."""

from __future__ import annotations

import pytest

from detector.detections import load_all
from detector.detections._examples import example_settings
from detector.detections.base import SEVERITIES, Detection, EventRule, Example
from detector.detections.window_base import Verdict, WindowDetection
from detector.features.enrich import enrich
from detector.logtypes import parse_blobs
from detector.rule_test import example_blobs, fresh_windows, judge, judgeable

CASES = [
    pytest.param(d, ex, id=f"{d.id}:{ex.name}")
    for d in load_all().values()
    if isinstance(d, EventRule)
    for ex in d.examples
]
WINDOW_CASES = [
    pytest.param(d, ex, id=f"{d.id}:{ex.name}")
    for d in load_all().values()
    if isinstance(d, WindowDetection)
    for ex in d.examples
]


def example_events(ex: Example):
    """The example's events, parsed and enriched as ``detector detections test`` does."""
    result = parse_blobs(example_blobs(ex))
    assert result.rejects == [], result.rejects
    return enrich(result.events, example_settings())


@pytest.mark.parametrize(("detection", "example"), CASES)
def test_detection_example(detection: EventRule, example: Example) -> None:
    findings = detection.findings(example_events(example), example_settings())
    assert bool(findings) is example.fires, [f.reasons for f in findings]
    expected = example.severity or detection.severity
    assert [f.severity or detection.severity for f in findings] == [expected] * len(findings)
    for f in findings:
        assert f.evidence_ids and f.reasons and f.first_seen is not None
        assert all(r.text for r in f.reasons)


def first_windows(example: Example) -> list[Verdict]:
    """The example's events as closed 5-minute windows of principals with no history."""
    return fresh_windows(example_events(example))


@pytest.mark.parametrize(("detection", "example"), WINDOW_CASES)
def test_window_detection_example(detection: WindowDetection, example: Example) -> None:
    verdicts = first_windows(example)
    assert verdicts
    findings = [f for v in verdicts if (f := detection.check(v, example_settings()))]
    assert bool(findings) is example.fires, [f.reasons for f in findings]
    if example.severity:
        assert {f.severity or detection.severity for f in findings} == {example.severity}
    for f in findings:
        assert f.evidence_ids and f.reasons and all(r.text for r in f.reasons)


@pytest.mark.parametrize("detection", list(load_all().values()), ids=lambda d: d.id)
def test_the_cli_s_rule_test_judges_every_example_as_the_tests_do(
    detection: Detection,
) -> None:
    """``detector detections test ID --examples`` goes through ``rule_test.judge``."""
    if not judgeable(detection):
        return
    for ex in detection.examples:
        got = judge(detection, example_blobs(ex), example_settings())
        assert got.fires is ex.fires, ex.name


@pytest.mark.parametrize("detection", list(load_all().values()), ids=lambda d: d.id)
def test_detection_metadata(detection: Detection) -> None:
    assert detection.title and detection.runbook
    assert detection.severity in SEVERITIES
    assert detection.capabilities and all(c.startswith("C") for c in detection.capabilities)
    if isinstance(detection, EventRule):  # behavioural ones: tests/test_behaviour.py
        assert any(e.fires for e in detection.examples), "needs an example that fires"
        assert any(not e.fires for e in detection.examples), "needs an example that does not"
