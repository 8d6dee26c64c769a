"""Local files and folders (recursive), e.g. a synced copy of a log bucket."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError

NOT_LOGS = (".md", ".py", ".pyc", ".sql")
"""Files that sit beside logs in a folder (READMEs, scripts) and are never logs."""


class LocalSource:
    """A file or a folder walked recursively in sorted order; dotfiles are ignored."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.root = Path(spec)
        if not self.root.exists():
            raise UsageError(f"{spec}: no such file or directory")

    def list(self) -> Iterator[ObjectRef]:
        if self.root.is_file():
            yield self._ref(self.root, self.root.name)
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(NOT_LOGS):
                    continue
                path = Path(dirpath) / name
                yield self._ref(path, path.relative_to(self.root).as_posix())

    def fetch_many(self, refs: Iterable[ObjectRef]) -> Iterator[Blob | SourceError]:
        for ref in refs:
            try:
                yield Blob(ref, Path(ref.uri).read_bytes())
            except FileNotFoundError as exc:
                yield SourceError(ref.uri, "object_missing", str(exc))
            except PermissionError as exc:
                yield SourceError(ref.uri, "access_denied", str(exc))
            except OSError as exc:
                yield SourceError(ref.uri, "read_failed", str(exc))

    @staticmethod
    def _ref(path: Path, key: str) -> ObjectRef:
        st = path.stat()
        return ObjectRef(str(path.resolve()), key, st.st_size, f"mtime:{st.st_mtime_ns}")
