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
    b, name = p.bucket, it.op.removesuffix("Denied")
    if name != it.op:
        r = s3(ctx, a, t, o, it, name, b, key=rng.choice(p.pool), error="AccessDenied")
    elif name == "PutObject":
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
    **dict.fromkeys(("GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject",
                     "GetObjectDenied"),
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


# --------------------------------------------------------------------------- world


@dataclass(slots=True)
class World:
    buckets: dict[str, Bucket]
    actors: list[Actor]


def work_hours(first: int, last: int) -> list[float]:
    """Office profile (UTC hours), with a lunch dip and a trickle outside hours."""
    lunch = (first + last) // 2
    return [0.5 if h == lunch else 1.0 if first <= h < last else 0.02 for h in range(24)]


def only(hours: dict[int, float], rest: float = 0.0) -> list[float]:
    return [hours.get(h, rest) for h in range(24)]


DIURNAL = (0.55, 0.5, 0.45, 0.4, 0.4, 0.42, 0.48, 0.55, 0.65, 0.75, 0.85, 0.92, 1.0, 1.05, 1.12,
           1.18, 1.2, 1.16, 1.1, 1.02, 0.94, 0.84, 0.72, 0.62)
FLAT = [1.0] * 24


def fleet_who(fleet: Fleet) -> Callable[[Ctx, Actor, int, Item], Origin]:
    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        i = ctx.rng.randrange(len(fleet.hosts))
        return fleet.session(ctx, i, t), fleet.hosts[i][1], fleet.vpce
    return who


def session_who(acct: str, role: str, role_id: str, name: Callable[[int], str], period: int,
                ips: Sequence[str], vpce: tuple[str, str] | None = None, *, mfa: bool = False,
                path: str = "/", roles: dict[str, tuple[str, str]] | None = None,
                ) -> Callable[[Ctx, Actor, int, Item], Origin]:
    """Role sessions renewed every ``period`` seconds (SSO users, batch jobs, the vendor)."""
    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        account = it.account or (it.prefix.bucket.account if it.prefix and roles else acct)
        r_name, r_id = roles[account] if roles else (role, role_id)
        k = (account, t // period)
        ident = a.state.get(k)
        if ident is None:
            created = max(t // period * period, t // SLICE * SLICE - ctx.rng.randrange(60, 900))
            ident = a.state[k] = role_ident(account, r_name, r_id, name(t), created,
                                            "ASIA" + ctx.alnum(16), mfa=mfa, path=path)
        return ident, ctx.rng.choice(ips), vpce
    return who


def static_who(ident: Ident, ips: Sequence[str]) -> Callable[[Ctx, Actor, int, Item], Origin]:
    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        return ident, ctx.rng.choice(ips), None
    return who


def build_world(seed: int, start: int) -> World:
    """The default estate: three accounts of ours, eight buckets, a dozen actors."""
    ctx = Ctx(f"{seed}:world")
    buckets: dict[str, Bucket] = {}
    for name, acct, region, de, al, sse, policy in (
        ("acme-data-prod", PROD, E1, True, True, "SSE_KMS", True),
        ("acme-app-uploads", PROD, E1, True, True, "Default_SSE_S3", False),
        ("acme-backups-eu", PROD, W1, True, False, "SSE_KMS", True),
        ("acme-www-static", PROD, E1, False, True, "Default_SSE_S3", True),
        ("acme-analytics-curated", ANALYTICS, E1, True, True, "SSE_KMS", True),
        ("acme-ml-features", ANALYTICS, E1, True, False, "Default_SSE_S3", False),
        ("acme-analytics-scratch-eu", ANALYTICS, W1, False, True, "Default_SSE_S3", False),
        (TRAIL_BUCKET, SECURITY, E1, False, True, "Default_SSE_S3", True),
    ):
        b = buckets[name] = Bucket(name, acct, region, de, al, sse, policy)
        b.owner_id = hashlib.sha256(f"canonical-user:{acct}".encode()).hexdigest()
        b.host = f"{name}.s3.{region}.amazonaws.com"
        if sse == "SSE_KMS":
            b.kms_key = f"arn:aws:kms:{region}:{acct}:key/{ctx.uuid()}"

    def pre(bucket: str, path: str, size: float, n: int = 60) -> Prefix:
        p = Prefix(buckets[bucket], path, size)
        p.pool = [new_key(ctx, p, start - ctx.rng.randrange(DAY, 30 * DAY)) for _ in range(n)]
        return p

    raw = pre("acme-data-prod", "raw/orders/dt={date}/hour={hour}/part-{n:05d}-{u8}.snappy.parquet",
              4e6)
    curated = pre("acme-data-prod", "curated/sessions/dt={date}/part-{n:05d}-{u8}.snappy.parquet",
                  2.5e7)
    partner = pre("acme-data-prod", "exports/partner/{date}/orders-{n:04d}.csv.gz", 8e6, 30)
    uploads = pre("acme-app-uploads", "uploads/{user}/{name}", 9e5, 120)
    thumbs = pre("acme-app-uploads", "thumbnails/{user}/{u8}_320.webp", 2.4e4)
    backups = pre("acme-backups-eu", "db/orders/{date}T0100Z/orders.dump.part-{n:04d}", 1.2e8, 40)
    reports = pre("acme-analytics-curated", "reports/daily/dt={date}/report-{u8}.parquet", 1.5e6)
    tmp = pre("acme-analytics-curated", "tmp/etl/{date}/{u8}/part-{n:05d}.parquet", 6e6)
    features = pre("acme-ml-features", "features/v3/customer/dt={date}/shard-{n:04d}.parquet", 3e6)
    notebooks = pre("acme-analytics-scratch-eu", "notebooks/alice/{date}/{name}", 2e6, 30)
    scratch = pre("acme-analytics-scratch-eu", "tmp/{u8}/output-{n:04d}.parquet", 5e6)
    site = Prefix(buckets["acme-www-static"], "", 3e4, [
        "index.html", "about/index.html", "assets/app.3f9c1a.js", "assets/style.91be2c.css",
        "img/logo.svg", "img/hero banner.webp", "docs/getting started.html",
        "docs/faq+pricing.html", "blog/東京-launch.html", "favicon.ico"])

    vpce = {k: f"vpce-0{ctx.hexl(16)}" for k in ("prod-e1", "prod-w1", "analytics-e1")}
    orders = Fleet(ctx, PROD, "orders-api", 3, "10.20.11", vpce["prod-e1"])
    media = Fleet(ctx, PROD, "media-worker", 2, "10.20.12", vpce["prod-e1"])
    report = Fleet(ctx, ANALYTICS, "report-service", 2, "10.40.3", vpce["analytics-e1"])
    backup = Fleet(ctx, PROD, "backup-agent", 2, "10.60.7", vpce["prod-w1"])
    sso = "/aws-reserved/sso.amazonaws.com/"
    alice_roles = {acct: (f"AWSReservedSSO_{ps}_{ctx.hexl(16)}", "AROA" + ctx.alnum(17))
                   for acct, ps in ((PROD, "DataEngineer"), (ANALYTICS, "DataEngineer"),
                                    (SECURITY, "SecurityAudit"))}
    bob = user_ident(PROD, "bob.ops", "AIDA" + ctx.alnum(17), "AKIA" + ctx.alnum(16))
    day_of = time.strftime("%Y%m%d", time.gmtime(start))
    ny, dub = ("64.124.19.37", "64.124.19.38"), ("83.71.12.200",)

    def I(w: float, op: str, p: Prefix | None = None, ag: Agent | None = None,  # noqa: E743
          acct: str = "") -> Item:
        return Item(w, op, p, ag, acct)

    actors = [
        Actor("orders-api", mix_activity, 30, DIURNAL, fleet_who(orders), JAVA, [
            I(30, "GetObject", uploads), I(25, "GetObject", raw), I(20, "PutObject", raw),
            I(10, "HeadObject", uploads), I(8, "PutObject", uploads), I(5, "ListObjects", raw),
            I(2, "DeleteObject", uploads)]),
        Actor("media-worker", mix_activity, 20, DIURNAL, fleet_who(media), BOTO, [
            I(40, "GetObject", uploads), I(25, "PutObject", thumbs), I(10, "HeadObject", thumbs),
            I(9, "GetObject", thumbs), I(6, "PresignedGet", uploads), I(5, "CopyObject", uploads),
            I(4, "DeleteObject", thumbs), I(1, "DeleteObjects", thumbs)]),
        Actor("report-service", mix_activity, 30, DIURNAL, fleet_who(report), JAVA, [
            I(55, "GetObject", features), I(8, "ListObjects", features),
            I(7, "HeadObject", features), I(20, "GetObject", reports),
            I(5, "ListObjects", reports), I(5, "PutObject", reports)]),
        Actor("backup-agent", mix_activity, 12, only({0: 1, 1: 1, 2: 1, 3: 1, 4: 1}, 0.15),
              fleet_who(backup), GO, [
                  I(50, "PutObject", backups), I(15, "HeadObject", backups),
                  I(15, "GetObject", backups), I(10, "ListObjects", backups),
                  I(7, "DeleteObject", backups), I(3, "DeleteObjects", backups)]),
        Actor("etl-nightly", mix_activity, 400, only({1: 1, 2: 1, 3: 0.35}),
              session_who(ANALYTICS, "etl-nightly", "AROA" + ctx.alnum(17),
                          lambda t: f"etl-nightly-{day_of}", DAY,
                          [f"10.40.9.{i}" for i in (21, 22, 57)], (vpce["analytics-e1"],
                                                                    ANALYTICS)), BOTO, [
                  I(45, "GetObject", curated), I(15, "GetObject", raw),
                  I(5, "ListObjects", curated), I(15, "PutObject", tmp),
                  I(8, "CopyObject", reports), I(5, "PutObject", reports),
                  I(4, "DeleteObject", tmp), I(3, "DeleteObjects", tmp)]),
        Actor("alice (SSO)", mix_activity, 14, work_hours(13, 22),
              session_who(PROD, "", "", lambda t: "alice@acme.example", DAY, ny, mfa=True,
                          path=sso, roles=alice_roles), CONSOLE, [
                  I(4, "Browse", curated), I(2, "Browse", uploads), I(4, "GetObject", curated),
                  I(3, "ListBuckets"), I(6, "ListObjects", reports, cli("s3.ls")),
                  I(6, "GetObject", reports, cli("s3.cp")),
                  I(5, "PutObject", notebooks, cli("s3.cp")),
                  I(4, "GetObject", notebooks, cli("s3.cp")),
                  I(3, "ListObjects", notebooks, cli("s3.ls")),
                  I(1, "GetObjectDenied", backups, cli("s3.cp")),
                  I(2, "LookupEvents", None, INTERNAL, SECURITY),
                  I(1, "DescribeTrails", None, INTERNAL, SECURITY)]),
        Actor("bob.ops (IAM user)", mix_activity, 12, work_hours(8, 17), static_who(bob, dub),
              None, [
                  I(8, "DescribeInstances", None, cli("ec2.describe-instances")),
                  I(4, "ListRoles", None, cli("iam.list-roles")),
                  I(4, "GetRole", None, cli("iam.get-role")),
                  I(1, "GetRoleDenied", None, cli("iam.get-role")),
                  I(2, "DescribeTrails", None, cli("cloudtrail.describe-trails")),
                  I(3, "LookupEvents", None, cli("cloudtrail.lookup-events")),
                  I(5, "GetCallerIdentity", None, cli("sts.get-caller-identity")),
                  I(2, "AssumeRole", None, cli("sts.assume-role")),
                  I(3, "ListBuckets", None, cli("s3.ls")),
                  I(2, "GetBucketPolicy", raw, cli("s3api.get-bucket-policy")),
                  I(1, "GetBucketPolicy", uploads, cli("s3api.get-bucket-policy")),
                  I(1, "GetBucketVersioning", backups, cli("s3api.get-bucket-versioning")),
                  I(3, "ListObjects", backups, cli("s3.ls")),
                  I(2, "GetObject", backups, cli("s3.cp")),
                  I(2, "HeadObject", backups, cli("s3api.head-object"))]),
        Actor("partner-sync (vendor)", mix_activity, 10, FLAT,
              session_who(VENDOR, "partner-sync-worker", "AROA" + ctx.alnum(17),
                          lambda t: f"partner-sync-{t // HOUR * HOUR}", HOUR,
                          ("52.204.118.16", "52.204.118.17")), VENDOR_GO, [
                  I(15, "ListObjects", partner), I(85, "GetObject", partner)]),
        Actor("github-actions-deploy", deploy_activity, 0, FLAT, agent=TERRAFORM, scaled=False,
              state={"runs": [start + 15 * HOUR + 7 * 60 + 13, start + 17 * HOUR + 41 * 60 + 2],
                     "role_id": "AROA" + ctx.alnum(17),
                     "prefixes": [raw, uploads, site, backups]}),
        Actor("ec2 instance profiles", credential_refresh_activity, 0, FLAT, scaled=False,
              state={"fleets": [orders, media, report, backup]}),
        Actor("website visitors", website_activity, 60, DIURNAL, group="al",
              state={"prefix": site}),
        Actor("cloudtrail delivery", trail_delivery_activity, 8, FLAT, group="al",
              state={"bucket": buckets[TRAIL_BUCKET]}),
        Actor("s3 lifecycle", lifecycle_activity, 30, only({0: 1.0}), group="al",
              state={"prefixes": [tmp, scratch]}),
    ]
    for a in actors:
        a.cum = [sum(it.weight for it in a.mix[: i + 1]) for i in range(len(a.mix))]
    return World(buckets, actors)


# --------------------------------------------------------------------------- rendering

_TLS: dict[tuple[Agent, str], dict[str, str]] = {}
_BUCKET_RES: dict[str, dict[str, str]] = {}
_PUT_RESP: dict[str, dict[str, str]] = {}


def transfer(r: Req) -> tuple[int, int]:
    """(bytes in, bytes out) of an S3 request."""
    if r.error:
        return 0, ERRORS[r.error][2]
    n = r.name
    if n in ("PutObject",):
        return r.size, 0
    if n == "DeleteObjects":
        return 60 + 80 * len(r.extra), 90 + 85 * len(r.extra)
    if n.startswith("PutBucket"):
        return 180 + 60 * len(json.dumps(r.params)) // 40, 0
    if n in ("HeadObject", "DeleteObject", "Preflight", "Expire"):
        return 0, 0
    return 0, 234 if n == "CopyObject" else r.size


def put_resp(b: Bucket) -> dict[str, str]:
    resp = _PUT_RESP.get(b.name)
    if resp is None:
        resp = {"x-amz-server-side-encryption": "AES256"}
        if b.kms_key:
            resp = {"x-amz-server-side-encryption": "aws:kms",
                    "x-amz-server-side-encryption-aws-kms-key-id": b.kms_key,
                    "x-amz-server-side-encryption-bucket-key-enabled": "true"}
        _PUT_RESP[b.name] = resp
    return resp


def ct_record(ctx: Ctx, r: Req, data: bool, hid: str) -> dict[str, Any]:
    """A CloudTrail record, keys in the order CloudTrail writes them."""
    ag, b = r.agent, r.bucket
    rec: dict[str, Any] = {
        "eventVersion": "1.10" if b else "1.09", "userIdentity": r.ident.ct,
        "eventTime": iso(r.t), "eventSource": r.source, "eventName": r.name,
        "awsRegion": r.region, "sourceIPAddress": r.ip, "userAgent": ag.ct,
    }
    if r.error:
        rec["errorCode"], rec["errorMessage"] = r.error, r.errmsg
    if b is not None:
        host = b.host
        sub = S3OPS[r.name][2]
        params: dict[str, Any] = {"bucketName": b.name, "Host": host}
        if sub:
            params[sub] = ""
        if r.name == "ListObjects":
            params.update(r.extra)
        elif r.key:
            params["key"] = r.key
        if r.name == "CopyObject":
            params["x-amz-copy-source"] = f"{b.name}/{r.extra}"
        if ag.xid and r.name in OBJECT_OPS:
            params["x-id"] = r.name
        if r.params:
            params.update(r.params)
        rec["requestParameters"] = params
        ok = not r.error and r.name in OBJECT_OPS
        rec["responseElements"] = put_resp(b) if ok and not r.read_only and r.size else None
        inb, out = transfer(r)
        aed: dict[str, Any] = {"SignatureVersion": "SigV4",
                               "CipherSuite": ag.cipher or "ECDHE-RSA-AES128-GCM-SHA256",
                               "bytesTransferredIn": inb}
        if ok and r.name != "DeleteObject":
            aed["SSEApplied"] = b.sse
        aed["AuthenticationMethod"] = r.auth
        aed["x-amz-id-2"] = hid
        aed["bytesTransferredOut"] = out
        rec["additionalEventData"] = aed
        rec["requestID"] = r.rid
    else:
        svc_name = r.source.split(".", 1)[0]
        host = (f"{svc_name}.amazonaws.com" if svc_name in ("iam", "sts", "s3")
                else f"{svc_name}.{r.region}.amazonaws.com")
        rec["requestParameters"], rec["responseElements"] = r.params, r.resp
        rec["requestID"] = ctx.uuid()
    rec["eventID"] = ctx.uuid()
    rec["readOnly"] = r.read_only
    res = r.resources
    if b is not None:
        bres = _BUCKET_RES.get(b.name)
        if bres is None:
            bres = _BUCKET_RES[b.name] = {"accountId": b.account, "type": "AWS::S3::Bucket",
                                          "ARN": f"arn:aws:s3:::{b.name}"}
        if r.name in OBJECT_OPS:
            res = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b.name}/{r.key}"}, bres]
        else:
            res = [bres]
    if res:
        rec["resources"] = res
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not data
    rec["recipientAccountId"] = r.account
    if r.ident.account and r.ident.account != r.account:
        rec["sharedEventID"] = ctx.uuid()
    if r.vpce:
        rec["vpcEndpointId"], rec["vpcEndpointAccountId"] = r.vpce
    rec["eventCategory"] = "Data" if data else "Management"
    if ag.tls:
        tls = _TLS.get((ag, host))
        if tls is None:
            tls = _TLS[(ag, host)] = {"tlsVersion": ag.tls, "cipherSuite": ag.cipher,
                                      "clientProvidedHostHeader": host}
        rec["tlsDetails"] = tls
    if ag.console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def access_lines(ctx: Ctx, r: Req, spec: tuple[str, str, str, bool, bool | None],
                 hid: str) -> list[str]:
    """Server access log lines (27 fields) for one request; batch deletes add one per key."""
    b, ag, rng = r.bucket, r.agent, ctx.rng
    assert b is not None
    op, method, sub = spec[0], spec[1], spec[2]
    head = f"{b.owner_id} {b.name} {clf(r.t)}"
    key = quote(r.key, safe="/+") if r.key else "-"
    if op == "S3.EXPIRE.OBJECT":
        return [f'{head} - AmazonS3 {r.rid} {op} {key} "-" - - - {r.size} - - "-" "-" - - - - - '
                "- - - - - -"]
    inb, out = transfer(r)
    host = b.host
    if op == "WEBSITE.GET.OBJECT":
        path, host = "/" + quote(r.key, safe="/~"), f"{b.name}.s3-website-{b.region}.amazonaws.com"
    else:
        path = f"/{b.name}/{quote(r.key, safe='/~')}" if r.key else f"/{b.name}"
    if r.auth == "QueryString" or (r.name == "ListObjects" and r.extra):
        path += "?" + urlencode(r.extra, quote_via=quote, safe="")
    elif sub:
        path += "?" + sub
    elif ag.xid and r.name in OBJECT_OPS:
        path += f"?x-id={r.name}"
    status = r.status if r.error or r.name != "DeleteObject" else 204
    size = str(r.size) if r.name in OBJECT_OPS and r.size and not r.error else "-"
    total = 4 + (inb + out) // 60000 + rng.randrange(30)
    turn = rng.randrange(1, min(total, 40) + 1) if r.name != "PutObject" else total - 2
    signed = r.ident is not ANON
    tail = (f"{hid} {'SigV4' if signed else '-'} {ag.cipher or '-'} "
            f"{r.auth if signed else '-'} {host} {ag.tls or '-'} - - "
            f"{b.region if r.vpce else '-'}")
    ip = r.ip if r.ip[0].isdigit() else "-"
    ua = ag.ct.strip("[]")

    def line(operation: str, k: str, uri: str, st: int, sent: int, osize: str) -> str:
        return (f'{head} {ip} {r.ident.arn} {r.rid} {operation} {k} {uri} {st} '
                f'{r.error or "-"} {sent or "-"} {osize} {total} {turn} "{r.referer}" "{ua}" - '
                f"{tail}")

    uri = f'"{method} {path} HTTP/1.1"'
    lines = []
    if r.name == "CopyObject":
        src = quote(r.extra, safe="/+")
        lines.append(line("REST.COPY.OBJECT_GET", src, uri, 200, 0, str(r.size)))
    lines.append(line(op, key, uri, status, out, size))
    if r.name == "DeleteObjects":
        lines += [line("BATCH.DELETE.OBJECT", quote(k, safe="/+"), '"-"', 204, 0, "-")
                  for k in r.extra]
    return lines


def render(ctx: Ctx, r: Req) -> tuple[dict[str, Any] | None, list[str]]:
    """One request -> (CloudTrail record or None, access-log lines)."""
    b = r.bucket
    if b is None:
        return (ct_record(ctx, r, False, "") if r.ident.ct is not None else None), []
    spec = S3OPS[r.name]
    hid = ctx.host_id()
    data = spec[4]
    ct = None
    if data is not None and r.ident.ct is not None and (data is False or b.data_events):
        ct = ct_record(ctx, r, data, hid)
    return ct, (access_lines(ctx, r, spec, hid) if b.access_logs else [])


# --------------------------------------------------------------------------- writers

MIXED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class CloudTrailWriter:
    """Packs records into gzipped ``{"Records":[...]}`` files under the real key layout."""

    def __init__(self, out: Path, ctx: Ctx, large: int) -> None:
        self.out, self.ctx, self.large = out, ctx, large
        self.buf: dict[tuple[str, str], list[str]] = {}
        self.span: dict[tuple[str, str], list[int]] = {}
        self.records = self.files = self.bytes = 0
        self.per: dict[str, int] = {}
        self.written: list[tuple[str, str, str, int, int, str]] = []  # acct, region, key, ...

    def add(self, acct: str, region: str, t: int, rec: str) -> None:
        k = (acct, region)
        lst = self.buf.get(k)
        if lst is None:
            lst, self.span[k] = self.buf.setdefault(k, []), [t, t]
        lst.append(rec)
        sp = self.span[k]
        sp[0], sp[1] = min(sp[0], t), max(sp[1], t)
        if self.large and len(lst) >= self.large:
            self.flush(k, sp[0])

    def end_slice(self, t0: int) -> None:
        if not self.large:
            for k in list(self.buf):
                self.flush(k, t0)

    def close(self) -> None:
        for k in list(self.buf):
            self.flush(k, self.span[k][0])

    def flush(self, k: tuple[str, str], stamp: int) -> None:
        recs, (lo, hi) = self.buf.pop(k), self.span.pop(k)
        acct, region = k
        g = time.gmtime(stamp)
        name = (f"{acct}_CloudTrail_{region}_{time.strftime('%Y%m%dT%H%MZ', g)}_"
                f"{''.join(self.ctx.rng.choices(MIXED, k=16))}.json.gz")
        rel = f"AWSLogs/{acct}/CloudTrail/{region}/{time.strftime('%Y/%m/%d', g)}/{name}"
        raw = ('{"Records":[' + ",".join(recs) + "]}").encode()
        data = gzip.compress(raw, compresslevel=6, mtime=0)
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.records += len(recs)
        self.files += 1
        self.bytes += len(data)
        self.per[f"{acct}/{region}"] = self.per.get(f"{acct}/{region}", 0) + len(recs)
        if k == (PROD, E1):
            self.written.append((acct, region, rel, lo, hi, hashlib.sha256(raw).hexdigest()))

    def digest(self, start: int) -> int:
        """One hourly digest for PROD/us-east-1 (10:00-11:00), so readers can prove they skip it."""
        t0, t1 = start + 10 * HOUR, start + 11 * HOUR
        files = [w for w in self.written if t0 <= w[3] < t1]
        g = time.gmtime(t1)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", g)
        rel = (f"AWSLogs/{PROD}/CloudTrail-Digest/{E1}/{time.strftime('%Y/%m/%d', g)}/"
               f"{PROD}_CloudTrail-Digest_{E1}_{TRAIL}_{E1}_{stamp}.json.gz")
        prev = rel.replace(stamp, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t0)))
        body = {
            "awsAccountId": PROD, "digestStartTime": iso(t0), "digestEndTime": iso(t1),
            "digestS3Bucket": TRAIL_BUCKET, "digestS3Object": rel,
            "digestPublicKeyFingerprint": self.ctx.hexl(32),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": iso(max((w[4] for w in files), default=t1)),
            "oldestEventTime": iso(min((w[3] for w in files), default=t0)),
            "previousDigestS3Bucket": TRAIL_BUCKET, "previousDigestS3Object": prev,
            "previousDigestHashValue": self.ctx.hexl(64), "previousDigestHashAlgorithm": "SHA-256",
            "previousDigestSignature": self.ctx.hexl(512),
            "logFiles": [{"s3Bucket": TRAIL_BUCKET, "s3Object": w[2], "hashValue": w[5],
                          "hashAlgorithm": "SHA-256", "newestEventTime": iso(w[4]),
                          "oldestEventTime": iso(w[3])} for w in files],
        }
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(DUMPS(body).encode(), mtime=0)
        path.write_bytes(data)
        return len(data)


