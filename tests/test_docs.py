"""The feature documentation names every feature the code computes."""

from __future__ import annotations

from pathlib import Path

from detector.features.windows import COUNTS, DISTINCT

DOC = (Path(__file__).resolve().parents[1] / "docs" / "features.md").read_text()


def test_every_window_feature_is_documented() -> None:
    missing = [n for n in [*COUNTS, *DISTINCT, *(f"n_{d}" for d in DISTINCT)]
               if f"`{n}`" not in DOC]
    assert missing == []


def test_every_enriched_column_is_documented() -> None:
    import polars as pl

    from detector.config import Settings
    from detector.features.enrich import enrich
    from detector.schema import empty_events

    added = set(enrich(pl.from_arrow(empty_events()), Settings()).columns) - \
        set(empty_events().column_names)
    assert sorted(c for c in added if f"`{c}`" not in DOC) == []
