"""boto3 clients from the standard AWS configuration, and one clear error when it lacks a region.

Everything AWS goes through boto3's own chain (``AWS_PROFILE``, ``AWS_REGION``,
``AWS_ENDPOINT_URL``, instance and task roles); nothing here overrides it. A regional service
with no region configured (or an empty ``AWS_REGION``) is a usage error naming the fix,
not a traceback from deep inside botocore.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from detector.defaults import NO_REGION
from detector.errors import UsageError


def client(service: str, config: Config | None = None, region: str | None = None) -> Any:
    """A ``service`` client; ``region`` when the caller knows it (an SNS topic ARN's)."""
    session = boto3.session.Session()
    if not (region or session.region_name) and service != "s3":
        raise UsageError(NO_REGION)
    return session.client(service, config=config, region_name=region or None)
