"""Saved hunts: ``hunts/<name>.sql``, a header comment, then one SELECT.

The header names the hunt, the question it answers, and its parameters::

    -- title: Deletes per principal per hour
    -- question: Who deleted many objects in a short time?
    -- param: since (date, optional): first day (UTC) to look at
    -- param: min_deletes (int, default 1): hours with fewer delete requests are left out
    SELECT ... WHERE ($since IS NULL OR date >= $since) ...

A parameter is ``NAME (TYPE[, default VALUE | , optional]): description``; without a
default or ``optional`` it is required. Types: ``text``, ``int``, ``float``, ``date``
(YYYY-MM-DD), ``timestamp`` (ISO 8601) and ``text[]`` (comma-separated). Values are checked
against their type and bound as DuckDB ``$name`` parameters: never pasted into the SQL, so a
value with quotes or semicolons is only ever data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from detector.errors import QueryError
from detector.resources import resource_dir

HUNTS_DIR = resource_dir("hunts")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*\((?P<type>\w+(?:\[\])?)"
    r"(?:\s*,\s*(?:(?P<optional>optional)|default\s+(?P<default>[^)]*)))?\)\s*:\s*(?P<doc>.*)$"
)
TYPES = ("text", "int", "float", "date", "timestamp", "text[]")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    default: str | None = None
    required: bool = True

    def convert(self, text: str | None) -> object:
        """The typed value DuckDB binds (``None`` binds SQL NULL)."""
        if text is None:
            return None
        try:
            if self.type == "int":
                return int(text)
            if self.type == "float":
                return float(text)
            if self.type == "date":
                return date.fromisoformat(text)
            if self.type == "timestamp":
                t = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return t if t.tzinfo else t.replace(tzinfo=UTC)
        except ValueError:
            raise QueryError(
                f"parameter {self.name}: {text!r} is not a valid {self.type}"
                + (" (YYYY-MM-DD)" if self.type == "date" else "")
            ) from None
        if self.type == "text[]":
            return [v.strip() for v in text.split(",") if v.strip()]
        return text

    def usage(self) -> str:
        if self.required:
            return f"{self.name}=<{self.type}>"
        return f"[{self.name}=<{self.type}>" + (
            f", default {self.default}]" if self.default else "]"
        )


@dataclass(frozen=True)
class Hunt:
    name: str
    path: Path
    title: str
    question: str
    params: tuple[Param, ...]
    sql: str

    def bind(self, given: Mapping[str, str]) -> dict[str, object]:
        """Typed values for every declared parameter, or a one-line ``QueryError``."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            known = ", ".join(declared) or "none"
            raise QueryError(
                f"hunt {self.name}: unknown parameter {', '.join(unknown)} "
                f"(its parameters: {known})"
            )
        missing = [p.name for p in self.params if p.required and p.name not in given]
        if missing:
            raise QueryError(
                f"hunt {self.name}: missing parameter "
                + ", ".join(f"--param {m}=…" for m in missing)
                + f" (usage: {self.usage()})"
            )
        return {p.name: p.convert(given.get(p.name, p.default)) for p in self.params}

    def usage(self) -> str:
        return " ".join([self.name, *(p.usage() for p in self.params)])


def parse_hunt(path: Path) -> Hunt:
    """Read one hunt file; a malformed header is an error naming the file and line."""
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    params: list[Param] = []
    last: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        body = stripped[2:].strip()
        key, sep, value = body.partition(":")
        key = key.strip().lower()
        if sep and key in ("title", "question"):
            fields[key] = value.strip()
            last = key
        elif sep and key == "param":
            m = _PARAM.match(value.strip())
            if not m or m["type"] not in TYPES:
                raise QueryError(
                    f"{path}:{n}: bad parameter line (want NAME (TYPE[, default V"
                    f" | , optional]): description; TYPE one of {', '.join(TYPES)})"
                )
            optional = m["optional"] is not None or m["default"] is not None
            default = m["default"].strip() if m["default"] is not None else None
            params.append(
                Param(m["name"], m["type"], m["doc"].strip(), default or None, not optional)
            )
            last = None
        elif last and body:
            fields[last] += " " + body
    for key in ("title", "question"):
        if not fields.get(key):
            raise QueryError(f"{path}: the header has no '-- {key}:' line")
    return Hunt(path.stem, path, fields["title"], fields["question"], tuple(params), text)


def load_hunts(directory: Path = HUNTS_DIR) -> dict[str, Hunt]:
    return {p.stem: parse_hunt(p) for p in sorted(directory.glob("*.sql"))}


def get_hunt(name: str, directory: Path = HUNTS_DIR) -> Hunt:
    path = directory / f"{name}.sql"
    if not NAME.match(name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.sql")))
        raise QueryError(f"unknown hunt {name!r} (saved hunts: {known}; see detector hunt --list)")
    return parse_hunt(path)


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` from ``--param`` into a dict; the value may contain ``=``."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryError(f"--param {pair!r}: expected key=value")
        if key in out:
            raise QueryError(f"--param {key} given twice")
        out[key] = value
    return out
