"""``detector check``: everything a run would use, validated, with nothing created.

Settings, model, pipeline file, sinks and their routes, an explicit state checkpoint, the
lake's format; with ``--reach`` also the sources, queue or stream and lake on the network
(a read-only call each). Every check is listed with what it found; exit 0 when all pass, 2
when any fails, so it fits a deploy pipeline before ``detector run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from detector.errors import DetectorError
from detector.terminal import say, visible


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="validate settings, model, pipeline and sinks without running anything",
        description="Check everything a run would use, without creating anything: the "
        "settings file, the model, the pipeline file (fields, sinks and their routes, the "
        "state checkpoint, the lake), and with --reach the sources, queue or stream and "
        "the lake over the network. Exit status 0 when every check passes, 2 otherwise.",
    )
    p.add_argument("--config", type=Path, help="a settings file")
    p.add_argument("--pipeline", type=Path, help="a pipeline file")
    p.add_argument("--model", help="a model name or .toml (default: the pipeline's or default)")
    p.add_argument(
        "--reach",
        action="store_true",
        help="also call AWS (or the local paths) once for each source, queue, stream and "
        "lake, read-only",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    checks: list[tuple[str, Callable[[], str]]] = []
    pipeline = None
    if args.pipeline is not None:
        from detector.pipeline import load_pipeline

        try:
            pipeline = load_pipeline(args.pipeline)
            checks.append((f"pipeline {args.pipeline}", lambda: f"a {pipeline.kind} pipeline"))
        except DetectorError as exc:
            checks.append((f"pipeline {args.pipeline}", _raiser(exc)))
    config = args.config or (pipeline.config if pipeline else None)
    if config is not None or pipeline is None:
        checks.append((f"settings {config or '(defaults)'}", lambda: _settings(config)))
    model = args.model or (pipeline.model if pipeline else "default")
    checks.append((f"model {model}", lambda: _model(model)))
    if pipeline is not None:
        checks += _pipeline_checks(pipeline, model, args.reach)
    failed = 0
    for name, check in checks:
        try:
            found = check()
        except DetectorError as exc:
            failed += 1
            say(console, f"FAIL {name}: {visible(exc)}")
            continue
        except Exception as exc:  # an AWS or network error under --reach
            failed += 1
            say(console, f"FAIL {name}: {type(exc).__name__}: {visible(exc)}")
            continue
        say(console, f"ok   {name}: {found}")
    say(console, f"{len(checks) - failed} of {len(checks)} checks passed; nothing was created")
    return 2 if failed else 0


def _raiser(exc: Exception) -> Callable[[], str]:
    def again() -> str:
        raise exc

    return again


def _settings(path: Path | None) -> str:
    from detector.config import load_settings

    s = load_settings(path)
    return (
        f"{len(s.our_accounts)} account(s), {len(s.log_buckets)} log bucket(s), "
        f"{len(s.decoys)} decoy(s), {len(s.disabled)} detection(s) disabled"
    )


def _model(name: str) -> str:
    from detector.scoring.model import load_model_spec

    spec = load_model_spec(name)
    return f"{spec.name}: {len(spec.features)} features"


def _pipeline_checks(p: Any, model: str, reach: bool) -> list[tuple[str, Callable[[], str]]]:
    from detector.runner import routed_sinks

    out: list[tuple[str, Callable[[], str]]] = []
    if p.detect:
        out.append(("sinks and routes", lambda: f"{len(routed_sinks(p))} sink(s)"))
    if p.state is not None:
        out.append((f"state {p.state}", lambda: _state(p.state, model, reach)))
    out.append((f"lake {p.lake}", lambda: _lake(p.lake, reach)))
    if p.kind == "backfill":
        for spec in p.sources:
            out.append((f"source {spec}", lambda spec=spec: _source(spec, reach)))
    elif reach:
        from detector.runner import stream_factory

        def stream() -> str:
            source = stream_factory(p)()
            try:
                return f"{source.name} reachable; lag {source.lag()}"
            finally:
                source.close()

        out.append((f"{p.kind} source", stream))
    if p.engine == "ray":
        from detector.ray_engine import require_ray

        out.append(("ray engine", lambda: require_ray() or "Ray is installed"))
    return out


def _state(path: str, model: str, reach: bool) -> str:
    from detector.scoring.model import load_model_spec
    from detector.scoring.state import load

    if path.startswith("s3://") and not reach:
        return "on S3 (--reach to read it)"
    state = load(path, load_model_spec(model))
    if state is None:
        return "none yet: the first run starts one"
    return f"{len(state.profiles)} principal(s), through batch {state.through_batch}"


def _lake(location: Any, reach: bool) -> str:
    from detector.lakes import existing_format

    fmt = existing_format(location)
    if str(location).startswith("s3://"):
        if not reach:
            return "an Iceberg lake on S3 (--reach to check the bucket)"
        from detector.sources.s3 import s3_client

        bucket, _, prefix = str(location)[5:].partition("/")
        # A listing under the lake's prefix: what its role may do (not HeadBucket).
        s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/", MaxKeys=1)
        return f"s3://{bucket}/{prefix} reachable"
    return f"an existing {fmt} lake" if fmt else "none yet: the first run creates it"


def _source(spec: str, reach: bool) -> str:
    from detector.sources import open_source

    source = open_source(spec)
    if not reach:
        return "well formed (--reach to list it)"
    for item in source.list():
        return f"reachable; first object {getattr(item, 'key', item)}"
    return "reachable, but empty"
