"""Buckets opened to the world (C06): Block Public Access removed or weakened, policies
allowing Principal ``*`` without a restricting condition, public ACLs. Policies are read
statement by statement (up to ``MAX_STATEMENTS``); the helpers serve ``sharing`` (C07) too."""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

from detector.config import Settings
from detector.detections._examples import (
    CI,
    OUR_ACCOUNT,
    access_line,
    bucket_policy,
    data_event,
    record,
)
from detector.detections.base import EventRule, Example, Finding, register
from detector.features.enrich import PUBLIC_ACCESS_FLAGS, all_public_access_blocked

MAX_STATEMENTS = 32
_RP = pl.col("request_parameters").fill_null("")
_NAME = pl.col("event_name")
_S3 = pl.col("event_source").is_in(["s3.amazonaws.com", "s3-control.amazonaws.com"])
_OK = _S3 & ~pl.col("is_error")
_FLAGS = PUBLIC_ACCESS_FLAGS
_ALL_BLOCKED = all_public_access_blocked()
_PUBLIC_GROUP = r"acs\.amazonaws\.com\\?/groups\\?/global\\?/(AllUsers|AuthenticatedUsers)"
_PUBLIC_CANNED = r'"x-amz-acl"\s*:\s*\[?\s*"(public-read|public-read-write|authenticated-read)"'
_WILDCARD = r'^"?\*"?$|"AWS"\s*:\s*(\[[^\]]*)?"\*"'
_RESTRICTING = (
    r"(?i)aws:(SourceIp|VpcSourceIp|SourceVpce?|PrincipalOrg(ID|Paths)|"
    r"PrincipalAccount|PrincipalArn|SourceAccount|SourceArn|SourceOrg(ID|Paths)|"
    r"userid|username)|s3:DataAccessPoint(Account|Arn)"
)
_ACCOUNT_IN_PRINCIPAL = r'(::|")\d{12}[:"]'
_ACCOUNT_CONDITION = (
    r'"(aws:PrincipalAccount|aws:SourceAccount|s3:DataAccessPointAccount|'
    r'aws:PrincipalArn|aws:SourceArn|s3:DataAccessPointArn)"\s*:\s*'
    r'(\[[^\]]*\]|"[^"]*")'
)
"""Condition keys that widen a grant to an account (bare id or inside an ARN)."""
POLICY_EVENTS = ("PutBucketPolicy", "PutAccessPointPolicy")


def _ci(settings: Settings) -> pl.Expr:
    ci = list(settings.ci_roles)
    return (pl.col("principal").is_in(ci) | pl.col("principal_arn").is_in(ci)).fill_null(False)


def statements() -> list[tuple[pl.Expr, pl.Expr, pl.Expr]]:
    """(Effect, Principal, Condition) of each statement of a bucket or access point policy,
    as JSON text. CloudTrail logs a bucket policy as an object, an access point's as a string:
    ``json_path_match`` returns either as text that parses again."""
    rp = pl.when(_NAME.is_in(POLICY_EVENTS)).then(pl.col("request_parameters"))
    doc = pl.coalesce(
        rp.str.json_path_match("$.bucketPolicy"),
        rp.str.json_path_match("$.PutAccessPointPolicyRequest.Policy"),
    )
    s = doc.str.json_path_match("$.Statement")
    s = pl.when(s.str.starts_with("{")).then(pl.lit("[") + s + pl.lit("]")).otherwise(s)
    return [
        (
            s.str.json_path_match(f"$[{i}].Effect"),
            s.str.json_path_match(f"$[{i}].Principal"),
            s.str.json_path_match(f"$[{i}].Condition"),
        )
        for i in range(MAX_STATEMENTS)
    ]


def public_policy() -> pl.Expr:
    """A statement allows everyone (Principal ``*``) without a condition narrowing who."""
    return pl.any_horizontal(
        *(
            (effect == "Allow")
            & principal.str.contains(_WILDCARD)
            & (condition.is_null() | ~condition.str.contains(_RESTRICTING))
            for effect, principal, condition in statements()
        )
    ).fill_null(False)


def accounts(text: pl.Expr, pattern: str) -> pl.Expr:
    """Distinct 12-digit account ids found by ``pattern`` in ``text``."""
    return (
        text.str.extract_all(pattern)
        .list.eval(pl.element().str.extract(r"(\d{12})", 1))
        .list.unique()
    )