class AccessLogWriter:
    """Plain-text log objects per source bucket, delivered every 10-40 minutes of activity."""

    def __init__(self, out: Path, ctx: Ctx, large: int, end: int) -> None:
        self.out, self.ctx, self.large, self.end = out, ctx, large, end
        self.buf: dict[str, list[str]] = {}
        self.due: dict[str, int] = {}
        self.lines = self.files = self.bytes = 0
        self.per: dict[str, int] = {}

    def add(self, bucket: str, t: int, lines: list[str]) -> None:
        lst = self.buf.get(bucket)
        if lst is None:
            lst = self.buf[bucket] = []
            self.due[bucket] = t // SLICE * SLICE + SLICE * self.ctx.rng.randrange(2, 9)
        lst += lines
        if self.large and len(lst) >= self.large:
            self.flush(bucket, t + 60)

    def end_slice(self, t1: int) -> None:
        for bucket in list(self.buf):
            if not self.large and t1 >= self.due[bucket]:
                self.flush(bucket, t1 + self.ctx.rng.randrange(20, 280))

    def close(self) -> None:
        for bucket in list(self.buf):
            self.flush(bucket, self.end + self.ctx.rng.randrange(20, 280))

    def flush(self, bucket: str, stamp: int) -> None:
        lines = self.buf.pop(bucket)
        self.due.pop(bucket)
        stamp = min(stamp, self.end - 1)  # keep every object inside the generated days
        name = f"{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(stamp))}-{self.ctx.hexu(16)}"
        path = self.out / "s3-access-logs" / bucket / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(data)
        self.lines += len(lines)
        self.files += 1
        self.bytes += len(data)
        self.per[bucket] = self.per.get(bucket, 0) + len(lines)


