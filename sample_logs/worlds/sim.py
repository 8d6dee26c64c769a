"""Run a world day by day and write what AWS would deliver.

CloudTrail: one gzipped ``{"Records":[...]}`` object per account and region about every five
minutes, events arriving 1-12 minutes late (so files overlap in time), under
``AWSLogs/[<org id>/]<acct>/CloudTrail/<region>/YYYY/MM/DD/``. Access logs: small objects per
source bucket, delivered 5-60 minutes late, under ``s3-access-logs/`` with the simple
(``<bucket>/YYYY-MM-DD-HH-MM-SS-<id>``) or date-partitioned layout. The CloudTrail bucket's
own access log shows each delivery (and, if a rule says so, the expirations).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws import (
    DAY,
    HOUR,
    MIXED,
    S3,
    Bucket,
    Call,
    Rng,
    access_lines,
    cloudtrail_record,
    copy_source_line,
    invoked_by,
    iso,
    service_identity,
)
from clients import CLOUDTRAIL_SVC, S3_SVC
from world import World, s3

DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
CT_SLOT, AL_SLOT = 300, 900
KMS_SHARE = 0.04  # SSE-KMS reads/writes that still reach KMS despite S3 bucket keys


class Output:
    def __init__(self, out: Path) -> None:
        self.out, self.files, self.bytes = out, 0, 0

    def write(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files += 1
        self.bytes += len(data)


class CloudTrailWriter(Output):
    def __init__(
        self, out: Path, org_id: str | None, rng: Rng, trail: str = "", trail_bucket: str = ""
    ) -> None:
        super().__init__(out)
        self.org, self.rng, self.trail, self.trail_bucket = org_id, rng, trail, trail_bucket
        self.buf: dict[tuple[int, str, str], list[tuple[int, str]]] = {}
        self.records = 0
        self.digest_files = 0
        self.hourly: dict[tuple[int, str, str], list[tuple[str, str, str, str]]] = {}
        self.last_digest: dict[tuple[str, str], str] = {}

    def add(self, account: str, region: str, t: int, rec: str) -> None:
        lag = 60 + int(self.rng.random() ** 2 * 660)
        self.buf.setdefault(((t + lag) // CT_SLOT, account, region), []).append((t, rec))
        self.records += 1

    def flush(self, before: int) -> list[tuple[str, int, int, str, str]]:
        """Write files delivered before ``before``: (key, bytes, delivered, account, region)."""
        done = []
        for k in sorted(k for k in self.buf if (k[0] + 1) * CT_SLOT <= before):
            slot, acct, region = k
            recs = sorted(self.buf.pop(k), key=lambda r: r[0])
            delivered = (slot + 1) * CT_SLOT + self.rng.randrange(5, 50)
            g = time.gmtime(delivered)
            stamp = time.strftime("%Y%m%dT%H%MZ", g)
            name = f"{acct}_CloudTrail_{region}_{stamp}_{self.rng.alnum(16, MIXED)}.json.gz"
            org = f"{self.org}/" if self.org else ""
            rel = f"AWSLogs/{org}{acct}/CloudTrail/{region}/{time.strftime('%Y/%m/%d', g)}/{name}"
            raw = ('{"Records":[' + ",".join(r for _, r in recs) + "]}").encode()
            data = gzip.compress(raw, compresslevel=6, mtime=0)
            self.write(rel, data)
            done.append((rel, len(data), delivered, acct, region))
            if self.trail:
                first, last = iso(recs[0][0]), iso(recs[-1][0])
                entry = (rel, hashlib.sha256(raw).hexdigest(), first, last)
                self.hourly.setdefault((delivered // HOUR, acct, region), []).append(entry)
        if self.trail:
            done += self.digests(before)
        return done

    def digests(self, before: int) -> list[tuple[str, int, int, str, str]]:
        """Hourly digest files (log file validation), written once their hour is over."""
        done = []
        for k in sorted(k for k in self.hourly if (k[0] + 1) * HOUR + 900 <= before):
            hour, acct, region = k
            files = self.hourly.pop(k)
            t1 = (hour + 1) * HOUR
            g = time.gmtime(t1)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", g)
            org = f"{self.org}/" if self.org else ""
            name = f"{acct}_CloudTrail-Digest_{region}_{self.trail}_{region}_{stamp}.json.gz"
            rel = (
                f"AWSLogs/{org}{acct}/CloudTrail-Digest/{region}/"
                f"{time.strftime('%Y/%m/%d', g)}/{name}"
            )
            body = {
                "awsAccountId": acct,
                "digestStartTime": iso(hour * HOUR),
                "digestEndTime": iso(t1),
                "digestS3Bucket": self.trail_bucket,
                "digestS3Object": rel,
                "digestPublicKeyFingerprint": self.rng.hexl(32),
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": max(f[3] for f in files),
                "oldestEventTime": min(f[2] for f in files),
                "previousDigestS3Bucket": self.trail_bucket,
                "previousDigestS3Object": self.last_digest.get((acct, region)),
                "previousDigestHashValue": self.rng.hexl(64),
                "previousDigestHashAlgorithm": "SHA-256",
                "previousDigestSignature": self.rng.hexl(512),
                "logFiles": [
                    {
                        "s3Bucket": self.trail_bucket,
                        "s3Object": f[0],
                        "hashValue": f[1],
                        "hashAlgorithm": "SHA-256",
                        "newestEventTime": f[3],
                        "oldestEventTime": f[2],
                    }
                    for f in files
                ],
            }
            self.last_digest[(acct, region)] = rel
            data = gzip.compress(DUMPS(body).encode(), mtime=0)
            self.write(rel, data)
            self.digest_files += 1
            done.append((rel, len(data), t1 + self.rng.randrange(300, 900), acct, region))
        return done


class AccessLogWriter(Output):
    def __init__(self, out: Path, layout: str, rng: Rng) -> None:
        super().__init__(out)
        self.layout, self.rng = layout, rng
        self.buf: dict[tuple[int, str], list[tuple[int, str]]] = {}
        self.buckets: dict[str, Bucket] = {}
        self.lines = 0

    def add(self, b: Bucket, t: int, lines: list[str]) -> None:
        lag = 300 + int(self.rng.random() ** 1.5 * 3300)
        self.buckets[b.name] = b
        buf = self.buf.setdefault(((t + lag) // AL_SLOT, b.name), [])
        buf.extend((t, ln) for ln in lines)
        self.lines += len(lines)

    def flush(self, before: int) -> None:
        for k in sorted(k for k in self.buf if (k[0] + 1) * AL_SLOT <= before):
            slot, name = k
            b = self.buckets[name]
            lines = [ln for _, ln in sorted(self.buf.pop(k), key=lambda x: x[0])]
            for i in range(0, len(lines), 4000):  # a busy bucket gets several objects
                delivered = (slot + 1) * AL_SLOT + self.rng.randrange(1, 240)
                g = time.gmtime(delivered)
                obj = f"{time.strftime('%Y-%m-%d-%H-%M-%S', g)}-{self.rng.hexu(16)}"
                if self.layout == "partitioned":
                    rel = f"{b.account}/{b.region}/{b.name}/{time.strftime('%Y/%m/%d', g)}/{obj}"
                else:
                    rel = f"{b.log_prefix or b.name + '/'}{obj}"
                self.write(
                    f"s3-access-logs/{rel}", ("\n".join(lines[i : i + 4000]) + "\n").encode()
                )


@dataclass
class Tracker:
    """Per label: the CloudTrail eventIDs and request IDs of what was written."""

    by: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, label: str, c: Call, rec: dict[str, Any] | None, lines: int) -> None:
        s = self.by.get(label)
        if s is None:
            s = self.by[label] = {
                "events": [],
                "ct_rids": set(),
                "al_rids": {},
                "first": c.t,
                "last": c.t,
                "ct": 0,
                "al": 0,
            }
        if rec is not None:
            s["events"].append(rec["eventID"])
            s["ct_rids"].add(rec.get("requestID"))
            s["ct"] += 1
        if lines:
            s["al_rids"][c.rid] = None
            s["al"] += lines
        s["first"], s["last"] = min(s["first"], c.t), max(s["last"], c.t)


@dataclass
class Result:
    ct_records: int
    ct_files: int
    al_lines: int
    al_files: int
    bytes: int
    tracker: Tracker
    by_label: dict[str, int]
    digest_files: int = 0


def run(w: World, out: Path) -> Result:
    """Simulate every day of ``w`` and write its logs under ``out``."""
    validation = w.info.get("log_file_validation", False) and w.trail_bucket is not None
    ctw = CloudTrailWriter(
        out,
        w.org_id,
        w.rng("ct-files"),
        w.trail_name if validation else "",
        w.trail_bucket.name if w.trail_bucket else "",
    )
    alw = AccessLogWriter(out, w.access_log_layout, w.rng("al-files"))
    tracker, by_label = Tracker(), {"benign": 0}
    written: dict[str, list[tuple[int, str, int]]] = {e.bucket: [] for e in w.expiries}
    expired: set[str] = set()
    trail = w.trail_bucket
    cloudtrail = service_identity("cloudtrail.amazonaws.com")

    def emit(c: Call, rng: Rng) -> None:
        label = w.label_of(c)
        b = c.bucket
        if b is not None and c.service == "s3" and not c.rid and c.raw is None:
            c.rid = rng.hexu(16)
        rec = cloudtrail_record(c, rng) if w.ct_records(c) else None
        if rec is not None:
            ctw.add(c.account, c.region, c.t, DUMPS(rec))
        lines: list[str] = []
        if (
            b is not None
            and c.service == "s3"
            and c.raw is None
            and c.op in S3
            and w.al_records(b, c.t)
        ):
            lines = access_lines(c, rng)
            alw.add(b, c.t, lines)
        if c.copy_source and b is not None:  # the source bucket logs its side of a copy
            src = w.buckets.get(c.copy_source.split("/", 1)[0])
            if src is not None and src is not b and w.al_records(src, c.t):
                alw.add(src, c.t, [copy_source_line(c, src, rng)])
                lines.append("")
        n = len(lines)
        if label is not None:
            tracker.add(label, c, rec, n)
        key = label or "benign"
        by_label[key] = by_label.get(key, 0) + (rec is not None) + n
        if (
            b is not None
            and b.name in written
            and c.op in ("PutObject", "CopyObject")
            and not c.error
        ):
            written[b.name].append((c.t, c.key, c.size))
        if (
            b is not None
            and b.kms_key
            and c.op in ("GetObject", "PutObject")
            and not c.error
            and c.who.ct is not None
            and c.raw is None
            and rng.random() < KMS_SHARE
        ):
            emit(kms_call(c, b), rng)

    for day in range(w.days):
        d0 = w.day0(day)
        calls: list[Call] = []
        for actor in w.actors:
            got = actor.calls(w, day, w.rng("actor", actor.name, day))
            for c in got:
                c.actor = actor.name
            calls += got
        calls += w.episodes.get(day, [])
        calls += expirations(w, day, written, expired)
        calls.sort(key=lambda c: (c.t, c.seq))
        rng = w.rng("render", day)
        for c in calls:
            emit(c, rng)
        files = ctw.flush(d0 + DAY)
        if trail is not None:
            for c in deliveries(w, files, trail, cloudtrail, rng):
                emit(c, rng)
            for k, size, t, _, _ in files:
                if trail.name in written:
                    written[trail.name].append((t, k, size))
        alw.flush(d0 + DAY)
    rng = w.rng("render", "tail")
    while files := ctw.flush(w.end + 2 * DAY):  # deliveries may log an ACL check, and so on
        for c in deliveries(w, files, trail, cloudtrail, rng) if trail is not None else ():
            emit(c, rng)
    alw.flush(w.end + 2 * DAY)
    return Result(
        ctw.records,
        ctw.files - ctw.digest_files,
        alw.lines,
        alw.files,
        ctw.bytes + alw.bytes,
        tracker,
        by_label,
        ctw.digest_files,
    )


def kms_call(c: Call, b: Bucket) -> Call:
    """The KMS request S3 makes for an SSE-KMS object, in the caller's name."""
    enc = {"aws:s3:arn": b.arn}
    if c.op == "PutObject":
        name, params = (
            "GenerateDataKey",
            {"keyId": b.kms_key, "encryptionContext": enc, "keySpec": "AES_256"},
        )
    else:
        name, params = (
            "Decrypt",
            {"encryptionContext": enc, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        )
    res = [{"accountId": b.account, "type": "AWS::KMS::Key", "ARN": b.kms_key}]
    return Call(
        c.t,
        invoked_by(c.who, "s3.amazonaws.com"),
        name,
        "s3.amazonaws.com",
        S3_SVC,
        b.region,
        b.account,
        service="kms",
        params=params,
        resources=res,
        read_only=True,
        label=c.label,
        actor=c.actor,
        seq=c.seq,
    )


def deliveries(
    w: World, files: list[tuple[str, int, int, str, str]], trail: Bucket, who: Any, rng: Rng
) -> list[Call]:
    """CloudTrail writing its files into the trail bucket (seen in that bucket's access log),
    with the bucket ACL check it makes now and then."""
    out = []
    origin = ("-", None)
    for key, size, t, _, _ in files:
        out.append(
            s3(
                t,
                who,
                "PutObject",
                trail,
                origin,
                CLOUDTRAIL_SVC,
                key=key,
                size=size,
                params={"x-amz-acl": "bucket-owner-full-control"},
            )
        )
        if rng.random() < 0.02:
            out.append(s3(t - 1, who, "GetBucketAcl", trail, origin, CLOUDTRAIL_SVC, size=600))
    for hook in w.info.get("delivery_hooks", ()):
        out += hook(w, files, rng)
    return sorted(out, key=lambda c: c.t)


def expirations(
    w: World, day: int, written: dict[str, list[tuple[int, str, int]]], expired: set[str]
) -> list[Call]:
    """S3 lifecycle expiring objects past their rule's age (after midnight UTC)."""
    out: list[Call] = []
    d0 = w.day0(day)
    rng = w.rng("lifecycle", day)
    amazon = service_identity("s3.amazonaws.com")
    amazon.requester = "AmazonS3"
    for e in w.expiries:
        if e.since > d0:
            continue
        b = w.buckets[e.bucket]
        due = [
            (t, k, s)
            for t, k, s in written[e.bucket]
            if k.startswith(e.prefix) and t < d0 - e.days * DAY + HOUR and k not in expired
        ]
        for _, k, s in due:
            expired.add(k)
            c = s3(
                d0 + rng.randrange(600, 4 * HOUR),
                amazon,
                "Expire",
                b,
                ("-", None),
                S3_SVC,
                key=k,
                size=s,
            )
            c.label = e.label
            out.append(c)
    return out
