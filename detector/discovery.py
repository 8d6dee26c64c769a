"""What the logs themselves say about the estate, so a first run needs no configuration.

Most first runs have no ``detector.toml``: without one, a lifecycle rule that expires the
CloudTrail bucket after a day is just a lifecycle rule, and every account is as good as
foreign. The logs know better:

- **our accounts**: every ``recipientAccountId`` in our CloudTrail (an account's trail, or
  the org trail, delivers only its own accounts' events);
- **log buckets**: the buckets we read the logs from (``s3://`` sources), where CloudTrail
  delivers (``PutObject`` by ``cloudtrail.amazonaws.com``
  or a key under ``AWSLogs/<account>/CloudTrail/``), the ``s3BucketName`` of
  ``CreateTrail``/``UpdateTrail``, and the ``TargetBucket`` of ``PutBucketLogging``;
- **partner accounts**: foreign accounts whose principals used our buckets successfully on
  three or more days (a vendor's sync role), so re-granting them is not a new exposure;
- **website buckets**: buckets given a website configuration (``PutBucketWebsite``), or
  served through the website endpoint (``WEBSITE.GET.OBJECT`` in server access logs);
- **automation principals** (for ``detector discover``): principals whose calls are
  ``invokedBy`` an AWS service, the SSM agent, and IaC/CI clients (Terraform, CDK, GitHub
  Actions), and the VPC endpoints each principal uses.

Configuration overrides discovery: a setting the configuration gives is used as given;
discovery fills only what it leaves empty (``effective``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl
import pyarrow as pa

from detector.config import Settings
from detector.defaults import PARTNER_DAYS

CLOUDTRAIL_KEY = r"(^|/)AWSLogs/(o-[a-z0-9]+/)?\d{12}/CloudTrail(-Digest|-Insight)?/"
AUTOMATION_AGENTS = {
    "ssm agent": r"(?i)amazon-ssm-agent",
    "terraform": r"(?i)terraform|hashicorp",
    "cdk / cloudformation": r"(?i)aws-cdk|cloudformation",
    "github actions": r"(?i)github[-_ ]?actions|exec-env/GitHubActions",
}
LOG_DELIVERY = "cloudtrail.amazonaws.com"
KEPT = 1000
"""Values kept per kind of discovered fact."""


@dataclass
class Discovered:
    """Facts with the number of events that showed each (evidence counts)."""

    accounts: dict[str, int] = field(default_factory=dict)
    log_buckets: dict[str, int] = field(default_factory=dict)
    website_buckets: dict[str, int] = field(default_factory=dict)
    partners: dict[str, list[str]] = field(default_factory=dict)
    """Foreign accounts whose principals use our buckets successfully: the days (up to
    ``PARTNER_DAYS``) they did. An account seen on that many days is a partner."""

    def merge(self, other: Discovered) -> bool:
        """Add ``other``'s evidence; whether anything new was learned. Each kind keeps at
        most ``KEPT`` values (hostile input cannot grow the state without bound)."""
        new = False
        for mine, theirs in (
            (self.accounts, other.accounts),
            (self.log_buckets, other.log_buckets),
            (self.website_buckets, other.website_buckets),
        ):
            for k, n in theirs.items():
                if k in mine:
                    mine[k] += n
                elif len(mine) < KEPT:
                    mine[k] = n
                    new = True
        for account, days in other.partners.items():
            seen = self.partners.get(account)
            if seen is None and len(self.partners) >= KEPT:
                continue
            seen = self.partners.setdefault(account, [])
            for day in days:
                if day not in seen and len(seen) < PARTNER_DAYS:
                    seen.append(day)
                    new = new or len(seen) == PARTNER_DAYS
        return new

    @property
    def partner_accounts(self) -> frozenset[str]:
        return frozenset(
            a for a, days in self.partners.items()
            if len(days) >= PARTNER_DAYS and a not in self.accounts
        )  # fmt: skip

    def effective(self, settings: Settings) -> Settings:
        """``settings`` with what it leaves empty filled from discovery."""
        changes: dict[str, frozenset[str]] = {}
        if not settings.our_accounts and self.accounts:
            changes["our_accounts"] = frozenset(self.accounts)
        if not settings.log_buckets and self.log_buckets:
            changes["log_buckets"] = frozenset(self.log_buckets)
        if not settings.partner_accounts and self.partner_accounts:
            changes["partner_accounts"] = self.partner_accounts
        if not settings.website_buckets and self.website_buckets:
            changes["website_buckets"] = frozenset(self.website_buckets)
        return replace(settings, **changes) if changes else settings


COLUMNS = (
    "source", "event_time", "event_name", "operation", "principal_arn", "account_id",
    "recipient_account_id", "invoked_by", "user_agent", "source_ip", "bucket", "key",
    "bucket_account_id", "error_code", "request_parameters", "origin_object",
)  # fmt: skip
"""The canonical columns discovery reads (it runs on every batch: convert only these)."""


def discover(events: pa.Table | pl.DataFrame) -> Discovered:
    """Accounts, log buckets and website buckets shown by one batch of canonical events."""
    if isinstance(events, pa.Table):
        events = events.select([c for c in COLUMNS if c in events.schema.names])
    df = events if isinstance(events, pl.DataFrame) else pl.from_arrow(events)
    assert isinstance(df, pl.DataFrame)
    ct = df.filter(pl.col("source") == "cloudtrail")
    return Discovered(
        accounts=_counts(ct, pl.col("recipient_account_id")),
        log_buckets=_merge_counts(
            _origin_buckets(df),
            _counts(ct.filter(_cloudtrail_delivery()), pl.col("bucket")),
            _counts(
                ct.filter(pl.col("event_name").is_in(["CreateTrail", "UpdateTrail"])),
                _param("$.s3BucketName"),
            ),
            _counts(
                ct.filter(pl.col("event_name") == "PutBucketLogging"),
                _param("$.BucketLoggingStatus.LoggingEnabled.TargetBucket"),
            ),
        ),
        partners=_partner_days(ct),
        website_buckets=_merge_counts(
            _counts(
                ct.filter(
                    (pl.col("event_name") == "PutBucketWebsite") & pl.col("error_code").is_null()
                ),
                pl.col("bucket"),
            ),
            _counts(  # requests to the website endpoint (server access logs)
                df.filter(pl.col("operation").str.starts_with("WEBSITE.").fill_null(False)),
                pl.col("bucket"),
            ),
        ),
    )


def automation(events: pl.DataFrame) -> pl.DataFrame:
    """Principals that are code, not people, and why: ``principal, why, events``."""
    who = pl.coalesce("session_issuer_arn", "principal_arn")
    parts = [
        events.filter(  # S3 calling KMS for a principal's own request is not automation
            pl.col("invoked_by").is_not_null()
            & ~pl.col("invoked_by").is_in(["s3.amazonaws.com", "kms.amazonaws.com"])
        ).select(
            who.alias("principal"), pl.concat_str(pl.lit("invokedBy "), "invoked_by").alias("why")
        )
    ]
    for name, pattern in AUTOMATION_AGENTS.items():
        parts.append(
            events.filter(pl.col("user_agent").str.contains(pattern).fill_null(False)).select(
                who.alias("principal"), pl.lit(name).alias("why")
            )
        )
    return (
        pl.concat(parts)
        .drop_nulls("principal")
        .group_by("principal", "why")
        .len("events")
        .sort(["events", "principal"], descending=[True, False])
    )


def endpoints(events: pl.DataFrame) -> pl.DataFrame:
    """VPC endpoints in use per principal: ``principal, vpc_endpoint_id, events``."""
    return (
        events.filter(pl.col("vpc_endpoint_id").is_not_null())
        .select(
            pl.coalesce("session_issuer_arn", "principal_arn").alias("principal"),
            "vpc_endpoint_id",
        )
        .drop_nulls("principal")
        .group_by("principal", "vpc_endpoint_id")
        .len("events")
        .sort(["events", "principal"], descending=[True, False])
    )


def _cloudtrail_delivery() -> pl.Expr:
    delivered_by = pl.any_horizontal(
        pl.col(c).str.contains(LOG_DELIVERY, literal=True).fill_null(False)
        for c in ("invoked_by", "principal_arn", "user_agent", "source_ip")
    )
    trail_key = pl.col("key").str.contains(CLOUDTRAIL_KEY).fill_null(False)
    return (pl.col("event_name") == "PutObject") & (delivered_by | trail_key)


def _partner_days(ct: pl.DataFrame) -> dict[str, list[str]]:
    """Per foreign account calling into our buckets with success, the days it did."""
    calls = ct.filter(
        pl.col("bucket").is_not_null()
        & pl.col("error_code").is_null()
        & pl.col("account_id").str.contains(r"^\d{12}$").fill_null(False)
        & (pl.col("account_id") != pl.col("recipient_account_id"))
        & (
            pl.col("bucket_account_id").is_null()
            | (pl.col("bucket_account_id") != pl.col("account_id"))
        )
    )
    if calls.is_empty():
        return {}
    days = calls.select("account_id", pl.col("event_time").dt.date().cast(pl.String).alias("day"))
    grouped = days.unique().group_by("account_id").agg(pl.col("day").sort().head(PARTNER_DAYS))
    return {a: list(d) for a, d in grouped.iter_rows()}


def _origin_buckets(df: pl.DataFrame) -> dict[str, int]:
    """Buckets the events were read from (``s3://`` sources), weighted by events."""
    objects = df.group_by("origin_object").len("n")
    buckets = objects.select(
        pl.col("origin_object").str.extract(r"^s3://([^/]+)/", 1).alias("v"), "n"
    ).drop_nulls("v")
    return dict(buckets.group_by("v").agg(pl.col("n").sum()).iter_rows())


def _param(path: str) -> pl.Expr:
    return pl.col("request_parameters").str.json_path_match(path)


def _counts(df: pl.DataFrame, value: pl.Expr) -> dict[str, int]:
    if df.is_empty():
        return {}
    out = df.select(value.alias("v")).drop_nulls().filter(pl.col("v") != "")
    return dict(out.group_by("v").len().iter_rows())


def _merge_counts(*parts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, n in part.items():
            out[k] = out.get(k, 0) + n
    return out
