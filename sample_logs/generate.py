"""Deterministic generator of realistic AWS CloudTrail logs and S3 server access logs.

Why: the detector needs reproducible input that looks like production traffic (bundled in the
repo) and the same world scaled to millions of events for benchmarks. Standard library only.

Layers: a small *world* (accounts, buckets, actors with habits) -> per-actor *activity*
functions return ``Req`` objects (one API call each) -> ``render`` turns a request into a
CloudTrail record and/or access-log lines -> *writers* pack them into files with the real key
layout. A labelled attack scenario is one more ``Actor`` (own activity, ``scaled=False``).

    python3 sample_logs/generate.py --out sample_logs
    python3 sample_logs/generate.py --out /tmp/eval --scenarios   # labelled 16-day world

``--scenarios`` loads ``scenarios.py`` beside this file (benign habits over weeks, traps and
attacks, labels). The default run imports it too, for ``attacks.DEMO_ATTACKS``: five of those
attack plans moved to the evening of the first day (MANIFEST.json ``attacks``); with
``--no-attacks`` it never imports it and writes benign traffic only.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import math
import random
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

SLICE, HOUR, DAY = 300, 3600, 86400  # CloudTrail delivers about every 5 min per account/region
PROD, ANALYTICS, SECURITY, VENDOR = "418295730164", "739105824617", "206841937552", "583920174466"
E1, W1 = "us-east-1", "eu-west-1"
TRAIL, TRAIL_BUCKET = "acme-org-audit", "acme-cloudtrail-logs"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MIXED = UPPER + "abcdefghijklmnopqrstuvwxyz"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ISO: dict[int, str] = {}
_CLF: dict[int, str] = {}


def iso(t: int) -> str:
    """CloudTrail eventTime; cached because a day has only 86,400 distinct values."""
    s = _ISO.get(t)
    if s is None:
        s = _ISO[t] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    return s


def clf(t: int) -> str:
    """Access-log time, built by hand because ``%b`` follows the locale."""
    s = _CLF.get(t)
    if s is None:
        g = time.gmtime(t)
        s = f"[{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{time.strftime('%Y:%H:%M:%S', g)} +0000]"
        _CLF[t] = s
    return s


# ------------------------------------------------------------------------------------ types


@dataclass(frozen=True, slots=True)
class Agent:
    """A client: its User-Agent and the TLS it negotiates ("" = AWS-internal, no TLS)."""

    ct: str
    tls: str = "TLSv1.3"
    cipher: str = "TLS_AES_128_GCM_SHA256"
    xid: bool = False  # newer SDKs append ?x-id=<Operation> to object requests
    console: bool = False


@dataclass(slots=True)
class Ident:
    """Who calls: CloudTrail userIdentity (None = anonymous) and access-log Requester."""

    ct: dict[str, Any] | None
    arn: str
    account: str
    via: dict[str, Any] | None = None  # the same identity on KMS calls S3 makes for it


@dataclass(slots=True)
class Bucket:
    name: str
    account: str
    region: str
    data_events: bool  # the trail records S3 data events for this bucket
    access_logs: bool  # server access logging is on
    sse: str  # SSEApplied: SSE_KMS or Default_SSE_S3
    policy: bool
    kms_key: str = ""
    owner_id: str = ""
    host: str = ""
    writes_only: bool = False  # data events selected for writes only (readOnly false)


@dataclass(slots=True)
class Prefix:
    """A key namespace: template for new keys, median object size, keys that already exist."""

    bucket: Bucket
    path: str  # str.format template, see new_key()
    size: float
    pool: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Item:
    """One habit of an actor: relative weight, operation, where, client, forced error."""

    weight: float
    op: str
    prefix: Prefix | None = None
    agent: Agent | None = None
    account: str = ""
    error: str = ""


Origin = tuple[Ident, str, tuple[str, str] | None]  # identity, source IP, (vpce id, vpce owner)
Who = Callable[["Ctx", "Actor", int, Item], Origin]


@dataclass(slots=True)
class Actor:
    name: str
    rate: float  # actions per hour at profile 1.0 (relative when scaled)
    profile: Sequence[float]  # 24 hourly weights, UTC
    who: Who
    agent: Agent
    mix: list[Item] = field(default_factory=list)
    group: str = "main"  # calibration group: "main" (CloudTrail-heavy) or "al" (access logs)
    scaled: bool = True  # False: absolute rate, not scaled to the requested counts
    activity: Callable[[Ctx, Actor, int, int], list[Req]] | None = None  # None: mix_activity
    label: str = "benign"
    state: dict[Any, Any] = field(default_factory=dict)
    cum: list[float] = field(default_factory=list)
    days: Callable[[int], float] | None = None  # rate factor for a slice start (weekdays, growth)


@dataclass(slots=True)
class Req:
    """One API request; ``render`` turns it into CloudTrail and/or access-log output."""

    t: int
    ident: Ident
    name: str  # eventName (or a pseudo-name for requests CloudTrail never sees)
    agent: Agent
    ip: str
    region: str
    account: str  # recipientAccountId
    source: str = "s3.amazonaws.com"
    bucket: Bucket | None = None
    key: str = ""
    size: int = 0
    error: str = ""
    vpce: tuple[str, str] | None = None
    params: dict[str, Any] | None = None
    resp: dict[str, Any] | None = None
    resources: list[dict[str, str]] | None = None
    read_only: bool = True
    auth: str = "AuthHeader"
    extra: Any = None  # list query, DeleteObjects keys, copy source, presigned query
    rid: str = ""
    actor: Actor | None = None
    version: str = ""  # object version id (access-log Version Id field)
    sse: str = ""  # SSEApplied when not the bucket default (SSE_C)
    host: str = ""  # endpoint host of a non-bucket call when not <service>.<region> (s3-control)
    raw: dict[str, Any] | None = None  # a finished CloudTrail record (eventID is filled in)


class Ctx:
    """Seeded randomness and id helpers."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def hexu(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}X}"

    def hexl(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def alnum(self, n: int, alphabet: str = UPPER) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def public_ip(self) -> str:
        r = self.rng.randrange
        return f"{self.rng.choice((24, 73, 81, 86, 98, 109, 174))}.{r(256)}.{r(256)}.{r(1, 255)}"

    def poisson(self, lam: float) -> int:
        if lam > 40:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k, p = k + 1, p * self.rng.random()
        return k


# ---------------------------------------------------------------------------------- clients

JAVA = Agent(
    "[aws-sdk-java/2.25.1 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10"
    "+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy]",
    xid=True,
)
BOTO = Agent(
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0"
)
GO = Agent("aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux api/s3#1.51.4", xid=True)
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
VENDOR_GO = Agent("aws-sdk-go/1.50.0 (go1.21.5; linux; amd64)", *TLS12)
CONSOLE = Agent(
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.660 Linux/5.10.213-180.866.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation]",
    *TLS12,
    console=True,
)
INTERNAL = Agent("AWS Internal", "", "", console=True)
TERRAFORM = Agent(
    "[Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux "
    "lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4]",
    xid=True,
)
CHROME = Agent(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
SAFARI = Agent(
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
FIREFOX = Agent("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")


def cli(command: str) -> Agent:
    ua = f"aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/{command}"
    return Agent(ua, cipher="TLS_AES_256_GCM_SHA384")


def svc(name: str) -> Agent:
    return Agent(name, "", "")


# ------------------------------------------------------------------------------- identities


def role_ident(
    acct: str, role: str, role_id: str, session: str, created: int, key: str, mfa: bool, path: str
) -> Ident:
    arn = f"arn:aws:sts::{acct}:assumed-role/{role}/{session}"
    issuer_arn = f"arn:aws:iam::{acct}:role{path}{role}"
    issuer = dict(type="Role", principalId=role_id, arn=issuer_arn, accountId=acct, userName=role)
    attrs = {"creationDate": iso(created), "mfaAuthenticated": str(mfa).lower()}
    sess = {"sessionIssuer": issuer, "webIdFederationData": {}, "attributes": attrs}
    ct = dict(type="AssumedRole", principalId=f"{role_id}:{session}", arn=arn, accountId=acct)
    ct.update(accessKeyId=key, sessionContext=sess)
    return Ident(ct, arn, acct)


def user_ident(acct: str, name: str, uid: str, key: str) -> Ident:
    arn = f"arn:aws:iam::{acct}:user/{name}"
    ct = dict(type="IAMUser", principalId=uid, arn=arn, accountId=acct, accessKeyId=key)
    return Ident({**ct, "userName": name}, arn, acct)


def session_who(
    acct: str,
    role: str,
    session: Callable[[Ctx, int], tuple[str, str]],
    period: int,
    vpce: tuple[str, str] | None = None,
    roles: dict[str, tuple[str, str]] | None = None,
    mfa: bool = False,
    path: str = "/",
) -> Who:
    """Role sessions renewed every ``period`` (instance profiles, SSO users, jobs, vendors).

    ``session`` picks (session name, source IP) for a time; ``roles`` maps account -> (role,
    role id) for people who hold the same permission set in several accounts.
    """
    roles = roles or {acct: (role, "AROA" + Ctx(f"{acct}:{role}").alnum(17))}

    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        account = it.account or (it.prefix.bucket.account if it.prefix else acct)
        account = account if account in roles else acct
        name, ip = session(ctx, t)
        off = sum(map(ord, name)) * 7919 % period  # sessions of different hosts rotate apart
        k = (account, name, (t + off) // period)
        ident = a.state.get(k)
        if ident is None:
            created = max(k[2] * period - off, t // SLICE * SLICE - ctx.rng.randrange(60, 900))
            r_name, r_id = roles[account]
            key = "ASIA" + ctx.alnum(16)
            ident = a.state[k] = role_ident(account, r_name, r_id, name, created, key, mfa, path)
        return ident, ip, vpce

    return who


def static_who(ident: Ident, ips: Sequence[str]) -> Who:
    return lambda ctx, a, t, it: (ident, ctx.rng.choice(ips), None)


ANON = Ident(None, "-", "")


# ------------------------------------------------------------------------- request builders

# name -> (access-log operation, HTTP method, sub-resource, readOnly, data event?)
# "data event" None: never in CloudTrail (website endpoint, CORS preflight, lifecycle).
S3OPS: dict[str, tuple[str, str, str, bool, bool | None]] = {
    "GetObject": ("REST.GET.OBJECT", "GET", "", True, True),
    "HeadObject": ("REST.HEAD.OBJECT", "HEAD", "", True, True),
    "PutObject": ("REST.PUT.OBJECT", "PUT", "", False, True),
    "CopyObject": ("REST.COPY.OBJECT", "PUT", "", False, True),
    "DeleteObject": ("REST.DELETE.OBJECT", "DELETE", "", False, True),
    "DeleteObjects": ("REST.POST.MULTI_OBJECT_DELETE", "POST", "delete", False, True),
    "ListObjects": ("REST.GET.BUCKET", "GET", "", True, True),
    "GetBucketPolicy": ("REST.GET.BUCKETPOLICY", "GET", "policy", True, False),
    "GetBucketAcl": ("REST.GET.ACL", "GET", "acl", True, False),
    "GetBucketLocation": ("REST.GET.LOCATION", "GET", "location", True, False),
    "GetBucketVersioning": ("REST.GET.VERSIONING", "GET", "versioning", True, False),
    "PutBucketTagging": ("REST.PUT.BUCKET_TAGGING", "PUT", "tagging", False, False),
    "PutBucketVersioning": ("REST.PUT.VERSIONING", "PUT", "versioning", False, False),
    "PutBucketPolicy": ("REST.PUT.BUCKETPOLICY", "PUT", "policy", False, False),
    "WebsiteGet": ("WEBSITE.GET.OBJECT", "GET", "", True, None),
    "Preflight": ("REST.OPTIONS.PREFLIGHT", "OPTIONS", "", True, None),
    "Expire": ("S3.EXPIRE.OBJECT", "-", "", False, None),
    # used by the scenario world (--scenarios) only
    "ListObjectVersions": ("REST.GET.BUCKETVERSIONS", "GET", "versions", True, True),
    "PutObjectAcl": ("REST.PUT.ACL", "PUT", "acl", False, True),
    "CopySourceGet": ("REST.COPY.OBJECT_GET", "PUT", "", True, None),  # source side of a copy
    "GetBucketLogging": ("REST.GET.LOGGING_STATUS", "GET", "logging", True, False),
    "PutBucketLogging": ("REST.PUT.LOGGING_STATUS", "PUT", "logging", False, False),
    "GetBucketEncryption": ("REST.GET.ENCRYPTION", "GET", "encryption", True, False),
    "PutBucketEncryption": ("REST.PUT.ENCRYPTION", "PUT", "encryption", False, False),
    "DeleteBucketEncryption": ("REST.DELETE.ENCRYPTION", "DELETE", "encryption", False, False),
    "GetBucketLifecycle": ("REST.GET.LIFECYCLE", "GET", "lifecycle", True, False),
    "PutBucketLifecycle": ("REST.PUT.LIFECYCLE", "PUT", "lifecycle", False, False),
    "DeleteBucketLifecycle": ("REST.DELETE.LIFECYCLE", "DELETE", "lifecycle", False, False),
    "GetBucketReplication": ("REST.GET.REPLICATION", "GET", "replication", True, False),
    "PutBucketReplication": ("REST.PUT.REPLICATION", "PUT", "replication", False, False),
    "DeleteBucketReplication": ("REST.DELETE.REPLICATION", "DELETE", "replication", False, False),
    "DeleteBucketPolicy": ("REST.DELETE.BUCKETPOLICY", "DELETE", "policy", False, False),
    "GetBucketPolicyStatus": ("REST.GET.POLICY_STATUS", "GET", "policyStatus", True, False),
    "PutBucketAcl": ("REST.PUT.ACL", "PUT", "acl", False, False),
    "GetBucketTagging": ("REST.GET.TAGGING", "GET", "tagging", True, False),
    "PutBucketOwnershipControls": ("REST.PUT.OWNERSHIP_CONTROLS", "PUT", "ownershipControls",
                                   False, False),
    "GetBucketPublicAccessBlock": ("REST.GET.PUBLIC_ACCESS_BLOCK", "GET", "publicAccessBlock",
                                   True, False),
    "PutBucketPublicAccessBlock": ("REST.PUT.PUBLIC_ACCESS_BLOCK", "PUT", "publicAccessBlock",
                                   False, False),
    "DeleteBucketPublicAccessBlock": ("REST.DELETE.PUBLIC_ACCESS_BLOCK", "DELETE",
                                      "publicAccessBlock", False, False),
}  # fmt: skip
OBJECT_OPS = {"GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject"}
KEYED_OPS = OBJECT_OPS | {"PutObjectAcl"}  # CloudTrail resources name the object
NO_CONTENT = {"DeleteObject", *(n for n in S3OPS if n.startswith("DeleteBucket"))}  # HTTP 204
BUCKET_READS = ("GetBucketLocation", "GetBucketVersioning", "GetBucketAcl", "GetBucketPolicy")
ERRORS = {  # code -> (HTTP status, message, error body bytes)
    "AccessDenied": (403, "Access Denied", 243),
    "NoSuchKey": (404, "The specified key does not exist.", 300),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist", 297),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist", 330),
    "ReplicationConfigurationNotFoundError": (404, "The replication configuration was not found",
                                              352),
    "NoSuchTagSet": (404, "The TagSet does not exist", 285),
}  # fmt: skip
FILENAMES = (
    "IMG_2041.HEIC", "invoice-2026-10.pdf", "Résumé final.pdf", "Q3+Q4 plan.xlsx",
    "photo 2026-11-01.jpg", "契約書.pdf", "naïve café menu.png", "scan_0001.tiff",
    "meeting notes.docx", "avatar.png", "C++ primer (1).pdf", "données clients.csv",
)  # fmt: skip
PROBES = ("favicon.ico", "robots.txt", "wp-login.php", ".env", "apple-touch-icon.png")
MGMT: dict[str, tuple[str, dict[str, Any] | None]] = {  # op -> (service, requestParameters)
    "ListRoles": ("iam", {"maxItems": 100}),
    "GetRole": ("iam", None),
    "DescribeInstances": ("ec2", {"instancesSet": {}, "filterSet": {}}),
    "DescribeTrails": ("cloudtrail", {"trailNameList": [], "includeShadowTrails": False}),
    "LookupEvents": ("cloudtrail", {"maxResults": 50, "lookupAttributes": [
        {"attributeKey": "EventName", "attributeValue": "PutBucketPolicy"}]}),
    "GetCallerIdentity": ("sts", None),
    "ListBuckets": ("s3", {"Host": "s3.amazonaws.com"}),
    "AssumeRole": ("sts", None),
}  # fmt: skip


def new_key(ctx: Ctx, p: Prefix, t: int) -> str:
    g = time.gmtime(t)
    return p.path.format(
        date=time.strftime("%Y-%m-%d", g), ymd=time.strftime("%Y/%m/%d", g), hour=g.tm_hour,
        stamp=time.strftime("%Y%m%dT%H%MZ", g), u8=ctx.hexl(8), n=ctx.rng.randrange(200),
        user=ctx.rng.randrange(10000, 99999), name=ctx.rng.choice(FILENAMES),
        r16=ctx.alnum(16, MIXED),
    )  # fmt: skip


def obj_size(ctx: Ctx, p: Prefix) -> int:
    return max(1, int(ctx.rng.lognormvariate(math.log(p.size), 0.8)))


def s3(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item, name: str, b: Bucket, **kw: Any) -> Req:
    ident, ip, vpce = o
    ro, agent = S3OPS[name][3], it.agent or a.agent
    return Req(t, ident, name, agent, ip, b.region, b.account, bucket=b, vpce=vpce, read_only=ro,
               rid=ctx.hexu(16), actor=a, **kw)  # fmt: skip


def kms_via_s3(ctx: Ctx, r: Req) -> Req:
    """The KMS call S3 makes on the caller's behalf for an SSE-KMS bucket (bucket key on)."""
    b, ident = r.bucket, r.ident
    assert b is not None and ident.ct is not None
    if ident.via is None:
        ident.via = {**ident.ct, "invokedBy": "s3.amazonaws.com"}
    enc = {"aws:s3:arn": f"arn:aws:s3:::{b.name}"}
    name, params = "Decrypt", {"encryptionContext": enc, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    if r.name == "PutObject":
        name, params = "GenerateDataKey", {"keyId": b.kms_key, "encryptionContext": enc,
                                           "keySpec": "AES_256"}  # fmt: skip
    res = [{"accountId": b.account, "type": "AWS::KMS::Key", "ARN": b.kms_key}]
    ag = svc("s3.amazonaws.com")
    via = Ident(ident.via, ident.arn, ident.account)
    return Req(r.t, via, name, ag, ag.ct, b.region, b.account, "kms.amazonaws.com",
               params=params, resources=res, actor=r.actor)  # fmt: skip


def op_object(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Object calls (the Item's op is the eventName); new keys for writes and NoSuchKey."""
    p, rng, name = it.prefix, ctx.rng, it.op
    assert p is not None
    fresh = name in ("PutObject", "CopyObject") or it.error == "NoSuchKey"
    key = (new_key(ctx, p, t) if p.path else rng.choice(PROBES)) if fresh else rng.choice(p.pool)
    size = 0 if it.error or name == "Preflight" else obj_size(ctx, p)
    r = s3(ctx, a, t, o, it, name, p.bucket, key=key, size=size, error=it.error)
    if name == "CopyObject":
        r.extra = rng.choice(p.pool)
    if name == "WebsiteGet" or r.agent in (CHROME, SAFARI, FIREFOX):
        r.extra = rng.choice(("-", "https://www.acme.example/"))  # Referer
    kms = p.bucket.kms_key and name in ("GetObject", "PutObject") and not it.error
    return [r, kms_via_s3(ctx, r)] if kms and rng.random() < 0.15 else [r]


def op_list(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    p = it.prefix
    assert p is not None
    base = p.path.split("{", 1)[0]
    q = {"list-type": "2", "prefix": base, "delimiter": "/", "encoding-type": "url"}
    if (it.agent or a.agent) is VENDOR_GO:
        q = {"prefix": base, "max-keys": "1000"}  # an old SDK: ListObjects v1
    size = 400 + 380 * ctx.rng.randrange(1, 60)
    return [s3(ctx, a, t, o, it, "ListObjects", p.bucket, extra=q, size=size, error=it.error)]


def op_delete_many(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    p = it.prefix
    assert p is not None
    keys = ctx.rng.sample(p.pool, ctx.rng.randrange(2, 7))
    return [s3(ctx, a, t, o, it, "DeleteObjects", p.bucket, extra=keys, params={"delete": ""})]


def bucket_policy(b: Bucket) -> dict[str, Any]:
    arn, vendor = f"arn:aws:s3:::{b.name}", f"arn:aws:iam::{VENDOR}:role/partner-sync-worker"
    deny = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    allow = {"Sid": "PartnerExportsRead", "Effect": "Allow", "Principal": {"AWS": vendor},
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [arn, f"{arn}/exports/partner/*"]}  # fmt: skip
    return {"bucketPolicy": {"Version": "2012-10-17", "Statement": [deny, allow]}}


XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
TAGS = [{"Key": "team", "Value": "data-platform"}, {"Key": "managed-by", "Value": "terraform"}]
BODIES: dict[str, Callable[[Bucket], dict[str, Any]]] = {
    "PutBucketTagging": lambda b: {"Tagging": {"xmlns": XMLNS, "TagSet": {"Tag": TAGS}}},
    "PutBucketVersioning": lambda b: {
        "VersioningConfiguration": {"Status": "Enabled", "xmlns": XMLNS}
    },
    "PutBucketPolicy": bucket_policy,
}


def op_bucket(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Bucket-configuration calls: management events, also in the bucket's access log."""
    assert it.prefix is not None
    b, body = it.prefix.bucket, BODIES.get(it.op)
    err = "NoSuchBucketPolicy" if it.op == "GetBucketPolicy" and not b.policy else it.error
    size = ctx.rng.randrange(120, 1400)
    return [s3(ctx, a, t, o, it, it.op, b, error=err, size=size, params=body and body(b))]


def op_browse(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """A console user opening a bucket page: a listing plus the config reads the page makes."""
    out = op_list(ctx, a, t, o, it)
    for i, op in enumerate(BUCKET_READS):
        out += op_bucket(ctx, a, t + 1 + i // 2, o, Item(0, op, it.prefix, it.agent))
    return out


def op_presigned(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """An end user's browser fetching a URL the app presigned: app identity, browser origin."""
    ident, p = o[0], it.prefix
    assert p is not None and ident.ct is not None
    g = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t - ctx.rng.randrange(5, 600)))
    cred = f"{ident.ct['accessKeyId']}/{g[:8]}/{p.bucket.region}/s3/aws4_request"
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": cred, "X-Amz-Date": g,
         "X-Amz-Expires": "900", "X-Amz-SignedHeaders": "host",
         "X-Amz-Signature": ctx.hexl(64)}  # fmt: skip
    params = {k: q[k] for k in ("X-Amz-Date", "X-Amz-Algorithm", "X-Amz-SignedHeaders")}
    it2 = Item(0, "GetObject", p, ctx.rng.choice((CHROME, SAFARI, FIREFOX)))
    r = s3(ctx, a, t, (ident, ctx.public_ip(), None), it2, "GetObject", p.bucket,
           key=ctx.rng.choice(p.pool), size=obj_size(ctx, p), auth="QueryString", extra=q,
           params={**params, "X-Amz-Expires": "900"})  # fmt: skip
    return [r]


def op_mgmt(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Calls to IAM, EC2, CloudTrail, STS and S3 ListBuckets that people and tools make."""
    (ident, ip, _), (service, params) = o, MGMT[it.op]
    ag = it.agent or a.agent
    r = Req(t, ident, it.op, ag, ip, E1, ident.account, f"{service}.amazonaws.com", params=params,
            error=it.error, actor=a)  # fmt: skip
    if it.op == "GetRole":
        r.params = {"roleName": ctx.rng.choice(("orders-api", "etl-nightly", "admin-break-glass"))}
    elif it.op == "DescribeInstances":
        r.region = ctx.rng.choice((E1, W1))
    elif it.op == "AssumeRole":
        role_arn, sess = f"arn:aws:iam::{r.account}:role/ops-readonly", f"bob-{t}"
        r.params = {"roleArn": role_arn, "roleSessionName": sess, "durationSeconds": 3600}
        arn = f"arn:aws:sts::{r.account}:assumed-role/ops-readonly/{sess}"
        g = time.gmtime(t + HOUR)  # CloudTrail writes this one as "Nov 2, 2026, 9:06:00 AM"
        exp = f"{MONTHS[g.tm_mon - 1]} {g.tm_mday}, {g.tm_year}, {(g.tm_hour + 11) % 12 + 1}:"
        exp += time.strftime("%M:%S ", g) + ("PM" if g.tm_hour >= 12 else "AM")
        creds = {"accessKeyId": "ASIA" + ctx.alnum(16), "expiration": exp}
        user = {"assumedRoleId": f"AROA{ctx.alnum(17)}:{sess}", "arn": arn}
        r.resp = {"credentials": creds, "assumedRoleUser": user}
        r.resources = [{"accountId": r.account, "type": "AWS::IAM::Role", "ARN": role_arn}]
    return [r]


OPS: dict[str, Callable[[Ctx, Actor, int, Origin, Item], list[Req]]] = {
    **dict.fromkeys(OBJECT_OPS | {"WebsiteGet", "Preflight", "Expire"}, op_object),
    **dict.fromkeys(BUCKET_READS + tuple(BODIES), op_bucket),
    **dict.fromkeys(MGMT, op_mgmt),
    "ListObjects": op_list,
    "DeleteObjects": op_delete_many,
    "Browse": op_browse,
    "PresignedGet": op_presigned,
}


# ------------------------------------------------------------------------------- activities


def mix_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """Draw ``n`` habits from the actor's weighted mix, each at a random second of the slice."""
    out: list[Req] = []
    for it in ctx.rng.choices(a.mix, cum_weights=a.cum, k=n) if n else ():
        t = t0 + ctx.rng.randrange(SLICE)
        out += OPS[it.op](ctx, a, t, a.who(ctx, a, t, it), it)
    return out


def deploy_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """Terraform apply from CI at fixed times: refresh each bucket's config, then change some."""
    runs = [apply for s, apply in a.state["runs"] if t0 <= s < t0 + SLICE]
    if not runs:
        return []
    ps: list[Prefix] = a.state["prefixes"]
    plan = [Item(0, op, p) for p in ps for op in BUCKET_READS] + [Item(0, "GetRole")]
    if runs[0]:  # apply; otherwise a plan that only refreshes state
        writes = ("PutBucketTagging", 0), ("PutBucketTagging", 1), ("PutBucketVersioning", 0)
        plan += [Item(0, op, ps[i]) for op, i in (*writes, ("PutBucketPolicy", 0))]
    out: list[Req] = []
    for i, it in enumerate(plan):
        t = t0 + 40 + 2 * i
        out += OPS[it.op](ctx, a, t, a.who(ctx, a, t, it), it)
    return out


# ------------------------------------------------------------------------------------ world


@dataclass(slots=True)
class World:
    buckets: dict[str, Bucket]
    actors: list[Actor]
    mutes: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, from, to: no logs
    meta: dict[str, Any] = field(default_factory=dict)  # what the scenario world reports


def hours(weights: dict[range | int, float], rest: float = 0.0) -> list[float]:
    """24 hourly weights from {hour or range(hours): weight}."""
    out = [rest] * 24
    for k, w in weights.items():
        for h in k if isinstance(k, range) else (k,):
            out[h] = w
    return out


DIURNAL = (0.55, 0.5, 0.45, 0.4, 0.4, 0.42, 0.48, 0.55, 0.65, 0.75, 0.85, 0.92,
           1.0, 1.05, 1.12, 1.18, 1.2, 1.16, 1.1, 1.02, 0.94, 0.84, 0.72, 0.62)  # fmt: skip
FLAT = [1.0] * 24
BUCKETS = (  # name, account, region, CloudTrail data events, access logs, SSE, has policy
    ("acme-data-prod", PROD, E1, True, True, "SSE_KMS", True),
    ("acme-app-uploads", PROD, E1, True, True, "Default_SSE_S3", False),
    ("acme-backups-eu", PROD, W1, True, False, "SSE_KMS", True),
    ("acme-www-static", PROD, E1, False, True, "Default_SSE_S3", True),
    ("acme-analytics-curated", ANALYTICS, E1, True, True, "SSE_KMS", True),
    ("acme-ml-features", ANALYTICS, E1, True, False, "Default_SSE_S3", False),
    ("acme-analytics-scratch-eu", ANALYTICS, W1, False, True, "Default_SSE_S3", False),
    (TRAIL_BUCKET, SECURITY, E1, False, True, "Default_SSE_S3", True),
)


def build_world(seed: int, start: int) -> World:
    """The default estate: three accounts of ours plus a vendor, eight buckets, 12 actors."""
    ctx = Ctx(f"{seed}:world")
    buckets: dict[str, Bucket] = {}
    for name, acct, region, *flags in BUCKETS:
        b = buckets[name] = Bucket(name, acct, region, *flags)  # type: ignore[arg-type]
        b.owner_id = hashlib.sha256(f"canonical-user:{acct}".encode()).hexdigest()
        b.host = f"{name}.s3.{region}.amazonaws.com"
        b.kms_key = f"arn:aws:kms:{region}:{acct}:key/{ctx.uuid()}" if b.sse == "SSE_KMS" else ""

    def pre(bucket: str, path: str, size: float, n: int = 60, pool: Sequence[str] = ()) -> Prefix:
        p = Prefix(buckets[bucket], path, size, list(pool))
        past = (start - ctx.rng.randrange(DAY, 30 * DAY) for _ in range(n))
        p.pool = p.pool or [new_key(ctx, p, t) for t in past]
        return p

    raw = pre("acme-data-prod", "raw/orders/dt={date}/part-{n:05d}-{u8}.parquet", 4e6)
    curated = pre("acme-data-prod", "curated/sessions/dt={date}/part-{n:05d}.parquet", 2.5e7)
    partner = pre("acme-data-prod", "exports/partner/{date}/orders-{n:04d}.csv.gz", 8e6, 30)
    uploads = pre("acme-app-uploads", "uploads/u{user}/{name}", 9e5, 120)
    thumbs = pre("acme-app-uploads", "thumbnails/u{user}/{u8}_320.webp", 2.4e4)
    backups = pre("acme-backups-eu", "db/orders/{date}/orders.dump.part-{n:04d}", 1.2e8, 40)
    reports = pre("acme-analytics-curated", "reports/daily/dt={date}/report-{u8}.parquet", 1.5e6)
    tmp = pre("acme-analytics-curated", "tmp/etl/{date}/{u8}/part-{n:05d}.parquet", 6e6)
    features = pre("acme-ml-features", "features/v3/dt={date}/shard-{n:04d}.parquet", 3e6)
    notebooks = pre("acme-analytics-scratch-eu", "notebooks/alice/{date}/{name}", 2e6, 30)
    scratch = pre("acme-analytics-scratch-eu", "tmp/{u8}/output-{n:04d}.parquet", 5e6)
    site = pre("acme-www-static", "", 3e4, pool=(
        "index.html", "about/index.html", "assets/app.3f9c1a.js", "assets/style.91be2c.css",
        "img/logo.svg", "img/hero banner.webp", "docs/getting started.html",
        "docs/faq+pricing.html", "blog/東京-launch.html"))  # fmt: skip
    ct_key = "AWSLogs/{a}/CloudTrail/{r}/{{ymd}}/{a}_CloudTrail_{r}_{{stamp}}_{{r16}}.json.gz"
    places = ((PROD, E1), (PROD, W1), (ANALYTICS, E1), (SECURITY, E1))
    trail = [pre(TRAIL_BUCKET, ct_key.format(a=a, r=r), 9e3, 1) for a, r in places]

    vpce = {k: (f"vpce-0{ctx.hexl(16)}", k[0]) for k in ((PROD, E1), (PROD, W1), (ANALYTICS, E1))}

    def ec2(acct: str, role: str, net: str, n: int, region: str = E1, period: int = 21600) -> Who:
        """Instances of an app role: session name = instance id, private IP, VPC endpoint."""
        hosts = [(f"i-0{ctx.hexl(16)}", f"{net}.{ctx.rng.randrange(4, 250)}") for _ in range(n)]
        return session_who(acct, role, lambda c, t: c.rng.choice(hosts), period, vpce[acct, region])

    def person(name: str, ips: Sequence[str]) -> Callable[[Ctx, int], tuple[str, str]]:
        return lambda c, t: (name, c.rng.choice(ips))

    sso = {acct: (f"AWSReservedSSO_{ps}_{ctx.hexl(16)}", "AROA" + ctx.alnum(17))
           for acct, ps in ((PROD, "DataEngineer"), (ANALYTICS, "DataEngineer"),
                            (SECURITY, "SecurityAudit"))}  # fmt: skip
    ny = person("alice@acme.example", ("64.124.19.37", "64.124.19.38"))
    alice = session_who(PROD, "", ny, DAY, None, sso, True, "/aws-reserved/sso.amazonaws.com/")
    bob = user_ident(PROD, "bob.ops", "AIDA" + ctx.alnum(17), "AKIA" + ctx.alnum(16))
    vendor = person("partner-sync", ("52.204.118.16", "52.204.118.17"))
    runners = [f"20.42.{ctx.rng.randrange(256)}.{ctx.rng.randrange(1, 255)}" for _ in range(4)]
    ci = session_who(PROD, "github-actions-deploy", person("GitHubActions", runners), HOUR)
    work_ny, work_dub = hours({range(13, 22): 1, 17: 0.5}, 0.02), hours({range(8, 17): 1}, 0.02)
    trail_svc = Ident({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
                      "svc:cloudtrail.amazonaws.com", "")  # fmt: skip
    anon: Who = lambda c, a, t, it: (ANON, c.public_ip(), None)  # noqa: E731
    I = Item  # noqa: E741 - the tables below read better short

    # fmt: off
    actors = [
        Actor("orders-api", 14, DIURNAL, ec2(PROD, "orders-api", "10.20.11", 3), JAVA, [
            I(30, "GetObject", uploads), I(25, "GetObject", raw), I(20, "PutObject", raw),
            I(10, "HeadObject", uploads), I(8, "PutObject", uploads), I(5, "ListObjects", raw),
            I(2, "DeleteObject", uploads), I(0.6, "GetObject", uploads, error="NoSuchKey")]),
        Actor("media-worker", 10, DIURNAL, ec2(PROD, "media-worker", "10.20.12", 2), BOTO, [
            I(40, "GetObject", uploads), I(25, "PutObject", thumbs), I(10, "HeadObject", thumbs),
            I(9, "GetObject", thumbs), I(4, "PresignedGet", uploads), I(5, "CopyObject", uploads),
            I(4, "DeleteObject", thumbs), I(1, "DeleteObjects", thumbs)]),
        Actor("report-service", 60, DIURNAL, ec2(ANALYTICS, "report-service", "10.40.3", 2), JAVA, [
            I(60, "GetObject", features), I(8, "ListObjects", features),
            I(7, "HeadObject", features), I(15, "GetObject", reports),
            I(5, "ListObjects", reports), I(5, "PutObject", reports)]),
        Actor("backup-agent", 40, hours({range(0, 5): 1}, 0.15),
              ec2(PROD, "backup-agent", "10.60.7", 2, W1), GO, [
            I(50, "PutObject", backups), I(15, "HeadObject", backups),
            I(15, "GetObject", backups), I(10, "ListObjects", backups),
            I(7, "DeleteObject", backups), I(3, "DeleteObjects", backups)]),
        Actor("etl-nightly", 300, hours({1: 1, 2: 1, 3: 0.35}),
              ec2(ANALYTICS, "etl-nightly", "10.40.9", 3, period=DAY), BOTO, [
            I(15, "GetObject", curated), I(5, "GetObject", raw), I(5, "ListObjects", curated),
            I(40, "PutObject", features), I(10, "PutObject", tmp), I(6, "CopyObject", reports),
            I(4, "PutObject", reports), I(4, "DeleteObject", tmp), I(3, "DeleteObjects", tmp)]),
        Actor("alice@acme.example (SSO)", 14, work_ny, alice, CONSOLE, [
            I(4, "Browse", curated), I(2, "Browse", uploads), I(4, "GetObject", curated),
            I(3, "ListBuckets"), I(6, "ListObjects", reports, cli("s3.ls")),
            I(6, "GetObject", reports, cli("s3.cp")), I(5, "PutObject", notebooks, cli("s3.cp")),
            I(4, "GetObject", notebooks, cli("s3.cp")),
            I(3, "ListObjects", notebooks, cli("s3.ls")),
            I(1, "GetObject", backups, cli("s3.cp"), error="AccessDenied"),
            I(2, "LookupEvents", None, INTERNAL, SECURITY),
            I(1, "DescribeTrails", None, INTERNAL, SECURITY)]),
        Actor("bob.ops (IAM user)", 18, work_dub, static_who(bob, ["83.71.12.200"]), cli("s3.ls"), [
            I(8, "DescribeInstances", None, cli("ec2.describe-instances")),
            I(4, "ListRoles", None, cli("iam.list-roles")),
            I(4, "GetRole", None, cli("iam.get-role")),
            I(1, "GetRole", None, cli("iam.get-role"), error="AccessDenied"),
            I(2, "DescribeTrails", None, cli("cloudtrail.describe-trails")),
            I(3, "LookupEvents", None, cli("cloudtrail.lookup-events")),
            I(5, "GetCallerIdentity", None, cli("sts.get-caller-identity")),
            I(2, "AssumeRole", None, cli("sts.assume-role")), I(3, "ListBuckets"),
            I(2, "GetBucketPolicy", raw, cli("s3api.get-bucket-policy")),
            I(1, "GetBucketPolicy", uploads, cli("s3api.get-bucket-policy")),
            I(1, "GetBucketVersioning", backups, cli("s3api.get-bucket-versioning")),
            I(3, "ListObjects", backups), I(2, "GetObject", backups, cli("s3.cp")),
            I(2, "HeadObject", backups, cli("s3api.head-object"))]),
        Actor("partner-sync (vendor)", 7, FLAT,
              session_who(VENDOR, "partner-sync-worker", vendor, HOUR), VENDOR_GO, [
            I(15, "ListObjects", partner), I(85, "GetObject", partner)]),
        Actor("github-actions-deploy", 0, FLAT, ci, TERRAFORM, scaled=False,
              activity=deploy_activity, state={"prefixes": [raw, uploads, site, backups],
              "runs": [(start + 15 * HOUR + 300, True), (start + 17 * HOUR + 2400, False)]}),
        Actor("website visitors", 60, DIURNAL, anon, CHROME, group="al", mix=[
            I(30, "WebsiteGet", site), I(15, "WebsiteGet", site, SAFARI),
            I(10, "WebsiteGet", site, FIREFOX), I(12, "GetObject", site, SAFARI),
            I(10, "Preflight", site), I(4, "GetObject", site, error="NoSuchKey"),
            I(1, "ListObjects", site, FIREFOX, error="AccessDenied")]),
        Actor("cloudtrail delivery", 9, FLAT, static_who(trail_svc, ["cloudtrail.amazonaws.com"]),
              svc("cloudtrail.amazonaws.com"), group="al",
              mix=[I(1, "GetBucketAcl", trail[0]), *(I(3, "PutObject", p) for p in trail)]),
        Actor("s3 lifecycle", 30, hours({0: 1}), static_who(Ident(None, "AmazonS3", ""), "-"),
              svc("-"), group="al", mix=[I(2, "Expire", tmp), I(1, "Expire", scratch)]),
    ]
    # fmt: on
    for a in actors:
        a.cum = [sum(it.weight for it in a.mix[: i + 1]) for i in range(len(a.mix))]
    return World(buckets, actors)


# -------------------------------------------------------------------------------- rendering

_TLS: dict[tuple[Agent, str], dict[str, str]] = {}
_BUCKET_RES: dict[str, dict[str, str]] = {}
NO_BODY = {"HeadObject", "DeleteObject", "Preflight", "Expire"}


def transfer(r: Req) -> tuple[int, int]:
    """(bytes in, bytes out) of an S3 request."""
    if r.error:
        return 0, ERRORS[r.error][2]
    if r.name == "PutObject":
        return r.size, 0
    if r.name == "DeleteObjects":
        return 60 + 80 * len(r.extra), 90 + 85 * len(r.extra)
    if r.name.startswith("PutBucket"):
        return 420, 0
    return (0, 0) if r.name in NO_BODY else (0, 234 if r.name == "CopyObject" else r.size)


def s3_fields(r: Req, b: Bucket, rec: dict[str, Any], hid: str) -> None:
    """requestParameters .. requestID of an S3 record."""
    ag, name, sub = r.agent, r.name, S3OPS[r.name][2]
    params: dict[str, Any] = {"bucketName": b.name, "Host": b.host}
    if sub:
        params[sub] = ""
    if name in ("ListObjects", "ListObjectVersions"):
        params.update(r.extra)
    elif r.key:
        params["key"] = r.key
    if name == "CopyObject":
        params["x-amz-copy-source"] = f"{b.name}/{r.extra}"
    if ag.xid and name in OBJECT_OPS:
        params["x-id"] = name
    if r.params:
        params.update(r.params)
    rec["requestParameters"] = params
    ok = not r.error and name in OBJECT_OPS
    resp = None
    if ok and name in ("PutObject", "CopyObject"):
        resp = {"x-amz-server-side-encryption": "aws:kms" if b.kms_key else "AES256"}
        if b.kms_key:
            resp["x-amz-server-side-encryption-aws-kms-key-id"] = b.kms_key
            resp["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
    rec["responseElements"] = resp if r.resp is None else r.resp
    inb, out = transfer(r)
    cipher = ag.cipher or "ECDHE-RSA-AES128-GCM-SHA256"
    signed = r.ident.arn != "-"  # anonymous requests carry no signature
    aed: dict[str, Any] = {"SignatureVersion": "SigV4"} if signed else {}
    aed["CipherSuite"] = cipher
    aed["bytesTransferredIn"] = inb
    if ok and name != "DeleteObject":
        aed["SSEApplied"] = r.sse or b.sse
    if signed:
        aed["AuthenticationMethod"] = r.auth
    aed["x-amz-id-2"] = hid
    aed["bytesTransferredOut"] = out
    rec["additionalEventData"] = aed
    rec["requestID"] = r.rid


def ct_record(ctx: Ctx, r: Req, data: bool, hid: str) -> dict[str, Any]:
    """A CloudTrail record with keys in the order CloudTrail writes them."""
    ag, b = r.agent, r.bucket
    rec: dict[str, Any] = {"eventVersion": "1.10" if b else "1.09", "userIdentity": r.ident.ct}
    rec["eventTime"], rec["eventSource"], rec["eventName"] = iso(r.t), r.source, r.name
    rec["awsRegion"], rec["sourceIPAddress"], rec["userAgent"] = r.region, r.ip, ag.ct
    if r.error:
        rec["errorCode"] = r.error
        action = f"{r.source.split('.')[0]}:{r.name}"
        rec["errorMessage"] = ERRORS[r.error][1] if b else (
            f"User: {r.ident.arn} is not authorized to perform: {action} because no "
            f"identity-based policy allows the {action} action"
        )  # fmt: skip
    if b is not None:
        host = b.host
        s3_fields(r, b, rec, hid)
        bres = _BUCKET_RES.get(b.name)
        if bres is None:
            bres = {"accountId": b.account, "type": "AWS::S3::Bucket"}
            bres["ARN"] = f"arn:aws:s3:::{b.name}"
            _BUCKET_RES[b.name] = bres
        res = [bres]
        if r.name in KEYED_OPS:
            res = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b.name}/{r.key}"}, bres]
        if r.resources:  # a copy's source object, a foreign KMS key
            res = res + r.resources
    else:
        svc_name = r.source.split(".")[0]
        host = f"{svc_name}.amazonaws.com"
        if svc_name not in ("iam", "sts", "s3"):
            host = f"{svc_name}.{r.region}.amazonaws.com"
        host = r.host or host
        rec["requestParameters"], rec["responseElements"] = r.params, r.resp
        rec["requestID"], res = ctx.uuid(), r.resources
    rec["eventID"], rec["readOnly"] = ctx.uuid(), r.read_only
    if res:
        rec["resources"] = res
    rec["eventType"], rec["managementEvent"] = "AwsApiCall", not data
    rec["recipientAccountId"] = r.account
    if r.ident.account and r.ident.account != r.account:
        rec["sharedEventID"] = ctx.uuid()
    if r.vpce:
        rec["vpcEndpointId"], rec["vpcEndpointAccountId"] = r.vpce
    rec["eventCategory"] = "Data" if data else "Management"
    if ag.tls:
        tls = _TLS.get((ag, host))
        if tls is None:
            tls = {"tlsVersion": ag.tls, "cipherSuite": ag.cipher, "clientProvidedHostHeader": host}
            _TLS[(ag, host)] = tls
        rec["tlsDetails"] = tls
    if ag.console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def log_key(key: str, twice: bool = True) -> str:
    """The Key field as S3 writes it: form-style URL encoding, applied twice for most
    operations and once for BATCH.DELETE.OBJECT and S3.EXPIRE.OBJECT."""
    once = quote_plus(key, safe="/")
    return quote_plus(once, safe="/") if twice else once


def access_lines(ctx: Ctx, r: Req, b: Bucket, hid: str) -> list[str]:
    """Server access log lines (27 fields); a multi-object delete adds one line per key."""
    ag, name = r.agent, r.name
    op, method, sub = S3OPS[name][:3]
    head = f"{b.owner_id} {b.name} {clf(r.t)}"
    key = log_key(r.key, twice=name != "Expire") if r.key else "-"
    if name == "Expire":
        return [f'{head} - AmazonS3 {r.rid} {op} {key} "-" - - - {r.size} - - "-" "-"' + " -" * 10]
    inb, out = transfer(r)
    host, tls, cipher = b.host, ag.tls or "-", ag.cipher or "-"
    path = f"/{b.name}/{quote(r.key, safe='/~')}" if r.key else f"/{b.name}"
    if name == "WebsiteGet":  # plain HTTP to the website endpoint
        path, host = path[len(b.name) + 1 :], f"{b.name}.s3-website-{b.region}.amazonaws.com"
        tls = cipher = "-"
    if name == "CopySourceGet":  # logged by the source bucket with the destination's URI
        path = "/" + quote(r.extra, safe="/~")
    elif isinstance(r.extra, dict):  # presigned or list query
        path += "?" + urlencode(r.extra, quote_via=quote, safe="")
    elif sub:
        path += "?" + sub
    elif ag.xid and name in OBJECT_OPS:
        path += f"?x-id={name}"
    status = ERRORS[r.error][0] if r.error else 204 if name in NO_CONTENT else 200
    size = str(r.size) if r.size and r.key and not r.error and name != "DeleteObject" else "-"
    if name == "CopySourceGet":
        out = 0
    total = 4 + (inb + out) // 60000 + ctx.rng.randrange(30)
    turn = total - 2 if name == "PutObject" else ctx.rng.randrange(1, min(total, 40) + 1)
    signed = r.ident.arn != "-"
    sig, auth = ("SigV4", r.auth) if signed else ("-", "-")
    referer = r.extra if isinstance(r.extra, str) and r.extra.startswith(("-", "http")) else "-"
    ip = r.ip if r.ip[0].isdigit() else "-"
    who = f"{head} {ip} {r.ident.arn} {r.rid}"
    mid = f'{total} {turn} "{referer}" "{ag.ct.strip("[]")}" {r.version or "-"}'
    tail = f"{hid} {sig} {cipher} {auth} {host} {tls} - - {b.region if r.vpce else '-'}"
    uri = f'"{method} {path} HTTP/1.1"'

    def line(operation: str, k: str, u: str, st: int, sent: int, osize: str) -> str:
        err, sent_ = r.error or "-", sent or "-"
        return f"{who} {operation} {k} {u} {st} {err} {sent_} {osize} {mid} {tail}"

    lines = [line(op, key, uri, status, out, size)]
    if name == "CopyObject":
        lines.insert(0, line("REST.COPY.OBJECT_GET", log_key(r.extra), uri, 200, 0, size))
    elif name == "DeleteObjects":
        for k in r.extra:
            lines.append(line("BATCH.DELETE.OBJECT", log_key(k, twice=False), '"-"', 204, 0, "-"))
    return lines


def render(ctx: Ctx, r: Req) -> tuple[dict[str, Any] | None, list[str]]:
    """One request -> (CloudTrail record or None, access-log lines)."""
    b = r.bucket
    if r.raw is not None:  # e.g. a network-activity (VPC endpoint) event
        return {**r.raw, "eventID": ctx.uuid()}, []
    if b is None:
        return (ct_record(ctx, r, False, "") if r.ident.ct is not None else None), []
    data = S3OPS[r.name][4]
    hid = base64.b64encode(ctx.rng.randbytes(56)).decode()  # x-amz-id-2 / Host Id
    ct = None
    selected = data is False or (b.data_events and not (b.writes_only and r.read_only))
    if data is not None and r.ident.ct is not None and selected:
        ct = ct_record(ctx, r, data, hid)
    return ct, access_lines(ctx, r, b, hid) if b.access_logs else []


# ---------------------------------------------------------------------------------- writers


class Output:
    """Counts and writes files under the output directory."""

    def __init__(self, out: Path) -> None:
        self.out, self.files, self.bytes = out, 0, 0
        self.units: dict[str, int] = {}  # records or lines per account/region or bucket

    def write(self, rel: str, data: bytes, unit: str, n: int) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files, self.bytes = self.files + 1, self.bytes + len(data)
        self.units[unit] = self.units.get(unit, 0) + n


class CloudTrailWriter(Output):
    """Gzipped ``{"Records":[...]}`` files, one per account/region per 5 minutes (or ~N records)."""

    def __init__(self, out: Path, ctx: Ctx, large: int) -> None:
        super().__init__(out)
        self.ctx, self.large = ctx, large
        self.buf: dict[tuple[str, str], list[Any]] = {}  # (acct, region) -> [first t, records..]
        self.hashes: list[tuple[str, int, str, str, str]] = []  # PROD/us-east-1, for the digest

    def add(self, acct: str, region: str, t: int, rec: str) -> None:
        buf = self.buf.setdefault((acct, region), [t])
        buf.append(rec)
        if len(buf) > self.large > 0:
            self.flush((acct, region), buf[0])

    def flush(self, k: tuple[str, str], stamp: int) -> None:
        recs, (acct, region) = self.buf.pop(k)[1:], k
        g = time.gmtime(stamp)
        stamp_, day = time.strftime("%Y%m%dT%H%MZ", g), time.strftime("%Y/%m/%d", g)
        name = f"{acct}_CloudTrail_{region}_{stamp_}_{self.ctx.alnum(16, MIXED)}.json.gz"
        rel = f"AWSLogs/{acct}/CloudTrail/{region}/{day}/{name}"
        raw = ('{"Records":[' + ",".join(recs) + "]}").encode()
        self.write(rel, gzip.compress(raw, compresslevel=6, mtime=0), f"{acct}/{region}", len(recs))
        if k == (PROD, E1):  # oldest/newest event: records are in time order
            first, last = (json.loads(recs[i])["eventTime"] for i in (0, -1))
            self.hashes.append((rel, stamp, hashlib.sha256(raw).hexdigest(), first, last))

    def end_slice(self, t0: int) -> None:
        for k in list(self.buf) if not self.large else ():
            self.flush(k, t0)

    def close(self) -> None:
        for k in list(self.buf):
            self.flush(k, self.buf[k][0])

    def digest(self, start: int) -> int:
        """One hourly digest (PROD/us-east-1, 10:00-11:00) so readers can show they skip it."""
        t0, t1 = start + 10 * HOUR, start + 11 * HOUR
        files = [h for h in self.hashes if t0 <= h[1] < t1]
        g = time.gmtime(t1)
        stamp, day = time.strftime("%Y%m%dT%H%M%SZ", g), time.strftime("%Y/%m/%d", g)
        name = f"{PROD}_CloudTrail-Digest_{E1}_{TRAIL}_{E1}_{stamp}.json.gz"
        rel = f"AWSLogs/{PROD}/CloudTrail-Digest/{E1}/{day}/{name}"
        prev = rel.replace(stamp, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t0)))
        body = {
            "awsAccountId": PROD, "digestStartTime": iso(t0), "digestEndTime": iso(t1),
            "digestS3Bucket": TRAIL_BUCKET, "digestS3Object": rel,
            "digestPublicKeyFingerprint": self.ctx.hexl(32),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max((f[4] for f in files), default=iso(t1)),
            "oldestEventTime": min((f[3] for f in files), default=iso(t0)),
            "previousDigestS3Bucket": TRAIL_BUCKET, "previousDigestS3Object": prev,
            "previousDigestHashValue": self.ctx.hexl(64), "previousDigestHashAlgorithm": "SHA-256",
            "previousDigestSignature": self.ctx.hexl(512),
            "logFiles": [{"s3Bucket": TRAIL_BUCKET, "s3Object": f[0], "hashValue": f[2],
                          "hashAlgorithm": "SHA-256", "newestEventTime": f[4],
                          "oldestEventTime": f[3]} for f in files],
        }  # fmt: skip
        data = gzip.compress(DUMPS(body).encode(), mtime=0)
        Output.write(self, rel, data, "digest", 0)
        return len(data)


class AccessLogWriter(Output):
    """Plain-text log objects per source bucket, delivered 10-40 minutes after activity."""

    def __init__(self, out: Path, ctx: Ctx, large: int, end: int) -> None:
        super().__init__(out)
        self.ctx, self.large, self.end = ctx, large, end
        self.buf: dict[str, list[str]] = {}
        self.due: dict[str, int] = {}

    def add(self, bucket: str, t: int, lines: list[str]) -> None:
        if bucket not in self.buf:
            self.buf[bucket] = []
            self.due[bucket] = t // SLICE * SLICE + SLICE * self.ctx.rng.randrange(2, 9)
        self.buf[bucket] += lines
        if len(self.buf[bucket]) >= self.large > 0:
            self.flush(bucket, t + 60)

    def end_slice(self, t1: int) -> None:
        for bucket in [b for b, due in self.due.items() if t1 >= due and not self.large]:
            self.flush(bucket, t1 + self.ctx.rng.randrange(20, 280))

    def close(self) -> None:
        for bucket in list(self.buf):
            self.flush(bucket, self.end)

    def flush(self, bucket: str, stamp: int) -> None:
        lines, _ = self.buf.pop(bucket), self.due.pop(bucket)
        stamp = min(stamp, self.end - 1)  # keep every object name inside the generated days
        name = f"{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(stamp))}-{self.ctx.hexu(16)}"
        data = ("\n".join(lines) + "\n").encode()
        self.write(f"s3-access-logs/{bucket}/{name}", data, bucket, len(lines))


# ------------------------------------------------------------------------------- simulation


def simulate(
    world: World, ctx: Ctx, start: int, days: int, scales: dict[str, float],
    sink: Callable[[int, list[Req]], None],
) -> None:  # fmt: skip
    """Walk the days in 5-minute slices; each actor does a Poisson number of actions."""
    for t0 in range(start, start + days * DAY, SLICE):
        hour, batch = (t0 - start) % DAY // HOUR, []
        for a in world.actors:
            lam = a.rate * a.profile[hour] * (scales.get(a.group, 1) if a.scaled else 1) / 12
            if a.days is not None:
                lam *= a.days(t0)
            batch += (a.activity or mix_activity)(ctx, a, t0, ctx.poisson(lam))
        batch.sort(key=lambda r: r.t)
        sink(t0, batch)


def calibrate(
    seed: int, start: int, days: int, ct_target: int, al_target: int,
    build: Callable[[int, int], World] = build_world,
) -> dict[str, float]:  # fmt: skip
    """Scales for the "main" and "al" actor groups so both requested counts come out.

    A pilot (~20k requests, throwaway world) measures CloudTrail records and access-log lines
    per unit of scale for each group and for fixed-rate actors; then a 2x2 linear solve.
    """
    world, ctx = build(seed, start), Ctx(f"{seed}:pilot")
    s = 20000 / sum(a.rate * sum(a.profile) * days for a in world.actors if a.scaled)
    n = {"main": [0, 0], "al": [0, 0], "fixed": [0, 0]}

    def count(t0: int, batch: list[Req]) -> None:
        for r in batch:
            ct, lines = render(ctx, r)
            c = n[r.actor.group if r.actor and r.actor.scaled else "fixed"]
            c[0], c[1] = c[0] + (ct is not None), c[1] + len(lines)

    simulate(world, ctx, start, days, {"main": s, "al": s}, count)
    (a1, a2), (b1, b2) = [(x / s, y / s) for x, y in (n["main"], n["al"])]
    ct, al = max(0, ct_target - n["fixed"][0]), max(0, al_target - n["fixed"][1])
    det = a1 * b2 - b1 * a2
    sm, sa = (ct * b2 - b1 * al) / det, (a1 * al - a2 * ct) / det
    if sa < 0:  # main alone already writes too many access-log lines
        sm, sa = ct / a1, 0.0
    if sm < 0:
        sm, sa = 0.0, al / b2
    return {"main": sm, "al": sa}


SCENARIO_FILES = ("labels.json", "detector.toml", "threat_intel_ips.txt", "decoys.txt")


def load_scenarios() -> Any:
    """``scenarios.py`` from beside this file, sharing this module (also when run as a script)."""
    sys.modules.setdefault("generate", sys.modules[__name__])
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import scenarios

    return scenarios


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2026-11-02", help="first UTC day, YYYY-MM-DD")
    ap.add_argument(
        "--days", type=int, default=None, help="days to generate (1; 16 with --scenarios)"
    )
    ap.add_argument(
        "--cloudtrail-events",
        type=int,
        default=None,
        help="target record count (3000; 14000 a day with --scenarios)",
    )
    ap.add_argument(
        "--access-lines",
        type=int,
        default=None,
        help="target line count (2000; 7000 a day with --scenarios)",
    )
    ap.add_argument(
        "--large-files",
        type=int,
        default=0,
        metavar="N",
        help="~N records/lines per file, not the real delivery cadence",
    )
    ap.add_argument("--no-digest", action="store_true", help="skip the CloudTrail digest file")
    ap.add_argument(
        "--no-attacks",
        action="store_true",
        help="only benign traffic (by default the first day ends with a few attacks)",
    )
    ap.add_argument(
        "--scenarios",
        action="store_true",
        help="the labelled evaluation world: benign weeks, traps, attacks, labels.json",
    )
    args = ap.parse_args(argv)  # fmt: skip
    scen = load_scenarios() if args.scenarios else None
    if args.days is None:
        args.days = scen.DEFAULT_DAYS if scen else 1
    if args.cloudtrail_events is None:
        args.cloudtrail_events = scen.CT_PER_DAY * args.days if scen else 3000
    if args.access_lines is None:
        args.access_lines = scen.AL_PER_DAY * args.days if scen else 2000
    if scen and args.days < scen.MIN_DAYS:
        ap.error(f"--scenarios needs --days >= {scen.MIN_DAYS}")
    began, out = time.perf_counter(), Path(args.out)
    start = int(datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    build: Callable[[int, int], World] = build_world
    if scen:
        build = lambda seed, t: scen.build_world(seed, t, args.days)  # noqa: E731
    scales = calibrate(args.seed, start, args.days, args.cloudtrail_events, args.access_lines,
                       build)  # fmt: skip
    world, ctx = build(args.seed, start), Ctx(f"{args.seed}:main")
    demo, attacks, queue, plan_at = None, {}, [], -1  # the default world's attacks
    if not scen and not args.no_attacks:
        demo = load_scenarios()
        attacks, plan_attacks = demo.attacks.demo_attacks(world, args.seed, start)
        h, m = map(int, demo.attacks.DEMO_FROM.split(":"))
        plan_at = start + h * HOUR + m * 60
    for owned in ("AWSLogs", "s3-access-logs"):  # only what this script owns
        shutil.rmtree(out / owned, ignore_errors=True)
    for owned_file in ("MANIFEST.json", *SCENARIO_FILES):
        (out / owned_file).unlink(missing_ok=True)
    ctw = CloudTrailWriter(out, Ctx(f"{args.seed}:ct-files"), args.large_files)
    end = start + args.days * DAY
    alw = AccessLogWriter(out, Ctx(f"{args.seed}:al-files"), args.large_files, end)
    both, labels = 0, {}
    tracker = scen.Tracker() if scen else demo.Tracker() if demo else None
    mutes = world.mutes

    def write(t0: int, batch: list[Req]) -> None:
        nonlocal both, queue
        if demo and t0 == plan_at:
            queue = plan_attacks()
        if queue and queue[0].t < t0 + SLICE:
            n = next((i for i, r in enumerate(queue) if r.t >= t0 + SLICE), len(queue))
            batch, queue = sorted(batch + queue[:n], key=lambda r: r.t), queue[n:]
        for r in batch:
            ct, lines = render(ctx, r)
            if (
                lines
                and mutes
                and r.bucket
                and any(  # logging off: S3 delivers nothing
                    b == r.bucket.name and t1 <= r.t < t2 for b, t1, t2 in mutes
                )
            ):
                lines = []
            if ct is not None:
                ctw.add(r.account, r.region, r.t, DUMPS(ct))
            if lines and r.bucket:
                alw.add(r.bucket.name, r.t, lines)
                both += ct is not None
            label = r.actor.label if r.actor else "benign"
            labels[label] = labels.get(label, 0) + 1
            if tracker is not None and label != "benign":
                tracker.add(label, r, ct, lines)
        ctw.end_slice(t0)
        alw.end_slice(t0 + SLICE)

    simulate(world, ctx, start, args.days, scales, write)
    ctw.close()
    alw.close()
    digest = 0 if args.no_digest else ctw.digest(start)
    ct_files, ct_bytes = ctw.files - (not args.no_digest), ctw.bytes - digest
    ct_records = sum(v for k, v in ctw.units.items() if k != "digest")
    manifest = {
        "generator": "sample_logs/generate.py", "seed": args.seed, "start": args.start,
        "days": args.days, "large_files": args.large_files or None,
        "cloudtrail": {"records": ct_records, "files": ct_files, "bytes": ct_bytes,
                       "records_by_account_region": dict(sorted(ctw.units.items()))},
        "cloudtrail_digest": {"files": int(not args.no_digest), "bytes": digest},
        "s3_access_logs": {"lines": sum(alw.units.values()), "files": alw.files, "bytes": alw.bytes,
                           "lines_by_bucket": dict(sorted(alw.units.items()))},
        "requests_in_both_sources": both,
        "requests_by_label": labels,
        "buckets": {b.name: {"account": b.account, "region": b.region,
                             "cloudtrail_data_events": b.data_events,
                             "access_logs": b.access_logs} for b in world.buckets.values()},
    }  # fmt: skip
    manifest["cloudtrail"]["records_by_account_region"].pop("digest", None)
    summary = ""
    if scen and tracker is not None:
        manifest["scenarios"], summary = scen.write_outputs(out, world, tracker, start, args.days)
    elif attacks and tracker is not None:
        for label, info in attacks.items():
            t = tracker.by.get(label, {"ct": 0, "al": 0, "first": start, "last": start})
            info.update(
                start=demo.iso(t["first"]),
                end=demo.iso(t["last"]),
                cloudtrail_records=t["ct"],
                access_log_lines=t["al"],
            )
        manifest["attacks"] = attacks
        n_ct = sum(a["cloudtrail_records"] for a in attacks.values())
        n_al = sum(a["access_log_lines"] for a in attacks.values())
        summary = f"; attacks: {len(attacks)} ({n_ct} CloudTrail records, {n_al} access-log lines)"
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(
        f"wrote {ctw.files + alw.files} files, {ct_records} CloudTrail records ({ct_files} files), "
        f"{manifest['s3_access_logs']['lines']} access-log lines ({alw.files} files), "
        f"{ctw.bytes + alw.bytes:,} bytes to {out} in {time.perf_counter() - began:.1f}s{summary}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
