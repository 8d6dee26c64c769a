"""Attack techniques as sequences of calls, written from how intrusions on S3 are reported
(Stratus Red Team, incident write-ups, GuardDuty finding types), each with the request and
response shapes CloudTrail records for them. A style decides who does them, where and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws import DAY, XMLNS, Bucket, Call, Identity, iso, role_session
from hand import (
    Hand,
    allow,
    deny_insecure,
    expire_rule,
    lifecycle,
    logging_status,
    pab,
    policy,
    versioning,
)
from services import finding_ids
from world import Prefix

RANSOM_NAMES = (
    "README-RECOVER-YOUR-FILES.txt",
    "HOW_TO_DECRYPT.txt",
    "!!_RESTORE_DATA_!!.txt",
    "your-files-were-deleted.txt",
)


def discovery(
    h: Hand,
    buckets: Sequence[Bucket],
    ops: Sequence[str] = ("GetBucketLocation", "GetBucketPolicy", "GetBucketAcl"),
    whoami: bool = True,
) -> None:
    """Who am I, which buckets are there, who may read them."""
    if whoami:
        h.api("sts", "GetCallerIdentity")
    h.api("s3", "ListBuckets", params={"Host": "s3.amazonaws.com"})
    for b in buckets:
        for op in ops:
            err = "NoSuchBucketPolicy" if op == "GetBucketPolicy" and h.rng.random() < 0.4 else ""
            h.s3(op, b, error=err, size=0 if err else h.rng.randrange(100, 1500))


def denied_storm(h: Hand, guesses: Sequence[str], real: Sequence[Bucket], region: str) -> None:
    """Guessing bucket names and hitting buckets it may not read: 403s and NoSuchBucket."""
    from aws import Bucket as B

    for name in guesses:
        fake = B(name, "000000000000", region)
        c = h.s3("ListObjects", fake, error="NoSuchBucket", query={"list-type": "2"})
        c.account = h.who().account
    for b in real:
        for op in ("ListObjects", "GetBucketPolicy", "GetBucketAcl"):
            h.s3(
                op,
                b,
                error="AccessDenied",
                query={"list-type": "2"} if op == "ListObjects" else None,
            )


def put_policy(h: Hand, b: Bucket, statements: list[dict[str, Any]]) -> Call:
    return h.s3("PutBucketPolicy", b, params=policy(b, statements))


def grant_foreign(h: Hand, b: Bucket, foreign_principal: str) -> Call:
    """A bucket policy that lets another account read (and list) everything."""
    return put_policy(
        h,
        b,
        [
            deny_insecure(b),
            allow(
                {"AWS": foreign_principal}, ["s3:GetObject", "s3:ListBucket"], b, "AllowDataSharing"
            ),
        ],
    )


def make_public(h: Hand, b: Bucket, how: str) -> None:
    """Public exposure: Block Public Access off, then a public policy, ACL or object ACLs."""
    if how in ("policy", "acl"):
        h.s3("DeleteBucketPublicAccessBlock", b)
        h.wait(5, 40)
    if how == "policy":
        put_policy(h, b, [allow("*", ["s3:GetObject"], b, "PublicRead")])
    elif how == "acl":
        owner = {"ID": b.owner_id}
        grants = [
            {
                "Grantee": {
                    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                    "xsi:type": "Group",
                    "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                },
                "Permission": "READ",
            },
            {
                "Grantee": {
                    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                    "xsi:type": "CanonicalUser",
                    "ID": b.owner_id,
                },
                "Permission": "FULL_CONTROL",
            },
        ]
        h.s3(
            "PutBucketAcl",
            b,
            params={
                "AccessControlPolicy": {
                    "xmlns": XMLNS,
                    "Owner": owner,
                    "AccessControlList": {"Grant": grants},
                }
            },
        )
    elif how == "pab":
        h.s3("PutBucketPublicAccessBlock", b, params=pab(False))


def account_pab_off(h: Hand, account: str, region: str) -> None:
    host = f"{account}.s3-control.{region}.amazonaws.com"
    params = {"accountId": account, "Host": host, **pab(False)}
    h.api("s3", "PutAccountPublicAccessBlock", region, params, read_only=False)


def public_object_acls(h: Hand, p: Prefix, n: int) -> None:
    for _ in range(n):
        h.s3("PutObjectAcl", p.bucket, key=p.pick(h.rng), params={"x-amz-acl": "public-read"})


def anonymous_reads(
    h: Hand,
    p: Prefix,
    n: int,
    ips: Sequence[str],
    agents: Sequence[Any],
    list_first: bool = True,
    error: str = "",
) -> None:
    """Unauthenticated requests from the internet (the hand's identity is anonymous)."""
    for i in range(n):
        h.using(origin=(h.rng.choice(ips), None), agent=h.rng.choice(agents))
        if list_first and i % 25 == 0:
            h.s3(
                "ListObjects",
                p.bucket,
                query={"list-type": "2", "prefix": ""},
                error=error,
                size=0 if error else 4000,
            )
        h.s3(
            "GetObject",
            p.bucket,
            key=p.pick(h.rng),
            error=error,
            size=0 if error else p.size_of(h.rng),
        )
        h.wait(0, 20)


def copy_out(h: Hand, src: Prefix, dest: Bucket, n: int, gap: tuple[int, int] = (0, 2)) -> None:
    """Server-side copies of our objects into a bucket of another account."""
    for _ in range(n):
        key = src.pick(h.rng)
        c = h.s3(
            "CopyObject",
            dest,
            key=f"loot/{src.bucket.name}/{key}",
            size=src.size_of(h.rng),
            copy_source=f"{src.bucket.name}/{key}",
        )
        c.resources = [
            {"type": "AWS::S3::Object", "ARN": f"{src.bucket.arn}/{key}"},
            {"accountId": src.bucket.account, "type": "AWS::S3::Bucket", "ARN": src.bucket.arn},
        ]
        h.wait(*gap)


def mass_delete(h: Hand, p: Prefix, n: int, batch: int = 1000, versions: bool = False) -> None:
    """DeleteObjects in batches (the access log has one BATCH.DELETE.OBJECT line per key), or
    version-id deletes that cannot be undone."""
    keys = list(dict.fromkeys(p.pick(h.rng) for _ in range(n * 2)))[:n]
    while len(keys) < n:  # the bucket holds more objects than the key space remembers
        keys.append(p.new_key(h.rng, h.t - h.rng.randrange(DAY, 400 * DAY)))
    if versions:
        h.s3("ListObjectVersions", p.bucket, query={"versions": "", "prefix": ""}, size=90000)
        for k in keys:
            h.s3("DeleteObject", p.bucket, key=k, version=h.rng.alnum(32))
        return
    for i in range(0, len(keys), batch):
        h.s3("DeleteObjects", p.bucket, keys=keys[i : i + batch], params={"delete": ""})
        h.wait(1, 4)


def reencrypt(h: Hand, p: Prefix, n: int, foreign_key: str = "") -> None:
    """In-place copies that re-encrypt with a key we do not hold: SSE-C, or a KMS key of
    another account."""
    for _ in range(n):
        k = p.pick(h.rng)
        if foreign_key:
            params = {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": foreign_key,
            }
            resp = {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": foreign_key,
            }
            c = h.s3(
                "CopyObject",
                p.bucket,
                key=k,
                copy_source=f"{p.bucket.name}/{k}",
                size=p.size_of(h.rng),
                params=params,
                resp=resp,
                sse="SSE_KMS",
            )
            c.resources = [
                {
                    "accountId": foreign_key.split(":")[4],
                    "type": "AWS::KMS::Key",
                    "ARN": foreign_key,
                }
            ]
        else:
            params = {
                "x-amz-server-side-encryption-customer-algorithm": "AES256",
                "x-amz-metadata-directive": "REPLACE",
            }
            h.s3(
                "CopyObject",
                p.bucket,
                key=k,
                copy_source=f"{p.bucket.name}/{k}",
                size=p.size_of(h.rng),
                params=params,
                sse="SSE_C",
            )
        h.wait(0, 1)


def ransom_note(h: Hand, b: Bucket, prefix: str = "") -> None:
    name = h.rng.choice(RANSOM_NAMES)
    h.s3(
        "PutObject",
        b,
        key=f"{prefix}{name}",
        size=h.rng.randrange(900, 2400),
        params={"Content-Type": "text/plain"},
    )


def logging_off(h: Hand, b: Bucket) -> None:
    h.s3("GetBucketLogging", b, size=300)
    h.s3("PutBucketLogging", b, params=logging_status(None))


def recovery_off(h: Hand, b: Bucket, what: Sequence[str]) -> None:
    """Switch off what would let us recover: versioning, MFA delete, encryption, replication,
    lifecycle (one or several on one bucket)."""
    for x in what:
        if x == "versioning":
            h.s3("PutBucketVersioning", b, params=versioning("Suspended"))
        elif x == "mfa":
            h.s3("PutBucketVersioning", b, params=versioning("Enabled", "Disabled"))
        elif x == "encryption":
            h.s3("DeleteBucketEncryption", b)
        elif x == "replication":
            h.s3("DeleteBucketReplication", b)
        elif x == "lifecycle":
            h.s3("DeleteBucketLifecycle", b)
        h.wait(3, 30)


def replicate_to(h: Hand, b: Bucket, dest: Bucket, role_arn: str) -> None:
    """Replication of a whole bucket to a bucket in another account."""
    rule = {
        "ID": "dr-copy",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {
            "Bucket": dest.arn,
            "Account": dest.account,
            "AccessControlTranslation": {"Owner": "Destination"},
        },
    }
    h.s3("PutBucketVersioning", b, params=versioning("Enabled"))
    h.s3(
        "PutBucketReplication",
        b,
        params={"ReplicationConfiguration": {"xmlns": XMLNS, "Role": role_arn, "Rule": rule}},
    )


def short_expiry(h: Hand, b: Bucket, days: int, prefix: str = "", status: str = "Enabled") -> None:
    h.s3("GetBucketLifecycle", b, error="NoSuchLifecycleConfiguration")
    h.s3(
        "PutBucketLifecycle",
        b,
        params=lifecycle([expire_rule("cost-cleanup", prefix, days, status)]),
    )


def deny_log_delivery(h: Hand, b: Bucket, services: Sequence[str]) -> None:
    """A bucket policy on a log bucket that denies the services delivering into it."""
    st = {
        "Sid": "RestrictWrites",
        "Effect": "Deny",
        "Principal": {"Service": list(services)},
        "Action": "s3:PutObject",
        "Resource": f"{b.arn}/*",
    }
    put_policy(h, b, [st])


def trail_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def stop_trail(h: Hand, region: str, account: str, name: str) -> None:
    h.api(
        "cloudtrail", "DescribeTrails", region, {"trailNameList": [], "includeShadowTrails": True}
    )
    h.api(
        "cloudtrail",
        "StopLogging",
        region,
        {"name": trail_arn(region, account, name)},
        read_only=False,
    )


def start_trail(h: Hand, region: str, account: str, name: str) -> None:
    h.api(
        "cloudtrail",
        "StartLogging",
        region,
        {"name": trail_arn(region, account, name)},
        read_only=False,
    )


def delete_trail(h: Hand, region: str, account: str, name: str) -> None:
    h.api("cloudtrail", "GetTrailStatus", region, {"name": name})
    h.api(
        "cloudtrail",
        "DeleteTrail",
        region,
        {"name": trail_arn(region, account, name)},
        read_only=False,
    )


def narrow_selectors(
    h: Hand,
    region: str,
    account: str,
    name: str,
    bucket: Bucket,
    advanced: bool = True,
    drop_management: bool = False,
) -> None:
    """PutEventSelectors that stops recording reads on a bucket (advanced selectors), or
    management events and every data event (classic selectors)."""
    arn = trail_arn(region, account, name)
    h.api("cloudtrail", "GetEventSelectors", region, {"trailName": arn})
    if advanced:
        sels = [
            {
                "name": "Management events",
                "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}],
            },
            {
                "name": "S3 writes only",
                "fieldSelectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "readOnly", "equals": ["false"]},
                    {"field": "resources.ARN", "notStartsWith": [f"{bucket.arn}/"]},
                ],
            },
        ]
        h.api(
            "cloudtrail",
            "PutEventSelectors",
            region,
            {"trailName": arn, "advancedEventSelectors": sels},
            {"trailARN": arn, "advancedEventSelectors": sels},
            read_only=False,
        )
    else:
        sels = [
            {
                "readWriteType": "WriteOnly",
                "includeManagementEvents": not drop_management,
                "dataResources": [],
                "excludeManagementEventSources": [],
            }
        ]
        h.api(
            "cloudtrail",
            "PutEventSelectors",
            region,
            {"trailName": arn, "eventSelectors": sels},
            {"trailARN": arn, "eventSelectors": sels},
            read_only=False,
        )