# --------------------------------------------------------------------------- simulation

Sink = Callable[[int, list[Req]], None]


def simulate(world: World, ctx: Ctx, start: int, days: int, scales: dict[str, float],
             sink: Sink) -> None:
    """Walk the days in 5-minute slices; each actor draws a Poisson number of actions."""
    for t0 in range(start, start + days * DAY, SLICE):
        hour = (t0 - start) % DAY // HOUR
        batch: list[Req] = []
        for a in world.actors:
            scale = scales.get(a.group, 1.0) if a.scaled else 1.0
            reqs = a.activity(ctx, a, t0, ctx.poisson(a.rate * a.profile[hour] * scale / 12))
            grp = a.group if a.scaled else "fixed"
            for r in reqs:
                r.grp, r.label = grp, a.label
            batch += reqs
        batch.sort(key=lambda r: r.t)
        sink(t0, batch)


def calibrate(seed: int, start: int, days: int, ct_target: int, al_target: int,
              pilot: int = 20000) -> dict[str, float]:
    """Scale factors for the "main" and "al" actor groups that hit both requested counts.

    A pilot run on a throwaway world measures CloudTrail records and access-log lines per unit
    of scale for each group (plus fixed-rate actors), then a 2x2 linear solve.
    """
    world = build_world(seed, start)
    events = sum(a.rate * sum(a.profile) for a in world.actors if a.scaled) * days
    s = pilot / events
    n: dict[str, list[int]] = {"main": [0, 0], "al": [0, 0], "fixed": [0, 0]}
    ctx = Ctx(f"{seed}:pilot")

    def count(t0: int, batch: list[Req]) -> None:
        for r in batch:
            ct, lines = render(ctx, r)
            c = n[r.grp]
            c[0] += ct is not None
            c[1] += len(lines)

    simulate(world, ctx, start, days, {"main": s, "al": s}, count)
    a1, a2 = n["main"][0] / s, n["main"][1] / s  # main: CloudTrail, access log per unit scale
    b1, b2 = n["al"][0] / s, n["al"][1] / s
    ct, al = max(0, ct_target - n["fixed"][0]), max(0, al_target - n["fixed"][1])
    det = a1 * b2 - b1 * a2
    sm = (ct * b2 - b1 * al) / det if det else ct / a1
    sa = (a1 * al - a2 * ct) / det if det else 0.0
    if sa < 0:
        sm, sa = ct / a1, 0.0
    if sm < 0:
        sm, sa = 0.0, al / b2
    return {"main": sm, "al": sa}


