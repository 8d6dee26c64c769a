"""The wheel works outside the repository: it carries models/, hunts/ and the demo's sample
logs, and ``detector demo`` runs from a virtualenv in another folder.

The virtualenv gets the wheel and nothing else; its dependencies come from this test run's
environment through a path file (installing them again from the network would take minutes),
which adds the folder to ``sys.path`` without running its path files: the checkout's
editable install stays out of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import REPO


def run(*cmd: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command as a user's shell runs it: no PYTHONPATH pointing back at a checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=env)


def test_a_wheel_runs_the_demo_from_a_venv_outside_the_repo(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "DETECTOR_DEPS_FROM": sysconfig.get_paths()["purelib"],
    }
    installed = subprocess.run(
        [str(REPO / "scripts" / "install.sh"), str(venv)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = next((venv / "lib").glob("python3*/site-packages"))
    files = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    for needed in (
        "detector/_bundled/models/default.toml",
        "detector/_bundled/hunts/alert-evidence.sql",
        "detector/_bundled/sample_logs/demo.toml",
    ):
        assert needed in files
    assert not any(f.startswith(("models/", "pipelines/", "tests/")) for f in files)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(venv / "bin" / "python", "-c", "import detector; print(detector.__file__)",
                cwd=elsewhere)  # fmt: skip
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    demo = run(venv / "bin" / "detector", "demo", "--lake", "lake", "--no-progress", cwd=elsewhere)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "alerts (" in demo.stdout and "decoy_object_access" in demo.stdout
    hunts = run(venv / "bin" / "detector", "hunt", "--list", cwd=elsewhere)
    assert hunts.returncode == 0 and "alert-evidence" in hunts.stdout, hunts.stderr
    listed = run(venv / "bin" / "detector", "alerts", "list", "--lake", "lake", "--format",
                 "json", cwd=elsewhere)  # fmt: skip
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) >= 5
    assert all(json.loads(line)["status"] == "open" for line in listed.stdout.splitlines())


def test_the_dockerfile_installs_with_the_tested_script_and_runs_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "RUN scripts/install.sh /opt/s3-detector" in text
    assert text.count("FROM ") == 2  # build, then a runtime image without the sources
    final = text.rsplit("FROM ", 1)[1]
    assert "USER detector" in final and "useradd" in final
    assert 'ENTRYPOINT ["detector"]' in final
