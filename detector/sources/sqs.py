"""SQS: notifications that log objects landed, turned into fetched blobs for the tail loop.

Long-polls the queue, takes up to ``batch_messages`` messages per unit of work, parses each
message (``notifications``), fetches the objects it names from S3 with 16 threads, and hands
the tail loop one ``Work``. Messages stay invisible while they are worked on (a background
thread extends their visibility timeout) and are deleted only in ``ack``, after the batch is
committed to the lake and its alerts are durably queued.

What happens to a message:

- names objects that were all read (or are missing: quarantined as ``object_missing``), is a
  test event, or is not a notification at all (quarantined as ``poison_message``) → deleted
  on ack: retrying cannot help;
- an object could not be read (throttling, access denied, network) → left on the queue; SQS
  delivers it again after the visibility timeout. With a redrive policy, SQS moves it to the
  dead-letter queue after ``maxReceiveCount`` receives; without one, after ``max_receives``
  receives it is quarantined as ``repeated_failure`` and deleted, so it cannot stall the queue.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from detector import aws
from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError
from detector.logtypes.base import DEFAULT_MAX_OBJECT_MB, Reject
from detector.sources.notifications import NotificationError, parse_notification
from detector.sources.s3 import DOWNLOAD_THREADS, get_object, s3_client
from detector.sources.stream import Work

log = logging.getLogger(__name__)

MAX_RECEIVE = 10
"""SQS returns at most ten messages per ReceiveMessage call."""
DEFAULT_MAX_RECEIVES = 5


def sqs_client() -> Any:
    """An SQS client from the standard AWS configuration (AWS_ENDPOINT_URL, profiles)."""
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    return aws.client("sqs", config)


@dataclass
class _Message:
    message_id: str
    receipt: str
    body: str
    receives: int
    sent: float
    refs: list[ObjectRef] = field(default_factory=list)
    retry: bool = False
    """Something failed that may succeed later: do not delete; let SQS deliver it again."""


class SqsSource:
    """A queue of S3 object notifications (direct, via SNS, CloudTrail's, EventBridge's)."""

    def __init__(
        self,
        queue_url: str,
        wait: int = 20,
        batch_messages: int = 100,
        visibility_timeout: int | None = None,
        max_receives: int = DEFAULT_MAX_RECEIVES,
        client: Any | None = None,
        s3: Any | None = None,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20,
    ) -> None:
        if not queue_url.startswith(("https://", "http://")):
            raise UsageError(
                f"{queue_url}: expected a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
            )
        self.queue_url = queue_url
        self.name = "sqs:" + queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.wait = max(0, min(wait, 20))
        self.batch_messages = max(1, batch_messages)
        self.max_receives = max_receives
        self.max_object_bytes = max_object_bytes
        self._suspects: list[_Message] = []
        """Messages delivered again, waiting to be worked on one at a time."""
        self.client = client or sqs_client()
        self.s3 = s3 or s3_client()
        try:
            attrs = self.client.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )["Attributes"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(queue_url, "queue_unavailable", str(exc)) from exc
        self.visibility = int(visibility_timeout or attrs.get("VisibilityTimeout", 30))
        redrive = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else None
        self.redrive_max: int | None = int(redrive["maxReceiveCount"]) if redrive else None
        self._inflight: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._extender = threading.Thread(
            target=self._extend_loop, name="sqs-visibility", daemon=True
        )
        self._extender.start()
        self._pool = ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="sqs-get")

    # --- StreamSource ---------------------------------------------------------------
    def resume(self, checkpoints: list[dict[str, Any]]) -> None:
        """Nothing to resume: the queue keeps undeleted messages, the manifest dedups."""

    def poll(self) -> Work | None:
        """The next unit of work: received messages, or one retried message on its own.

        A message SQS delivers again (its batch failed, or it killed the process) is worked
        on alone, so a poison object costs only its own message; past ``max_receives`` it is
        quarantined without being read again (with a redrive policy SQS dead-letters it).
        """
        if self._suspects:
            return self._work([self._suspects.pop(0)])
        messages = self._receive()
        fresh = [m for m in messages if m.receives <= 1]
        self._suspects += [m for m in messages if m.receives > 1]
        if fresh:
            return self._work(fresh)
        return self._work([self._suspects.pop(0)]) if self._suspects else None

    def _work(self, messages: list[_Message]) -> Work:
        work = Work(messages=len(messages), received=min(m.sent for m in messages))
        for m in messages:
            if self._gave_up(m, m.receives - 1):
                work.rejects.append(
                    self._reject(
                        m,
                        "repeated_failure",
                        f"received {m.receives} times without being "
                        f"committed (more than --max-receives {self.max_receives}); not read again",
                    )
                )
                continue
            try:
                notice = parse_notification(m.body)
            except NotificationError as exc:
                work.rejects.append(self._reject(m, exc.reason, exc.detail))
                continue
            m.refs = list(dict.fromkeys(notice.objects))
        wanted = list(dict.fromkeys(r for m in messages for r in m.refs))
        fetched = dict(zip(wanted, self._pool.map(self._fetch, wanted), strict=True))
        for m in messages:
            for ref in m.refs:
                got = fetched[ref]
                if isinstance(got, Blob):
                    continue
                if got.reason == "object_missing":
                    work.rejects.append(Reject(got.uri, got.reason, got.detail, records=None))
                else:
                    m.retry = True
            if m.retry and self._gave_up(m, m.receives):
                m.retry = False
                work.rejects.append(
                    self._reject(
                        m,
                        "repeated_failure",
                        f"received {m.receives} times and an object still could not be read",
                    )
                )
        blobs = {}
        for m in messages:
            if not m.retry:
                for ref in m.refs:
                    got = fetched[ref]
                    if isinstance(got, Blob):
                        blobs[got.ref.identity] = got
        work.blobs = list(blobs.values())
        work.objects = [b.ref for b in work.blobs]
        work.ack = lambda: self._finish(messages)
        work.release = lambda: self._untrack(messages)
        return work

    def lag(self) -> dict[str, float]:
        try:
            attrs = self.client.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except (ClientError, BotoCoreError):
            return {}
        return {
            "queue_visible": float(attrs.get("ApproximateNumberOfMessages", 0)),
            "queue_in_flight": float(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False)

    # --- receiving ------------------------------------------------------------------
    def _receive(self) -> list[_Message]:
        out: list[_Message] = []
        wait = self.wait
        while len(out) < self.batch_messages:
            try:
                resp = self.client.receive_message(
                    QueueUrl=self.queue_url,
                    WaitTimeSeconds=wait,
                    MaxNumberOfMessages=min(MAX_RECEIVE, self.batch_messages - len(out)),
                    VisibilityTimeout=self.visibility,
                    AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                )
            except (ClientError, BotoCoreError) as exc:
                log.error("%s: receive failed: %s", self.name, exc)
                time.sleep(1.0)
                break
            got = resp.get("Messages", [])
            for raw in got:
                attrs = raw.get("Attributes", {})
                m = _Message(
                    raw["MessageId"],
                    raw["ReceiptHandle"],
                    raw.get("Body", ""),
                    int(attrs.get("ApproximateReceiveCount", 1)),
                    int(attrs.get("SentTimestamp", 0)) / 1000 or time.time(),
                )
                out.append(m)
                with self._lock:
                    self._inflight[m.receipt] = m.message_id
            if len(got) < MAX_RECEIVE:
                break
            wait = 0  # the queue has more right now: fill the batch without waiting
        return out

    def _fetch(self, ref: ObjectRef) -> Blob | SourceError:
        """The object, with the ETag and size S3 reports (so identities match backfill's);
        only its head when it is over the per-object cap (it is then quarantined)."""
        return get_object(self.s3, ref, self.max_object_bytes)

    def _gave_up(self, m: _Message, failures: int) -> bool:
        """Past the retry budget: with a redrive policy SQS dead-letters it; else we do."""
        return self.redrive_max is None and failures >= self.max_receives

    def _reject(self, m: _Message, reason: str, detail: str) -> Reject:
        return Reject(
            f"{self.name}/{m.message_id}",
            reason,
            detail,
            records=None,
            raw=m.body.encode("utf-8", "replace"),
        )

    # --- acknowledging --------------------------------------------------------------
    def _finish(self, messages: list[_Message]) -> None:
        """Delete what is done; leave what must be retried to the visibility timeout."""
        self._delete([m for m in messages if not m.retry])
        self._untrack(messages)

    def _delete(self, messages: Iterable[_Message]) -> None:
        batch = list(messages)
        for i in range(0, len(batch), MAX_RECEIVE):
            chunk = batch[i : i + MAX_RECEIVE]
            try:
                resp = self.client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": m.receipt} for n, m in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                # Delivered again later; the manifest keeps its objects from being re-read.
                log.warning("%s: delete failed (messages will be redelivered): %s", self.name, exc)
                continue
            for failed in resp.get("Failed", []):
                log.warning("%s: delete of one message failed: %s", self.name, failed.get("Code"))

    def _untrack(self, messages: Iterable[_Message]) -> None:
        with self._lock:
            for m in messages:
                self._inflight.pop(m.receipt, None)

    def _extend_loop(self) -> None:
        """Keep in-flight messages invisible while the batch they are in is worked on."""
        every = max(1.0, self.visibility / 3)
        while not self._stop.wait(every):
            with self._lock:
                handles = list(self._inflight)
            for i in range(0, len(handles), MAX_RECEIVE):
                chunk = handles[i : i + MAX_RECEIVE]
                try:
                    self.client.change_message_visibility_batch(
                        QueueUrl=self.queue_url,
                        Entries=[
                            {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": self.visibility}
                            for n, h in enumerate(chunk)
                        ],
                    )
                except (ClientError, BotoCoreError) as exc:
                    log.warning("%s: could not extend visibility: %s", self.name, exc)
