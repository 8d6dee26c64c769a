"""Benign machinery every AWS estate has in some form: infrastructure-as-code refreshes,
posture scans, AWS Config and Access Analyzer reading bucket settings, the SSM agent, AWS
services fetching task credentials, website visitors, security-team triage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws import ANONYMOUS, HOUR, Bucket, Call, Identity, Rng, iso, service_agent, service_identity
from behaviour import Periodic, Who, consumer_ip
from clients import ACCESS_ANALYZER, BOTS, BROWSERS, CONFIG
from hand import Hand
from world import Prefix, World, api, s3

# bucket settings a refresh reads, with the error each answers when the setting is absent
TERRAFORM_READS: tuple[tuple[str, str], ...] = (
    ("HeadBucket", ""),
    ("GetBucketPolicy", "NoSuchBucketPolicy"),
    ("GetBucketAcl", ""),
    ("GetBucketCors", "NoSuchCORSConfiguration"),
    ("GetBucketWebsite", "NoSuchWebsiteConfiguration"),
    ("GetBucketVersioning", ""),
    ("GetAccelerateConfiguration", ""),
    ("GetBucketRequestPayment", ""),
    ("GetBucketLogging", ""),
    ("GetBucketLifecycle", "NoSuchLifecycleConfiguration"),
    ("GetBucketReplication", "ReplicationConfigurationNotFoundError"),
    ("GetBucketEncryption", ""),
    ("GetObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"),
    ("GetBucketTagging", "NoSuchTagSet"),
    ("GetBucketOwnershipControls", ""),
    ("GetBucketPublicAccessBlock", ""),
)
POSTURE_READS = (
    "GetBucketAcl",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketEncryption",
    "GetBucketLogging",
    "GetBucketVersioning",
    "GetBucketPublicAccessBlock",
    "GetBucketLifecycle",
    "GetBucketReplication",
    "GetObjectLockConfiguration",
    "GetBucketLocation",
)
CONFIG_READS = (
    "GetBucketAcl",
    "GetBucketPolicy",
    "GetBucketVersioning",
    "GetBucketLogging",
    "GetBucketEncryption",
    "GetBucketLifecycle",
    "GetBucketPublicAccessBlock",
    "GetBucketReplication",
    "GetBucketTagging",
    "GetBucketNotificationConfiguration",
    "GetAccelerateConfiguration",
    "GetBucketWebsite",
    "GetBucketCors",
    "GetBucketLocation",
)


def setting_error(op: str, default_err: str, b: Bucket, has: set[str]) -> str:
    """The 404 a bucket answers for a setting it does not have."""
    if not default_err:
        return ""
    if op == "GetBucketWebsite" and b.website:
        return ""
    if op == "GetBucketPolicy" and "policy" in has:
        return ""
    if op == "GetBucketLifecycle" and "lifecycle" in has:
        return ""
    if op == "GetBucketTagging":
        return ""
    return default_err


def terraform_refresh(
    h: Hand,
    buckets: Sequence[Bucket],
    state: Prefix,
    state_key: str,
    settings: dict[str, set[str]],
    extra: Callable[[Hand], None] | None = None,
    list_buckets: bool = True,
) -> None:
    """``terraform plan``: read the state, refresh every bucket's settings, read IAM."""
    h.api("sts", "GetCallerIdentity")
    h.s3("GetObject", state.bucket, key=state_key, size=state.size_of(h.rng))
    if list_buckets:
        h.api("s3", "ListBuckets", params={"Host": "s3.amazonaws.com"})
    for b in buckets:
        for op, err in TERRAFORM_READS:
            e = setting_error(op, err, b, settings.get(b.name, set()))
            h.s3(op, b, error=e, size=0 if e else h.rng.randrange(120, 2400))
        h.wait(0, 2)
    if extra:
        extra(h)


def web_identity_login(h: Hand, role_arn: str, repo: str, provider: str) -> None:
    """The AssumeRoleWithWebIdentity record a GitHub Actions OIDC login leaves."""
    sub = f"repo:{repo}:ref:refs/heads/main"
    ident = Identity(
        {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:sts.amazonaws.com:{sub}",
            "userName": sub,
            "identityProvider": provider,
        },
        "-",
        role_arn.split(":")[4],
        provider,
    )
    acct = role_arn.split(":")[4]
    params = {"roleArn": role_arn, "roleSessionName": "GitHubActions", "durationSeconds": 3600}
    resp = {
        "credentials": {
            "accessKeyId": "ASIA" + h.rng.alnum(16),
            "expiration": "Jan 1, 2030, 12:00:00 AM",
            "sessionToken": "IQoJ" + h.rng.alnum(24),
        },
        "subjectFromWebIdentityToken": sub,
        "audience": "sts.amazonaws.com",
        "provider": provider,
    }
    c = api(
        h.t,
        ident,
        "sts",
        "AssumeRoleWithWebIdentity",
        h.origin,
        h.agent,
        "us-east-1",
        params,
        resp,
        account=acct,
    )
    c.resources = [{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn}]
    h.calls.append(c)
    h.step()


