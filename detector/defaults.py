"""Defaults and messages the command line shows in its help, in a module that imports
nothing heavy: ``detector --help`` must not load Arrow, polars, DuckDB or boto3."""

from __future__ import annotations

DEFAULT_BATCH_MB = 16
"""Decompressed megabytes per batch (``--batch-mb``): bounds memory."""

DEFAULT_CHECKPOINT_SECONDS = 60.0
"""How often detection state is checkpointed (``--checkpoint-seconds``)."""

DEFAULT_MAX_OBJECT_MB = 256
"""The most one log object may hold once decompressed (``--max-object-mb``). Far above any
CloudTrail or access-log object AWS writes; past it the object is a decompression bomb or
not a log, and is quarantined rather than read into memory."""

NO_REGION = "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in your AWS profile)"

PARTNER_DAYS = 3
"""Days a foreign account's principals must have used our buckets to count as a partner."""

ENGINES = ("local", "ray")
"""Where backfill fetches, parses and writes batches: this machine, or a Ray cluster."""
