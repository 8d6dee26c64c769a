"""Logging for a command: level, text or JSON lines on stderr, log data made safe."""

from __future__ import annotations

import argparse
import logging
import sys

from detector.terminal import SafeLogFormatter


def setup_logging(args: argparse.Namespace) -> None:
    level = args.log_level
    if args.command in ("tail", "run") and "--log-level" not in sys.argv[1:]:
        level = "INFO"  # a long-running process: its status lines are INFO
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        from detector.metrics import JsonLogFormatter

        handler.setFormatter(JsonLogFormatter())
    else:
        # log arguments are often log data (URIs, keys, server messages): controls escaped
        handler.setFormatter(
            SafeLogFormatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"
                if args.command in ("tail", "run")
                else "%(levelname)s %(name)s: %(message)s"
            )
        )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