def foreign(accts: pl.Expr, settings: Settings) -> pl.Expr:
    """The ids among ``accts`` that are not ours (not the recipient's, when ours are unknown)."""
    ours = (
        pl.lit(sorted(settings.our_accounts | settings.partner_accounts), dtype=pl.List(pl.String))
        if settings.our_accounts
        else pl.concat_list(pl.col("recipient_account_id"))
    )
    return accts.list.set_difference(ours).list.drop_nulls()


def policy_foreign(settings: Settings) -> pl.Expr:
    """Accounts not ours that an Allow statement names, as principal or in a condition."""
    stmts = statements()
    principals = pl.concat_str(
        [pl.when(e == "Allow").then(p) for e, p, _ in stmts], separator=" ", ignore_nulls=True
    )
    conditions = pl.concat_str(
        [pl.when(e == "Allow").then(c) for e, _, c in stmts], separator=" ", ignore_nulls=True
    )
    in_conditions = conditions.str.extract_all(_ACCOUNT_CONDITION).list.join(" ")
    return foreign(
        pl.concat_list(
            accounts(principals, _ACCOUNT_IN_PRINCIPAL), accounts(in_conditions, r"\d{12}")
        ).list.unique(),
        settings,
    )


class _Exposure(EventRule):
    """C06 base: website buckets are meant to be public (medium; CI setting them up: silent).

    Absent bodies (requestParameters null: omitted by CloudTrail, and on every access-log
    line) are read by what AWS does: a ``Delete…PublicAccessBlock`` needs no body and removes
    the block, so it fires; a ``Put…`` call sets what its body says, so without the body the
    new policy, ACL or flags are unknown and not judged. AWS services acting on their own
    (``AWSService``, a service name as source address) are skipped.
    """

    severity = "high"
    capabilities: ClassVar[tuple[str, ...]] = ("C06",)
    attack: ClassVar[tuple[str, ...]] = ("T1530", "T1098")
    dedup_by = ("principal", "bucket")
    reason_feature = "public_exposure"

    events_of: ClassVar[tuple[str, ...]]
    """The API calls a detection looks at; its ``exposes`` condition reads only those."""

    def match(self, settings: Settings) -> pl.Expr:
        website = pl.col("bucket").is_in(list(settings.website_buckets)).fill_null(False)
        return _OK & _NAME.is_in(list(self.events_of)) & self.exposes() & ~(website & _ci(settings))

    def exposes(self) -> pl.Expr:
        raise NotImplementedError

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        out = super().findings(events, settings)  # pre-filters by events_of
        for f in out:
            if f.buckets and set(f.buckets) <= settings.website_buckets:
                f.severity = "medium"
        return out


