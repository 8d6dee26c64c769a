"""Hostile input benchmark: peak memory and time of ``detector backfill`` on bombs and huge objects.

    python bench/hostile_bench.py        (make bench-hostile)

Each case is a folder holding one good CloudTrail file (50 records) and, beside it, the
hostile object, built by ``tests/hostile_corpus.py``. The detector runs as a child process
and reports its own peak RSS (``VmHWM`` of its image: rusage would also count the pages of
the parent it was forked from). Results go to bench/results/hostile.json and a Markdown
table on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import CT_KEY, ct_record, trail_file  # noqa: E402
from hostile_corpus import gzip_bomb  # noqa: E402

MB = 1 << 20
REPORT_RSS = """
import sys
from pathlib import Path
report = sys.argv.pop(1)
code = 1
try:
    from detector.cli import main
    code = main(sys.argv[1:])
finally:
    status = Path("/proc/self/status").read_text().splitlines()
    Path(report).write_text(next(s for s in status if s.startswith("VmHWM")).split()[1])
sys.exit(code)
"""


def sparse_json(path: Path, size: int) -> None:
    """A single-line JSON file of ``size`` bytes that takes no disk (a sparse file)."""
    path.write_bytes(b'{"Records":[' + b" " * 100)
    with path.open("r+b") as fh:
        fh.truncate(size)


CASES: list[tuple[str, list[str], Callable[[Path], None]]] = [
    ("good file only", [], lambda trail: None),
    (
        "5 MB gzip inflating to 5 GB (default cap, 256 MiB)",
        [],
        lambda trail: (trail / "bomb.json.gz").write_bytes(gzip_bomb(5 << 30)),
    ),
    (
        "1 GB gzip bomb, --max-object-mb 32",
        ["--max-object-mb", "32"],
        lambda trail: (trail / "bomb.json.gz").write_bytes(gzip_bomb(1 << 30)),
    ),
    (
        "500 MB single-line JSON (sparse file)",
        [],
        lambda trail: sparse_json(trail / "huge.json", 500 * MB),
    ),
]


def run_case(extra: list[str], make: Callable[[Path], None]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        root = Path(tmp)
        trail = root / "logs" / CT_KEY
        trail.mkdir(parents=True)
        (trail / "good.json.gz").write_bytes(trail_file([ct_record(i) for i in range(50)]))
        make(trail)
        report = root / "rss"
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                REPORT_RSS,
                str(report),
                "backfill",
                str(root / "logs"),
                "--lake",
                str(root / "lake"),
                "--no-progress",
                "--no-detect",
                *extra,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        return {
            "exit": done.returncode,
            "peak_rss_mb": round(int(report.read_text()) / 1024),
            "seconds": round(seconds, 2),
        }


def main() -> None:
    results = {name: run_case(extra, make) for name, extra, make in CASES}
    out = REPO / "bench" / "results" / "hostile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| case | exit | peak RSS | wall time |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['exit']} | {r['peak_rss_mb']} MB | {r['seconds']} s |")


if __name__ == "__main__":
    main()
