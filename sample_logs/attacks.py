"""Attack scenarios of the evaluation world, one or more per capability (C01-C32).

Each scenario is a scripted actor: a plan of requests made once, in the last four days of the
world (``Env.slots``: sat, sun, mon, tue by default), mostly with the identity and sessions of
an established principal (stolen credentials, a compromised host or laptop) so that the
detector's baselines apply. ``@attack`` registers a plan with what labels.json says of it;
the capabilities listed are the ones its events exhibit by design.

Event shapes follow what AWS writes (see the README for the ones that are best guesses).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import generate as g
import scenario_world as sw
from generate import (
    ANALYTICS,
    DAY,
    E1,
    PROD,
    SECURITY,
    TRAIL_BUCKET,
    W1,
    XMLNS,
    Actor,
    Agent,
    Bucket,
    Ctx,
    Ident,
    Item,
    Origin,
    Prefix,
    Req,
)
from scenario_world import FOREIGN, PROD_TRAIL, PROD_TRAIL_ARN, Env, Scenario

S3CONTROL_NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"
ATTACKER_VPCE = ("vpce-0f3c9a7e1d2b4c5a6", FOREIGN)
FOREIGN_KMS = f"arn:aws:kms:{E1}:{FOREIGN}:key/5f1c9e2a-7b3d-4e8f-9a0c-d2b6e4f81a37"
RANSOM_NOTE = "README_RESTORE_FILES.txt"


def linux_cli(command: str) -> Agent:
    """The AWS CLI on a Linux VPS."""
    return Agent(
        "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#5.15.0-105-generic md/arch#x86_64 "
        "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
        f"md/prompt#off md/command#{command}",
        cipher="TLS_AES_256_GCM_SHA384",
    )


def kali_cli(command: str) -> Agent:
    """The AWS CLI as Kali Linux packages it."""
    return Agent(
        "aws-cli/2.14.6 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 "
        "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source "
        f"md/distrib#kali.2024 md/prompt#off md/command#{command}",
        cipher="TLS_AES_256_GCM_SHA384",
    )


RCLONE = Agent("rclone/v1.66.0")
HEADLESS = Agent(
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/130.0.0.0 Safari/537.36"
)
ZGRAB = Agent("Mozilla/5.0 zgrab/0.x", *g.TLS12)
CURL = Agent("curl/8.5.0")
PYREQ = Agent("python-requests/2.31.0")
ANON_CT = Ident({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}, "-", "")


# -------------------------------------------------------------------------------- builder


class Build:
    """The requests of one scenario actor, in the order they are planned."""

    def __init__(self, ctx: Ctx, a: Actor, env: Env) -> None:
        self.ctx, self.a, self.env = ctx, a, env
        self.out: list[Req] = []
        self.px, self.bs = env.prefixes, env.buckets

    def who(self, base: str, t: int, b: Bucket | None = None, account: str = "") -> Origin:
        """The origin (identity, IP, endpoint) of an established actor at ``t``."""
        actor = self.env.actors[base]
        it = Item(0, "GetObject", Prefix(b, "", 0) if b else None, None, account)
        return actor.who(self.ctx, actor, t, it)

    def s3(self, t: int, o: Origin, op: str, b: Bucket, key: str = "", agent: Agent | None = None,
           kms: bool = True, **kw: Any) -> Req:  # fmt: skip
        r = g.s3(self.ctx, self.a, t, o, Item(0, op, None, agent), op, b, key=key, **kw)
        self.out.append(r)
        ok = kms and b.kms_key and op in ("GetObject", "PutObject") and not r.error
        if ok and self.ctx.rng.random() < 0.15:  # S3 calls KMS for the caller (bucket key on)
            self.out.append(g.kms_via_s3(self.ctx, r))
        return r

    def get(self, t: int, o: Origin, p: Prefix, key: str, agent: Agent | None = None,
            error: str = "") -> Req:  # fmt: skip
        size = 0 if error else g.obj_size(self.ctx, p)
        return self.s3(t, o, "GetObject", p.bucket, key, agent, size=size, error=error)

    def ls(self, t: int, o: Origin, b: Bucket, prefix: str, agent: Agent | None = None,
           error: str = "", v1: bool = False) -> Req:  # fmt: skip
        q = {"list-type": "2", "prefix": prefix, "delimiter": "/", "encoding-type": "url"}
        if v1:
            q = {"prefix": prefix, "delimiter": "/", "max-keys": "1000"}
        size = 0 if error else 400 + 380 * self.ctx.rng.randrange(1, 60)
        return self.s3(t, o, "ListObjects", b, "", agent, extra=q, size=size, error=error)

    def cfg(self, t: int, o: Origin, op: str, b: Bucket, agent: Agent | None = None,
            body: dict[str, Any] | None = None, error: str = "") -> Req:  # fmt: skip
        r = sw.bucket_req(self.ctx, self.a, t, o, op, b, agent, body, error)
        self.out.append(r)
        return r

    def api(self, t: int, o: Origin, source: str, name: str, agent: Agent,
            params: dict[str, Any] | None = None, **kw: Any) -> Req:  # fmt: skip
        kw.setdefault("read_only", name.startswith(("Get", "List", "Describe", "Lookup")))
        r = sw.api_req(self.ctx, self.a, t, o, source, name, agent, params, **kw)
        self.out.append(r)
        return r

    def control(self, t: int, o: Origin, name: str, agent: Agent, params: dict[str, Any],
                resp: dict[str, Any] | None = None) -> Req:  # fmt: skip
        """An S3 Control call (account-level settings, access points): no bucket, no log."""
        acct = o[0].account
        host = f"{acct}.s3-control.{E1}.amazonaws.com"
        return self.api(
            t,
            o,
            "s3",
            name,
            agent,
            {**params, "x-amz-account-id": acct, "Host": host},
            resp=resp,
            host=host,
        )

    def spread(self, t0: int, t1: int, n: int) -> list[int]:
        """``n`` sorted times in [t0, t1)."""
        return sorted(t0 + self.ctx.rng.randrange(max(1, t1 - t0)) for _ in range(n))


def history(ctx: Ctx, env: Env, p: Prefix, days: int, per_day: int) -> list[str]:
    """Keys that a prefix holds from the ``days`` days before the world starts."""
    keys: list[str] = []
    for d in range(1, days + 1):
        t = env.start - d * DAY + 7200
        keys += dict.fromkeys(g.new_key(ctx, p, t + 60 * i) for i in range(per_day))
    return keys


TOP_DIRS = ("", "raw/", "raw/orders/", "curated/", "curated/sessions/", "exports/",
            "exports/partner/")  # fmt: skip


def partitions(p: Prefix, keys: Sequence[str]) -> list[str]:
    """The distinct 'directories' of ``keys``."""
    return list(dict.fromkeys(k.rsplit("/", 1)[0] + "/" for k in keys))


def version_id(ctx: Ctx) -> str:
    return ctx.alnum(32, g.MIXED + "._")


# ------------------------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class Spec:
    id: str
    capabilities: tuple[str, ...]
    base: str  # the established actor whose identity is used ("" = its own identity)
    description: str
    plan: Callable[[Ctx, Actor, Env], list[Req]]
    principal: str = ""


REGISTRY: list[Spec] = []


PlanFn = Callable[[Ctx, Actor, Env], list[Req]]


def attack(id: str, caps: str, base: str, description: str,
           principal: str = "") -> Callable[[PlanFn], PlanFn]:  # fmt: skip
    def register(fn: PlanFn) -> PlanFn:
        REGISTRY.append(Spec(id, tuple(caps.split()), base, description, fn, principal))
        return fn

    return register


def add_attacks(env: Env) -> None:
    """One scripted actor per registered attack, with its labels.json entry."""
    for spec in REGISTRY:
        plan = (lambda fn: lambda c, a: fn(c, a, env))(spec.plan)
        if spec.base:
            base = env.actors[spec.base]
            a = sw.shared(base, f"attack {spec.id}", spec.id, plan)
            principal = spec.principal or sw.issuer(base, Item(0, "GetObject"), env.start)
        else:
            a = sw.script(f"attack {spec.id}", spec.id, lambda *_: (g.ANON, "", None), g.BOTO, plan)
            principal = spec.principal
        env.world.actors.append(a)
        env.actors[a.name] = a
        desc = spec.description.format(**{s: sw.day_label(env, s) for s in env.slots})
        window = silence(env) if spec.id == "s04-access-logging-off" else None
        env.scenarios.append(Scenario(spec.id, "attack", spec.capabilities, desc, principal,
                                      window))  # fmt: skip
    t_from, t_to = silence(env)
    env.world.mutes.append(("acme-analytics-curated", t_from + 1, t_to))


# ------------------------------------------------------------------------ log tampering


@attack(
    "s01-cloudtrail-stop",
    "C01",
    "bob.ops (IAM user)",
    "{mon} 10:12: bob.ops's access key "
    "(his usual office IP and AWS CLI, in working hours) describes the trails, then "
    "UpdateTrail (single-region, no global events), StopLogging and DeleteTrail on the prod "
    "account's own trails. The organization trail that these logs come from keeps logging.",
)
def s01(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "10:12", 5)
    o = B.who("bob.ops (IAM user)", t)
    B.api(
        t,
        o,
        "cloudtrail",
        "DescribeTrails",
        g.cli("cloudtrail.describe-trails"),
        {"trailNameList": [], "includeShadowTrails": True},
    )
    B.api(
        t + 26,
        o,
        "cloudtrail",
        "GetTrailStatus",
        g.cli("cloudtrail.get-trail-status"),
        {"name": PROD_TRAIL_ARN},
    )
    trail = {"name": PROD_TRAIL, "s3BucketName": "acme-prod-trail-logs",
             "includeGlobalServiceEvents": False, "isMultiRegionTrail": False,
             "trailARN": PROD_TRAIL_ARN, "logFileValidationEnabled": True,
             "isOrganizationTrail": False}  # fmt: skip
    B.api(
        t + 57,
        o,
        "cloudtrail",
        "UpdateTrail",
        g.cli("cloudtrail.update-trail"),
        {"name": PROD_TRAIL, "isMultiRegionTrail": False, "includeGlobalServiceEvents": False},
        resp=trail,
    )
    B.api(
        t + 95,
        o,
        "cloudtrail",
        "StopLogging",
        g.cli("cloudtrail.stop-logging"),
        {"name": PROD_TRAIL_ARN},
    )
    B.api(
        t + 137,
        o,
        "cloudtrail",
        "DeleteTrail",
        g.cli("cloudtrail.delete-trail"),
        {"name": "acme-prod-datalake-events"},
    )
    return B.out


@attack(
    "s02-event-selectors",
    "C02",
    "carol@acme.example (SSO)",
    "{tue} 09:40: carol's "
    "administrator session (her office IP, the console) blinds the prod account trail: "
    "PutEventSelectors with includeManagementEvents false and an empty S3 data-event "
    "selector, then PutAdvancedEventSelectors narrowing S3 data events to website writes.",
)
def s02(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "09:40", 12)
    o, ag = B.who("carol@acme.example (SSO)", t, account=PROD), g.INTERNAL
    B.api(t, o, "cloudtrail", "GetEventSelectors", ag, {"trailName": PROD_TRAIL})
    basic = [{"readWriteType": "WriteOnly", "includeManagementEvents": False,
              "dataResources": [{"type": "AWS::S3::Object", "values": []}],
              "excludeManagementEventSources": []}]  # fmt: skip
    B.api(
        t + 41,
        o,
        "cloudtrail",
        "PutEventSelectors",
        ag,
        {"trailName": PROD_TRAIL, "eventSelectors": basic},
        resp={"trailARN": PROD_TRAIL_ARN, "eventSelectors": basic},
    )
    adv = [
        {
            "name": "Website writes only",
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                {"field": "readOnly", "equals": ["false"]},
                {"field": "resources.ARN", "startsWith": [f"arn:aws:s3:::{sw.WEBSITE}/"]},
            ],
        }
    ]
    B.api(
        t + 118,
        o,
        "cloudtrail",
        "PutAdvancedEventSelectors",
        ag,
        {"trailName": PROD_TRAIL, "advancedEventSelectors": adv},
        resp={"trailARN": PROD_TRAIL_ARN, "advancedEventSelectors": adv},
    )
    return B.out


LOG_ADMIN = f"arn:aws:iam::{SECURITY}:user/log-archive-admin"


@attack(
    "s03-log-bucket-sabotage",
    "C03",
    "",
    "{sat} 21:30: a forgotten IAM user of the "
    "security account (leaked key, used from a VPS) puts a 1-day expiration lifecycle rule "
    "on the CloudTrail log bucket and a bucket policy that denies everyone else reading it.",
    LOG_ADMIN,
)
def s03(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sat", "21:30", 8)
    ident = g.user_ident(SECURITY, "log-archive-admin", "AIDA" + ctx.alnum(17),
                         "AKIA" + ctx.alnum(16))  # fmt: skip
    o: Origin = (ident, "193.32.126.214", None)
    b = env.buckets[TRAIL_BUCKET]
    B.api(t, o, "sts", "GetCallerIdentity", linux_cli("sts.get-caller-identity"))
    B.api(t + 14, o, "s3", "ListBuckets", linux_cli("s3.ls"), {"Host": "s3.amazonaws.com"})
    B.cfg(t + 40, o, "GetBucketLifecycle", b, linux_cli("s3api.get-bucket-lifecycle-configuration"))
    body = sw.lifecycle_body(b, "", 1, "cost-cleanup")
    body["LifecycleConfiguration"]["Rule"]["NoncurrentVersionExpiration"] = {"NoncurrentDays": 1}
    B.cfg(
        t + 71,
        o,
        "PutBucketLifecycle",
        b,
        linux_cli("s3api.put-bucket-lifecycle-configuration"),
        body,
    )
    B.cfg(t + 96, o, "GetBucketPolicy", b, linux_cli("s3api.get-bucket-policy"))
    arn = f"arn:aws:s3:::{b.name}"
    deny = {"Sid": "RestrictReaders", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutBucketPolicy",
                       "s3:PutLifecycleConfiguration"],
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": LOG_ADMIN}}}  # fmt: skip
    B.cfg(
        t + 150,
        o,
        "PutBucketPolicy",
        b,
        linux_cli("s3api.put-bucket-policy"),
        sw.policy_body(b, [*sw.cloudtrail_statements(b), deny]),
    )
    return B.out


def silence(env: Env) -> tuple[int, int]:
    """s04: from carol's PutBucketLogging until the CI apply that restores it."""
    return env.at("mon", "16:40", 31), env.at("tue", "15:06")


