"""``python -m detector.detections`` prints docs/detections.md from the registry."""

from __future__ import annotations

from detector.detections import load_all


def render() -> str:
    registry = load_all()
    lines = [
        "# Detections",
        "",
        "Generated from the registry by `python -m detector.detections > docs/detections.md`; "
        "a test fails when it is stale. Capabilities are those of "
        "[shared/DETECTIONS.md](../../shared/DETECTIONS.md).",
        "",
        "| capability | detection | kind | severity | title | ATT&CK | dedup |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = sorted(registry.values(), key=lambda d: (min(d.capabilities), d.id))
    for d in rows:
        window = int(d.dedup_window.total_seconds() // 60)
        lines.append(
            f"| {', '.join(d.capabilities)} | `{d.id}` | {d.kind} | {d.severity} | "
            f"{d.title} | {', '.join(d.attack)} | {', '.join(d.dedup_by)} / "
            f"{window} min |"
        )
    covered = sorted(
        {c for d in registry.values() for c in d.capabilities}, key=lambda c: int(c[1:])
    )
    lines += ["", f"Capabilities covered: {len(covered)} of 32 ({', '.join(covered)}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
