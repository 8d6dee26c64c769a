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


REFRESHED_BY_ITS_SOURCE = {"iam-role", "container-role", "assume-role-with-web-identity"}
"""Credential sources (instance profile, ECS/EKS task or pod role, IRSA) that the AWS SDK
inside pyarrow also reads and refreshes by itself: a copy of today's keys would expire
under a long run (an IRSA session lasts an hour by default)."""


def credential_fields(renewing: bool = True) -> dict[str, str]:
    """The standard chain's current credentials as ``access_key``, ``secret_key`` and, for
    temporary ones, ``token`` (empty when there are none), for libraries that take them as
    settings (DuckDB's S3 secret, pyiceberg's file IO). Never log the result.

    ``renewing=False``: empty too when they come from a source that the library's own chain
    renews (``REFRESHED_BY_ITS_SOURCE``), so a long run never holds expired keys."""
    creds = boto3.session.Session().get_credentials()
    if creds is None:
        return {}
    if not renewing and getattr(creds, "method", "") in REFRESHED_BY_ITS_SOURCE:
        return {}
    frozen = creds.get_frozen_credentials()
    out = {"access_key": frozen.access_key, "secret_key": frozen.secret_key}
    if frozen.token:
        out["token"] = frozen.token
    return out