@register
class PublicAccessBlockDisabled(_Exposure):
    id = "public_access_block_disabled"
    title = "S3 Block Public Access removed or weakened (bucket or account)"
    runbook = (
        "Re-apply Block Public Access (all four settings) unless the bucket is meant to "
        "be public, then check its policy and ACLs for what the change exposed."
    )
    reason_template = (
        "{event_name}[ on {bucket}] by {principal}[ from {source_ip}]: Block Public "
        "Access removed or not all four settings on"
    )

    events_of = tuple(
        f"{verb}{scope}PublicAccessBlock"
        for verb in ("Put", "Delete")
        for scope in ("Bucket", "", "Account")
    )

    def exposes(self) -> pl.Expr:
        known = pl.col("request_parameters").is_not_null()  # access logs carry no settings
        return _NAME.str.starts_with("Delete") | (known & ~_ALL_BLOCKED)

    examples = (
        Example(
            "bucket BPA flags turned off",
            (
                record(
                    "PutBucketPublicAccessBlock",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "PublicAccessBlockConfiguration": {
                            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                            "BlockPublicAcls": False,
                            "IgnorePublicAcls": False,
                            "BlockPublicPolicy": False,
                            "RestrictPublicBuckets": False,
                        },
                        "publicAccessBlock": "",
                    },
                ),
            ),
        ),
        Example(
            "account BPA deleted",
            (
                record(
                    "DeleteAccountPublicAccessBlock",
                    "s3.amazonaws.com",
                    {"x-amz-account-id": OUR_ACCOUNT, "Host": "s3-control.us-east-1.amazonaws.com"},
                ),
            ),
        ),
        Example(
            "all four flags on",
            (
                record(
                    "PutBucketPublicAccessBlock",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "PublicAccessBlockConfiguration": {f: True for f in _FLAGS},
                        "publicAccessBlock": "",
                    },
                ),
            ),
            fires=False,
        ),
        Example(
            "CI opening the website bucket",
            (
                record(
                    "DeleteBucketPublicAccessBlock",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-www-static", "publicAccessBlock": ""},
                    identity=CI,
                ),
            ),
            fires=False,
        ),
        Example(
            "BPA put seen in the access log only (settings not logged)",
            access_lines=(
                access_line(
                    "REST.PUT.PUBLIC_ACCESS_BLOCK", "acme-data", None, bytes_sent=0, object_size=0
                ),
            ),
            fires=False,
        ),
        Example(
            "denied",
            (
                record(
                    "DeleteBucketPublicAccessBlock",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data"},
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
    )


def _put_policy(bucket: str, *statements: dict, **extra: Any) -> dict[str, Any]:
    return record(
        "PutBucketPolicy", "s3.amazonaws.com", bucket_policy(bucket, *statements), **extra
    )


_READ_ALL = {
    "Sid": "PublicRead",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::acme-data/*",
}


@register
class PublicBucketPolicy(_Exposure):
    id = "bucket_policy_public"
    title = "Bucket or access point policy allows everyone (Principal *) unconditionally"
    runbook = (
        "Remove or condition the wildcard statement (aws:SourceVpce, aws:PrincipalOrgID) "
        "and review access logs for anonymous reads since the change."
    )
    reason_template = (
        "{event_name}[ on {bucket}] by {principal} allows Principal * "
        "with no condition narrowing who"
    )

    events_of = POLICY_EVENTS

    def exposes(self) -> pl.Expr:
        return public_policy()

    examples = (
        Example("public read for *", (_put_policy("acme-data", _READ_ALL),)),
        Example(
            "AWS:* with only a TLS condition (single statement object)",
            (
                record(
                    "PutBucketPolicy",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "bucketPolicy": {
                            "Statement": {
                                "Effect": "Allow",
                                "Principal": {"AWS": ["*"]},
                                "Action": "s3:*",
                                "Resource": "*",
                                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                            }
                        },
                    },
                ),
            ),
        ),
        Example(
            "website bucket public read (medium)",
            (_put_policy("acme-www-static", _READ_ALL),),
            severity="medium",
        ),
        Example(
            "Principal * limited to our VPC endpoint",
            (
                _put_policy(
                    "acme-data",
                    {**_READ_ALL, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b"}}},
                ),
            ),
            fires=False,
        ),
        Example(
            "Deny * statement",
            (_put_policy("acme-data", {**_READ_ALL, "Effect": "Deny"}),),
            fires=False,
        ),
        Example(
            "CI deploying the website bucket policy",
            (_put_policy("acme-www-static", _READ_ALL, identity=CI),),
            fires=False,
        ),
    )


@register
class PublicAcl(_Exposure):
    id = "public_acl_granted"
    title = "Bucket or object ACL grants AllUsers or AuthenticatedUsers"
    runbook = (
        "Set the ACL back to private (or enforce BucketOwnerEnforced ownership) and check "
        "what was read anonymously while it was public."
    )
    reason_template = "{event_name}[ on {bucket}][/{key}] by {principal} makes it public"

    events_of = (
        "PutBucketAcl",
        "PutObjectAcl",
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "CreateBucket",
    )

    def exposes(self) -> pl.Expr:
        return _RP.str.contains(_PUBLIC_GROUP) | _RP.str.contains(_PUBLIC_CANNED)

    examples = (
        Example(
            "bucket ACL grants AllUsers READ",
            (
                record(
                    "PutBucketAcl",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "AccessControlPolicy": {
                            "AccessControlList": {
                                "Grant": [
                                    {
                                        "Grantee": {
                                            "xsi:type": "Group",
                                            "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                                        },
                                        "Permission": "READ",
                                    }
                                ]
                            },
                            "Owner": {"ID": "abc"},
                        },
                        "acl": "",
                    },
                ),
            ),
        ),
        Example(
            "object uploaded public-read",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "exports/customers.csv",
                    params={"x-amz-acl": ["public-read"]},
                ),
            ),
        ),
        Example(
            "website object public-read by a human (medium)",
            (
                data_event(
                    "PutObjectAcl",
                    "acme-www-static",
                    "index.html",
                    params={"x-amz-acl": ["public-read"], "acl": ""},
                ),
            ),
            severity="medium",
        ),
        Example(
            "private canned ACL",
            (data_event("PutObjectAcl", "acme-data", "x.csv", params={"x-amz-acl": ["private"]}),),
            fires=False,
        ),
        Example(
            "CI publishing to the website bucket",
            (
                data_event(
                    "PutObject",
                    "acme-www-static",
                    "app.js",
                    params={"x-amz-acl": ["public-read"]},
                    identity=CI,
                ),
            ),
            fires=False,
        ),
    )
