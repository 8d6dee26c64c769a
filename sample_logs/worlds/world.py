"""The world a style builds: accounts, buckets, key spaces, actors, labelled scenarios, and
what attacks change about logging (a stopped trail, muted access logs, lifecycle expiry).

Actors make benign traffic day by day; scenarios (attacks and traps) are planned up front as
timed calls (``episode``) or as a labelled stretch of an actor's traffic (``overlay``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws import DAY, HOUR, MIXED, S3, Agent, Bucket, Call, Identity, Rng, role_session, stable

Origin = tuple[str, tuple[str, str] | None]  # source IP, (VPC endpoint id, its owner)
FILENAMES = (
    "invoice-{n}.pdf",
    "Screenshot 2026-01-{d:02d} at 10.{n:02d}.png",
    "contract (signed).pdf",
    "IMG_{n:04d}.HEIC",
    "report Q{q} final.xlsx",
    "données-{n}.csv",
    "photo+{n}.jpg",
    "meeting notes {n}.docx",
    "avatar.png",
    "résumé.pdf",
    "scan_{n:04d}.tiff",
    "見積書-{n}.pdf",
)


@dataclass(slots=True)
class Prefix:
    """A key space: a template for new keys, a median object size, keys that exist."""

    bucket: Bucket
    template: str
    size: int
    pool: list[str] = field(default_factory=list)
    cap: int = 600

    def new_key(self, rng: Rng, t: int) -> str:
        g = time.gmtime(t)
        n = rng.randrange(1, 60)
        return self.template.format(
            date=time.strftime("%Y-%m-%d", g),
            ymd=time.strftime("%Y/%m/%d", g),
            hh=f"{g.tm_hour:02d}",
            h8=rng.hexl(8),
            h16=rng.hexl(16),
            n=rng.randrange(1000),
            u=rng.randrange(10000, 99999),
            uuid=rng.uuid(),
            ts=time.strftime("%Y%m%dT%H%M%S", g),
            ct=time.strftime("%Y%m%dT%H%MZ", g),
            r16=rng.alnum(16, MIXED),
            name=rng.choice(FILENAMES).format(n=n, d=1 + n % 28, q=1 + n % 4),
            r=rng.alnum(10, MIXED),
        )

    def pick(self, rng: Rng) -> str:
        return rng.choice(self.pool)

    def add(self, key: str) -> None:
        self.pool.append(key)
        if len(self.pool) > self.cap:
            del self.pool[: len(self.pool) - self.cap]

    def size_of(self, rng: Rng) -> int:
        return rng.lognorm(self.size)


class Sessions:
    """Credentials of one role: a session per host (instance, task, person), renewed every
    ``period`` seconds; hosts renew at different offsets, as they do."""

    def __init__(self, account: str, role: str, period: int = 6 * HOUR, **kw: Any) -> None:
        self.account, self.role, self.period, self.kw = account, role, period, kw
        self.cache: dict[tuple[str, int], Identity] = {}

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role}"

    def get(self, session: str, t: int) -> Identity:
        off = stable(self.role, session) % self.period
        idx = (t + off) // self.period
        who = self.cache.get((session, idx))
        if who is None:
            created = idx * self.period - off
            key = "ASIA" + Rng("sts", self.account, self.role, session, idx).alnum(16)
            who = role_session(self.account, self.role, session, created, key, **self.kw)
            self.cache[(session, idx)] = who
        return who


@dataclass(slots=True)
class Scenario:
    id: str
    kind: str  # "attack" or "trap"
    capabilities: list[str]
    description: str
    principal: str | None
    window: tuple[int, int] | None = None  # extends start/end (a silence after the change)


class Actor(Protocol):
    name: str

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]: ...


@dataclass(slots=True)
class Expiry:
    """A lifecycle rule that expires objects ``days`` after they were written."""

    bucket: str
    prefix: str
    days: int
    since: int
    label: str | None = None


@dataclass
class World:
    style: str
    seed: int
    start: int
    days: int
    scale: float
    company: str
    tz: dict[str, float]  # team -> UTC offset in hours
    accounts: dict[str, str] = field(default_factory=dict)  # id -> name (ours)
    partners: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)  # attacker-held, never ours
    org_id: str | None = None
    buckets: dict[str, Bucket] = field(default_factory=dict)
    trail_bucket: Bucket | None = None
    trail_name: str = ""
    trail_home: str = ""  # account whose trail it is (the management account of an org trail)
    trail_all_buckets: dict[str, str] = field(default_factory=dict)  # account: "all"/"write"
    access_log_layout: str = "simple"  # or "partitioned" (date-partitioned prefixes)
    vpce: dict[str, tuple[str, str]] = field(default_factory=dict)
    actors: list[Actor] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    episodes: dict[int, list[Call]] = field(default_factory=dict)
    overlays: list[tuple[str, str, int, int]] = field(default_factory=list)
    ct_mutes: list[tuple[str, int, int]] = field(default_factory=list)  # account: no trail
    mgmt_mutes: list[tuple[str, int, int]] = field(default_factory=list)
    data_mutes: list[tuple[str, int, int, bool]] = field(default_factory=list)  # bucket, reads?
    al_mutes: list[tuple[str, int, int]] = field(default_factory=list)
    expiries: list[Expiry] = field(default_factory=list)
    threat_intel: list[str] = field(default_factory=list)
    ci_roles: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    seq: int = 0

    # ---- time
    def rng(self, *parts: object) -> Rng:
        return Rng(self.style, self.seed, *parts)

    def day0(self, day: int) -> int:
        return self.start + day * DAY

    def at(self, day: int, hhmm: str, tz: float = 0.0) -> int:
        """``hhmm`` local time (UTC offset ``tz``) on world day ``day`` (a UTC day)."""
        h, m = map(int, hhmm.split(":"))
        return self.day0(day) + h * HOUR + m * 60 - int(tz * HOUR)

    def scenario_day(self, pos: float) -> int:
        """A day for a scenario at relative position ``pos`` in [0, 1] of the period after the
        first half (7 of 14 days): a deployment backfills a week of history, the detector's
        learning period (7 days by default), and is judged on what follows."""
        lo = max(1, self.days // 2)
        return lo + round(max(0.0, min(1.0, pos)) * (self.days - 1 - lo))

    def when(self, pos: float, hhmm: str, tz: float = 0.0) -> int:
        """A scenario time: local ``hhmm`` on the day for ``pos``, kept inside the world with
        a few hours to spare."""
        day = self.scenario_day(pos)
        t = self.at(day, hhmm, tz)
        while t > self.end - 6 * HOUR and day > 0:
            day -= 1
            t = self.at(day, hhmm, tz)
        while t < self.day0(self.scenario_day(0.0)):
            t += DAY
        return t

    def weekday_day(self, pos: float, wd: int, tz: float = 0.0) -> int:
        """The first day from ``scenario_day(pos)`` that is weekday ``wd`` (Monday 0) in the
        given time zone, else the last such day in the world, else the scenario day."""
        d0 = self.scenario_day(pos)
        days = [
            d
            for d in range(self.days)
            if time.gmtime(self.day0(d) + 12 * HOUR + int(tz * HOUR)).tm_wday == wd
        ]
        later = [d for d in days if d >= d0]
        return later[0] if later else days[-1] if days else d0

    @property
    def end(self) -> int:
        return self.start + self.days * DAY

    # ---- scenarios
    def scenario(
        self, sid: str, kind: str, caps: Sequence[str], description: str, principal: str | None
    ) -> Scenario:
        assert all(s.id != sid for s in self.scenarios), sid
        s = Scenario(sid, kind, list(caps), description, principal)
        self.scenarios.append(s)
        return s

    def episode(self, s: Scenario, calls: Sequence[Call]) -> None:
        """Schedule calls that belong to scenario ``s`` (clipped to the world's days)."""
        for c in calls:
            if not self.start <= c.t < self.end:
                continue
            c.label = s.id
            self.seq += 1
            c.seq = self.seq
            self.episodes.setdefault((c.t - self.start) // DAY, []).append(c)

    def overlay(self, s: Scenario, actor: str, t0: int, t1: int) -> None:
        """Label an actor's own traffic between t0 and t1 as scenario ``s`` (a trap)."""
        self.overlays.append((s.id, actor, t0, t1))

    # ---- what gets logged
    def ct_records(self, c: Call) -> bool:
        acct = c.account
        if any(a in (acct, "*") and t0 <= c.t < t1 for a, t0, t1 in self.ct_mutes):
            return False
        b = c.bucket
        category = "mgmt"
        if b is not None and c.service == "s3" and c.raw is None:
            category = S3[c.op][4] if c.op in S3 else "mgmt"
        if category == "":
            return False
        if category == "mgmt":
            return not any(a == acct and t0 <= c.t < t1 for a, t0, t1 in self.mgmt_mutes)
        assert b is not None
        if b.account in self.accounts:
            ro = c.read_only if c.read_only is not None else S3_READ.get(c.op, False)
            if b.data_events == "none" or (b.data_events == "write" and ro):
                return False
            for name, t0, t1, reads in self.data_mutes:
                if name == b.name and t0 <= c.t < t1 and (ro or not reads):
                    return False
            return True
        scope = self.trail_all_buckets.get(c.who.account, "") if c.who.ct is not None else ""
        ro = c.read_only if c.read_only is not None else S3_READ.get(c.op, False)
        return scope == "all" or (scope == "write" and not ro)

    def al_records(self, b: Bucket, t: int) -> bool:
        if b.account not in self.accounts or not b.access_logs:
            return False
        return not any(n == b.name and t0 <= t < t1 for n, t0, t1 in self.al_mutes)

    def label_of(self, c: Call) -> str | None:
        if c.label is not None:
            return c.label
        for sid, actor, t0, t1 in self.overlays:
            if actor == c.actor and t0 <= c.t < t1:
                return sid
        return None


S3_READ = {k: v[3] for k, v in S3.items()}


# --------------------------------------------------------------------------- call helpers


def s3(t: int, who: Identity, op: str, b: Bucket, origin: Origin, agent: Agent, **kw: Any) -> Call:
    ip, vpce = origin
    account = kw.pop("account", b.account)
    return Call(t, who, op, ip, agent, b.region, account, bucket=b, vpce=vpce, **kw)


def api(
    t: int,
    who: Identity,
    service: str,
    op: str,
    origin: Origin,
    agent: Agent,
    region: str,
    params: dict[str, Any] | None = None,
    resp: dict[str, Any] | None = None,
    **kw: Any,
) -> Call:
    ip, vpce = origin
    account = kw.pop("account", who.account)
    return Call(
        t,
        who,
        op,
        ip,
        agent,
        region,
        account,
        service=service,
        params=params,
        resp=resp,
        vpce=vpce,
        **kw,
    )


def spread(rng: Rng, t0: int, t1: int, n: int) -> list[int]:
    """``n`` sorted random times in [t0, t1)."""
    return sorted(rng.randrange(t0, max(t0 + 1, t1)) for _ in range(n))


def times_by_profile(rng: Rng, day0: int, n: int, profile: Sequence[float]) -> list[int]:
    """``n`` times in a UTC day drawn from 24 hourly weights."""
    hours = rng.choices(range(24), weights=profile, k=n)
    return sorted(day0 + h * HOUR + rng.randrange(HOUR) for h in hours)


def hours(spec: dict[int | range, float], rest: float = 0.0) -> list[float]:
    out = [rest] * 24
    for k, v in spec.items():
        for h in k if isinstance(k, range) else (k,):
            out[h % 24] = v
    return out


def shift(profile: Sequence[float], tz: float) -> list[float]:
    """A local-time hourly profile as UTC weights."""
    off = round(tz)
    return [profile[(h + off) % 24] for h in range(24)]


def weekday(t: int, tz: float = 0.0) -> int:
    return time.gmtime(t + int(tz * HOUR)).tm_wday


def pool(rng: Rng, p: Prefix, start: int, n: int, days: int = 60) -> Prefix:
    """Fill a key space with ``n`` keys written in the ``days`` before the world starts."""
    p.pool = [p.new_key(rng, start - rng.randrange(HOUR, days * DAY)) for _ in range(n)]
    return p


# ------------------------------------------------------------------------ estate helpers

LOCAL_DIURNAL = (
    0.15,
    0.1,
    0.08,
    0.07,
    0.08,
    0.12,
    0.25,
    0.45,
    0.7,
    0.9,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    0.95,
    0.9,
    0.85,
    0.8,
    0.7,
    0.55,
    0.4,
    0.25,
)


def account_id(style: str, seed: int, name: str) -> str:
    return str(100000000000 + stable("account", style, seed, name) % 899999999999)


def add_bucket(w: World, name: str, account: str, region: str, **kw: Any) -> Bucket:
    kms = kw.pop("kms", False)
    b = Bucket(name, account, region, **kw)
    if kms:
        b.kms_key = f"arn:aws:kms:{region}:{account}:key/{w.rng('kms', name).uuid()}"
    w.buckets[name] = b
    return b


def sso(w: World, account: str, permission_set: str, region: str = "") -> Sessions:
    """IAM Identity Center: one reserved role per permission set and account."""
    suffix = w.rng("sso", account, permission_set).hexl(16)
    path = f"/aws-reserved/sso.amazonaws.com/{region + '/' if region else ''}"
    return Sessions(account, f"AWSReservedSSO_{permission_set}_{suffix}", 8 * HOUR, path=path)


def instance_id(rng: Rng, mixed: bool = False) -> str:
    if mixed:
        return "i-" + "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(17))
    return "i-0" + rng.hexl(16)