@attack(
    "s04-access-logging-off",
    "C04 C27",
    "carol@acme.example (SSO)",
    "{mon} 16:40: carol "
    "(S3 console) turns server access logging off on acme-analytics-curated "
    "(PutBucketLogging with an empty BucketLoggingStatus). Its access logs are silent until "
    "the CI role's Terraform apply restores logging the next day at 15:05; CloudTrail data "
    "events for the bucket continue. start/end are the silent window.",
)
def s04(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), silence(env)[0]
    b = env.buckets["acme-analytics-curated"]
    o = B.who("carol@acme.example (SSO)", t - 25, b)
    B.cfg(t - 25, o, "GetBucketLogging", b, g.CONSOLE)
    B.cfg(t, o, "PutBucketLogging", b, g.CONSOLE, sw.logging_body(b, on=False))
    return B.out


# -------------------------------------------------------------------- exposure, sharing


@attack(
    "s05-recovery-controls-off",
    "C05 C29",
    "backup-agent",
    "{tue} 05:10: the backup-agent "
    "instance role (from its instance, through its VPC endpoint) suspends versioning and "
    "deletes the default encryption, the replication and the lifecycle configuration of "
    "acme-backups-eu, operations it has never made.",
)
def s05(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "05:10", 3)
    b = env.buckets["acme-backups-eu"]
    o = B.who("backup-agent", t, b)
    B.cfg(t, o, "GetBucketVersioning", b)
    B.cfg(t + 2, o, "PutBucketVersioning", b, body=sw.versioning_body("Suspended"))
    B.cfg(t + 5, o, "GetBucketEncryption", b)
    B.cfg(t + 7, o, "DeleteBucketEncryption", b)
    B.cfg(t + 9, o, "DeleteBucketReplication", b)
    B.cfg(t + 12, o, "DeleteBucketLifecycle", b)
    return B.out


