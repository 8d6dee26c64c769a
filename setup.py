"""Only what pyproject.toml cannot say: copy models/, hunts/ and the demo's sample logs into
the package when a wheel is built (detector/resources.py finds them there)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SAMPLE_PARTS = ("AWSLogs", "s3-access-logs", "demo.toml", "README.md")


class BuildWithData(build_py):
    """build_py, then the data folders under detector/_bundled/ (an editable install reads
    the checkout's own folders instead)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "detector" / "_bundled"
        for name in ("models", "hunts"):
            shutil.copytree(ROOT / name, target / name, dirs_exist_ok=True)
        for part in SAMPLE_PARTS:
            src = ROOT / "sample_logs" / part
            dst = target / "sample_logs" / part
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildWithData})