def blind(h: Hand, what: str, region: str, account: str, **kw: Any) -> None:
    """Switch off or mute the services that would notice."""
    det = kw.get("detector", h.rng.hexl(32))
    if what == "guardduty-delete":
        h.api("guardduty", "ListDetectors", region)
        h.api("guardduty", "DeleteDetector", region, {"detectorId": det}, read_only=False)
    elif what == "guardduty-disable":
        h.api(
            "guardduty",
            "UpdateDetector",
            region,
            {"detectorId": det, "enable": False},
            read_only=False,
        )
    elif what == "guardduty-ipset":
        loc = f"https://s3.amazonaws.com/{kw['bucket']}/trusted-ips.txt"
        h.api(
            "guardduty",
            "CreateIPSet",
            region,
            {
                "detectorId": det,
                "name": "office-egress",
                "format": "TXT",
                "location": loc,
                "activate": True,
            },
            {"ipSetId": h.rng.hexl(32)},
            read_only=False,
        )
    elif what == "guardduty-threatintel":
        h.api(
            "guardduty",
            "DeleteThreatIntelSet",
            region,
            {"detectorId": det, "threatIntelSetId": h.rng.hexl(32)},
            read_only=False,
        )
    elif what == "macie-disable":
        h.api("macie2", "DisableMacie", region, read_only=False)
    elif what == "macie-pause":
        h.api("macie2", "UpdateMacieSession", region, {"status": "PAUSED"}, read_only=False)
    elif what == "analyzer-archive":
        h.api(
            "access-analyzer",
            "CreateArchiveRule",
            region,
            {
                "analyzerName": kw.get("analyzer", "org-analyzer"),
                "ruleName": "ignore-s3-shares",
                "filter": {"resourceType": {"eq": ["AWS::S3::Bucket"]}},
                "clientToken": h.rng.uuid(),
            },
            read_only=False,
        )
    elif what == "securityhub-suppress":
        ids = finding_ids(h.rng, account, region, h.rng.randrange(3, 20))
        h.api(
            "securityhub",
            "BatchUpdateFindings",
            region,
            {
                "findingIdentifiers": ids,
                "workflow": {"status": "SUPPRESSED"},
                "note": {"text": "known noise", "updatedBy": h.who().session or "admin"},
            },
            {"processedFindings": ids, "unprocessedFindings": []},
            read_only=False,
        )
    elif what == "securityhub-archive":
        h.api(
            "securityhub",
            "UpdateFindings",
            region,
            {
                "filters": {
                    "ResourceType": [{"value": "AwsS3Bucket", "comparison": "EQUALS"}],
                    "ProductName": [{"value": "GuardDuty", "comparison": "EQUALS"}],
                },
                "recordState": "ARCHIVED",
                "note": {"text": "bulk close", "updatedBy": "admin"},
            },
            read_only=False,
        )
    else:
        raise ValueError(what)


