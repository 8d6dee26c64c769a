"""Deterministic generator of realistic AWS CloudTrail logs and S3 server access logs.

Why: the detector needs reproducible input that looks like production traffic (bundled in the
repo), and the same world scaled to millions of events for benchmarks. Standard library only.

Layers, so attack scenarios can be bolted on later as extra actors (``scaled=False``, a label):
  world (accounts, buckets, actors with habits) -> activity functions yield ``Req`` (one API call)
  -> ``render`` turns a request into a CloudTrail record and/or access-log lines -> writers pack
  them into delivery files laid out like the real S3 keys.

    python3 sample_logs/generate.py --out sample_logs
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
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

SLICE = 300  # seconds; CloudTrail delivers about every 5 minutes per account and region
HOUR, DAY = 3600, 86400
PROD, ANALYTICS, SECURITY, VENDOR = "418295730164", "739105824617", "206841937552", "583920174466"
E1, W1 = "us-east-1", "eu-west-1"
TRAIL, TRAIL_BUCKET = "acme-org-audit", "acme-cloudtrail-logs"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
S3XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_ISO: dict[int, str] = {}
_CLF: dict[int, str] = {}


def iso(t: int) -> str:
    """CloudTrail eventTime; cached because a day has only 86,400 distinct values."""
    s = _ISO.get(t)
    if s is None:
        s = _ISO[t] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    return s


def clf(t: int) -> str:
    """Access-log time, locale-independent (``%b`` would follow LC_TIME)."""
    s = _CLF.get(t)
    if s is None:
        g = time.gmtime(t)
        s = _CLF[t] = (
            f"[{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:"
            f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000]"
        )
    return s


# --------------------------------------------------------------------------- world types


@dataclass(frozen=True, slots=True)
class Agent:
    """A client: userAgent string plus the TLS it negotiates ("" = no TLS / AWS-internal)."""

    ct: str
    tls: str = "TLSv1.3"
    cipher: str = "TLS_AES_128_GCM_SHA256"
    xid: bool = False  # newer SDKs append ?x-id=<Operation> to object requests
    console: bool = False


@dataclass(slots=True)
class Ident:
    """Who made a request: CloudTrail userIdentity and the access-log Requester."""

    ct: dict[str, Any] | None
    arn: str
    account: str
    via: dict[str, Any] | None = None  # same identity as seen on KMS calls S3 makes for it


@dataclass(slots=True)
class Bucket:
    name: str
    account: str
    region: str
    data_events: bool  # the trail records S3 data events for it
    access_logs: bool  # server access logging enabled
    sse: str  # SSEApplied value: SSE_KMS or Default_SSE_S3
    policy: bool = True
    kms_key: str = ""
    owner_id: str = ""
    host: str = ""


@dataclass(slots=True)
class Prefix:
    """A key namespace: template for new keys, typical size, and keys that already exist."""

    bucket: Bucket
    path: str  # str.format template: {date} {hour} {u8} {n} {user} {name}
    size: float
    pool: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.path.split("{", 1)[0]


@dataclass(frozen=True, slots=True)
class Item:
    """One habit of an actor: how often, which operation, where, with which client."""

    weight: float
    op: str
    prefix: Prefix | None = None
    agent: Agent | None = None
    account: str = ""


Origin = tuple[Ident, str, tuple[str, str] | None]  # identity, source IP, (vpce id, vpce account)


@dataclass(slots=True)
class Actor:
    name: str
    activity: Callable[[Ctx, Actor, int, int], Iterable[Req]]
    rate: float  # actions per hour at profile 1.0 (relative when scaled)
    profile: Sequence[float]  # 24 hourly weights, UTC
    who: Callable[[Ctx, Actor, int, Item], Origin] | None = None
    agent: Agent | None = None
    mix: list[Item] = field(default_factory=list)
    group: str = "main"  # calibration group: "main" (CloudTrail-heavy) or "al" (access-log-heavy)
    scaled: bool = True  # False: absolute rate, not scaled to hit the requested counts
    label: str = "benign"
    cum: list[float] = field(default_factory=list)
    state: dict[Any, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Req:
    """One API request; rendered to CloudTrail and/or access-log lines by ``render``."""

    t: int
    ident: Ident
    name: str
    agent: Agent
    ip: str
    region: str
    account: str  # recipientAccountId
    source: str = "s3.amazonaws.com"
    bucket: Bucket | None = None
    key: str = ""
    size: int = 0
    status: int = 200
    error: str = ""
    errmsg: str = ""
    vpce: tuple[str, str] | None = None
    params: dict[str, Any] | None = None
    resp: dict[str, Any] | None = None
    resources: list[dict[str, str]] | None = None
    read_only: bool = True
    auth: str = "AuthHeader"
    extra: Any = None  # list query / DeleteObjects keys / copy source / presign query
    rid: str = ""
    referer: str = "-"
    grp: str = ""
    label: str = ""


class Ctx:
    """Seeded randomness and id helpers shared by activities and renderers."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def hexu(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}X}"

    def hexl(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choices(ALNUM, k=n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def host_id(self) -> str:
        return base64.b64encode(self.rng.randbytes(56)).decode()

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 40:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k


# --------------------------------------------------------------------------- clients

_LX = "Linux/5.10.213-201.855.amzn2.x86_64"
JAVA = Agent(
    f"[aws-sdk-java/2.25.1 {_LX} OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 "
    "vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy]",
    xid=True,
)
BOTO = Agent(
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0"
)
GO = Agent(
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4",
    xid=True,
)
VENDOR_GO = Agent(
    "aws-sdk-go/1.50.0 (go1.21.5; linux; amd64)", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"
)
CONSOLE = Agent(
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.660 Linux/5.10.213-180.866.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation "
    "cfg/retry-mode/standard]",
    "TLSv1.2",
    "ECDHE-RSA-AES128-GCM-SHA256",
    console=True,
)
INTERNAL = Agent("AWS Internal", "", "", console=True)
TERRAFORM = Agent(
    "[Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux "
    "lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4]",
    xid=True,
)
GHA = Agent(
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#6.5.0-1016-azure lang/js md/nodejs#20.8.1 "
    "api/sts#3.540.0 configure-aws-credentials-for-github-actions"
)
BROWSERS = (
    Agent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36"
    ),
    Agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
    ),
    Agent("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
)


def cli(command: str) -> Agent:
    return Agent(
        f"aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/{command}",
        cipher="TLS_AES_256_GCM_SHA384",
    )


def svc(name: str) -> Agent:
    return Agent(name, "", "")


# --------------------------------------------------------------------------- identities


def role_ident(
    acct: str, role: str, role_id: str, session: str, created: int, key: str, *,
    mfa: bool = False, path: str = "/",
) -> Ident:
    arn = f"arn:aws:sts::{acct}:assumed-role/{role}/{session}"
    issuer = {
        "type": "Role", "principalId": role_id, "arn": f"arn:aws:iam::{acct}:role{path}{role}",
        "accountId": acct, "userName": role,
    }
    ctx_ = {
        "sessionIssuer": issuer, "webIdFederationData": {},
        "attributes": {"creationDate": iso(created), "mfaAuthenticated": str(mfa).lower()},
    }
    ct = {
        "type": "AssumedRole", "principalId": f"{role_id}:{session}", "arn": arn,
        "accountId": acct, "accessKeyId": key, "sessionContext": ctx_,
    }
    return Ident(ct, arn, acct)


def user_ident(acct: str, name: str, uid: str, key: str) -> Ident:
    arn = f"arn:aws:iam::{acct}:user/{name}"
    ct = {
        "type": "IAMUser", "principalId": uid, "arn": arn, "accountId": acct,
        "accessKeyId": key, "userName": name,
    }
    return Ident(ct, arn, acct)


def service_ident(service: str) -> Ident:
    return Ident({"type": "AWSService", "invokedBy": service}, f"svc:{service}", "")


ANON = Ident(None, "-", "")
LIFECYCLE = Ident(None, "AmazonS3", "")


class Fleet:
    """EC2 instances of one application role; instance-profile sessions rotate every 6 h."""

    def __init__(self, ctx: Ctx, acct: str, role: str, n: int, subnet: str, vpce: str) -> None:
        self.acct, self.role, self.role_id = acct, role, "AROA" + ctx.alnum(17)
        self.vpce = (vpce, acct)
        self.hosts = [
            (f"i-0{ctx.hexl(16)}", f"{subnet}.{ctx.rng.randrange(4, 250)}",
             ctx.rng.randrange(6 * HOUR)) for _ in range(n)
        ]
        self.sessions: dict[tuple[int, int], Ident] = {}

    def session(self, ctx: Ctx, i: int, t: int) -> Ident:
        inst, _, off = self.hosts[i]
        period = (t + off) // (6 * HOUR)
        ident = self.sessions.get((i, period))
        if ident is None:
            created = period * 6 * HOUR - off
            ident = role_ident(
                self.acct, self.role, self.role_id, inst, created, "ASIA" + ctx.alnum(16)
            )
            self.sessions[(i, period)] = ident
        return ident


# --------------------------------------------------------------------------- request builders

# eventName -> (access-log operation, HTTP method, sub-resource, readOnly, data event?)
# data event None: never in CloudTrail (website endpoint, CORS preflight, lifecycle).
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
    "Expire": ("S3.EXPIRE.OBJECT", "", "", False, None),
}
OBJECT_OPS = {"GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject"}
ERRORS = {
    "AccessDenied": (403, "Access Denied", 243),
    "NoSuchKey": (404, "The specified key does not exist.", 300),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist", 297),
}
FILENAMES = (
    "IMG_2041.HEIC", "invoice-2026-10.pdf", "Résumé final.pdf", "Q3+Q4 plan.xlsx",
    "photo 2026-11-01.jpg", "契約書.pdf", "naïve café menu.png", "scan_0001.tiff",
    "meeting notes.docx", "avatar.png", "C++ primer (1).pdf", "données clients.csv",
)