def clean(out: Path) -> None:
    """Remove only what this script owns (never generate.py or the README)."""
    for sub in ("AWSLogs", "s3-access-logs"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "MANIFEST.json").unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2026-11-02", help="first UTC day (YYYY-MM-DD)")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--cloudtrail-events", type=int, default=3000, help="target record count")
    ap.add_argument("--access-lines", type=int, default=2000, help="target line count")
    ap.add_argument("--large-files", type=int, default=0, metavar="N",
                    help="pack ~N records/lines per file instead of real delivery cadence")
    ap.add_argument("--no-digest", action="store_true", help="skip the CloudTrail digest file")
    args = ap.parse_args(argv)
    began = time.perf_counter()
    start = int(datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    end = start + args.days * DAY
    scales = calibrate(args.seed, start, args.days, args.cloudtrail_events, args.access_lines)
    world = build_world(args.seed, start)
    ctx = Ctx(f"{args.seed}:main")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    clean(out)
    ctw = CloudTrailWriter(out, Ctx(f"{args.seed}:ct-files"), args.large_files)
    alw = AccessLogWriter(out, Ctx(f"{args.seed}:al-files"), args.large_files, end)
    joined, labels = 0, dict[str, int]()

    def write(t0: int, batch: list[Req]) -> None:
        nonlocal joined
        for r in batch:
            ct, lines = render(ctx, r)
            if ct is not None:
                ctw.add(r.account, r.region, r.t, DUMPS(ct))
            if lines:
                alw.add(r.bucket.name, r.t, lines)  # type: ignore[union-attr]
                joined += ct is not None
            labels[r.label] = labels.get(r.label, 0) + 1
        ctw.end_slice(t0)
        alw.end_slice(t0 + SLICE)

    simulate(world, ctx, start, args.days, scales, write)
    ctw.close()
    alw.close()
    digest_bytes = 0 if args.no_digest else ctw.digest(start)
    manifest = {
        "generator": "sample_logs/generate.py", "seed": args.seed, "start": args.start,
        "days": args.days, "large_files": args.large_files or None,
        "cloudtrail": {"records": ctw.records, "files": ctw.files, "bytes": ctw.bytes,
                       "records_by_account_region": dict(sorted(ctw.per.items()))},
        "cloudtrail_digest": {"files": 0 if args.no_digest else 1, "bytes": digest_bytes},
        "s3_access_logs": {"lines": alw.lines, "files": alw.files, "bytes": alw.bytes,
                           "lines_by_bucket": dict(sorted(alw.per.items()))},
        "requests_in_both_sources": joined,
        "requests_by_label": labels,
        "buckets": {b.name: {"account": b.account, "region": b.region,
                             "cloudtrail_data_events": b.data_events,
                             "access_logs": b.access_logs} for b in world.buckets.values()},
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    files = ctw.files + alw.files + (0 if args.no_digest else 1)
    total = ctw.bytes + alw.bytes + digest_bytes
    print(f"wrote {files} files to {out}: {ctw.records} CloudTrail records in {ctw.files} files, "
          f"{alw.lines} access-log lines in {alw.files} files, {total:,} bytes "
          f"({time.perf_counter() - began:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
