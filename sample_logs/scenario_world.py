"""The benign side of the scenario world: the default estate over weeks, more habits, traps.

``build_env`` takes the world of ``generate.build_world`` (whose random draws it leaves alone)
and adds what an evaluation over weeks needs: humans who work on weekdays, a CI role that
changes bucket configuration in deploy windows and deploys the website, AWS Config and IAM
Access Analyzer reading every bucket's settings each day, more application roles (an ECS
task, a Lambda function), the log-archive bucket, and the benign *traps* that look unusual
but must not alert. ``attacks.py`` adds the attacks; ``scenarios.py`` labels and writes.

Times are UTC; day 0 is ``--start`` (a Monday by default).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import generate as g
from generate import (
    ANALYTICS,
    DAY,
    E1,
    FLAT,
    HOUR,
    PROD,
    SECURITY,
    SLICE,
    TRAIL,
    XMLNS,
    Actor,
    Agent,
    Bucket,
    Ctx,
    Item,
    Origin,
    Prefix,
    Req,
    World,
)

FOREIGN = "866304912550"  # an account that is not ours (the attacker's)
ORG_ID = "o-7k2m9x4q1z"
ACCESS_LOG_BUCKET = "acme-s3-access-logs"  # where S3 server access logs are delivered
WEBSITE = "acme-www-static"
EXFIL_BUCKET = "dl-archive-7731"  # the attacker's bucket, in FOREIGN
PROD_TRAIL = "acme-prod-audit"  # a member-account trail (its logs are not in this data set)
PROD_TRAIL_ARN = f"arn:aws:cloudtrail:{E1}:{PROD}:trail/{PROD_TRAIL}"
ORG_TRAIL_ARN = f"arn:aws:cloudtrail:{E1}:{SECURITY}:trail/{TRAIL}"
OURS = (PROD, ANALYTICS, SECURITY)
LIFECYCLE = {"acme-analytics-curated": ("tmp/", 3), "acme-analytics-scratch-eu": ("tmp/", 7)}
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
DECOYS = ("acme-data-prod/finance/payroll/2026/payroll-export-full.csv",
          "acme-data-prod/admin/break-glass/")  # fmt: skip
THREAT_INTEL = (
    "# Tor exit relays (excerpt)", "185.220.101.0/24", "185.220.100.240/29",
    "2a0b:f4c2::/40", "# scanners and C2 seen in industry feeds (excerpt)", "91.92.251.103",
    "194.26.192.64", "45.146.164.110", "141.98.11.0/24",
)  # fmt: skip
NEW_OFFICE = ("38.104.112.41", "38.104.112.42")  # alice's egress from day 9 (trap t02)
TRAP_DAYS = {"t02": 9, "t01": 10}

ECS_JAVA = g.Agent(
    "[aws-sdk-java/2.25.1 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.3"
    "+9-LTS Java/21.0.3 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache "
    "cfg/retry-mode/standard]",
    xid=True,
)
LAMBDA_BOTO = g.Agent(
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.219-229.866.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.0"
)


# ------------------------------------------------------------------------------------ env


@dataclass(frozen=True, slots=True)
class Scenario:
    """What labels.json says of one labelled actor (its ``label`` is the id)."""

    id: str
    kind: str  # "attack" or "trap"
    capabilities: tuple[str, ...]
    description: str
    principal: str  # role ARN (not the session), user ARN, or "anonymous"
    window: tuple[int, int] | None = None  # start/end when not those of its events (silence)


@dataclass(slots=True)
class Env:
    """Everything the scenario builders refer to, by name."""

    start: int
    days: int
    world: World
    ctx: Ctx  # for building the world only (ids, key pools); requests draw from the run's Ctx
    prefixes: dict[str, Prefix]
    actors: dict[str, Actor]
    vpce: dict[str, tuple[str, str]]
    foreign: Bucket
    slots: dict[str, int] = field(default_factory=dict)  # sat, sun, mon, tue -> day index
    scenarios: list[Scenario] = field(default_factory=list)

    @property
    def buckets(self) -> dict[str, Bucket]:
        return self.world.buckets

    def at(self, day: str | int, hhmm: str, sec: int = 0) -> int:
        """Seconds since the epoch of ``hhmm`` on a day index or a slot of the attack days."""
        d = self.slots[day] if isinstance(day, str) else day
        h, m = map(int, hhmm.split(":"))
        return self.start + d * DAY + h * HOUR + m * 60 + sec


def bucket(name: str, acct: str, region: str, data: bool, logs: bool, sse: str) -> Bucket:
    """A bucket made the way ``build_world`` makes them (owner id, host)."""
    b = Bucket(name, acct, region, data, logs, sse, True)
    b.owner_id = hashlib.sha256(f"canonical-user:{acct}".encode()).hexdigest()
    b.host = f"{name}.s3.{region}.amazonaws.com"
    return b


def find_prefixes(world: World) -> dict[str, Prefix]:
    """The default world's key namespaces, named by bucket and first path segment."""
    found: dict[str, Prefix] = {}
    for a in world.actors:
        items = [it.prefix for it in a.mix] + list(a.state.get("prefixes", ()))
        for p in items:
            if p is not None:
                found.setdefault(f"{p.bucket.name}:{p.path.split('/', 1)[0]}", p)
    names = {
        "raw": "acme-data-prod:raw", "curated": "acme-data-prod:curated",
        "partner": "acme-data-prod:exports", "uploads": "acme-app-uploads:uploads",
        "thumbs": "acme-app-uploads:thumbnails", "backups": "acme-backups-eu:db",
        "reports": "acme-analytics-curated:reports", "tmp": "acme-analytics-curated:tmp",
        "features": "acme-ml-features:features", "notebooks": "acme-analytics-scratch-eu:notebooks",
        "scratch": "acme-analytics-scratch-eu:tmp", "site": "acme-www-static:",
        "trail": "acme-cloudtrail-logs:AWSLogs",
    }  # fmt: skip
    return {short: found[k] for short, k in names.items()}


