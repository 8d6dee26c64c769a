"""Every event rule on the real third-party samples in ``../shared/testdata``, as a table.

    .venv/bin/python bench/thirdparty_rules.py

The samples and the reviewed table of what must fire live in tests/test_thirdparty_rules.py
(which fails on any difference); this prints, per public rule set's labelled test event,
whether our rules agree with the label, and which samples without a label fire.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_thirdparty_rules import JSONL, TESTDATA, fired, samples


def labels() -> dict[str, dict]:
    """``#L<n>`` sample name to the jsonl line's label fields (source, test, expected)."""
    lines = (TESTDATA / JSONL).read_text().splitlines()
    out = {}
    for n, line in enumerate(lines, start=1):
        if line.strip():
            meta = json.loads(line)
            meta.pop("event")
            out[f"{JSONL}#L{n}"] = meta
    return out


def main() -> None:
    labelled = labels()
    rows, agree, positives, caught, negatives, quiet = [], 0, 0, 0, 0, 0
    for name, meta in labelled.items():
        expected = meta.get("label_expected_result")
        ours = fired(name)
        if expected is None:
            continue
        ok = bool(ours) is expected
        agree += ok
        positives += expected
        caught += expected and ok
        negatives += not expected
        quiet += (not expected) and ok
        rows.append(
            f"| L{name.rsplit('#L', 1)[1]} | {meta.get('rule_id', '-')} | "
            f"{meta.get('test_name', '-')} | {'fires' if expected else 'quiet'} | "
            f"{', '.join(ours) or 'nothing'} | {'yes' if ok else '**no**'} |"
        )
    print("### Labelled test events of a public rule set (Panther)\n")
    print("| line | their rule | their test | their label | our rules | agree |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"\nAgree on {agree} of {len(rows)}: {caught} of {positives} firing cases caught, "
        f"{quiet} of {negatives} non-firing cases quiet.\n"
    )
    print("### Samples without a label that fire\n")
    print("| sample | our rules |")
    print("|---|---|")
    others = [n for n in samples() if n not in labelled or not labelled[n].get("rule_id")]
    firing = [(n, ours) for n in others if (ours := fired(n))]
    for name, ours in firing:
        print(f"| {name} | {', '.join(ours)} |")
    print(f"\n{len(firing)} of {len(others)} unlabelled samples fire (reviewed in the test).")


if __name__ == "__main__":
    main()