def posture_scan(h: Hand, buckets: Sequence[Bucket], regions: Sequence[str]) -> None:
    """A read-only posture scanner (Prowler-like) across one account."""
    h.api("sts", "GetCallerIdentity")
    h.api("iam", "GetAccountPasswordPolicy")
    h.api("iam", "GetAccountSummary")
    h.api("iam", "GenerateCredentialReport")
    h.api("iam", "GetCredentialReport")
    h.api("iam", "ListUsers", params={"maxItems": 1000})
    h.api("iam", "ListRoles", params={"maxItems": 1000})
    h.api("iam", "ListPolicies", params={"scope": "Local", "onlyAttached": False})
    h.api("s3", "ListBuckets", params={"Host": "s3.amazonaws.com"})
    for b in buckets:
        for op in POSTURE_READS:
            err = ""
            if op == "GetBucketPolicy" and h.rng.random() < 0.4:
                err = "NoSuchBucketPolicy"
            if op == "GetBucketLifecycle" and h.rng.random() < 0.5:
                err = "NoSuchLifecycleConfiguration"
            if op == "GetBucketReplication":
                err = "ReplicationConfigurationNotFoundError"
            if op == "GetObjectLockConfiguration":
                err = "ObjectLockConfigurationNotFoundError"
            h.s3(op, b, error=err, size=0 if err else h.rng.randrange(100, 1800))
    acct = h.who().account
    for r in regions:
        h.api("cloudtrail", "DescribeTrails", r, {"trailNameList": [], "includeShadowTrails": True})
        h.api("cloudtrail", "GetTrailStatus", r, {"name": h.w.trail_name or "org-trail"})
        h.api("cloudtrail", "GetEventSelectors", r, {"trailName": h.w.trail_name or "org-trail"})
        h.api("guardduty", "ListDetectors", r)
        h.api("securityhub", "DescribeHub", r)
        h.api("securityhub", "GetEnabledStandards", r)
        h.api("config", "DescribeConfigurationRecorders", r)
        h.api("config", "DescribeConfigurationRecorderStatus", r)
        h.api("access-analyzer", "ListAnalyzers", r)
        h.api("macie2", "GetMacieSession", r)
        h.api("kms", "ListKeys", r)
        h.api("ec2", "DescribeSecurityGroups", r)
        h.api("ec2", "DescribeInstances", r)
        h.api("ec2", "DescribeVpcs", r)
        h.api("ec2", "DescribeFlowLogs", r)
        h.api("ec2", "GetEbsEncryptionByDefault", r)
        h.api(
            "s3",
            "GetAccountPublicAccessBlock",
            r,
            params={"accountId": acct, "Host": f"{acct}.s3-control.{r}.amazonaws.com"},
        )
        h.wait(1, 4)


def config_reads(w: World, rng: Rng, t: int, account: str, buckets: Sequence[Bucket]) -> list[Call]:
    """AWS Config's periodic read of every bucket's settings (service-linked role)."""
    role_id = "AROA" + Rng("role-id", account, "AWSServiceRoleForConfig").alnum(17)
    sess = "AWSConfig-Describe"
    who = Identity(
        {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{sess}",
            "arn": f"arn:aws:sts::{account}:assumed-role/AWSServiceRoleForConfig/{sess}",
            "accountId": account,
            "accessKeyId": "ASIA" + Rng("cfg", account, t // 21600).alnum(16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/"
                    "AWSServiceRoleForConfig",
                    "accountId": account,
                    "userName": "AWSServiceRoleForConfig",
                },
                "attributes": {"creationDate": iso(t - 300), "mfaAuthenticated": "false"},
            },
            "invokedBy": "config.amazonaws.com",
        },
        f"arn:aws:sts::{account}:assumed-role/AWSServiceRoleForConfig/{sess}",
        account,
        f"arn:aws:iam::{account}:role/AWSServiceRoleForConfig",
        sess,
    )
    out = []
    for b in buckets:
        if b.account != account:
            continue
        for op in CONFIG_READS:
            err = ""
            if op in ("GetBucketCors", "GetBucketWebsite") and not b.website:
                err = (
                    "NoSuchCORSConfiguration"
                    if op == "GetBucketCors"
                    else "NoSuchWebsiteConfiguration"
                )
            out.append(
                s3(
                    t,
                    who,
                    op,
                    b,
                    ("config.amazonaws.com", None),
                    CONFIG,
                    error=err,
                    size=0 if err else rng.randrange(100, 1500),
                )
            )
            t += rng.randrange(0, 2)
    return out