def pool(ctx: Ctx, b: Bucket, path: str, size: float, n: int, start: int, spread: int) -> Prefix:
    """A new key namespace with ``n`` keys written over the ``spread`` seconds before start."""
    p = Prefix(b, path, size)
    p.pool = [g.new_key(ctx, p, start - ctx.rng.randrange(HOUR, spread)) for _ in range(n)]
    return p


def fixed(b: Bucket, size: float, keys: Sequence[str]) -> Prefix:
    return Prefix(b, "", size, list(keys))


def probe_vpce(a: Actor, p: Prefix, start: int) -> tuple[str, str]:
    """The VPC endpoint an app actor arrives through (asked of a throwaway copy of it)."""
    probe = Actor("probe", 0, FLAT, a.who, a.agent)
    vpce = a.who(Ctx("probe"), probe, start, Item(0, "GetObject", p))[2]
    assert vpce is not None
    return vpce


# ----------------------------------------------------------------------- request helpers


def lifecycle_body(b: Bucket, prefix: str, days: int, rule: str = "expire-tmp") -> dict[str, Any]:
    conf = {"xmlns": XMLNS, "Rule": {"ID": rule, "Status": "Enabled", "Filter": {"Prefix": prefix},
                                     "Expiration": {"Days": days}}}  # fmt: skip
    return {"lifecycle": "", "LifecycleConfiguration": conf}


def logging_body(b: Bucket, on: bool = True) -> dict[str, Any]:
    status: dict[str, Any] = {"xmlns": XMLNS}
    if on:
        status["LoggingEnabled"] = {"TargetBucket": ACCESS_LOG_BUCKET, "TargetPrefix": f"{b.name}/"}
    return {"logging": "", "BucketLoggingStatus": status}


def encryption_body(b: Bucket, key: str = "") -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": "aws:kms" if key else "AES256"}
    if key:
        default["KMSMasterKeyID"] = key
    rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(key)}
    return {"encryption": "", "ServerSideEncryptionConfiguration": {"xmlns": XMLNS, "Rule": rule}}


def versioning_body(status: str) -> dict[str, Any]:
    return {"versioning": "", "VersioningConfiguration": {"Status": status, "xmlns": XMLNS}}


def policy_body(b: Bucket, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"policy": "", "bucketPolicy": {"Version": "2012-10-17", "Statement": statements}}


def deny_insecure(b: Bucket) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{b.name}"
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip


def cloudtrail_statements(b: Bucket) -> list[dict[str, Any]]:
    """What the CloudTrail log bucket's policy must keep for delivery to work."""
    arn, svc = f"arn:aws:s3:::{b.name}", {"Service": "cloudtrail.amazonaws.com"}
    src = {"StringEquals": {"aws:SourceArn": ORG_TRAIL_ARN}}
    return [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": svc,
         "Action": "s3:GetBucketAcl", "Resource": arn, "Condition": src},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": svc, "Action": "s3:PutObject",
         "Resource": f"{arn}/AWSLogs/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                        "aws:SourceArn": ORG_TRAIL_ARN}}},
    ]  # fmt: skip


def bucket_req(
    ctx: Ctx, a: Actor, t: int, o: Origin, op: str, b: Bucket, agent: Agent | None = None,
    body: dict[str, Any] | None = None, error: str = "",
) -> Req:  # fmt: skip
    """A bucket-configuration call (management event; also in the bucket's access log)."""
    it = Item(0, op, None, agent)
    if not error and op == "GetBucketPolicy" and not b.policy:
        error = "NoSuchBucketPolicy"
    if not error and op == "GetBucketLifecycle" and b.name not in LIFECYCLE:
        error = "NoSuchLifecycleConfiguration"
    if not error and op == "GetBucketReplication":
        error = "ReplicationConfigurationNotFoundError"
    size = ctx.rng.randrange(120, 1400) if op.startswith("Get") else 0
    return g.s3(ctx, a, t, o, it, op, b, size=size, error=error, params=body)


