"""Benign behaviour: workloads (services, jobs), people, scheduled jobs and agents.

Each actor returns one UTC day of calls. Volumes are requests per day at ``--scale 1``; people
keep their own time zone, weekdays and sessions; services follow their traffic profile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws import DAY, HOUR, Agent, Call, Identity, Rng, invoked_by, service_agent
from clients import BROWSERS
from world import Origin, Prefix, World, api, s3, spread, times_by_profile, weekday

Who = Callable[[str, int], Identity]  # (session name, time) -> identity
ATHENA_AGENT = service_agent("athena.amazonaws.com")


def fixed(ident: Identity) -> Who:
    return lambda session, t: ident


@dataclass(slots=True)
class Habit:
    """One thing an actor does, with its relative weight.

    ``op`` is an S3 eventName, or one of: ``List`` (a listing of the prefix), ``Presign`` /
    ``PresignPut`` (a browser using a URL the actor signed), ``Multipart`` (an upload in
    parts), ``Batch`` (DeleteObjects of several keys), ``Range`` (a ranged GetObject, 206), or
    ``Browse`` (the S3 console opening the prefix), ``api:<service>:<Operation>`` for other
    services.
    """

    weight: float
    op: str
    prefix: Prefix | None = None
    agent: Agent | None = None
    error: str = ""
    params: dict[str, Any] | None = None
    region: str = ""


def consumer_ip(rng: Rng) -> str:
    a = rng.choice((24, 47, 67, 73, 76, 98, 99, 108, 174, 2, 31, 77, 82, 86, 90, 151, 185, 213))
    return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def mobile_ip(rng: Rng) -> str:
    """A carrier-grade NAT address of a phone hotspot."""
    a = rng.choice((100, 172, 174, 107, 166, 176, 37, 46, 92))
    return f"{a}.{rng.randrange(32, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def list_query(p: Prefix, v1: bool = False) -> dict[str, str]:
    base = p.template.split("{", 1)[0]
    if v1:
        return {"prefix": base, "max-keys": "1000"}
    return {"list-type": "2", "prefix": base, "delimiter": "/", "encoding-type": "url"}


def presign_query(who: Identity, p: Prefix, t: int, rng: Rng, expires: int = 900) -> dict[str, str]:
    assert who.ct is not None
    g = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t - rng.randrange(2, min(expires, 600))))
    cred = f"{who.ct['accessKeyId']}/{g[:8]}/{p.bucket.region}/s3/aws4_request"
    q = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": cred,
        "X-Amz-Date": g,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    if who.ct.get("type") == "AssumedRole":
        q["X-Amz-Security-Token"] = "IQoJb3JpZ2luX2VjE" + rng.alnum(40)
    q["X-Amz-Signature"] = rng.hexl(64)
    return q


def act(
    h: Habit,
    t: int,
    who: Identity,
    origin: Origin,
    agent: Agent,
    rng: Rng,
    region: str = "us-east-1",
) -> list[Call]:
    """The calls one habit makes at time ``t``."""
    ag = h.agent or agent
    op, p = h.op, h.prefix
    if op.startswith("api:"):
        _, service, name = op.split(":")
        return [api(t, who, service, name, origin, ag, h.region or region, h.params, error=h.error)]
    assert p is not None
    b = p.bucket
    if op == "List":
        v1 = ag.path_style
        return [
            s3(
                t,
                who,
                "ListObjects",
                b,
                origin,
                ag,
                query=list_query(p, v1),
                size=400 + 350 * rng.randrange(1, 40),
                error=h.error,
            )
        ]
    if op in ("Presign", "PresignPut"):
        q = presign_query(who, p, t, rng)
        browser = (consumer_ip(rng), None)
        bag = rng.choice(BROWSERS)
        if op == "PresignPut":
            key = p.new_key(rng, t)
            p.add(key)
            return [
                s3(
                    t,
                    who,
                    "PutObject",
                    b,
                    browser,
                    bag,
                    key=key,
                    size=p.size_of(rng),
                    auth="QueryString",
                    query=q,
                )
            ]
        return [
            s3(
                t,
                who,
                "GetObject",
                b,
                browser,
                bag,
                key=p.pick(rng),
                size=p.size_of(rng),
                auth="QueryString",
                query=q,
                referer=rng.choice(("-", "https://app/")),
            )
        ]
    if op == "Multipart":
        key, size = p.new_key(rng, t), p.size_of(rng) * 8
        parts = max(2, size // (16 << 20))
        out = [s3(t, who, "CreateMultipartUpload", b, origin, ag, key=key)]
        for i in range(min(parts, 12)):
            out.append(
                s3(
                    t + 1 + i,
                    who,
                    "UploadPart",
                    b,
                    origin,
                    ag,
                    key=key,
                    size=size // parts,
                    params={"partNumber": str(i + 1), "uploadId": "Up" + rng.alnum(30)},
                )
            )
        out.append(
            s3(
                t + 2 + min(parts, 12),
                who,
                "CompleteMultipartUpload",
                b,
                origin,
                ag,
                key=key,
                size=size,
            )
        )
        p.add(key)
        return out
    if op == "Browse":  # the S3 console opening a bucket or folder
        out = [
            s3(
                t,
                who,
                "ListObjects",
                b,
                origin,
                ag,
                query=list_query(p),
                size=400 + 350 * rng.randrange(1, 40),
            )
        ]
        for i, name in enumerate(
            ("GetBucketLocation", "GetBucketVersioning", "GetBucketPolicyStatus", "GetBucketAcl")
        ):
            out.append(s3(t + 1 + i // 2, who, name, b, origin, ag, size=rng.randrange(120, 700)))
        return out
    if op == "Athena":  # a query: Athena reads the tables and writes results in the caller's name
        return athena_query(t, who, origin, ag, p, h.params["results"], rng, region)
    if op == "Batch":
        keys = rng.sample(p.pool, min(len(p.pool), rng.randrange(2, 40)))
        return [s3(t, who, "DeleteObjects", b, origin, ag, keys=keys)]
    if op == "Range":
        size = p.size_of(rng)
        return [
            s3(
                t,
                who,
                "GetObject",
                b,
                origin,
                ag,
                key=p.pick(rng),
                status=206,
                size=min(size, 8 << 20),
                params={"Range": "bytes=0-8388607"},
            )
        ]
    if op in ("PutObject", "CopyObject") or h.error == "NoSuchKey":
        key = p.new_key(rng, t)
        if h.error:
            return [s3(t, who, op, b, origin, ag, key=key, error=h.error)]
        c = s3(t, who, op, b, origin, ag, key=key, size=p.size_of(rng))
        if op == "CopyObject":
            c.copy_source = f"{b.name}/{p.pick(rng)}"
        p.add(key)
        return [c]
    if op in (
        "GetObject",
        "HeadObject",
        "DeleteObject",
        "GetObjectTagging",
        "GetObjectAcl",
        "PutObjectAcl",
        "RestoreObject",
    ):
        key = p.pick(rng)
        if op == "DeleteObject" and len(p.pool) > 40:
            p.pool.remove(key)
        size = 0 if op != "GetObject" or h.error else p.size_of(rng)
        return [s3(t, who, op, b, origin, ag, key=key, size=size, error=h.error)]
    return [
        s3(t, who, op, b, origin, ag, error=h.error, params=h.params, size=rng.randrange(150, 1400))
    ]


def athena_query(
    t: int,
    who: Identity,
    origin: Origin,
    agent: Agent,
    table: Prefix,
    results: Prefix,
    rng: Rng,
    region: str,
) -> list[Call]:
    qid = rng.uuid()
    wg = {
        "queryExecutionContext": {"database": "analytics"},
        "workGroup": "primary",
        "queryString": "***",
    }
    out = [
        api(
            t,
            who,
            "athena",
            "StartQueryExecution",
            origin,
            agent,
            region,
            wg,
            {"queryExecutionId": qid},
            read_only=False,
        )
    ]
    svc = invoked_by(who, "athena.amazonaws.com")
    via = ("athena.amazonaws.com", None)
    t += 1
    for _ in range(rng.randrange(4, 20)):
        size = table.size_of(rng)
        out.append(
            s3(
                t,
                svc,
                "GetObject",
                table.bucket,
                via,
                ATHENA_AGENT,
                key=table.pick(rng),
                size=min(size, 4 << 20),
                status=206,
                params={"Range": f"bytes=0-{min(size, 4 << 20) - 1}"},
            )
        )
        t += rng.randrange(0, 2)
    key = f"{results.template.split('{', 1)[0]}{qid}.csv"
    out.append(
        s3(
            t + 2,
            svc,
            "PutObject",
            results.bucket,
            via,
            ATHENA_AGENT,
            key=key,
            size=rng.randrange(2000, 4_000_000),
        )
    )
    out.append(
        s3(
            t + 2,
            svc,
            "PutObject",
            results.bucket,
            via,
            ATHENA_AGENT,
            key=key + ".metadata",
            size=rng.randrange(200, 4000),
        )
    )
    results.add(key)
    for i in range(2):
        out.append(
            api(
                t + 1 + i,
                who,
                "athena",
                "GetQueryExecution",
                origin,
                agent,
                region,
                {"queryExecutionId": qid},
            )
        )
    out.append(
        api(
            t + 4,
            who,
            "athena",
            "GetQueryResults",
            origin,
            agent,
            region,
            {"queryExecutionId": qid, "maxResults": 1000},
        )
    )
    return out


def pick_habit(habits: Sequence[Habit], rng: Rng) -> Habit:
    return rng.choices(habits, weights=[h.weight for h in habits])[0]


# ---------------------------------------------------------------------------------- actors


@dataclass
class Workload:
    """A service or job role: hosts (session name, IP) behind an optional VPC endpoint, a mix
    of habits, a daily volume with an hourly profile, weekday factors and growth."""

    name: str
    who: Who
    hosts: list[tuple[str, str]]
    agent: Agent
    habits: list[Habit]
    per_day: float
    profile: Sequence[float]
    vpce: tuple[str, str] | None = None
    weekdays: Sequence[float] = (1, 1, 1, 1, 1, 1, 1)
    growth: float = 0.0  # fraction per day
    first: int = 0  # when the role starts working (a new role)
    region: str = "us-east-1"
    moves: list[tuple[int, list[tuple[str, str]]]] = field(default_factory=list)  # new hosts
    boost: list[tuple[int, int, float]] = field(default_factory=list)  # t0, t1, factor
    host_fn: Callable[[int], list[tuple[str, str]]] | None = None  # hosts of a UTC day number
    upgrades: list[tuple[int, Agent]] = field(default_factory=list)  # a new client from t on

    def hosts_at(self, t: int) -> list[tuple[str, str]]:
        hosts = self.host_fn(t // DAY) if self.host_fn else self.hosts
        for t0, h in self.moves:
            if t >= t0:
                hosts = h
        return hosts

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        d0 = w.day0(day)
        lam = self.per_day * w.scale * self.weekdays[weekday(d0)] * (1 + self.growth) ** day
        out: list[Call] = []
        for t in times_by_profile(rng, d0, rng.poisson(lam), self.profile):
            if t < self.first:
                continue
            out += self.one(t, rng)
        for t0, t1, factor in self.boost:  # extra traffic in a window (a rebuild, a campaign)
            lo, hi = max(t0, d0), min(t1, d0 + DAY)
            if lo < hi:
                share = (hi - lo) / DAY * sum(self.profile) / max(self.profile) / 24
                n = rng.poisson(self.per_day * w.scale * (factor - 1) * max(share, 0.05))
                for t in spread(rng, lo, hi, n):
                    out += self.one(t, rng)
        return out

    def one(self, t: int, rng: Rng) -> list[Call]:
        session, ip = rng.choice(self.hosts_at(t))
        agent = self.agent
        for t0, a in self.upgrades:
            if t >= t0:
                agent = a
        return act(
            pick_habit(self.habits, rng),
            t,
            self.who(session, t),
            (ip, self.vpce),
            agent,
            rng,
            self.region,
        )


@dataclass
class Human:
    """A person: sessions on working days in their own time zone, from a few IPs."""

    name: str
    who: Who
    session: str
    tz: float
    ips: list[str]
    habits: list[Habit]
    agent: Agent
    sessions_per_day: float = 1.5
    actions: tuple[int, int] = (6, 30)
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    day_hours: tuple[float, float] = (8.5, 18.0)
    presence: float = 0.88
    region: str = "us-east-1"
    first: int = 0
    roaming: float = 0.07  # days on a phone hotspot or a hotel network

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        d0 = w.day0(day)
        out: list[Call] = []
        # the local day that overlaps most of this UTC day
        local_day0 = d0 - int(self.tz * HOUR)
        if weekday(local_day0 + 12 * HOUR, self.tz) not in self.workdays:
            return out
        if rng.random() > self.presence:
            return out
        n = max(1, rng.poisson(self.sessions_per_day))
        lo, hi = self.day_hours
        ip = rng.choice(self.ips) if rng.random() > self.roaming else mobile_ip(rng)
        for _ in range(n):
            t = local_day0 + int(rng.uniform(lo, hi - 0.5) * HOUR)
            out += self.session_calls(t, ip, rng, rng.randrange(*self.actions))
        return [c for c in out if d0 <= c.t < d0 + DAY and c.t >= self.first]

    def session_calls(self, t: int, ip: str, rng: Rng, n: int) -> list[Call]:
        out: list[Call] = []
        for _ in range(n):
            h = pick_habit(self.habits, rng)
            out += act(h, t, self.who(self.session, t), (ip, None), self.agent, rng, self.region)
            t += rng.randrange(4, 240)
        return out


@dataclass
class Job:
    """Runs at fixed times: ``when(w, day)`` gives the start times, ``run`` the calls."""

    name: str
    when: Callable[[World, int], list[int]]
    run: Callable[[World, Rng, int], list[Call]]

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        out: list[Call] = []
        for t in self.when(w, day):
            out += self.run(w, rng, t)
        return [c for c in out if w.day0(day) <= c.t < w.day0(day) + DAY]


@dataclass
class Periodic:
    """Agents that call every ``period`` seconds per host (SSM agent, heartbeats)."""

    name: str
    who: Who
    hosts: list[tuple[str, str]]
    period: int
    make: Callable[[int, Identity, str, Rng], list[Call]]

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        d0, out = w.day0(day), []
        period = int(self.period / min(1.0, max(w.scale, 0.05)))
        for session, ip in self.hosts:
            t = d0 + rng.randrange(period)
            while t < d0 + DAY:
                out += self.make(t, self.who(session, t), ip, rng)
                t += period + rng.randrange(-period // 10, period // 10 + 1)
        return out


def daily(
    hhmm: str, tz: float = 0.0, days: Sequence[int] = range(7), jitter: int = 300
) -> Callable[[World, int], list[int]]:
    """Start times for a job: once a day at local ``hhmm`` on the given local weekdays."""

    def when(w: World, day: int) -> list[int]:
        out = []
        for d in (day - 1, day, day + 1):
            t = w.at(d, hhmm, tz) + w.rng("jitter", hhmm, d).randrange(jitter + 1)
            if w.day0(day) <= t < w.day0(day) + DAY and weekday(t, tz) in days:
                out.append(t)
        return out

    return when