def analyzer_reads(
    w: World, rng: Rng, t: int, account: str, buckets: Sequence[Bucket]
) -> list[Call]:
    """IAM Access Analyzer re-evaluating bucket policies and ACLs."""
    sess = "access-analyzer"
    role = "AWSServiceRoleForAccessAnalyzer"
    role_id = "AROA" + Rng("role-id", account, role).alnum(17)
    who = Identity(
        {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{sess}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{sess}",
            "accountId": account,
            "accessKeyId": "ASIA" + Rng("aa", account, t // 21600).alnum(16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account}:role/aws-service-role/"
                    f"access-analyzer.amazonaws.com/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": iso(t - 120), "mfaAuthenticated": "false"},
            },
            "invokedBy": "access-analyzer.amazonaws.com",
        },
        f"arn:aws:sts::{account}:assumed-role/{role}/{sess}",
        account,
        f"arn:aws:iam::{account}:role/{role}",
        sess,
    )
    out = []
    for b in buckets:
        if b.account == account:
            for op in (
                "GetBucketPolicy",
                "GetBucketAcl",
                "GetBucketPublicAccessBlock",
                "GetBucketLocation",
                "GetBucketPolicyStatus",
            ):
                out.append(
                    s3(
                        t,
                        who,
                        op,
                        b,
                        ("access-analyzer.amazonaws.com", None),
                        ACCESS_ANALYZER,
                        size=rng.randrange(100, 900),
                    )
                )
                t += rng.randrange(0, 2)
    return out


def ssm_agent(
    name: str,
    who: Who,
    hosts: list[tuple[str, str]],
    region: str,
    vpce: tuple[str, str] | None,
    agent: Any,
    platform: str = "Amazon Linux",
) -> Periodic:
    """The SSM agent on each instance reporting in every five minutes."""

    def make(t: int, ident: Identity, ip: str, rng: Rng) -> list[Call]:
        iid = ident.session
        params = {
            "instanceId": iid,
            "agentVersion": "3.3.551.0",
            "agentStatus": "Active",
            "platformType": "Windows" if "Windows" in platform else "Linux",
            "platformName": platform,
            "platformVersion": "2023",
            "iPAddress": ip if ip.startswith("10.") else "10.0.3.17",
            "computerName": f"ip-{ip.replace('.', '-')}.ec2.internal",
            "agentName": "amazon-ssm-agent",
            "availabilityZone": f"{region}a",
            "availabilityZoneId": "use1-az4",
        }
        out = [
            api(
                t,
                ident,
                "ssm",
                "UpdateInstanceInformation",
                (ip, vpce),
                agent,
                region,
                params,
                read_only=False,
            )
        ]
        if rng.random() < 0.5:
            out.append(
                api(
                    t + 2,
                    ident,
                    "ssm",
                    "ListInstanceAssociations",
                    (ip, vpce),
                    agent,
                    region,
                    {"instanceId": iid, "maxResults": 20},
                )
            )
        return out

    return Periodic(name, who, hosts, 300, make)


def credential_fetch(
    t: int, role_arn: str, session: str, service: str, region: str, rng: Rng
) -> Call:
    """An AWS service (ECS tasks, Lambda) assuming a workload's role for it."""
    acct = role_arn.split(":")[4]
    who = service_identity(f"{service}.amazonaws.com")
    params = {"roleArn": role_arn, "roleSessionName": session}
    resp = {
        "credentials": {
            "accessKeyId": "ASIA" + rng.alnum(16),
            "sessionToken": "IQoJ" + rng.alnum(20),
            "expiration": "Jan 1, 2030, 6:00:00 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": f"AROA{rng.alnum(17)}:{session}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{role_arn.rsplit('/', 1)[1]}/{session}",
        },
    }
    c = api(
        t,
        who,
        "sts",
        "AssumeRole",
        (f"{service}.amazonaws.com", None),
        service_agent(f"{service}.amazonaws.com"),
        region,
        params,
        resp,
        account=acct,
    )
    c.resources = [{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn}]
    c.event_version = "1.08"
    return c


