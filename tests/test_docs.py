"""The feature documentation names every feature the code computes."""

from __future__ import annotations

from pathlib import Path

from detector.features.windows import COUNTS, DISTINCT

DOC = (Path(__file__).resolve().parents[1] / "docs" / "features.md").read_text()


def test_every_window_feature_is_documented() -> None:
    missing = [
        n for n in [*COUNTS, *DISTINCT, *(f"n_{d}" for d in DISTINCT)] if f"`{n}`" not in DOC
    ]
    assert missing == []


def test_every_enriched_column_is_documented() -> None:
    import polars as pl

    from detector.config import Settings
    from detector.features.enrich import enrich
    from detector.schema import empty_events

    added = set(enrich(pl.from_arrow(empty_events()), Settings()).columns) - set(
        empty_events().column_names
    )
    assert sorted(c for c in added if f"`{c}`" not in DOC) == []


def test_detections_doc_matches_registry() -> None:
    from detector.detections.__main__ import render

    doc = Path(__file__).resolve().parents[1] / "docs" / "detections.md"
    assert doc.read_text() == render(), (
        "docs/detections.md is stale: python -m detector.detections > docs/detections.md"
    )


def test_every_capability_is_covered() -> None:
    from detector.detections import load_all

    covered = {c for d in load_all().values() for c in d.capabilities}
    assert covered == {f"C{i:02d}" for i in range(1, 33)}