def presigned_abuse(
    h: Hand,
    p: Prefix,
    signer: Identity,
    n: int,
    ips: Sequence[str],
    agents: Sequence[Any],
    expires: int = 604800,
) -> None:
    """A presigned URL (a week long) leaked and fetched again and again from many places."""
    from behaviour import presign_query

    key = p.pick(h.rng)
    q = presign_query(signer, p, h.t - 3600, h.rng, expires)
    size = p.size_of(h.rng)
    for _ in range(n):
        h.using(origin=(h.rng.choice(ips), None), agent=h.rng.choice(agents))
        c = h.s3("GetObject", p.bucket, key=key, size=size, auth="QueryString", query=q)
        c.who = signer
        h.wait(0, 30)


def vpce_denied(
    h: Hand, b: Bucket, vpce: tuple[str, str], caller_account: str, n: int, ip: str
) -> None:
    """Network-activity events: requests through our endpoint that its policy denied."""
    for _ in range(n):
        rec = {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AWSAccount", "principalId": "", "accountId": caller_account},
            "eventTime": iso(h.t),
            "eventSource": "s3.amazonaws.com",
            "eventName": h.rng.choice(("GetObject", "ListObjects", "PutObject")),
            "awsRegion": b.region,
            "sourceIPAddress": ip,
            "userAgent": h.agent.ua,
            "errorCode": "VpceAccessDenied",
            "errorMessage": "The request was denied due to a VPC endpoint policy",
            "requestParameters": None,
            "responseElements": None,
            "requestID": h.rng.hexu(16),
            "eventType": "AwsVpceEvent",
            "recipientAccountId": vpce[1],
            "sharedEventID": h.rng.uuid(),
            "vpcEndpointId": vpce[0],
            "vpcEndpointAccountId": vpce[1],
            "eventCategory": "NetworkActivity",
        }
        c = Call(h.t, h.who(), rec["eventName"], ip, h.agent, b.region, vpce[1], bucket=b, raw=rec)
        h.calls.append(c)
        h.wait(1, 20)


def foreign_via_endpoint(
    h: Hand, p: Prefix, vpce: tuple[str, str], foreign_account: str, n: int, ip: str
) -> None:
    """A role of another account calling our bucket through our endpoint (from a host inside
    our VPC): refused by the bucket, recorded in our account with our endpoint id."""
    key = "ASIA" + h.rng.alnum(16)
    who = role_session(
        foreign_account, "OrganizationAccountAccessRole", "ops-tooling", h.t - 600, key
    )
    other = Hand(h.w, h.rng, who, (ip, vpce), h.agent, h.t)
    for _ in range(n):
        other.s3("GetObject", p.bucket, key=p.pick(h.rng), error="AccessDenied")
        other.wait(2, 30)
    h.calls += other.calls
    h.t = other.t