def website_visits(w: World, rng: Rng, t: int, site: Prefix, referers: Sequence[str]) -> list[Call]:
    """Anonymous visitors of a static website bucket (and bots probing it)."""
    ident = ANONYMOUS
    out = []
    visitor = (consumer_ip(rng), None)
    if rng.random() < 0.04:
        bot = rng.choice(BOTS)
        for k in ("robots.txt", "sitemap.xml", "wp-login.php", ".env", "index.html"):
            err = "" if k in site.pool else "NoSuchKey"
            out.append(
                s3(
                    t,
                    ident,
                    "WebsiteGet",
                    site.bucket,
                    visitor,
                    bot,
                    key=k,
                    error=err,
                    size=0 if err else 900,
                )
            )
            t += rng.randrange(1, 5)
        return out
    agent = rng.choice(BROWSERS)
    page = rng.choice([k for k in site.pool if k.endswith(".html")] or site.pool)
    ref = rng.choice(referers)
    out.append(
        s3(
            t,
            ident,
            "WebsiteGet",
            site.bucket,
            visitor,
            agent,
            key=page,
            size=site.size_of(rng),
            referer=ref,
        )
    )
    for k in rng.sample(site.pool, min(3, len(site.pool))):
        if not k.endswith(".html"):
            out.append(
                s3(
                    t + 1,
                    ident,
                    "WebsiteGet",
                    site.bucket,
                    visitor,
                    agent,
                    key=k,
                    size=site.size_of(rng),
                    referer=referers[-1],
                )
            )
    return out


def finding_ids(
    rng: Rng, account: str, region: str, n: int, product: str = "guardduty"
) -> list[dict[str, str]]:
    prod = f"arn:aws:securityhub:{region}::product/aws/{product}"
    return [
        {
            "id": f"arn:aws:guardduty:{region}:{account}:detector/{rng.hexl(32)}/finding/"
            f"{rng.hexl(32)}",
            "productArn": prod,
        }
        for _ in range(n)
    ]


def triage(h: Hand, account: str, region: str, status: str, note: str) -> None:
    """A security engineer working Security Hub findings (status NOTIFIED or RESOLVED)."""
    h.api(
        "securityhub",
        "GetFindings",
        region,
        {
            "filters": {"WorkflowStatus": [{"Value": "NEW", "Comparison": "EQUALS"}]},
            "maxResults": 100,
        },
    )
    ids = finding_ids(h.rng, account, region, h.rng.randrange(1, 12))
    params = {
        "findingIdentifiers": ids,
        "workflow": {"status": status},
        "note": {"text": note, "updatedBy": h.who().session},
    }
    h.api(
        "securityhub",
        "BatchUpdateFindings",
        region,
        params,
        {"processedFindings": ids, "unprocessedFindings": []},
        read_only=False,
    )


EVERY_6H = HOUR * 6


class Visitors:
    """People (and bots) browsing a static website bucket, by the hour."""

    def __init__(
        self, name: str, site: Prefix, per_day: float, profile: list[float], referers: Sequence[str]
    ) -> None:
        self.name, self.site, self.per_day, self.profile = name, site, per_day, profile
        self.referers = referers

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        from world import times_by_profile

        out: list[Call] = []
        n = rng.poisson(self.per_day * w.scale)
        for t in times_by_profile(rng, w.day0(day), n, self.profile):
            out += website_visits(w, rng, t, self.site, self.referers)
        return out


class CredentialRefresh:
    """An AWS service assuming a workload role for each of its hosts every few hours."""

    def __init__(
        self,
        name: str,
        role_arn: str,
        sessions: Callable[[int], list[str]],
        service: str,
        region: str,
        period: int = EVERY_6H,
    ) -> None:
        self.name, self.role_arn, self.sessions = name, role_arn, sessions
        self.service, self.region, self.period = service, region, period

    def calls(self, w: World, day: int, rng: Rng) -> list[Call]:
        out = []
        d0 = w.day0(day)
        for s in self.sessions(day):
            t = d0 + rng.randrange(self.period)
            while t < d0 + 86400:
                out.append(credential_fetch(t, self.role_arn, s, self.service, self.region, rng))
                t += self.period
        return out