def api_req(
    ctx: Ctx, a: Actor, t: int, o: Origin, source: str, name: str, agent: Agent,
    params: dict[str, Any] | None = None, resp: dict[str, Any] | None = None,
    region: str = E1, account: str = "", read_only: bool = False, error: str = "",
    resources: list[dict[str, str]] | None = None, host: str = "",
) -> Req:  # fmt: skip
    """A management call to a service other than an S3 bucket (CloudTrail, GuardDuty, ...)."""
    ident, ip, _ = o
    return Req(t, ident, name, agent, ip, region, account or ident.account,
               f"{source}.amazonaws.com", params=params, resp=resp, read_only=read_only,
               error=error, resources=resources, actor=a, host=host)  # fmt: skip


API: dict[str, tuple[str, dict[str, Any] | None]] = {  # "service:Name" -> (service, params)
    "guardduty:ListDetectors": ("guardduty", {"maxResults": 50}),
    "guardduty:ListFindings": ("guardduty", {"maxResults": 50, "sortCriteria": {
        "attributeName": "updatedAt", "orderBy": "DESC"}}),
    "cloudtrail:GetTrailStatus": ("cloudtrail", {"name": ORG_TRAIL_ARN}),
    "cloudtrail:GetEventSelectors": ("cloudtrail", {"trailName": TRAIL}),
    "access-analyzer:ListFindings": ("access-analyzer", {"maxResults": 100}),
    "macie2:GetMacieSession": ("macie2", None),
    "iam:ListUsers": ("iam", {"maxItems": 100}),
    "sts:GetCallerIdentity": ("sts", None),
}  # fmt: skip


