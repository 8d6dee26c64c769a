"""A hand that makes calls one after another: an attacker, an on-call engineer, a scanner.

It keeps the identity, network origin, client and a clock, so a scenario reads like the
sequence of things somebody did:

    h = Hand(w, rng, who, ("45.77.12.9", None), KALI_CLI, t0)
    h.api("sts", "GetCallerIdentity")
    h.s3("ListObjects", bucket, query=...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws import XMLNS, Agent, Bucket, Call, Identity, Rng
from world import Origin, Prefix, World, api, s3


class Hand:
    def __init__(
        self,
        w: World,
        rng: Rng,
        who: Identity | Callable[[int], Identity],
        origin: Origin,
        agent: Agent,
        t: int,
    ) -> None:
        self.w, self.rng, self.origin, self.agent, self.t = w, rng, origin, agent, t
        self._who = who
        self.calls: list[Call] = []

    def who(self) -> Identity:
        return self._who(self.t) if callable(self._who) else self._who

    def wait(self, lo: int, hi: int | None = None) -> Hand:
        self.t += lo if hi is None else self.rng.randrange(lo, hi + 1)
        return self

    def step(self) -> None:
        self.t += self.rng.randrange(1, 4)

    def using(self, origin: Origin | None = None, agent: Agent | None = None) -> Hand:
        if origin is not None:
            self.origin = origin
        if agent is not None:
            self.agent = agent
        return self

    def s3(self, op: str, b: Bucket, **kw: Any) -> Call:
        c = s3(self.t, self.who(), op, b, self.origin, kw.pop("agent", self.agent), **kw)
        if b.account not in self.w.accounts and self.who().account in self.w.accounts:
            c.account = self.who().account  # our copy of an event on somebody else's bucket
        self.calls.append(c)
        self.step()
        return c

    def api(
        self,
        service: str,
        op: str,
        region: str = "us-east-1",
        params: dict[str, Any] | None = None,
        resp: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Call:
        c = api(
            self.t,
            self.who(),
            service,
            op,
            self.origin,
            kw.pop("agent", self.agent),
            region,
            params,
            resp,
            **kw,
        )
        self.calls.append(c)
        self.step()
        return c

    # ---- object work
    def read(
        self,
        p: Prefix,
        n: int,
        gap: tuple[int, int] = (0, 2),
        list_every: int = 0,
        op: str = "GetObject",
    ) -> None:
        for i in range(n):
            if list_every and i % list_every == 0:
                self.list(p)
            self.s3(
                op,
                p.bucket,
                key=p.pick(self.rng),
                size=0 if op != "GetObject" else p.size_of(self.rng),
            )
            self.t += self.rng.randrange(gap[0], gap[1] + 1)

    def list(self, p: Prefix, prefix: str | None = None) -> Call:
        base = p.template.split("{", 1)[0] if prefix is None else prefix
        q = {"list-type": "2", "prefix": base, "encoding-type": "url"}
        return self.s3(
            "ListObjects", p.bucket, query=q, size=600 + 320 * self.rng.randrange(5, 300)
        )

    def write(
        self, p: Prefix, n: int, gap: tuple[int, int] = (0, 2), overwrite: bool = False, **kw: Any
    ) -> None:
        for _ in range(n):
            key = p.pick(self.rng) if overwrite else p.new_key(self.rng, self.t)
            self.s3("PutObject", p.bucket, key=key, size=p.size_of(self.rng), **kw)
            self.t += self.rng.randrange(gap[0], gap[1] + 1)


# ------------------------------------------------------------------------ request bodies


def policy(b: Bucket, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bucketPolicy": {"Version": "2012-10-17", "Statement": statements}}


def deny_insecure(b: Bucket) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [b.arn, f"{b.arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def allow(
    principal: Any,
    actions: list[str],
    b: Bucket,
    sid: str,
    prefix: str = "*",
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    st = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": [b.arn, f"{b.arn}/{prefix}"],
    }
    if condition:
        st["Condition"] = condition
    return st


def lifecycle(rules: list[dict[str, Any]]) -> dict[str, Any]:
    rule: Any = rules[0] if len(rules) == 1 else rules
    return {"LifecycleConfiguration": {"xmlns": XMLNS, "Rule": rule}}


def expire_rule(rid: str, prefix: str, days: int, status: str = "Enabled") -> dict[str, Any]:
    return {"ID": rid, "Status": status, "Filter": {"Prefix": prefix}, "Expiration": {"Days": days}}


def logging_status(target: str | None, prefix: str = "") -> dict[str, Any]:
    st: dict[str, Any] = {"xmlns": XMLNS}
    if target:
        st["LoggingEnabled"] = {"TargetBucket": target, "TargetPrefix": prefix}
    return {"BucketLoggingStatus": st}


def pab(on: bool) -> dict[str, Any]:
    return {
        "PublicAccessBlockConfiguration": {
            "xmlns": XMLNS,
            "BlockPublicAcls": on,
            "IgnorePublicAcls": on,
            "BlockPublicPolicy": on,
            "RestrictPublicBuckets": on,
        }
    }


def versioning(status: str, mfa_delete: str | None = None) -> dict[str, Any]:
    cfg = {"xmlns": XMLNS, "Status": status}
    if mfa_delete:
        cfg["MfaDelete"] = mfa_delete
    return {"VersioningConfiguration": cfg}


def tagging(tags: dict[str, str]) -> dict[str, Any]:
    return {
        "Tagging": {
            "xmlns": XMLNS,
            "TagSet": {"Tag": [{"Key": k, "Value": v} for k, v in tags.items()]},
        }
    }


def encryption(kms_key: str = "") -> dict[str, Any]:
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    if kms_key:
        rule = {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": kms_key,
            },
            "BucketKeyEnabled": True,
        }
    return {"ServerSideEncryptionConfiguration": {"xmlns": XMLNS, "Rule": rule}}