@attack(
    "s06-public-exposure",
    "C06 C08",
    "dave@acme.example (SSO)",
    "{mon} 14:20: dave's "
    "developer session (usual IP) makes acme-app-uploads public: deletes its Block Public "
    "Access, turns account-level Block Public Access off (s3-control), enables ACLs, puts a "
    "policy with Principal * and no condition, grants AllUsers READ on the bucket ACL and "
    "public-read on three objects. dave has never changed permissions.",
)
def s06(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "14:20", 9)
    b = env.buckets["acme-app-uploads"]
    o, con = B.who("dave@acme.example (SSO)", t, b), g.CONSOLE
    B.cfg(t, o, "GetBucketPublicAccessBlock", b, con)
    B.cfg(t + 22, o, "DeleteBucketPublicAccessBlock", b, con)
    off = {"xmlns": S3CONTROL_NS, "BlockPublicAcls": False, "IgnorePublicAcls": False,
           "BlockPublicPolicy": False, "RestrictPublicBuckets": False}  # fmt: skip
    B.control(
        t + 47, o, "PutAccountPublicAccessBlock", con, {"PublicAccessBlockConfiguration": off}
    )
    B.cfg(
        t + 80,
        o,
        "PutBucketOwnershipControls",
        b,
        con,
        {
            "ownershipControls": "",
            "OwnershipControls": {"xmlns": XMLNS, "Rule": {"ObjectOwnership": "ObjectWriter"}},
        },
    )
    public = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": f"arn:aws:s3:::{b.name}/*"}  # fmt: skip
    B.cfg(t + 131, o, "PutBucketPolicy", b, con, sw.policy_body(b, [public]))
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    grants = [{"Grantee": {"xmlns:xsi": xsi, "xsi:type": "CanonicalUser", "ID": b.owner_id},
               "Permission": "FULL_CONTROL"},
              {"Grantee": {"xmlns:xsi": xsi, "xsi:type": "Group",
                           "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
               "Permission": "READ"}]  # fmt: skip
    acl = {"xmlns": XMLNS, "Owner": {"ID": b.owner_id}, "AccessControlList": {"Grant": grants}}
    B.cfg(
        t + 190,
        o,
        "PutBucketAcl",
        b,
        g.cli("s3api.put-bucket-acl"),
        {"acl": "", "AccessControlPolicy": acl},
    )
    for i, key in enumerate(ctx.rng.sample(env.prefixes["uploads"].pool, 3)):
        B.s3(
            t + 230 + 9 * i,
            o,
            "PutObjectAcl",
            b,
            key,
            g.cli("s3api.put-object-acl"),
            params={"x-amz-acl": ["public-read"]},
        )
    return B.out


@attack(
    "s07-cross-account-share",
    "C07 C08 C29",
    "media-worker",
    "{tue} 11:30: the "
    "media-worker instance role shares acme-app-uploads with a foreign account: a bucket "
    "policy granting 866304912550 read and delegating access to that account's access "
    "points, replication to that account's bucket, and an access point whose policy grants "
    "that account (s3-control CreateAccessPoint, PutAccessPointPolicy).",
)
def s07(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "11:30", 4)
    b = env.buckets["acme-app-uploads"]
    o = B.who("media-worker", t, b)
    arn, foreign_root = f"arn:aws:s3:::{b.name}", f"arn:aws:iam::{FOREIGN}:root"
    B.cfg(t, o, "GetBucketPolicy", b)
    statements = [
        sw.deny_insecure(b),
        {"Sid": "ArchiveSync", "Effect": "Allow", "Principal": {"AWS": foreign_root},
         "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [arn, f"{arn}/*"]},
        {"Sid": "DelegateToAccessPoints", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": "*", "Resource": [arn, f"{arn}/*"],
         "Condition": {"StringEquals": {"s3:DataAccessPointAccount": FOREIGN}}},
    ]  # fmt: skip
    B.cfg(t + 6, o, "PutBucketPolicy", b, body=sw.policy_body(b, statements))
    B.cfg(t + 15, o, "GetBucketVersioning", b)
    rule = {"ID": "sync", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{sw.EXFIL_BUCKET}", "Account": FOREIGN,
                            "AccessControlTranslation": {"Owner": "Destination"}}}  # fmt: skip
    B.cfg(
        t + 21,
        o,
        "PutBucketReplication",
        b,
        body={
            "replication": "",
            "ReplicationConfiguration": {
                "xmlns": XMLNS,
                "Role": f"arn:aws:iam::{PROD}:role/media-worker",
                "Rule": rule,
            },
        },
    )
    ap = f"arn:aws:s3:{E1}:{PROD}:accesspoint/uploads-sync"
    B.control(
        t + 40,
        o,
        "CreateAccessPoint",
        a.agent,
        {
            "name": "uploads-sync",
            "CreateAccessPointRequest": {
                "xmlns": S3CONTROL_NS,
                "Bucket": b.name,
                "BucketAccountId": PROD,
            },
        },
        {"accessPointArn": ap, "alias": f"uploads-sync-{ctx.alnum(26).lower()}-s3alias"},
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": foreign_root},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [ap, f"{ap}/object/*"],
            }
        ],
    }
    B.control(
        t + 52,
        o,
        "PutAccessPointPolicy",
        a.agent,
        {
            "name": "uploads-sync",
            "PutAccessPointPolicyRequest": {
                "xmlns": S3CONTROL_NS,
                "Policy": sw.dumps_policy(policy),
            },
        },
    )
    return B.out


@attack(
    "s08-unusual-policy-change",
    "C08 C29",
    "bob.ops (IAM user)",
    "{tue} 13:20: bob.ops, "
    "who reads bucket policies but has never written one, replaces the policy of "
    "acme-backups-eu with one granting our analytics account's etl-nightly role read on "
    "db/orders/ (our own account, not public: only who made the change is unusual).",
)
def s08(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "13:20", 41)
    b = env.buckets["acme-backups-eu"]
    o = B.who("bob.ops (IAM user)", t, b)
    B.cfg(t, o, "GetBucketPolicy", b, g.cli("s3api.get-bucket-policy"))
    grant = {
        "Sid": "AnalyticsRestoreTest",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ANALYTICS}:role/etl-nightly"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b.name}/db/orders/*",
    }
    B.cfg(
        t + 174,
        o,
        "PutBucketPolicy",
        b,
        g.cli("s3api.put-bucket-policy"),
        sw.policy_body(b, [sw.deny_insecure(b), grant]),
    )
    return B.out


# --------------------------------------------------------------------------- data access


@attack(
    "s09-read-spike",
    "C09",
    "report-service",
    "{tue} 18:00-18:30: one report-service "
    "instance downloads its usual feature-store objects 2,600 times in 30 minutes (about "
    "40x its usual GetObject count and bytes for that half hour): same bucket, keys, "
    "network path and SDK.",
)
def s09(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "18:00")
    p = env.prefixes["features"]
    o = B.who("report-service", t, p.bucket)
    for tt in B.spread(t, t + 1800, 2600):
        B.get(tt, o, p, ctx.rng.choice(p.pool))
    return B.out


@attack(
    "s10-list-get-sweep",
    "C10 C09",
    "partner-sync (vendor)",
    "{mon} 04:00-04:40: the "
    "vendor's role (its usual IPs and SDK) crawls acme-data-prod: lists every prefix and "
    "date partition of raw/, curated/ and exports/, then downloads every partner export of "
    "the last 30 days (it usually reads the latest few).",
)
def s10(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "04:00", 12)
    px, b = env.prefixes, env.buckets["acme-data-prod"]
    o = B.who("partner-sync (vendor)", t, b)
    raw, cur = history(ctx, env, px["raw"], 30, 2), history(ctx, env, px["curated"], 30, 2)
    exports = history(ctx, env, px["partner"], 30, 8)
    dirs = [*TOP_DIRS, *partitions(px["raw"], raw), *partitions(px["curated"], cur),
            *partitions(px["partner"], exports)]  # fmt: skip
    times = B.spread(t, t + 600, len(dirs))
    for tt, d in zip(times, dirs, strict=True):
        B.ls(tt, o, b, d, v1=True)
    for tt, key in zip(B.spread(t + 610, t + 2400, len(exports)), exports, strict=True):
        B.get(tt, o, px["partner"], key)
    return B.out


@attack(
    "s11-new-bucket-pair",
    "C11",
    "etl-nightly",
    "{mon} 01:30-02:30: etl-nightly, in its "
    "usual nightly window and volume, lists and reads about 330 user uploads from "
    "acme-app-uploads, a bucket it has never touched.",
)
def s11(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "01:30")
    p = env.prefixes["uploads"]
    keys = p.pool + [g.new_key(ctx, p, env.start - ctx.rng.randrange(DAY, 30 * DAY))
                     for _ in range(200)]  # fmt: skip
    for i, tt in enumerate(B.spread(t, t + 3600, 12)):
        B.ls(tt, B.who("etl-nightly", tt, p.bucket), p.bucket, "uploads/" if i else "")
    for tt, key in zip(B.spread(t + 60, t + 3600, len(keys)), keys, strict=True):
        B.get(tt, B.who("etl-nightly", tt, p.bucket), p, key)
    return B.out


# ------------------------------------------------------------------------- network origin


@attack(
    "s12-app-role-public-ip",
    "C12",
    "checkout-svc (ECS)",
    "{mon} 12:00-12:25: the "
    "checkout-svc task role's credentials are used from a residential IP (102.89.34.77) "
    "instead of the service's NAT addresses; same SDK, same prefixes.",
)
def s12(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "12:00", 40)
    px = env.prefixes
    ident, _, _ = B.who("checkout-svc (ECS)", t, px["receipts"].bucket)
    o: Origin = (ident, "102.89.34.77", None)
    for tt in B.spread(t, t + 1500, 3):
        B.ls(tt, o, px["receipts"].bucket, "receipts/")
    for tt in B.spread(t + 30, t + 1500, 25):
        p = px["receipts"] if ctx.rng.random() < 0.6 else px["uploads"]
        B.get(tt, o, p, ctx.rng.choice(p.pool))
    return B.out


@attack(
    "s13-offensive-agent",
    "C13",
    "dave@acme.example (SSO)",
    "{mon} 20:05: dave's session "
    "(usual IP, usual hours) is driven from Kali Linux's AWS CLI (md/distrib#kali.2024), then "
    "rclone copies a dozen uploads: new, offensive and bulk-transfer agent families.",
)
def s13(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "20:05", 2)
    px = env.prefixes
    b = px["uploads"].bucket
    o = B.who("dave@acme.example (SSO)", t, b)
    B.api(t, o, "sts", "GetCallerIdentity", kali_cli("sts.get-caller-identity"))
    B.api(t + 9, o, "s3", "ListBuckets", kali_cli("s3.ls"), {"Host": "s3.amazonaws.com"})
    B.ls(t + 21, o, b, "", kali_cli("s3.ls"))
    B.ls(t + 30, o, b, "uploads/", kali_cli("s3.ls"))
    B.ls(t + 44, o, px["raw"].bucket, "raw/orders/", kali_cli("s3.ls"))
    B.ls(t + 300, o, b, "uploads/", RCLONE)
    for i, key in enumerate(ctx.rng.sample(px["uploads"].pool, 12)):
        B.get(t + 305 + 2 * i, o, px["uploads"], key, RCLONE)
    return B.out


@attack(
    "s14-foreign-vpc-endpoint",
    "C14 C12",
    "invoice-renderer (Lambda)",
    "{tue} 07:00-07:40: "
    "the invoice-renderer Lambda role always arrives through its VPC endpoint. Its code "
    "tries to PUT into a foreign bucket and is stopped by the endpoint policy (network-"
    "activity events, VpceAccessDenied); then its credentials are used from the attacker's "
    "own VPC through the attacker's endpoint (vpcEndpointAccountId 866304912550) and from a "
    "public IP without any endpoint.",
)
def s14(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "07:02", 5)
    px = env.prefixes
    b = px["invoices"].bucket
    ident, ip, vpce = B.who("invoice-renderer (Lambda)", t, b)
    assert ident.ct is not None and vpce is not None
    for i in range(3):  # CloudTrail network-activity events of the endpoint owner (us)
        tt, rid = t + 4 * i, ctx.hexu(16)
        raw = {"eventVersion": "1.11", "userIdentity": ident.ct, "eventTime": g.iso(tt),
               "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "awsRegion": E1,
               "sourceIPAddress": ip, "errorCode": "VpceAccessDenied",
               "errorMessage": "The request was denied due to a VPC endpoint policy",
               "requestID": rid, "eventID": "", "eventType": "AwsVpceEvent",
               "recipientAccountId": PROD, "sharedEventID": ctx.uuid(),
               "vpcEndpointId": vpce[0], "vpcEndpointAccountId": vpce[1],
               "eventCategory": "NetworkActivity"}  # fmt: skip
        B.out.append(Req(tt, ident, "PutObject", a.agent, ip, E1, PROD, raw=raw, rid=rid))
    theirs: Origin = (ident, "172.31.44.19", ATTACKER_VPCE)
    t2 = env.at("tue", "07:10")
    B.ls(t2, theirs, b, "invoices/", g.BOTO)
    B.ls(t2 + 7, theirs, b, "templates/", g.BOTO)
    for tt in B.spread(t2 + 20, t2 + 900, 24):
        p = px["invoices"] if ctx.rng.random() < 0.8 else px["templates"]
        B.get(tt, theirs, p, ctx.rng.choice(p.pool), g.BOTO)
    public: Origin = (ident, "3.238.19.201", None)
    t3 = env.at("tue", "07:30")
    B.ls(t3, public, b, "invoices/", g.BOTO)
    for tt in B.spread(t3 + 10, t3 + 600, 10):
        B.get(tt, public, px["invoices"], ctx.rng.choice(px["invoices"].pool), g.BOTO)
    return B.out


@attack(
    "s15-instance-creds-stolen",
    "C15 C12 C14 C13",
    "orders-api",
    "{sat} 02:10-02:45: an "
    "orders-api instance's role session (session name i-...) is used from a VPS "
    "(5.181.80.122) without the VPC endpoint, with the AWS CLI: GetCallerIdentity, "
    "ListBuckets, listings and about 40 downloads.",
)
def s15(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sat", "02:10", 33)
    px = env.prefixes
    ident, _, _ = B.who("orders-api", t, px["raw"].bucket)
    o: Origin = (ident, "5.181.80.122", None)
    B.api(t, o, "sts", "GetCallerIdentity", linux_cli("sts.get-caller-identity"))
    B.api(t + 31, o, "s3", "ListBuckets", linux_cli("s3.ls"), {"Host": "s3.amazonaws.com"})
    for i, (p, d) in enumerate(((px["raw"], "raw/orders/"), (px["uploads"], "uploads/"),
                                (px["partner"], "exports/partner/"))):  # fmt: skip
        B.ls(t + 60 + 20 * i, o, p.bucket, d, linux_cli("s3.ls"))
    for tt in B.spread(t + 150, t + 2100, 40):
        p = px["raw"] if ctx.rng.random() < 0.5 else px["uploads"]
        B.get(tt, o, p, ctx.rng.choice(p.pool), linux_cli("s3.cp"))
    return B.out


@attack(
    "s16-threat-intel-ip",
    "C16 C12",
    "partner-sync (vendor)",
    "{sun} 09:00-10:30: a Tor "
    "exit (185.220.101.47, in threat_intel_ips.txt as a /24) probes the website bucket "
    "anonymously for secrets (.env, .git/config, backups), and the vendor's role is used "
    "from 91.92.251.103 (listed) to list and read partner exports.",
)
def s16(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sun", "09:00", 50)
    px = env.prefixes
    www = env.buckets[sw.WEBSITE]
    anon: Origin = (g.ANON, "185.220.101.47", None)
    probes = (
        ".env",
        ".git/config",
        "wp-login.php",
        "backup.zip",
        "config.json",
        ".aws/credentials",
        "db.sql",
        "server-status",
        ".DS_Store",
        "admin/.htpasswd",
    )
    B.ls(t, anon, www, "", ZGRAB, error="AccessDenied")
    for i, key in enumerate(probes):
        B.s3(t + 3 + 2 * i, anon, "GetObject", www, key, ZGRAB, error="NoSuchKey")
    t2 = env.at("sun", "10:05", 17)
    ident, _, _ = B.who("partner-sync (vendor)", t2, px["partner"].bucket)
    o: Origin = (ident, "91.92.251.103", None)
    B.ls(t2, o, px["partner"].bucket, "exports/partner/", v1=True)
    for i, key in enumerate(ctx.rng.sample(px["partner"].pool, 6)):
        B.get(t2 + 20 + 35 * i, o, px["partner"], key)
    return B.out


# ------------------------------------------------------------------------- reconnaissance


@attack(
    "s17-bucket-enumeration",
    "C17",
    "alice@acme.example (new office)",
    "{tue} 14:30: "
    "alice's sessions (her office IP, the AWS CLI) list the buckets of all three accounts "
    "and read the location, policy, ACL and versioning of every bucket within about two "
    "minutes; she normally reads these for two buckets through the console.",
)
def s17(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "14:30", 6)
    me = "alice@acme.example (new office)"
    for acct in (PROD, ANALYTICS, SECURITY):
        B.api(
            t,
            B.who(me, t, account=acct),
            "s3",
            "ListBuckets",
            g.cli("s3api.list-buckets"),
            {"Host": "s3.amazonaws.com"},
            account=acct,
        )
        t += 3
    for b in env.buckets.values():
        for op in ("GetBucketLocation", "GetBucketPolicy", "GetBucketAcl", "GetBucketVersioning"):
            t += ctx.rng.randrange(1, 3)
            cmd = "s3api." + "-".join(w.lower() for w in _words(op))
            B.cfg(t, B.who(me, t, b), op, b, g.cli(cmd))
    return B.out


def _words(op: str) -> list[str]:
    out, cur = [], ""
    for ch in op:
        if ch.isupper() and cur:
            out.append(cur)
            cur = ""
        cur += ch
    return [*out, cur]


@attack(
    "s18-access-denied-storm",
    "C18",
    "report-service",
    "{sun} 14:00-14:25: a "
    "report-service instance probes buckets it has no access to: about 200 GetObject, "
    "ListObjects and PutObject calls on five buckets in two other accounts, nearly all "
    "AccessDenied (403).",
)
def s18(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sun", "14:00", 19)
    px = env.prefixes
    o = B.who("report-service", t, px["features"].bucket)
    targets = [
        (px["raw"], 40),
        (px["curated"], 25),
        (px["partner"], 15),
        (px["uploads"], 50),
        (px["backups"], 0),
        (px["trail"], 20),
        (px["site"], 0),
    ]
    times = iter(B.spread(t, t + 1500, 250))
    for p, n in targets:
        if p.bucket.region != E1:
            continue
        for prefix in ("", p.path.split("/", 1)[0] + "/"):
            B.ls(next(times), o, p.bucket, prefix, error="AccessDenied")
        for key in (ctx.rng.choice(p.pool) for _ in range(n)):
            B.get(next(times), o, p, key, error="AccessDenied")
    www = env.buckets[sw.WEBSITE]
    for key in ("index.html", "assets/app.js", "robots.txt"):
        B.s3(next(times), o, "PutObject", www, key, error="AccessDenied")
    return B.out


@attack(
    "s19-anonymous-access",
    "C19",
    "",
    "{mon} 17:00-21:00 (after s06 made it public): "
    "anonymous clients (curl, python-requests) from three hosting-provider IPs list and "
    "download about 60 objects of acme-app-uploads, a bucket not meant to be public, and "
    "probe acme-data-prod (403). CloudTrail logs the successful anonymous data events "
    "(userIdentity type AWSAccount, accountId anonymous); the access logs show "
    "requester '-'.",
    "anonymous",
)
def s19(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "17:00")
    px = env.prefixes
    ips = ("159.203.72.11", "167.99.14.203", "45.83.65.22")
    up = px["uploads"]
    for i, tt in enumerate(B.spread(t, t + 4 * 3600, 4)):
        B.ls(tt, (ANON_CT, ips[i % 3], None), up.bucket, "uploads/" if i else "", CURL)
    for tt in B.spread(t + 300, t + 4 * 3600, 60):
        ip = ctx.rng.choice(ips)
        B.get(tt, (ANON_CT, ip, None), up, ctx.rng.choice(up.pool), CURL if ip[0] == "1" else PYREQ)
    raw = px["raw"]
    for i, tt in enumerate(B.spread(t + 600, t + 3 * 3600, 11)):
        o: Origin = (g.ANON, ctx.rng.choice(ips), None)  # denied: not in CloudTrail
        if i < 3:
            B.ls(tt, o, raw.bucket, "" if i == 0 else "raw/", PYREQ, error="AccessDenied")
        else:
            B.get(tt, o, raw, ctx.rng.choice(raw.pool), PYREQ, error="AccessDenied")
    return B.out


# --------------------------------------------------------------------------- destruction


def copy_out(B: Build, t: int, o: Origin, p: Prefix, k: str, dst: Bucket) -> Req:
    """A server-side CopyObject of ``k`` into ``dst`` (a foreign account's bucket) as
    ``acme/<k>``: our trail records it, our source bucket logs the read of the same request."""
    b = p.bucket
    r = B.s3(
        t,
        o,
        "CopyObject",
        dst,
        f"acme/{k}",
        extra=k,
        params={"x-amz-copy-source": f"{b.name}/{k}"},
        resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b.name}/{k}"}],
    )
    r.account = o[0].account  # delivered to the caller's account; the bucket is theirs
    src = g.s3(
        B.ctx,
        B.a,
        t,
        o,
        Item(0, "CopySourceGet"),
        "CopySourceGet",
        b,
        key=k,
        size=g.obj_size(B.ctx, p),
        extra=f"{dst.name}/acme/{k}",
    )
    src.rid = r.rid  # the source bucket logs the same request
    B.out.append(src)
    return r


@attack(
    "s20-exfil-encrypt-destroy",
    "C09 C10 C20 C21 C22 C23 C24 C25",
    "orders-api",
    "{tue} 01:00-04:20: ransomware run from an orders-api instance (its role, private IP, "
    "VPC endpoint and SDK) against acme-data-prod: lists every partition (01:00), downloads "
    "~860 objects (~50x its hourly GetObject count, 01:20), copies curated/ and exports/ "
    "server-side into dl-archive-7731 of account 866304912550 and uploads raw files there "
    "(02:25), lists object versions and re-encrypts raw/ in place with SSE-C and some "
    "curated/ objects with that account's KMS key (02:55), permanently deletes the old "
    "versions and batch-deletes curated/ and exports/ (03:40), then writes "
    f"{RANSOM_NOTE} into each prefix (04:15).",
)
def s20(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "01:00", 7)
    px, b, dst = env.prefixes, env.buckets["acme-data-prod"], env.foreign
    o = B.who("orders-api", t, b)
    raw = history(ctx, env, px["raw"], 36, 12) + px["raw"].pool
    cur = history(ctx, env, px["curated"], 20, 8) + px["curated"].pool
    exp = history(ctx, env, px["partner"], 20, 6) + px["partner"].pool
    keys = [(px["raw"], k) for k in raw] + [(px["curated"], k) for k in cur] \
        + [(px["partner"], k) for k in exp]  # fmt: skip
    dirs = [*TOP_DIRS, *partitions(px["raw"], raw), *partitions(px["curated"], cur),
            *partitions(px["partner"], exp)]  # fmt: skip
    for tt, d in zip(B.spread(t, t + 1100, len(dirs)), dirs, strict=True):  # 1. discover
        B.ls(tt, o, b, d)
    t = env.at("tue", "01:20")  # 2. download everything
    for tt, (p, k) in zip(B.spread(t, t + 3600, len(keys)), keys, strict=True):
        B.get(tt, o, p, k)
    t = env.at("tue", "02:25")  # 3. out to the foreign bucket: server-side copies, uploads
    out = [(px["curated"], k) for k in cur] + [(px["partner"], k) for k in exp]
    for tt, (p, k) in zip(B.spread(t, t + 1500, len(out)), out, strict=True):
        copy_out(B, tt, o, p, k, dst)
    for tt, k in zip(B.spread(t + 60, t + 1500, 60), ctx.rng.sample(raw, 60), strict=True):
        r = B.s3(tt, o, "PutObject", dst, f"acme/{k}", size=g.obj_size(ctx, px["raw"]))
        r.account = o[0].account
    t = env.at("tue", "02:55")  # 4. re-encrypt what stays: SSE-C, and a key of theirs
    for i, d in enumerate(("raw/", "curated/", "exports/")):
        q = {"versions": "", "prefix": d, "encoding-type": "url"}
        B.s3(
            t + 7 * i,
            o,
            "ListObjectVersions",
            b,
            extra=q,
            size=400 + 380 * ctx.rng.randrange(20, 60),
        )
    key_md5 = base64.b64encode(hashlib.md5(b"attacker-sse-c-key").digest()).decode()
    ssec = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key-MD5": key_md5}  # fmt: skip
    theirs = {"x-amz-server-side-encryption": "aws:kms",
              "x-amz-server-side-encryption-aws-kms-key-id": FOREIGN_KMS}  # fmt: skip
    kms_res = [{"accountId": FOREIGN, "type": "AWS::KMS::Key", "ARN": FOREIGN_KMS}]
    rekey = [(k, ssec, "SSE_C") for k in raw] + [(k, theirs, "SSE_KMS") for k in cur[:30]]
    versions: list[tuple[str, str]] = []
    for tt, (k, hdr, sse) in zip(B.spread(t + 30, t + 2700, len(rekey)), rekey, strict=True):
        res = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b.name}/{k}"}]
        B.s3(
            tt,
            o,
            "CopyObject",
            b,
            k,
            extra=k,
            params=dict(hdr),
            resp=dict(hdr),
            sse=sse,
            size=g.obj_size(ctx, px["raw"]),
            resources=res + (kms_res if sse == "SSE_KMS" else []),
        )
        if sse == "SSE_C":
            versions.append((k, version_id(ctx)))
    t = env.at("tue", "03:40")  # 5. destroy: old versions for good, then batches
    for tt, (k, v) in zip(B.spread(t, t + 1500, len(versions)), versions, strict=True):
        B.s3(
            tt, o, "DeleteObject", b, k, params={"versionId": v}, extra={"versionId": v}, version=v
        )
    gone = cur + exp
    for i in range(0, len(gone), 100):
        batch = gone[i : i + 100]
        B.s3(t + 1560 + 40 * i // 100, o, "DeleteObjects", b, extra=batch, params={"delete": ""})
    t = env.at("tue", "04:15", 21)  # 6. the note
    for i, d in enumerate(("", "raw/", "curated/", "exports/partner/")):
        B.s3(t + 3 * i, o, "PutObject", b, d + RANSOM_NOTE, size=1337, kms=False)
    return B.out


@attack(
    "s22-overwrite-burst",
    "C22",
    "media-worker",
    "{sun} 16:00-16:30: the media-worker "
    "role overwrites 600 existing user uploads in place with small junk objects (its usual "
    "writes are new thumbnails, about 10 an hour).",
)
def s22(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sun", "16:00")
    p = env.prefixes["uploads"]
    o = B.who("media-worker", t, p.bucket)
    for tt in B.spread(t, t + 1800, 600):
        B.s3(
            tt,
            o,
            "PutObject",
            p.bucket,
            ctx.rng.choice(p.pool),
            size=ctx.rng.randrange(20000, 60000),
        )
    return B.out


# ------------------------------------------------------------------------ sensitive data


@attack(
    "s26-sensitive-keys",
    "C26",
    "alice@acme.example (new office)",
    "{mon} 19:30: alice's "
    "session (usual IP, AWS CLI) lists home/ and deploy/ of the scratch bucket and reads "
    "credential files (.aws/credentials, id_rsa, .env, .pem), then two decoy objects of "
    "acme-data-prod listed in decoys.txt.",
)
def s26(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "19:30", 14)
    me, px = "alice@acme.example (new office)", env.prefixes
    sec, dec = px["secrets"], px["decoys"]
    o = B.who(me, t, sec.bucket)
    B.ls(t, o, sec.bucket, "home/", g.cli("s3.ls"))
    B.ls(t + 12, o, sec.bucket, "deploy/", g.cli("s3.ls"))
    for i, key in enumerate(sec.pool):
        B.get(t + 40 + 17 * i, o, sec, key, g.cli("s3.cp"))
    o2 = B.who(me, t + 200, dec.bucket)
    for i, key in enumerate(dec.pool):
        B.get(t + 200 + 23 * i, o2, dec, key, g.cli("s3.cp"))
    return B.out


# ------------------------------------------------------------------------ rare behaviour


@attack(
    "s28-sunday-3am",
    "C28",
    "bob.ops (IAM user)",
    "{sun} 03:05-03:40: bob.ops, who works "
    "08:00-17:00 UTC on weekdays, does his usual things (EC2 inventory, backup listings and "
    "downloads) from his usual IP and CLI in the middle of the night of a weekend day.",
)
def s28(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("sun", "03:05", 12)
    p = env.prefixes["backups"]
    o = B.who("bob.ops (IAM user)", t, p.bucket)
    B.api(t, o, "sts", "GetCallerIdentity", g.cli("sts.get-caller-identity"))
    B.api(
        t + 40,
        o,
        "ec2",
        "DescribeInstances",
        g.cli("ec2.describe-instances"),
        {"instancesSet": {}, "filterSet": {}},
    )
    B.ls(t + 130, o, p.bucket, "db/orders/", g.cli("s3.ls"))
    B.ls(t + 190, o, p.bucket, "db/", g.cli("s3.ls"))
    for i, key in enumerate(ctx.rng.sample(p.pool, 5)):
        if i < 2:
            B.s3(
                t + 400 + 60 * i,
                o,
                "HeadObject",
                p.bucket,
                key,
                g.cli("s3api.head-object"),
                size=g.obj_size(ctx, p),
            )
        else:
            B.get(t + 600 + 400 * i, o, p, key, g.cli("s3.cp"))
    return B.out


@attack(
    "s29-first-seen-api",
    "C29",
    "report-service",
    "{tue} 12:10: report-service reads the "
    "ACL, policy, versioning and location of its own feature-store bucket: S3 operations it "
    "has never called (same instance, endpoint and SDK).",
)
def s29(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "12:10", 27)
    b = env.prefixes["features"].bucket
    o = B.who("report-service", t, b)
    for i, op in enumerate(("GetBucketAcl", "GetBucketPolicy", "GetBucketVersioning",
                            "GetBucketLocation")):  # fmt: skip
        B.cfg(t + 3 * i, o, op, b)
    return B.out


@attack(
    "s30-website-tamper",
    "C30",
    "dave@acme.example (SSO)",
    "{tue} 21:00: dave's session "
    "(AWS CLI) overwrites the website's JavaScript bundle and index.html and adds a "
    "checkout page: PutObject of .js/.html into acme-www-static by a principal that is not "
    "the deploy role.",
)
def s30(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "21:00", 5)
    www = env.buckets[sw.WEBSITE]
    o = B.who("dave@acme.example (SSO)", t, www)
    for i, (key, size) in enumerate((("assets/app.9b72f4.js", 148213), ("index.html", 9120),
                                     ("checkout/index.html", 15877))):  # fmt: skip
        B.s3(t + 11 * i, o, "PutObject", www, key, g.cli("s3.cp"), size=size)
    return B.out


@attack(
    "s31-presigned-abuse",
    "C31",
    "media-worker",
    "{mon} 08:00-09:00: about 420 presigned "
    "(QueryString-authenticated) GETs signed by media-worker, from three new datacenter IPs "
    "with a headless browser; the app's presigned downloads are normally a few an hour.",
)
def s31(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("mon", "08:00")
    p = env.prefixes["uploads"]
    ips = ("5.188.62.14", "5.188.62.15", "5.188.62.27")
    for tt in B.spread(t, t + 3600, 420):
        ident, _, _ = B.who("media-worker", tt - 30, p.bucket)
        assert ident.ct is not None
        signed = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(tt - ctx.rng.randrange(5, 600)))
        cred = f"{ident.ct['accessKeyId']}/{signed[:8]}/{p.bucket.region}/s3/aws4_request"
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": cred,
             "X-Amz-Date": signed, "X-Amz-Expires": "900", "X-Amz-SignedHeaders": "host",
             "X-Amz-Signature": ctx.hexl(64)}  # fmt: skip
        params = {k: q[k] for k in ("X-Amz-Date", "X-Amz-Algorithm", "X-Amz-SignedHeaders")}
        B.s3(
            tt,
            (ident, ctx.rng.choice(ips), None),
            "GetObject",
            p.bucket,
            ctx.rng.choice(p.pool),
            HEADLESS,
            size=g.obj_size(ctx, p),
            auth="QueryString",
            extra=q,
            params={**params, "X-Amz-Expires": "900"},
        )
    return B.out


# ----------------------------------------------------------------------------- blinding


@attack(
    "s32-detector-blinding",
    "C32",
    "carol@acme.example (SSO)",
    "{tue} 10:05: carol's "
    "administrator session in the security account adds a GuardDuty trusted-IP list, "
    "deactivates the threat-intel set, creates an IAM Access Analyzer archive rule for "
    "findings about account 866304912550, disables Macie, disables the eu-west-1 GuardDuty "
    "detector and deletes the us-east-1 one.",
)
def s32(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    B, t = Build(ctx, a, env), env.at("tue", "10:05", 3)
    o, ag = B.who("carol@acme.example (SSO)", t, account=SECURITY), g.INTERNAL
    det, det_w1 = sw.detector_id(SECURITY), sw.detector_id(SECURITY + W1)
    gd = "guardduty"
    B.api(t, o, gd, "ListDetectors", ag, {"maxResults": 50})
    B.api(t + 8, o, gd, "GetDetector", ag, {"detectorId": det})
    B.api(
        t + 60,
        o,
        gd,
        "CreateIPSet",
        ag,
        {
            "detectorId": det,
            "name": "corp-egress-2",
            "format": "TXT",
            "location": "https://s3.amazonaws.com/acme-security-config/guardduty/trusted-ips.txt",
            "activate": True,
            "clientToken": ctx.uuid(),
        },
        resp={"ipSetId": ctx.hexl(32)},
    )
    B.api(
        t + 112,
        o,
        gd,
        "UpdateThreatIntelSet",
        ag,
        {"detectorId": det, "threatIntelSetId": ctx.hexl(32), "activate": False},
    )
    B.api(
        t + 170,
        o,
        "access-analyzer",
        "CreateArchiveRule",
        ag,
        {
            "analyzerName": "acme-org-analyzer",
            "ruleName": "archive-vendor-sync",
            "filter": {
                "principal.AWS": {"contains": [FOREIGN]},
                "resourceType": {"eq": ["AWS::S3::Bucket"]},
            },
            "clientToken": ctx.uuid(),
        },
    )
    B.api(t + 230, o, "macie2", "DisableMacie", ag)
    B.api(t + 290, o, gd, "UpdateDetector", ag, {"detectorId": det_w1, "enable": False}, region=W1)
    B.api(t + 335, o, gd, "DeleteDetector", ag, {"detectorId": det})
    return B.out


# ------------------------------------------------------------------ the bundled demo day


@dataclass(slots=True)
class DemoEnv(Env):
    """The default one-day estate seen as an ``Env``; ``shift`` moves a reused plan's times
    (written for the scenario world's attack days) into the evening of the bundled day."""

    shift: int = 0

    def at(self, day: str | int, hhmm: str, sec: int = 0) -> int:
        return Env.at(self, day, hhmm, sec) + self.shift


@dataclass(frozen=True, slots=True)
class DemoAttack:
    id: str  # the MANIFEST label; reused plans keep their scenario id
    capabilities: tuple[str, ...]
    base: str  # the default world's actor whose identity is used
    plan: PlanFn
    at: str  # HH:MM on the bundled day where the plan's first request falls
    planned_at: str  # the HH:MM its plan is written for (on a scenario attack day)
    description: str


def demo_exfil_copy(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    """s20's copy-out step alone: a few server-side copies into the attacker's bucket."""
    B, t = Build(ctx, a, env), env.at("tue", "02:25", 11)
    p = env.prefixes["partner"]
    o = B.who("orders-api", t, p.bucket)
    B.ls(t, o, p.bucket, "exports/partner/")
    for i, k in enumerate(ctx.rng.sample(p.pool, 4)):
        copy_out(B, t + 40 + 23 * i, o, p, k, env.foreign)
    return B.out


ALICE, BOB = "alice@acme.example (SSO)", "bob.ops (IAM user)"
DEMO_ATTACKS = (
    DemoAttack(
        "s01-cloudtrail-stop",
        ("C01",),
        BOB,
        s01,
        "20:12",
        "10:12",
        "bob.ops's key, off hours: DescribeTrails, UpdateTrail, StopLogging and "
        "DeleteTrail on the prod account's own trails",
    ),
    DemoAttack(
        "s26-sensitive-keys",
        ("C26",),
        ALICE,
        s26,
        "20:40",
        "19:30",
        "alice's session reads credential files (.aws/credentials, id_rsa, .env, .pem) "
        "in acme-analytics-scratch-eu, then the two decoy objects of acme-data-prod",
    ),
    DemoAttack(
        "s06-public-exposure",
        ("C06", "C08"),
        ALICE,
        s06,
        "21:20",
        "14:20",
        "alice's session makes acme-app-uploads public: Block Public Access off (bucket "
        'and account), ACLs on, bucket policy Principal "*", AllUsers READ, '
        "public-read object ACLs",
    ),
    DemoAttack(
        "s20-copy-to-foreign-bucket",
        ("C25",),
        "orders-api",
        demo_exfil_copy,
        "22:10",
        "02:25",
        "an orders-api instance lists exports/partner/ of acme-data-prod and "
        f"copies four objects server-side into {sw.EXFIL_BUCKET} of account {FOREIGN} "
        "(s20's copy-out step)",
    ),
    DemoAttack(
        "s32-detector-blinding",
        ("C32",),
        ALICE,
        s32,
        "23:05",
        "10:05",
        "alice's session in the security account: GuardDuty CreateIPSet, "
        "UpdateThreatIntelSet (off), an Access Analyzer archive rule, DisableMacie, "
        "UpdateDetector (off) and DeleteDetector",
    ),
)
# the scenario world's personas that the reused plans name, played by default-world actors
DEMO_STAND_INS = {"dave@acme.example (SSO)": ALICE, "carol@acme.example (SSO)": ALICE,
                  "alice@acme.example (new office)": ALICE}  # fmt: skip


def _minutes(hhmm: str) -> int:
    h, m = map(int, hhmm.split(":"))
    return h * 60 + m


DEMO_FROM = "20:00"  # the demo attacks are planned here, so benign traffic before is unchanged


def demo_attacks(
    world: g.World, seed: int, start: int
) -> tuple[dict[str, dict[str, Any]], Callable[[], list[Req]]]:
    """``DEMO_ATTACKS`` in the default one-day world: what MANIFEST.json says of each (counts
    are added later) and a function that plans them all. Call it at ``DEMO_FROM``, when the
    established actors have their sessions of the day: plans draw on their own randomness and
    the attacks are no actors of ``world``, so the run's random stream is untouched until
    then."""
    actors = {a.name: a for a in world.actors}
    for persona, actor in DEMO_STAND_INS.items():
        actors[persona] = actors[actor]
    px = sw.find_prefixes(world)
    px["secrets"] = sw.fixed(px["scratch"].bucket, 3e3, [
        "home/bob/.aws/credentials", "home/bob/.ssh/id_rsa", "deploy/orders-api/.env",
        "certs/wildcard.acme.example.pem"])  # fmt: skip
    px["decoys"] = sw.fixed(world.buckets["acme-data-prod"], 2e5, [  # in sw.DECOYS
        "finance/payroll/2026/payroll-export-full.csv",
        "admin/break-glass/root-account-mfa-recovery.txt"])  # fmt: skip
    foreign = sw.bucket(sw.EXFIL_BUCKET, FOREIGN, E1, True, False, "Default_SSE_S3")
    env = DemoEnv(start, 1, world, Ctx(f"{seed}:demo-world"), px, actors, {}, foreign)
    env.slots = {"sat": 0, "sun": 0, "mon": 0, "tue": 0}
    info = {d.id: {"kind": "attack", "capabilities": list(d.capabilities), "actor": d.base,
                   "description": d.description} for d in DEMO_ATTACKS}  # fmt: skip

    def plan_all() -> list[Req]:
        out: list[Req] = []
        for d in DEMO_ATTACKS:
            base = actors[d.base]
            a = Actor(
                f"attack {d.id}",
                0,
                base.profile,
                base.who,
                base.agent,
                scaled=False,
                label=d.id,
                state=base.state,
            )  # base's sessions: stolen, not new
            env.shift = 60 * (_minutes(d.at) - _minutes(d.planned_at))
            reqs = d.plan(Ctx(f"{seed}:demo:{d.id}"), a, env)
            for r in reqs:
                r.actor = a
            out += reqs
        env.shift = 0
        return sorted(out, key=lambda r: r.t)

    return info, plan_all


CAPABILITIES = tuple(f"C{i:02d}" for i in range(1, 33))
assert set(CAPABILITIES) <= {c for s in REGISTRY for c in s.capabilities}, "uncovered capability"