def new_key(ctx: Ctx, p: Prefix, t: int) -> str:
    g = time.gmtime(t)
    return p.path.format(
        date=f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d}", hour=f"{g.tm_hour:02d}",
        u8=ctx.hexl(8), n=ctx.rng.randrange(200), user=f"u{ctx.rng.randrange(10000, 99999)}",
        name=ctx.rng.choice(FILENAMES),
    )


def obj_size(ctx: Ctx, p: Prefix) -> int:
    return max(1, int(ctx.rng.lognormvariate(math.log(p.size), 0.8)))


def s3(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item, name: str, b: Bucket, **kw: Any) -> Req:
    ident, ip, vpce = o
    r = Req(t, ident, name, it.agent or a.agent or BOTO, ip, b.region, b.account, bucket=b,
            vpce=vpce, rid=ctx.hexu(16), **kw)
    if r.error:
        r.status, r.errmsg = ERRORS[r.error][0], ERRORS[r.error][1]
    return r


def kms_via_s3(ctx: Ctx, r: Req) -> Req:
    """The KMS call S3 makes on the caller's behalf for an SSE-KMS bucket (bucket key on)."""
    b, ident = r.bucket, r.ident
    assert b is not None and ident.ct is not None
    if ident.via is None:
        ident.via = dict(ident.ct, invokedBy="s3.amazonaws.com")
    enc = {"aws:s3:arn": f"arn:aws:s3:::{b.name}"}
    if r.name == "GetObject":
        name, params = "Decrypt", {"encryptionContext": enc, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    else:
        name, params = "GenerateDataKey", {"keyId": b.kms_key, "encryptionContext": enc,
                                           "keySpec": "AES_256"}
    res = [{"accountId": b.account, "type": "AWS::KMS::Key", "ARN": b.kms_key}]
    return Req(r.t, Ident(ident.via, ident.arn, ident.account), name, svc("s3.amazonaws.com"),
               "s3.amazonaws.com", b.region, b.account, "kms.amazonaws.com", params=params,
               resources=res)


def op_object(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Object-level S3 calls; the Item's op is the eventName."""
    p, rng = it.prefix, ctx.rng
    assert p is not None
    b, name = p.bucket, it.op
    if name == "PutObject":
        r = s3(ctx, a, t, o, it, name, b, key=new_key(ctx, p, t), size=obj_size(ctx, p),
               read_only=False)
    elif name == "CopyObject":
        r = s3(ctx, a, t, o, it, name, b, key=new_key(ctx, p, t), size=obj_size(ctx, p),
               read_only=False, extra=rng.choice(p.pool))
    elif name == "GetObject" and rng.random() < 0.012:
        r = s3(ctx, a, t, o, it, name, b, key=new_key(ctx, p, t), error="NoSuchKey")
    else:
        r = s3(ctx, a, t, o, it, name, b, key=rng.choice(p.pool), size=obj_size(ctx, p),
               read_only=name in ("GetObject", "HeadObject"))
    out = [r]
    if b.sse == "SSE_KMS" and name in ("GetObject", "PutObject") and not r.error:
        if rng.random() < 0.1:
            out.append(kms_via_s3(ctx, r))
    return out


def op_list(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    p = it.prefix
    assert p is not None
    q = {"list-type": "2", "prefix": p.base, "delimiter": "/", "encoding-type": "url"}
    if (it.agent or a.agent) is VENDOR_GO:
        q = {"prefix": p.base, "max-keys": "1000"}  # old SDK: ListObjects v1
    n = ctx.rng.randrange(1, 60)
    return [s3(ctx, a, t, o, it, "ListObjects", p.bucket, extra=q, size=400 + 380 * n)]


def op_delete_many(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    p = it.prefix
    assert p is not None
    keys = ctx.rng.sample(p.pool, ctx.rng.randrange(2, 12))
    return [s3(ctx, a, t, o, it, "DeleteObjects", p.bucket, extra=keys, read_only=False,
               params={"delete": ""})]


def op_bucket(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Bucket-configuration reads (management events, logged in access logs too)."""
    p = it.prefix
    assert p is not None
    b = p.bucket
    err = "NoSuchBucketPolicy" if it.op == "GetBucketPolicy" and not b.policy else ""
    return [s3(ctx, a, t, o, it, it.op, b, error=err, size=ctx.rng.randrange(120, 1400))]


def op_browse(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """A console user opening a bucket page fires a list plus several config reads."""
    out = op_list(ctx, a, t, o, it)
    for i, name in enumerate(("GetBucketLocation", "GetBucketVersioning", "GetBucketAcl",
                              "GetBucketPolicy")):
        out += op_bucket(ctx, a, t + 1 + i // 2, o, Item(0, name, it.prefix, it.agent))
    return out


def op_presigned(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """An end user's browser fetching a URL the app presigned: app identity, browser origin."""
    ident, rng = o[0], ctx.rng
    p = it.prefix
    assert p is not None and ident.ct is not None
    signed = t - rng.randrange(5, 600)
    g = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed))
    cred = f"{ident.ct['accessKeyId']}/{g[:8]}/{p.bucket.region}/s3/aws4_request"
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": cred, "X-Amz-Date": g,
         "X-Amz-Expires": "900", "X-Amz-SignedHeaders": "host", "X-Amz-Signature": ctx.hexl(64)}
    ip = f"{rng.choice((73, 86, 98, 24, 174))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    it2 = Item(0, "GetObject", p, rng.choice(BROWSERS))
    params = {k: q[k] for k in ("X-Amz-Date", "X-Amz-Algorithm", "X-Amz-SignedHeaders",
                                "X-Amz-Expires")}
    return [s3(ctx, a, t, (ident, ip, None), it2, "GetObject", p.bucket, key=rng.choice(p.pool),
               size=obj_size(ctx, p), auth="QueryString", extra=q, params=params,
               referer="https://app.acme.example/")]


def mgmt(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item, source: str, name: str,
         params: dict[str, Any] | None, region: str = E1, **kw: Any) -> Req:
    ident, ip, _ = o
    return Req(t, ident, name, it.agent or a.agent or BOTO, ip, region, ident.account or PROD,
               source, params=params, **kw)


def op_mgmt(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    """Management calls of other services that humans and tools make."""
    rng, op, acct = ctx.rng, it.op, o[0].account
    if op == "ListRoles":
        return [mgmt(ctx, a, t, o, it, "iam.amazonaws.com", op, {"maxItems": 100})]
    if op in ("GetRole", "GetRoleDenied"):
        role = rng.choice(("orders-api", "media-worker", "etl-nightly", "github-actions-deploy"))
        if op == "GetRole":
            return [mgmt(ctx, a, t, o, it, "iam.amazonaws.com", op, {"roleName": role})]
        msg = (f"User: {o[0].arn} is not authorized to perform: iam:GetRole on resource: role "
               "admin-break-glass because no identity-based policy allows the iam:GetRole action")
        return [mgmt(ctx, a, t, o, it, "iam.amazonaws.com", "GetRole", None, status=403,
                     error="AccessDenied", errmsg=msg)]
    if op == "DescribeInstances":
        params = {"instancesSet": {}, "filterSet": {}}
        return [mgmt(ctx, a, t, o, it, "ec2.amazonaws.com", op, params, rng.choice((E1, W1)))]
    if op == "DescribeTrails":
        return [mgmt(ctx, a, t, o, it, "cloudtrail.amazonaws.com", op,
                     {"trailNameList": [], "includeShadowTrails": False})]
    if op == "LookupEvents":
        attr = rng.choice(("PutBucketPolicy", "DeleteBucket", "ConsoleLogin", "AssumeRole"))
        params = {"lookupAttributes": [{"attributeKey": "EventName", "attributeValue": attr}],
                  "maxResults": 50}
        return [mgmt(ctx, a, t, o, it, "cloudtrail.amazonaws.com", op, params)]
    if op == "GetCallerIdentity":
        return [mgmt(ctx, a, t, o, it, "sts.amazonaws.com", op, None)]
    if op == "ListBuckets":
        return [mgmt(ctx, a, t, o, it, "s3.amazonaws.com", op, {"Host": "s3.amazonaws.com"})]
    if op == "AssumeRole":
        role_arn = f"arn:aws:iam::{acct}:role/ops-readonly"
        sess = f"{o[0].arn.rsplit('/', 1)[-1]}-{t}"
        resp = {"credentials": {"accessKeyId": "ASIA" + ctx.alnum(16),
                                "expiration": iso(t + HOUR)},
                "assumedRoleUser": {"assumedRoleId": f"AROA{ctx.alnum(17)}:{sess}",
                                    "arn": f"arn:aws:sts::{acct}:assumed-role/ops-readonly/{sess}"}}
        res = [{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn}]
        params = {"roleArn": role_arn, "roleSessionName": sess, "durationSeconds": 3600}
        return [mgmt(ctx, a, t, o, it, "sts.amazonaws.com", op, params, resp=resp, resources=res)]
    raise ValueError(op)


OPS: dict[str, Callable[[Ctx, Actor, int, Origin, Item], list[Req]]] = {
    **dict.fromkeys(("GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject"),
                    op_object),
    "ListObjects": op_list, "DeleteObjects": op_delete_many, "Browse": op_browse,
    "PresignedGet": op_presigned,
    **dict.fromkeys(("GetBucketPolicy", "GetBucketAcl", "GetBucketLocation",
                     "GetBucketVersioning"), op_bucket),
    **dict.fromkeys(("ListRoles", "GetRole", "GetRoleDenied", "DescribeInstances",
                     "DescribeTrails", "LookupEvents", "GetCallerIdentity", "ListBuckets",
                     "AssumeRole"), op_mgmt),
}


# --------------------------------------------------------------------------- activities


def mix_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """Draw ``n`` habits from the actor's weighted mix at random seconds of the slice."""
    assert a.who is not None
    out: list[Req] = []
    for it in ctx.rng.choices(a.mix, cum_weights=a.cum, k=n):
        t = t0 + ctx.rng.randrange(SLICE)
        out += OPS[it.op](ctx, a, t, a.who(ctx, a, t, it), it)
    return out


def website_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """Anonymous visitors of the public static site (website endpoint, REST, CORS)."""
    p: Prefix = a.state["prefix"]
    b, rng, out = p.bucket, ctx.rng, []
    for _ in range(n):
        t, x, agent = t0 + rng.randrange(SLICE), rng.random(), rng.choice(BROWSERS)
        ip = f"{rng.choice((73, 81, 86, 98, 24, 109, 174))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        kw: dict[str, Any] = {"key": rng.choice(p.pool), "size": obj_size(ctx, p),
                              "referer": rng.choice(("-", "https://www.acme.example/"))}
        name = "WebsiteGet" if x < 0.6 else "GetObject" if x < 0.8 else "Preflight"
        if 0.8 <= x < 0.9:
            name = "GetObject"
            kw.update(key=rng.choice(("favicon.ico", "wp-login.php", ".env")), size=0,
                      error="NoSuchKey")
        elif x >= 0.97:
            name, kw = "ListObjects", {"error": "AccessDenied", "extra": {"prefix": ""}}
        r = s3(ctx, a, t, (ANON, ip, None), Item(0, name, p, agent), name, b, **kw)
        if name == "WebsiteGet":
            r.agent = Agent(agent.ct, "", "")
        out.append(r)
    return out


def lifecycle_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """S3 lifecycle expirations: requester AmazonS3, no client, access logs only."""
    p: Prefix = ctx.rng.choice(a.state["prefixes"])
    return [Req(t0 + ctx.rng.randrange(SLICE), LIFECYCLE, "Expire", svc("-"), "-", p.bucket.region,
                p.bucket.account, bucket=p.bucket, key=ctx.rng.choice(p.pool),
                size=obj_size(ctx, p), rid=ctx.hexu(16)) for _ in range(n)]


def trail_delivery_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """CloudTrail itself: ACL checks and log-file PUTs into the trail bucket."""
    b: Bucket = a.state["bucket"]
    ident, out = service_ident("cloudtrail.amazonaws.com"), []
    for _ in range(n):
        t = t0 + ctx.rng.randrange(SLICE)
        acct, region = ctx.rng.choice(((PROD, E1), (PROD, W1), (ANALYTICS, E1), (SECURITY, E1)))
        ip = f"3.236.{ctx.rng.randrange(256)}.{ctx.rng.randrange(1, 255)}"
        o: Origin = (ident, ip, None)
        if ctx.rng.random() < 0.25:
            r = s3(ctx, a, t, o, Item(0, "", None, svc("cloudtrail.amazonaws.com")),
                   "GetBucketAcl", b, size=ctx.rng.randrange(600, 900))
            r.ip = "cloudtrail.amazonaws.com"
        else:
            g = time.gmtime(t)
            key = (f"AWSLogs/{acct}/CloudTrail/{region}/{g.tm_year}/{g.tm_mon:02d}/{g.tm_mday:02d}/"
                   f"{acct}_CloudTrail_{region}_{time.strftime('%Y%m%dT%H%MZ', g)}_"
                   f"{ctx.rng.choice(ALNUM.lower())}{ctx.alnum(15)}.json.gz")
            r = s3(ctx, a, t, o, Item(0, "", None, svc("cloudtrail.amazonaws.com")),
                   "PutObject", b, key=key, size=ctx.rng.randrange(900, 30000), read_only=False)
        out.append(r)
    return out


def credential_refresh_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """EC2 fetching instance-profile credentials (AssumeRole by ec2.amazonaws.com)."""
    out, ident = [], service_ident("ec2.amazonaws.com")
    for fleet in a.state["fleets"]:
        for i, (inst, _, off) in enumerate(fleet.hosts):
            boundary = (t0 + off + SLICE) // (6 * HOUR) * (6 * HOUR) - off
            if not t0 <= boundary < t0 + SLICE:
                continue
            s = fleet.session(ctx, i, boundary)
            assert s.ct is not None
            role_arn = f"arn:aws:iam::{fleet.acct}:role/{fleet.role}"
            resp = {"credentials": {"accessKeyId": s.ct["accessKeyId"],
                                    "expiration": iso(boundary + 6 * HOUR)},
                    "assumedRoleUser": {"assumedRoleId": s.ct["principalId"], "arn": s.arn}}
            out.append(Req(boundary, ident, "AssumeRole", svc("ec2.amazonaws.com"),
                           "ec2.amazonaws.com", E1, fleet.acct, "sts.amazonaws.com",
                           params={"roleArn": role_arn, "roleSessionName": inst},
                           resp=resp, resources=[{"accountId": fleet.acct,
                                                  "type": "AWS::IAM::Role", "ARN": role_arn}]))
    return out


def deploy_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """GitHub Actions running Terraform: OIDC login, refresh reads, then config changes."""
    if not any(t0 <= s < t0 + SLICE for s in a.state["runs"]):
        return []
    rng, acct, out = ctx.rng, PROD, []
    t = next(s for s in a.state["runs"] if t0 <= s < t0 + SLICE)
    sub = "repo:acme/infra:ref:refs/heads/main"
    provider = f"arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com"
    ident = role_ident(acct, "github-actions-deploy", a.state["role_id"], "GitHubActions", t,
                       "ASIA" + ctx.alnum(16))
    web = Ident({"type": "WebIdentityUser", "principalId": f"{provider}:sts.amazonaws.com:{sub}",
                 "userName": sub, "identityProvider": provider}, sub, acct)
    ip = f"20.42.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    role_arn = f"arn:aws:iam::{acct}:role/github-actions-deploy"
    params = {"roleArn": role_arn, "roleSessionName": "GitHubActions", "durationSeconds": 3600}
    out.append(mgmt(ctx, a, t, (web, ip, None), Item(0, "", None, GHA), "sts.amazonaws.com",
                    "AssumeRoleWithWebIdentity", params,
                    resp={"subjectFromWebIdentityToken": sub, "provider": provider,
                          "audience": "sts.amazonaws.com"}))
    o: Origin = (ident, ip, None)
    buckets: list[Prefix] = a.state["prefixes"]
    for p in buckets:
        t += rng.randrange(1, 4)
        for name in ("GetBucketPolicy", "GetBucketAcl", "GetBucketVersioning",
                     "GetBucketLocation"):
            out += op_bucket(ctx, a, t, o, Item(0, name, p))
    for role in ("orders-api", "media-worker"):
        out.append(mgmt(ctx, a, t, o, Item(0, ""), "iam.amazonaws.com", "GetRole",
                        {"roleName": role}))
    for p in buckets[:2]:
        t += rng.randrange(2, 6)
        b = p.bucket
        tags = [{"Key": "team", "Value": "data-platform"}, {"Key": "env", "Value": "prod"},
                {"Key": "managed-by", "Value": "terraform"}]
        out.append(s3(ctx, a, t, o, Item(0, ""), "PutBucketTagging", b, read_only=False,
                      params={"Tagging": {"xmlns": S3XMLNS, "TagSet": {"Tag": tags}}}))
    b = buckets[0].bucket
    out.append(s3(ctx, a, t + 3, o, Item(0, ""), "PutBucketVersioning", b, read_only=False,
                  params={"VersioningConfiguration": {"Status": "Enabled", "xmlns": S3XMLNS}}))
    arn = f"arn:aws:s3:::{b.name}"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "PartnerExportsRead", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:role/partner-sync-worker"},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [arn, f"{arn}/exports/partner/*"]}]}
    out.append(s3(ctx, a, t + 5, o, Item(0, ""), "PutBucketPolicy", b, read_only=False,
                  params={"bucketPolicy": policy}))
    return out
