"""S3 prefixes through boto3: paginated listing and concurrent downloads.

Uses the standard AWS configuration (profiles, regions, ``AWS_ENDPOINT_URL`` for any
S3-compatible endpoint) because boto3 reads it; nothing here overrides it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from detector import aws
from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError
from detector.logtypes.base import RAW_CAP

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
    config = Config(
        retries={"max_attempts": 8, "mode": "adaptive"}, max_pool_connections=DOWNLOAD_THREADS * 2
    )
    return aws.client("s3", config)


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
                    yield ObjectRef(
                        f"s3://{self.bucket}/{key}",
                        key,
                        int(obj["Size"]),
                        str(obj.get("ETag", "")).strip('"'),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(self.spec, classify(exc), f"listing failed: {exc}") from exc

    def fetch(self, ref: ObjectRef, max_bytes: int | None = None) -> Blob | SourceError:
        return get_object(self.client, ref, max_bytes)

    def fetch_many(
        self, refs: Iterable[ObjectRef], max_bytes: int | None = None
    ) -> Iterator[Blob | SourceError]:
        with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="s3-get") as pool:
            yield from pool.map(lambda ref: self.fetch(ref, max_bytes), refs)


def get_object(client: Any, ref: ObjectRef, max_bytes: int | None = None) -> Blob | SourceError:
    """The object with the ETag and size S3 reports (so identities match however it was
    found); only its first bytes when it is larger than ``max_bytes``."""
    bucket, key = split_s3_uri(ref.uri)
    try:
        resp = client.get_object(Bucket=bucket, Key=key)
        body = resp["Body"]
        size = int(resp.get("ContentLength") or 0)
        etag = str(resp.get("ETag", "")).strip('"') or ref.etag
        got = ObjectRef(ref.uri, ref.key, size, etag) if size else ref
        if max_bytes is not None and size > max_bytes:
            head = body.read(RAW_CAP)
            body.close()
            return Blob(got, head, oversize=size)
        data = body.read()
        return Blob(ObjectRef(ref.uri, ref.key, len(data), etag), data)
    except (ClientError, BotoCoreError) as exc:
        return SourceError(ref.uri, classify(exc), str(exc))
    except ValueError as exc:  # a key no request can carry (UnicodeEncodeError is one)
        return SourceError(ref.uri, "read_failed", f"{type(exc).__name__}: {exc}")
