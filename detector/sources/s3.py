"""S3 prefixes through boto3: paginated listing and concurrent downloads.

Uses the standard AWS configuration (profiles, regions, ``AWS_ENDPOINT_URL`` for any
S3-compatible endpoint) because boto3 reads it; nothing here overrides it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError

log = logging.getLogger(__name__)

DOWNLOAD_THREADS = 16
_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix)."""
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"{uri}: expected s3://bucket/prefix")
    return bucket, prefix


def s3_client() -> Any:
    """An S3 client from the standard AWS configuration, with retries for throttling."""
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"},
                    max_pool_connections=DOWNLOAD_THREADS * 2)
    return boto3.session.Session().client("s3", config=config)


def classify(exc: Exception) -> str:
    """A reject reason for an S3 error: object_missing, access_denied or read_failed."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            return "object_missing"
        if code in _DENIED:
            return "access_denied"
    return "read_failed"


class S3Source:
    """Every object under an S3 prefix."""

    def __init__(self, spec: str, client: Any | None = None) -> None:
        self.spec = spec
        self.bucket, self.prefix = split_s3_uri(spec)
        self.client = client or s3_client()

    def list(self) -> Iterator[ObjectRef]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", ()):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue
                    yield ObjectRef(f"s3://{self.bucket}/{key}", key, int(obj["Size"]),
                                    str(obj.get("ETag", "")).strip('"'))
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(self.spec, classify(exc), f"listing failed: {exc}") from exc

    def fetch(self, ref: ObjectRef) -> Blob | SourceError:
        bucket, key = split_s3_uri(ref.uri)
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            return Blob(ref, body.read())
        except (ClientError, BotoCoreError) as exc:
            return SourceError(ref.uri, classify(exc), str(exc))

    def fetch_many(self, refs: Iterable[ObjectRef]) -> Iterator[Blob | SourceError]:
        with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="s3-get") as pool:
            yield from pool.map(self.fetch, refs)