def op_api(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    source, params = API[it.op]
    name = it.op.split(":", 1)[1]
    if source == "guardduty" and name != "ListDetectors":
        params = {"detectorId": detector_id(o[0].account), **(params or {})}
    return [api_req(ctx, a, t, o, source, name, it.agent or a.agent, params,
                    account=it.account or o[0].account, read_only=True)]  # fmt: skip


def op_config_read(ctx: Ctx, a: Actor, t: int, o: Origin, it: Item) -> list[Req]:
    assert it.prefix is not None
    return [bucket_req(ctx, a, t, o, it.op, it.prefix.bucket, it.agent)]


def detector_id(acct: str) -> str:
    return hashlib.md5(f"guardduty:{acct}".encode()).hexdigest()


def mix_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """``generate.mix_activity`` that also knows the API calls and bucket reads above."""
    out: list[Req] = []
    for it in ctx.rng.choices(a.mix, cum_weights=a.cum, k=n) if n else ():
        t = t0 + ctx.rng.randrange(SLICE)
        op = op_api if it.op in API else op_config_read if it.op in CONFIG_READS else g.OPS[it.op]
        out += op(ctx, a, t, a.who(ctx, a, t, it), it)
    return out


CONFIG_READS = (
    "GetBucketLogging", "GetBucketEncryption", "GetBucketLifecycle",
    "GetBucketPublicAccessBlock", "GetBucketPolicyStatus", "GetBucketTagging",
)  # fmt: skip


# ------------------------------------------------------------------------ scripted actors


def scripted(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """Requests planned once (on the first slice) and released slice by slice."""
    k = ("script", a.name)
    st = a.state.get(k)
    if st is None:
        queue = sorted(a.state[("plan", a.name)](ctx, a), key=lambda r: r.t)
        for r in queue:
            r.actor = a
        st = a.state[k] = [queue, 0]
    queue, i = st
    j = i
    while j < len(queue) and queue[j].t < t0 + SLICE:
        j += 1
    st[1] = j
    return queue[i:j]


Plan = Callable[[Ctx, Actor], list[Req]]


def script(name: str, label: str, who: g.Who, agent: Agent, plan: Plan,
           state: dict[Any, Any] | None = None) -> Actor:  # fmt: skip
    """An actor whose requests come from ``plan``. ``state`` may be another actor's, so that
    both use the same sessions (keys, session names); the queue is kept under this name."""
    st = state if state is not None else {}
    a = Actor(name, 0, FLAT, who, agent, scaled=False, activity=scripted, label=label, state=st)
    st[("plan", name)] = plan
    return a


def shared(base: Actor, name: str, label: str, plan: Plan) -> Actor:
    """A scripted actor with ``base``'s identity and sessions."""
    return script(name, label, base.who, base.agent, plan, base.state)


def issuer(a: Actor, it: Item, start: int) -> str:
    """The role or user ARN behind an actor (asked of a throwaway copy of it)."""
    ident = a.who(Ctx("probe"), Actor("probe", 0, FLAT, a.who, a.agent), start, it)[0]
    ct = ident.ct or {}
    return ct.get("sessionContext", {}).get("sessionIssuer", {}).get("arn") or ident.arn


def multi_account(base: g.Who, acct: str, role: str) -> g.Who:
    """``base``'s sessions (and source IPs), plus the same role name in another account."""
    rid = "AROA" + Ctx(f"{acct}:{role}").alnum(17)

    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        ident, ip, vpce = base(ctx, a, t, it)
        if (it.account or (it.prefix.bucket.account if it.prefix else "")) != acct:
            return ident, ip, vpce
        k = (acct, role, t // HOUR)
        other = a.state.get(k)
        if other is None:
            assert ident.ct is not None
            name = ident.ct["principalId"].split(":", 1)[1]
            other = a.state[k] = g.role_ident(acct, role, rid, name, t - ctx.rng.randrange(60, 900),
                                              "ASIA" + ctx.alnum(16), False, "/")  # fmt: skip
        return other, ip, vpce

    return who


# ---------------------------------------------------------------------------------- build


def build_env(seed: int, start: int, days: int) -> Env:
    """The default estate plus the scenario world's benign actors and traps."""
    world = g.build_world(seed, start)
    ctx = Ctx(f"{seed}:scenario-world")
    bs = world.buckets
    www = bs[WEBSITE]
    www.data_events = www.writes_only = True  # the trail records writes to the website bucket
    bs[ACCESS_LOG_BUCKET] = bucket(ACCESS_LOG_BUCKET, SECURITY, E1, False, False, "Default_SSE_S3")
    foreign = bucket(EXFIL_BUCKET, FOREIGN, E1, True, False, "Default_SSE_S3")
    actors = {a.name: a for a in world.actors}
    px = find_prefixes(world)
    vpce = {
        "prod-e1": probe_vpce(actors["orders-api"], px["raw"], start),
        "prod-w1": probe_vpce(actors["backup-agent"], px["backups"], start),
        "analytics-e1": probe_vpce(actors["report-service"], px["features"], start),
        # the Lambda VPC's own endpoint; its policy only allows buckets of our organization
        "prod-e1-lambda": (f"vpce-0{ctx.hexl(16)}", PROD),
    }
    up, prod_bucket, scratch = bs["acme-app-uploads"], bs["acme-data-prod"], px["scratch"].bucket
    px["receipts"] = pool(ctx, up, "receipts/{date}/r-{u8}.pdf", 1.8e5, 80, start, 20 * DAY)
    px["invoices"] = pool(ctx, up, "invoices/{date}/inv-{u8}.pdf", 1.2e5, 80, start, 20 * DAY)
    px["templates"] = fixed(up, 4e4, [
        "templates/invoice/default.html", "templates/invoice/logo.png",
        "templates/invoice/terms-2026.md"])  # fmt: skip
    px["secrets"] = fixed(scratch, 3e3, [
        "home/bob/.aws/credentials", "home/bob/.ssh/id_rsa", "deploy/orders-api/.env",
        "certs/wildcard.acme.example.pem"])  # fmt: skip
    px["decoys"] = fixed(prod_bucket, 2e5, [
        "finance/payroll/2026/payroll-export-full.csv",
        "admin/break-glass/root-account-mfa-recovery.txt"])  # fmt: skip
    env = Env(start, days, world, ctx, px, actors, vpce, foreign)
    env.slots = attack_slots(start, days)
    add_benign(env)
    add_traps(env)
    return env


def day_label(env: Env, slot: str) -> str:
    """'Mon 2026-11-16' for a slot of the attack days."""
    return time.strftime("%a %Y-%m-%d", time.gmtime(env.at(slot, "00:00")))


def attack_slots(start: int, days: int) -> dict[str, int]:
    """The last four days: two weekend days and two weekdays by default (Sat, Sun, Mon, Tue).

    With another --start or --days the slots fall on the window's weekend days and weekdays
    where it has them.
    """
    window = list(range(days - 4, days))
    wd = [d for d in window if time.gmtime(start + d * DAY).tm_wday < 5]
    we = [d for d in window if d not in wd]
    sat, sun = (we[0], we[-1]) if we else (window[0], window[1])
    return {"sat": sat, "sun": sun, "mon": wd[0], "tue": wd[-1]}


def gate(start: int, first: int = 0, last: int = 10**6, weekdays: bool = False,
         growth: float = 1.0) -> Callable[[int], float]:  # fmt: skip
    """A rate factor: zero outside days [first, last), on weekends if ``weekdays``; growth**day."""

    def factor(t0: int) -> float:
        d = (t0 - start) // DAY
        if not first <= d < last or (weekdays and time.gmtime(t0).tm_wday >= 5):
            return 0.0
        return growth**d if growth != 1.0 else 1.0

    return factor


def sso(ctx: Ctx, perm: str, accounts: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {acct: (f"AWSReservedSSO_{perm}_{ctx.hexl(16)}", "AROA" + ctx.alnum(17))
            for acct in accounts}  # fmt: skip


def person(name: str, ips: Sequence[str]) -> Callable[[Ctx, int], tuple[str, str]]:
    return lambda c, t: (name, c.rng.choice(ips))


def with_ips(who: g.Who, ips: Sequence[str]) -> g.Who:
    """The same identity and sessions, seen from other addresses."""

    def moved(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        ident, _, vpce = who(ctx, a, t, it)
        return ident, ctx.rng.choice(ips), vpce

    return moved


def service_who(acct_roles: dict[str, tuple[str, str]], service: str, session: str,
                path: str) -> g.Who:  # fmt: skip
    """An AWS service acting through its service-linked role (invokedBy, service as source)."""

    def who(ctx: Ctx, a: Actor, t: int, it: Item) -> Origin:
        acct = it.prefix.bucket.account if it.prefix else it.account
        k = (acct, t // DAY)
        ident = a.state.get(k)
        if ident is None:
            role, rid = acct_roles[acct]
            key = "ASIA" + ctx.alnum(16)
            ident = g.role_ident(acct, role, rid, session, t - ctx.rng.randrange(60, 900), key,
                                 False, path)  # fmt: skip
            assert ident.ct is not None
            ident.ct["invokedBy"] = service
            a.state[k] = ident
        return ident, service, None

    return who


def add_benign(env: Env) -> None:
    """Weekday humans, two more people, two more apps, AWS Config, Access Analyzer, CI."""
    ctx, start, px, actors, bs = env.ctx, env.start, env.prefixes, env.actors, env.buckets
    I = Item  # noqa: E741
    alice, bob = actors["alice@acme.example (SSO)"], actors["bob.ops (IAM user)"]
    bob.days = gate(start, weekdays=True)
    alice.days = gate(start, last=TRAP_DAYS["t02"], weekdays=True)
    work_dub, work_ny = g.hours({range(8, 17): 1}, 0.02), g.hours({range(14, 23): 1}, 0.02)

    carol_roles = sso(ctx, "AdministratorAccess", OURS)
    carol_who = g.session_who(PROD, "", person("carol@acme.example", ("83.71.12.201",
                              "83.71.12.202")), DAY, None, carol_roles, True, SSO_PATH)  # fmt: skip
    dave_roles = sso(ctx, "PowerUserAccess", (PROD,))
    dave_who = g.session_who(PROD, "", person("dave@acme.example", ("72.229.88.14",)), DAY, None,
                             dave_roles, True, SSO_PATH)  # fmt: skip
    con, web = g.CONSOLE, g.INTERNAL  # the S3 console; other consoles call as "AWS Internal"
    sec_trail = px["trail"]
    carol_mix = [
        I(6, "guardduty:ListFindings", None, web, SECURITY),
        I(2, "guardduty:ListDetectors", None, web, SECURITY),
        I(3, "cloudtrail:GetTrailStatus", None, web, SECURITY),
        I(2, "cloudtrail:GetEventSelectors", None, web, SECURITY),
        I(3, "access-analyzer:ListFindings", None, web, SECURITY),
        I(1, "macie2:GetMacieSession", None, web, SECURITY),
        I(3, "iam:ListUsers", None, web, PROD), I(3, "ListRoles", None, web, PROD),
        I(4, "ListBuckets", None, con, PROD), I(2, "ListBuckets", None, con, SECURITY),
        I(3, "GetBucketPolicy", px["raw"], con), I(2, "GetBucketPolicy", sec_trail, con),
        I(2, "GetBucketEncryption", px["backups"], con),
        I(2, "GetBucketLogging", px["uploads"], con),
        I(2, "GetBucketPublicAccessBlock", px["site"], con),
        I(2, "GetBucketVersioning", px["backups"], con), I(2, "Browse", px["reports"], con),
    ]  # fmt: skip
    dave_mix = [
        I(10, "ListObjects", px["uploads"], g.cli("s3.ls")),
        I(12, "GetObject", px["uploads"], g.cli("s3.cp")),
        I(4, "HeadObject", px["uploads"], g.cli("s3api.head-object")),
        I(4, "Browse", px["uploads"]), I(3, "Browse", px["receipts"]),
        I(5, "GetObject", px["receipts"]), I(4, "ListObjects", px["raw"], g.cli("s3.ls")),
        I(4, "GetObject", px["raw"], g.cli("s3.cp")),
        I(3, "sts:GetCallerIdentity", None, g.cli("sts.get-caller-identity")),
        I(3, "DescribeInstances", None, g.cli("ec2.describe-instances")),
        I(1, "GetObject", px["backups"], g.cli("s3.cp"), error="AccessDenied"),
    ]  # fmt: skip
    ecs_tasks = [ctx.hexl(32) for _ in range(4)]
    checkout_who = g.session_who(
        PROD,
        "checkout-svc",
        lambda c, t: (c.rng.choice(ecs_tasks), c.rng.choice(("3.215.88.14", "3.215.88.15"))),
        6 * HOUR,
    )
    lambda_ips = [f"10.20.30.{ctx.rng.randrange(4, 250)}" for _ in range(6)]
    invoice_who = g.session_who(
        PROD,
        "invoice-renderer",
        lambda c, t: ("invoice-renderer", c.rng.choice(lambda_ips)),
        6 * HOUR,
        env.vpce["prod-e1-lambda"],
    )
    new = [
        Actor("carol@acme.example (SSO)", 12, work_dub, carol_who, con, carol_mix,
              days=gate(start, weekdays=True)),
        Actor("dave@acme.example (SSO)", 10, work_ny, dave_who, con, dave_mix,
              days=gate(start, weekdays=True)),
        Actor("invoice-renderer (Lambda)", 8, g.DIURNAL, invoice_who, LAMBDA_BOTO, [
            I(30, "GetObject", px["templates"]), I(40, "PutObject", px["invoices"]),
            I(20, "GetObject", px["invoices"]), I(10, "HeadObject", px["invoices"])]),
        Actor("aws-config", 0, FLAT, service_who(
            {a: ("AWSServiceRoleForConfig", "AROA" + ctx.alnum(17)) for a in OURS},
            "config.amazonaws.com", "AWSConfig-Describe",
            "/aws-service-role/config.amazonaws.com/"),
            g.svc("config.amazonaws.com"), scaled=False, activity=sweep_activity,
            state={"at": 6 * HOUR + 600, "ops": (
                "GetBucketAcl", "GetBucketPolicy", "GetBucketVersioning", "GetBucketLogging",
                "GetBucketEncryption", "GetBucketLifecycle", "GetBucketPublicAccessBlock"),
                "buckets": list(bs.values())}),
        Actor("access-analyzer", 0, FLAT, service_who(
            {a: ("AWSServiceRoleForAccessAnalyzer", "AROA" + ctx.alnum(17)) for a in OURS},
            "access-analyzer.amazonaws.com", "access-analyzer",
            "/aws-service-role/access-analyzer.amazonaws.com/"),
            g.svc("access-analyzer.amazonaws.com"), scaled=False, activity=sweep_activity,
            state={"at": 4 * HOUR + 1200, "ops": (
                "GetBucketPolicy", "GetBucketAcl", "GetBucketPublicAccessBlock",
                "GetBucketPolicyStatus"), "buckets": list(bs.values())}),
    ]  # fmt: skip
    checkout = Actor("checkout-svc (ECS)", 12, g.DIURNAL, checkout_who, ECS_JAVA, [
        I(40, "GetObject", px["uploads"]), I(20, "PutObject", px["receipts"]),
        I(15, "GetObject", px["receipts"]), I(10, "HeadObject", px["uploads"]),
        I(10, "GetObject", px["raw"]), I(5, "PutObject", px["raw"])],
        label="t03-traffic-growth", days=gate(start, growth=1.05))  # fmt: skip
    for a in [*new, checkout]:
        a.activity = a.activity or mix_activity
    ci = actors["github-actions-deploy"]
    ci.who = multi_account(ci.who, ANALYTICS, "github-actions-deploy")
    ci.activity, ci.state["runs"], ci.state["env"] = ci_activity, ci_schedule(env), env
    world = env.world
    i = world.actors.index(ci)
    world.actors[i + 1 : i + 1] = [*new, checkout]
    for a in world.actors:
        a.cum = [sum(it.weight for it in a.mix[: k + 1]) for k in range(len(a.mix))]
    actors.update({a.name: a for a in world.actors})


def sweep_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    """A service reading each bucket's settings once a day (AWS Config, Access Analyzer)."""
    at = a.state["at"]
    if not t0 <= t0 // DAY * DAY + at < t0 + SLICE:
        return []
    out: list[Req] = []
    t = t0 // DAY * DAY + at
    for b in a.state["buckets"]:
        for op in a.state["ops"]:
            t += ctx.rng.randrange(0, 2)
            it = Item(0, op, Prefix(b, "", 0))
            out.append(bucket_req(ctx, a, t, a.who(ctx, a, t, it), op, b))
    return out


# --------------------------------------------------------------------------------- CI role


def ci_schedule(env: Env) -> list[tuple[int, str]]:
    """Terraform plans on weekdays at 17:40, applies in the 15:05 window on some weekdays,
    website deploys at 16:10; on the last day the 15:05 apply restores access logging that an
    attack switched off (drift correction)."""
    runs: list[tuple[int, str]] = []
    applies = {0: "tags", 2: "lifecycle", 4: "encryption", 7: "logging", 9: "policy", 11: "tags"}
    for d in range(env.days):
        if time.gmtime(env.start + d * DAY).tm_wday >= 5:
            continue
        runs.append((env.at(d, "17:40"), "plan"))
        if d in applies:
            runs.append((env.at(d, "15:05"), applies[d]))
        if d in (2, 8):
            runs.append((env.at(d, "16:10"), "website"))
    runs.append((env.at("tue", "15:05"), "restore-logging"))
    return sorted(runs)


def ci_activity(ctx: Ctx, a: Actor, t0: int, n: int) -> list[Req]:
    out: list[Req] = []
    for t, kind in a.state["runs"]:
        if t0 <= t < t0 + SLICE:
            out += ci_run(ctx, a, t, kind, a.state["env"])
    return out


def ci_run(ctx: Ctx, a: Actor, t: int, kind: str, env: Env) -> list[Req]:
    """One CI job: a Terraform refresh of every bucket, then the changes of this ``kind``."""
    bs, out = env.buckets, []
    ag = g.TERRAFORM

    def call(op: str, b: Bucket, body: dict[str, Any] | None = None) -> None:
        nonlocal t
        t += 2
        o = a.who(ctx, a, t, Item(0, op, Prefix(b, "", 0)))
        out.append(bucket_req(ctx, a, t, o, op, b, ag, body))

    if kind == "website":
        return website_deploy(ctx, a, t, env, ("assets/app.5d1e07.js", "assets/style.a4c2e9.css"))
    for b in bs.values():
        if b.account in (PROD, ANALYTICS):
            for op in g.BUCKET_READS:
                call(op, b)
    if kind == "plan":
        return out
    raw, up, cur = bs["acme-data-prod"], bs["acme-app-uploads"], bs["acme-analytics-curated"]
    if kind == "tags":
        for b in (raw, up, bs["acme-ml-features"]):
            call("PutBucketTagging", b, g.BODIES["PutBucketTagging"](b))
        call("PutBucketVersioning", raw, versioning_body("Enabled"))
    elif kind == "lifecycle":
        call("PutBucketLifecycle", cur, lifecycle_body(cur, *LIFECYCLE[cur.name]))
        call("PutBucketTagging", cur, g.BODIES["PutBucketTagging"](cur))
    elif kind == "encryption":
        bk = bs["acme-backups-eu"]
        call("PutBucketEncryption", bk, encryption_body(bk, bk.kms_key))
        call("PutBucketVersioning", bk, versioning_body("Enabled"))
    elif kind in ("logging", "restore-logging"):
        for b in (up, cur) if kind == "logging" else (cur,):
            call("PutBucketLogging", b, logging_body(b))
    elif kind == "policy":
        call("PutBucketPolicy", raw, g.bucket_policy(raw))
    return out


def website_deploy(ctx: Ctx, a: Actor, t: int, env: Env, assets: Sequence[str]) -> list[Req]:
    """A site build uploaded by CI (PutObject of html/js/css), old assets removed, CDN purged."""
    www, out = env.buckets[WEBSITE], []
    files = ["index.html", "about/index.html", "docs/getting started.html", *assets]
    for i, key in enumerate(files):
        tt = t + 20 + 3 * i
        o = a.who(ctx, a, tt, Item(0, "PutObject", Prefix(www, "", 0)))
        size = ctx.rng.randrange(4000, 180000)
        r = g.s3(ctx, a, tt, o, Item(0, "PutObject", None, g.TERRAFORM), "PutObject", www,
                 key=key, size=size)  # fmt: skip
        out.append(r)
    tt = t + 20 + 3 * len(files) + 5
    o = a.who(ctx, a, tt, Item(0, "PutObject"))
    out.append(
        api_req(
            ctx,
            a,
            tt,
            o,
            "cloudfront",
            "CreateInvalidation",
            g.TERRAFORM,
            {
                "distributionId": "E2QWRUHAPOMQZL",
                "invalidationBatch": {
                    "paths": {"quantity": 1, "items": ["/*"]},
                    "callerReference": f"tf-{tt}",
                },
            },
            {
                "location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/E2QWRUHAPOMQZL/"
                f"invalidation/I{ctx.alnum(13)}"
            },
            host="cloudfront.amazonaws.com",
        )
    )
    return out


# ---------------------------------------------------------------------------------- traps


def add_traps(env: Env) -> None:
    """Benign changes that look like signals: they must not alert at medium or above."""
    start, px, actors, world = env.start, env.prefixes, env.actors, env.world
    I = Item  # noqa: E741
    alice, ci = actors["alice@acme.example (SSO)"], actors["github-actions-deploy"]
    hosts = [(f"i-0{env.ctx.hexl(16)}", f"10.20.13.{env.ctx.rng.randrange(4, 250)}")
             for _ in range(2)]  # fmt: skip
    fulfil_who = g.session_who(PROD, "fulfillment-api", lambda c, t: c.rng.choice(hosts),
                               21600, env.vpce["prod-e1"])  # fmt: skip
    traps = [
        Actor("fulfillment-api", 10, g.DIURNAL, fulfil_who, g.JAVA, [
            I(30, "GetObject", px["uploads"]), I(25, "GetObject", px["raw"]),
            I(15, "PutObject", px["raw"]), I(10, "HeadObject", px["uploads"]),
            I(5, "ListObjects", px["raw"]), I(0.6, "GetObject", px["uploads"], error="NoSuchKey")],
            label="t01-new-app-role", days=gate(start, first=TRAP_DAYS["t01"])),
        Actor("alice@acme.example (new office)", alice.rate, alice.profile,
              with_ips(alice.who, NEW_OFFICE), alice.agent, alice.mix, label="t02-new-office-ip",
              state=alice.state, days=gate(start, first=TRAP_DAYS["t02"], weekdays=True)),
        shared(ci, "ci: policy for our analytics account", "t04-ci-admin-change",
               lambda c, a: ci_trap_admin(c, a, env)),
        shared(ci, "ci: lifecycle rule", "t05-lifecycle-rule",
               lambda c, a: ci_trap_lifecycle(c, a, env)),
        shared(ci, "ci: website deploy", "t06-website-deploy",
               lambda c, a: website_deploy(c, a, env.at("tue", "16:10"), env, (
                   "assets/app.9b72f4.js", "assets/style.0e5d11.css", "assets/vendor.41ac3d.js"))),
    ]  # fmt: skip
    for a in traps:
        a.activity = a.activity or mix_activity
        a.cum = [sum(it.weight for it in a.mix[: k + 1]) for k in range(len(a.mix))]
    world.actors += traps
    actors.update({a.name: a for a in traps})
    ci_arn = f"arn:aws:iam::{PROD}:role/github-actions-deploy"
    mon, tue = day_label(env, "mon"), day_label(env, "tue")
    T = Scenario
    env.scenarios += [
        T(
            "t01-new-app-role",
            "trap",
            (),
            "A new EC2 application role, fulfillment-api, starts "
            f"on day {TRAP_DAYS['t01']} and behaves like its peer orders-api: same account, "
            "instance-profile sessions from private IPs through the prod VPC endpoint, the Java "
            "SDK, the same buckets and prefixes.",
            issuer(traps[0], I(0, "GetObject"), start),
        ),
        T(
            "t02-new-office-ip",
            "trap",
            (),
            f"alice's office egress changes on day "
            f"{TRAP_DAYS['t02']} to {NEW_OFFICE[0]}/{NEW_OFFICE[1]}; everything else (hours, "
            "agents, buckets) stays the same. All her requests from then on.",
            issuer(alice, I(0, "ListBuckets", None, None, PROD), start),
        ),
        T(
            "t03-traffic-growth",
            "trap",
            (),
            "checkout-svc (ECS task role, NAT egress, no VPC "
            "endpoint) grows 5% a day over the whole period (about 2x by the last day).",
            issuer(actors["checkout-svc (ECS)"], I(0, "GetObject"), start),
        ),
        T(
            "t04-ci-admin-change",
            "trap",
            (),
            f"In the {mon} 15:05 deploy window the CI role "
            "(Terraform) adds a bucket-policy statement granting our own analytics account's "
            "etl-nightly role read on acme-data-prod/curated/, and switches acme-app-uploads "
            "default encryption to SSE-KMS with our key.",
            ci_arn,
        ),
        T(
            "t05-lifecycle-rule",
            "trap",
            (),
            "The CI role adds a lifecycle rule expiring tmp/ "
            f"after 7 days on acme-analytics-scratch-eu (not a log bucket), {tue} 15:35.",
            ci_arn,
        ),
        T(
            "t06-website-deploy",
            "trap",
            (),
            "The CI role deploys the website: PutObject of "
            f".html/.js/.css into acme-www-static and a CloudFront invalidation, {tue} 16:10.",
            ci_arn,
        ),
    ]


def ci_trap_admin(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    """t04: Terraform grants our analytics account read on curated data and switches the
    uploads bucket to SSE-KMS (a reviewed change, in the usual deploy window)."""
    t = env.at("mon", "15:05")
    out = ci_run(ctx, a, t, "plan", env)
    t = out[-1].t + 2
    raw, up = env.buckets["acme-data-prod"], env.buckets["acme-app-uploads"]
    arn = f"arn:aws:s3:::{raw.name}"
    grant = {"Sid": "AnalyticsCuratedRead", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{ANALYTICS}:role/etl-nightly"},
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [arn, f"{arn}/curated/*"]}  # fmt: skip
    body = g.bucket_policy(raw)
    body = {
        "policy": "",
        "bucketPolicy": {
            **body["bucketPolicy"],
            "Statement": [*body["bucketPolicy"]["Statement"], grant],
        },
    }
    key = f"arn:aws:kms:{E1}:{PROD}:key/{Ctx('uploads-key').uuid()}"
    for op, b, bd in (
        ("PutBucketPolicy", raw, body),
        ("PutBucketEncryption", up, encryption_body(up, key)),
    ):
        t += 2
        o = a.who(ctx, a, t, Item(0, op, Prefix(b, "", 0)))
        out.append(bucket_req(ctx, a, t, o, op, b, g.TERRAFORM, bd))
    return out


def ci_trap_lifecycle(ctx: Ctx, a: Actor, env: Env) -> list[Req]:
    """t05: Terraform adds a lifecycle rule expiring scratch tmp/ after 7 days."""
    t = env.at("tue", "15:35")
    out = ci_run(ctx, a, t, "plan", env)
    b = env.buckets["acme-analytics-scratch-eu"]
    t = out[-1].t + 2
    o = a.who(ctx, a, t, Item(0, "PutBucketLifecycle", Prefix(b, "", 0)))
    out.append(bucket_req(ctx, a, t, o, "PutBucketLifecycle", b, g.TERRAFORM,
                          lifecycle_body(b, *LIFECYCLE[b.name])))  # fmt: skip
    return out


def dumps_policy(p: dict[str, Any]) -> str:
    return json.dumps(p, separators=(",", ":"))
