"""Kinesis Data Streams as a stream source: every shard, in lineage order, checkpointed.

CloudTrail reaches a Kinesis stream two ways: an EventBridge rule targeting the stream (one
envelope per record, plain JSON) or a CloudWatch Logs subscription (gzipped payloads of many
log events). Each ``poll`` is one pass over the readable shards, and one shard's records of a
pass become at most two blobs (envelopes as JSON lines, payloads concatenated), so the log
types parse them in bulk exactly as they parse objects.

Positions, not objects, make Kinesis idempotent. Each ``Work`` carries the sequence number
reached in every shard; the tail loop commits it in the lake's manifest with the output, and a
restart continues after it::

    {"kinesis": {"<stream>": {"shardId-000000000000": "SHARD_END",
                              "shardId-000000000003": "49590338271490256608559692538361571095"}}}

Resharding: a child shard is read only once its parents' ends are committed (or the parents
have expired from the stream), so events keep their order across splits and merges.
``--from`` (``start``) applies to a fresh start; once positions are committed, a shard without
one is read from its trim horizon, so a restart never skips records.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from detector import aws
from detector.blob import Blob, ObjectRef
from detector.errors import SourceError, UsageError
from detector.logtypes.base import DEFAULT_MAX_OBJECT_MB, GZIP_MAGIC, Reject, inflate
from detector.sources.stream import Work

log = logging.getLogger(__name__)

SHARD_END = "SHARD_END"
"""Checkpoint value of a shard read to its end (closed by a split or merge)."""
STARTS = {"trim-horizon": "TRIM_HORIZON", "latest": "LATEST", "timestamp": "AT_TIMESTAMP"}
GET_RECORDS_LIMIT = 10_000
"""The most records one GetRecords call may return."""

_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException"}
)
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "KMSAccessDeniedException"})
_BOM = b"\xef\xbb\xbf"
_HEAD = 4096
_ENVELOPE = re.compile(rb'"detail-type"\s*:')
_PAYLOAD = re.compile(rb'"(?:messageType|logEvents)"\s*:')
_PAYLOAD_START = re.compile(rb'^\{\s*"messageType"\s*:')


def kinesis_client() -> Any:
    """A Kinesis client from the standard AWS configuration, retrying throttles adaptively."""
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    return aws.client("kinesis", config)


def _later(a: str | None, b: str | None) -> bool:
    """Is position ``a`` past ``b``? Sequence numbers are decimal strings; SHARD_END is last."""
    if a is None or a == b:
        return False
    if b is None or a == SHARD_END:
        return True
    return b != SHARD_END and int(a) > int(b)


def record_shape(payload: bytes) -> str | None:
    """``eventbridge``, ``cloudwatch_logs`` or None, by whichever marker comes first."""
    head = payload[:_HEAD].lstrip(_BOM + b" \t\r\n")
    if head[:1] != b"{":
        return None
    envelope, cwl = _ENVELOPE.search(head), _PAYLOAD.search(head)
    if envelope and (cwl is None or envelope.start() < cwl.start()):
        return "eventbridge"
    return "cloudwatch_logs" if cwl else None


def pack(
    stream: str,
    shard: str,
    records: list[dict[str, Any]],
    max_bytes: int = DEFAULT_MAX_OBJECT_MB << 20,
    budget: int | None = None,
) -> tuple[list[Blob], list[Reject], int]:
    """One shard's records of a pass → blobs to parse in bulk, a reject per bad record, and
    how many records were taken: they stop before the decompressed total passes ``budget``
    (at least one is always taken), so a pass holds a bounded amount whatever records hold.

    Gzipped records are decompressed here, one by one and never past ``max_bytes``, so that a
    damaged record or a decompression bomb costs only itself. Envelopes become one JSON-lines
    blob and CloudWatch Logs payloads one blob of payloads back to back (the log types split
    both per record); a payload whose keys do not start with ``messageType`` cannot be split
    from its neighbours and gets a blob of its own. A record of any other shape is rejected
    on its own, whatever it holds.
    """
    envelopes: list[tuple[str, bytes]] = []
    payloads: list[tuple[str, bytes]] = []
    blobs: list[Blob] = []
    rejects: list[Reject] = []
    held = taken = 0
    for rec in records:
        seq, data = str(rec.get("SequenceNumber")), bytes(rec.get("Data") or b"")
        origin = f"kinesis://{stream}/{shard}/{seq}"
        body = data
        if data[:2] == GZIP_MAGIC:
            inflated = inflate(data, max_bytes)
            if inflated.reason is not None:
                rejects.append(
                    Reject(
                        origin,
                        inflated.reason,
                        f"Kinesis record: {inflated.detail}",
                        data,
                        records=None,
                    ).capped()
                )
                taken += 1
                continue
            body = inflated.data
        if budget is not None and taken and held + len(body) > budget:
            break
        held += len(body)
        taken += 1
        body = body.strip().removeprefix(_BOM).lstrip()
        shape = record_shape(body)
        if shape == "eventbridge":
            envelopes.append((seq, body.replace(b"\n", b" ")))
        elif shape == "cloudwatch_logs" and _PAYLOAD_START.match(body):
            payloads.append((seq, body))
        elif shape == "cloudwatch_logs":  # keys in another order: cannot be split, keep apart
            blobs.append(_blob(stream, shard, [(seq, body)], "json", b""))
        else:
            rejects.append(
                Reject(
                    origin,
                    "unknown_record_shape",
                    "neither an EventBridge envelope nor a CloudWatch Logs subscription payload",
                    data,
                ).capped()
            )
    if payloads:
        blobs.append(_blob(stream, shard, payloads, "json", b"\n"))
    if envelopes:
        blobs.append(_blob(stream, shard, envelopes, "jsonl", b"\n"))
    return blobs, rejects, taken


def _blob(stream: str, shard: str, parts: list[tuple[str, bytes]], ext: str, sep: bytes) -> Blob:
    span = f"{parts[0][0]}-{parts[-1][0]}"
    data = sep.join(body for _, body in parts)
    return Blob(
        ObjectRef(f"kinesis://{stream}/{shard}/{span}", f"kinesis/{shard}/{span}.{ext}", len(data)),
        data,
    )


@dataclass
class _Shard:
    """What the source knows of one shard."""

    parents: tuple[str, ...] = ()
    closed: bool = False
    committed: str | None = None
    """Durable: the last sequence number in a committed batch, or SHARD_END."""
    position: str | None = None
    """The last sequence number handed out (never behind ``committed``), or SHARD_END."""
    first: str | None = None
    """The first sequence number handed out while nothing was committed: where a rewind
    goes back to when the original start (LATEST, a timestamp) cannot be asked again."""
    iterator: str | None = None
    started: bool = False
    behind: int = 0
    throttled: int = 0
    paused_until: float = 0.0


class KinesisSource:
    """Every shard of a Kinesis data stream, given by name or ARN.

    >>> src = KinesisSource("trail", start="latest", client=object())
    >>> src.name
    'kinesis:trail'
    """

    pass_bytes: int = 64 << 20
    """Decompressed bytes one pass takes at most (records past it wait for the next pass)."""
    pass_interval: float = 0.2
    """Shortest time between passes: GetRecords allows 5 calls/s per shard, for all readers."""
    throttle_backoff: float = 1.0
    """First pause of a throttled shard, doubled per repeat up to ten times."""

    def __init__(
        self,
        stream: str,
        start: str = "trim-horizon",
        at_timestamp: datetime | None = None,
        client: Any | None = None,
        max_records: int = 10_000,
        wait: float = 1.0,
        list_interval: float = 30.0,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20,
        member: tuple[int, int] | None = None,
    ) -> None:
        if start not in STARTS:
            raise UsageError(f"--from {start}: expected one of {', '.join(STARTS)}")
        if (start == "timestamp") != (at_timestamp is not None):
            raise UsageError("--from timestamp needs a time, and only --from timestamp takes one")
        if max_records < 1:
            raise UsageError(f"max_records {max_records}: must be at least 1")
        self.arn: str | None = None
        if stream.startswith("arn:"):
            resource = stream.split(":", 5)[-1]
            if not resource.startswith("stream/") or not resource.removeprefix("stream/"):
                raise UsageError(f"{stream}: not a Kinesis stream ARN (…:stream/NAME)")
            self.arn, self.stream = stream, resource.removeprefix("stream/")
        elif stream:
            self.stream = stream
        else:
            raise UsageError("--stream: a stream name or ARN is required")
        self.name = f"kinesis:{self.stream}"
        self.uri = f"kinesis://{self.stream}"
        self.start = start
        if at_timestamp is not None and at_timestamp.tzinfo is None:
            at_timestamp = at_timestamp.replace(tzinfo=UTC)
        self.at_timestamp = at_timestamp
        self.max_records = max_records
        self.max_object_bytes = max_object_bytes
        self.wait = wait
        self.list_interval = list_interval
        self._owns_client = client is None
        self.client = client if client is not None else kinesis_client()
        self._ids: dict[str, str] = (
            {"StreamARN": self.arn} if self.arn else {"StreamName": self.stream}
        )
        self._shards: dict[str, _Shard] = {}
        self._children: dict[str, list[str]] = {}
        self._fresh = True
        self._listed_at: float | None = None
        self._relist = True
        self._last_pass = float("-inf")
        self._rotation = 0
        self._generation = 0
        if member is not None and not 0 <= member[0] < member[1]:
            raise UsageError(f"consumer {member[0]} of {member[1]}: no such member")
        self.member = member
        self._closed_at_start: set[str] | None = None
        """Shards closed at the first listing (what every member sees as history)."""
        """(this consumer, consumers): read only the shards that hash to this consumer (a
        tail's consumers on Ray); None reads every shard."""

    # --- the StreamSource protocol ---------------------------------------------------
    def resume(self, checkpoints: list[dict[str, Any]]) -> None:
        """Continue after the committed positions (manifest order: later lines override)."""
        self._shards.clear()
        for checkpoint in checkpoints:
            streams = checkpoint.get("kinesis") if isinstance(checkpoint, dict) else None
            positions = streams.get(self.stream) if isinstance(streams, dict) else None
            if not isinstance(positions, dict):
                continue
            for shard_id, position in positions.items():
                st = self._shards.setdefault(str(shard_id), _Shard())
                st.committed = st.position = str(position)
        self._fresh = not self._shards
        self._relist = True
        if self._shards:
            log.info("%s: resuming %d shard position(s)", self.name, len(self._shards))

    def poll(self) -> Work | None:
        """One pass over the readable shards, as one unit of work (None if nothing moved)."""
        self._pace()
        if (
            self._relist
            or self._listed_at is None
            or time.monotonic() - self._listed_at >= self.list_interval
        ):
            self._list_shards()
        blobs: list[Blob] = []
        rejects: list[Reject] = []
        read, ended, arrivals = 0, False, []
        held = 0
        for shard_id in self._readable():
            if read >= self.max_records or held >= self.pass_bytes:
                break
            resp = self._get_records(shard_id, min(GET_RECORDS_LIMIT, self.max_records - read))
            st = self._shards.get(shard_id)
            if resp is None or st is None:
                continue
            records = resp.get("Records") or []
            st.behind = int(resp.get("MillisBehindLatest") or 0)
            taken = len(records)
            if records:
                more_blobs, more_rejects, taken = pack(
                    self.stream, shard_id, records, self.max_object_bytes, self.pass_bytes - held
                )
                records = records[:taken]
                blobs += more_blobs
                rejects += more_rejects
                held += sum(len(b.data) for b in more_blobs)
                read += len(records)
                if st.committed is None and st.first is None:
                    st.first = str(records[0]["SequenceNumber"])
                st.position = str(records[-1]["SequenceNumber"])
                arrivals.append(min(_epoch(r.get("ApproximateArrivalTimestamp")) for r in records))
            if taken < len(resp.get("Records") or []):
                st.iterator = None  # over the pass budget: the rest comes next pass
                continue
            st.iterator = resp.get("NextShardIterator")
            if st.iterator is None:
                log.info("%s: %s read to its end (resharded)", self.name, shard_id)
                st.position, st.behind, ended = SHARD_END, 0, True
                self._relist = True
        if not read and not ended:
            if self.wait > 0:
                time.sleep(self.wait)
            return None
        return self._work(blobs, rejects, read, min((t for t in arrivals if t), default=0.0))

    def owns(self, shard_id: str) -> bool:
        """Whether this consumer reads the shard: a stable hash of its id, so a shard keeps
        its one reader (Ray restarts a consumer that dies, elsewhere if its node is gone)."""
        if self.member is None:
            return True
        digest = hashlib.blake2b(shard_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.member[1] == self.member[0]

    def observe(self, checkpoint: dict[str, Any]) -> None:
        """Positions another consumer committed: a child shard here may wait for its
        parent's end there (a merge joins shards of different consumers)."""
        streams = checkpoint.get("kinesis") if isinstance(checkpoint, dict) else None
        positions = streams.get(self.stream) if isinstance(streams, dict) else None
        for shard_id, position in (positions or {}).items():
            sid, at = str(shard_id), str(position)
            if self.owns(sid):
                continue
            st = self._shards.setdefault(sid, _Shard())
            if _later(at, st.committed):
                st.committed = st.position = at
                self._relist |= at == SHARD_END  # its children may be new here

    def lag(self) -> dict[str, float]:
        """How far behind the stream's tip the slowest shard is, and how many shards are open."""
        behind = max((st.behind for st in self._shards.values()), default=0)
        open_shards = sum(1 for st in self._shards.values() if not st.closed)
        return {"millis_behind_latest": float(behind), "shards": float(open_shards)}

    def close(self) -> None:
        """Forget iterators (they expire anyway) and close the client if this source made it."""
        for st in self._shards.values():
            st.iterator = None
        if self._owns_client:
            self.client.close()

    # --- work, ack and release -------------------------------------------------------
    def _work(self, blobs: list[Blob], rejects: list[Reject], read: int, oldest: float) -> Work:
        positions = {
            sid: st.position
            for sid, st in sorted(self._shards.items())
            if st.position is not None and self.owns(sid)
        }
        generation = self._generation
        return Work(
            blobs=blobs,
            rejects=rejects,
            objects=[],
            checkpoint={"kinesis": {self.stream: dict(positions)}},
            ack=lambda: self._ack(positions),
            release=lambda: self._release(generation),
            received=oldest,
            messages=read,
        )

    def _ack(self, positions: dict[str, str]) -> None:
        """The batch with these positions is committed: they are the new floor."""
        for shard_id, position in positions.items():
            st = self._shards.get(shard_id)
            if st is None:
                continue
            if _later(position, st.committed):
                st.committed = position
            if _later(st.committed, st.position):
                st.position, st.iterator = st.committed, None

    def _release(self, generation: int) -> None:
        """Rewind every shard to its committed position; the next poll reads it all again."""
        if generation != self._generation:
            return  # work handed out before an earlier release: already rewound
        self._generation += 1
        rewound = 0
        for st in self._shards.values():
            if st.position != st.committed:
                st.position, st.iterator = st.committed, None
                rewound += 1
        log.info(
            "%s: released; %d shard(s) rewound to their committed positions", self.name, rewound
        )

    # --- shards ----------------------------------------------------------------------
    def _pace(self) -> None:
        delay = self._last_pass + self.pass_interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last_pass = time.monotonic()

    def _list_shards(self) -> None:
        listed: dict[str, dict[str, Any]] = {}
        token: str | None = None
        try:
            while True:
                resp = self.client.list_shards(**({"NextToken": token} if token else self._ids))
                for shard in resp.get("Shards", ()):
                    listed[shard["ShardId"]] = shard
                token = resp.get("NextToken")
                if not token:
                    break
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "listing shards") from exc
        new = [sid for sid in listed if sid not in self._shards]
        gone = [sid for sid in self._shards if sid not in listed]
        for sid in gone:
            del self._shards[sid]
        self._children = {}
        for sid, shard in listed.items():
            st = self._shards.setdefault(sid, _Shard())
            st.parents = tuple(
                p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p
            )
            st.closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            for parent in st.parents:
                self._children.setdefault(parent, []).append(sid)
        if self._closed_at_start is None:
            self._closed_at_start = {sid for sid, st in self._shards.items() if st.closed}
        if new or gone:
            log.info(
                "%s: %d shard(s), %d new, %d expired", self.name, len(listed), len(new), len(gone)
            )
        self._listed_at, self._relist = time.monotonic(), False

    def _readable(self) -> list[str]:
        """Shards to read this pass, rotated so that ``max_records`` starves none of them."""
        now = time.monotonic()
        skipped = self._skipped()
        ready = []
        for sid, st in sorted(self._shards.items()):
            if st.position == SHARD_END or st.paused_until > now or not self.owns(sid):
                continue
            if (
                st.position is None
                and st.first is None
                and st.iterator is None
                and (sid in skipped or not self._parents_done(st, skipped))
            ):
                continue
            ready.append(sid)
        if not ready:
            return ready
        turn = self._rotation % len(ready)
        self._rotation += 1
        return ready[turn:] + ready[:turn]

    def _skipped(self) -> set[str]:
        """Closed shards never read whose records all come before where reading starts.

        They are the ancestors of shards already read (passed over by an earlier start) and,
        on a fresh ``--from latest``, closed shards whose parents are skipped too (history).
        """
        untouched = {
            sid
            for sid, st in self._shards.items()
            if st.closed
            and not st.started
            and st.position is None
            and st.first is None
            # Another member's shard: only its reader knows whether it touched it, unless
            # it was closed already when this one first listed (history for all alike).
            and (self.owns(sid) or sid in (self._closed_at_start or ()))
        }
        ancestors: set[str] = set()
        stack = [
            sid
            for sid, st in self._shards.items()
            if st.position is not None or st.first is not None
        ]
        while stack:
            for parent in self._shards[stack.pop()].parents:
                if parent in self._shards and parent not in ancestors:
                    ancestors.add(parent)
                    stack.append(parent)
        skipped = ancestors & untouched
        if self._fresh and self.start == "latest":
            grown = True
            while grown:
                more = {
                    sid
                    for sid in untouched - skipped
                    if all(p in skipped or p not in self._shards for p in self._shards[sid].parents)
                }
                skipped |= more
                grown = bool(more)
        return skipped

    def _parents_done(self, st: _Shard, skipped: set[str]) -> bool:
        """Parents read to their committed end, skipped, or expired: the shard may be read."""
        return all(
            p not in self._shards or p in skipped or self._shards[p].committed == SHARD_END
            for p in st.parents
        )

    def _start_for(self, st: _Shard) -> dict[str, Any]:
        """Where a shard with no position begins."""
        consumed = any(
            p in self._shards and self._shards[p].committed == SHARD_END for p in st.parents
        )
        if not self._fresh or (consumed and self.start != "timestamp"):
            return {"ShardIteratorType": "TRIM_HORIZON"}
        if self.start == "timestamp":
            return {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": self.at_timestamp}
        return {"ShardIteratorType": STARTS[self.start]}

    def _get_iterator(self, shard_id: str) -> bool:
        st = self._shards[shard_id]
        args: dict[str, Any] = {"ShardId": shard_id, **self._ids}
        if st.position not in (None, SHARD_END):
            args |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": st.position,
            }
        elif st.first is not None:
            args |= {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": st.first}
        else:
            args |= self._start_for(st)
        try:
            st.iterator = self.client.get_shard_iterator(**args)["ShardIterator"]
        except ClientError as exc:
            return self._shard_failed(shard_id, exc, "getting an iterator for")
        except BotoCoreError as exc:
            raise self._error(exc, f"getting an iterator for {shard_id}") from exc
        st.started = True
        log.debug("%s: %s from %s", self.name, shard_id, args["ShardIteratorType"])
        return True

    def _get_records(self, shard_id: str, limit: int) -> dict[str, Any] | None:
        for _ in range(2):
            st = self._shards.get(shard_id)
            if st is None:
                return None
            if st.iterator is None and not self._get_iterator(shard_id):
                return None
            try:
                resp: dict[str, Any] = self.client.get_records(
                    ShardIterator=st.iterator,
                    Limit=limit,
                    **({"StreamARN": self.arn} if self.arn else {}),
                )
            except ClientError as exc:
                if _code(exc) == "ExpiredIteratorException":
                    log.info(
                        "%s: %s iterator expired; asking again from %s",
                        self.name,
                        shard_id,
                        st.position or st.first or "the start",
                    )
                    st.iterator = None
                    continue
                self._shard_failed(shard_id, exc, "reading")
                return None
            except BotoCoreError as exc:
                raise self._error(exc, f"reading {shard_id}") from exc
            st.throttled = 0
            return resp
        return None

    def _shard_failed(self, shard_id: str, exc: ClientError, doing: str) -> bool:
        """Throttled: pause the shard. Gone: forget it and list again. Else: raise."""
        code = _code(exc)
        st = self._shards[shard_id]
        if code in _THROTTLED:
            pause = self.throttle_backoff * 2 ** min(st.throttled, 10)
            st.throttled += 1
            st.paused_until = time.monotonic() + pause
            log.warning(
                "%s: %s throttled (%s); pausing it %.1f s", self.name, shard_id, code, pause
            )
            return False
        if code == "ResourceNotFoundException":
            log.info(
                "%s: %s is gone (expired or stream deleted); listing again", self.name, shard_id
            )
            del self._shards[shard_id]
            self._relist = True
            return False
        raise self._error(exc, f"{doing} {shard_id}") from exc

    def _error(self, exc: Exception, doing: str) -> SourceError:
        code = _code(exc) if isinstance(exc, ClientError) else ""
        region = getattr(getattr(self.client, "meta", None), "region_name", None) or "?"
        if code == "ResourceNotFoundException":
            return SourceError(
                self.uri,
                "stream_not_found",
                f"{doing}: no stream {self.stream!r} in region {region} for "
                f"these credentials (check the name, AWS_REGION, the account)",
            )
        if code in _DENIED:
            return SourceError(self.uri, "access_denied", f"{doing}: {exc}")
        return SourceError(self.uri, "read_failed", f"{doing}: {exc}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value or 0.0)
