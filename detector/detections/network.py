"""Where calls come from: EC2 instance credentials used outside their VPC (C15), callers on a
threat-intel list (C16), and S3 requests through a foreign or denying VPC endpoint (C14)."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import (
    ADMIN,
    APP,
    APP_ARN,
    FOREIGN,
    OUR_ACCOUNT,
    SERVICE,
    access_line,
    data_event,
    record,
)
from detector.detections.base import EventRule, Example, register

_INSTANCE_SESSION = r"^i-[0-9a-f]{8,17}$"
_V4 = r"^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"


def _ranges(settings: Settings, version: int) -> tuple[list[int], list[int]]:
    """Merged, sorted (start, end) integer ranges of the threat networks of one IP version."""
    nets = ipaddress.collapse_addresses(n for n in settings.threat_networks if n.version == version)
    pairs = [(int(n.network_address), int(n.broadcast_address)) for n in nets]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def in_threat_networks(settings: Settings) -> pl.Expr:
    """``source_ip`` inside any configured network, judged once per distinct address: IPv4
    (and IPv4-mapped IPv6) by integer range lookup in polars, IPv6 with ``ipaddress``."""
    if not settings.threat_networks:
        return pl.lit(False)
    starts, ends = _ranges(settings, 4)
    starts6, ends6 = _ranges(settings, 6)
    octets = pl.col("ip").str.extract_groups(_V4)
    value = pl.sum_horizontal(
        octets.struct.field(str(i + 1)).cast(pl.Int64, strict=False) * 256 ** (3 - i)
        for i in range(4)
    ).fill_null(-1)
    idx = (
        pl.lit(pl.Series(starts or [0], dtype=pl.Int64))
        .search_sorted(value, side="right")
        .cast(pl.Int64)
        - 1
    )
    end = pl.lit(pl.Series(ends or [-1], dtype=pl.Int64)).gather(idx.clip(0))
    v4_hit = (value >= 0) & (idx >= 0) & (value <= end)

    def lookup(ips: pl.Series) -> pl.Series:
        distinct = pl.DataFrame({"ip": ips.drop_nulls().unique()})
        found = distinct.filter(v4_hit).get_column("ip").to_list()
        for text in distinct.filter(pl.col("ip").str.contains(":")).get_column("ip"):
            try:
                n = int(ipaddress.IPv6Address(text))
            except ValueError:
                continue
            i = bisect_right(starts6, n) - 1
            if i >= 0 and n <= ends6[i]:
                found.append(text)
        return ips.is_in(found)

    return pl.col("source_ip").map_batches(lookup, return_dtype=pl.Boolean).fill_null(False)


@register
class InstanceCredentialsOutside(EventRule):
    id = "instance_credentials_outside_vpc"
    title = "EC2 instance-role credentials used from outside the VPC"
    severity = "high"
    capabilities = ("C15",)
    attack = ("T1552.005", "T1078.004")
    dedup_by = ("principal", "source_ip")
    runbook = (
        "Check whether the address is the instance's own public or NAT address; if not, "
        "revoke the role's sessions (aws:TokenIssueTime deny), rotate the instance "
        "profile, and review the instance for SSRF or compromise."
    )
    reason_feature = "instance_session_origin"
    reason_template = (
        "instance session {session_name} of {principal} used from {source_ip} "
        "(endpoint {vpc_endpoint_id}, owner {vpc_endpoint_account_id}) for "
        "{event_name}"
    )

    def match(self, settings: Settings) -> pl.Expr:
        outside = (pl.col("is_public_ip") & pl.col("vpc_endpoint_id").is_null()) | pl.col(
            "is_foreign_vpce"
        )
        instance = pl.col("session_name").str.contains(_INSTANCE_SESSION).fill_null(False)
        return instance & outside & ~pl.col("is_presigned")  # presigned: C31, not a leak

    examples = (
        Example(
            "instance session from the internet",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=APP,
                    sourceIPAddress="185.220.101.4",
                    userAgent="aws-cli/2.15.30",
                ),
            ),
        ),
        Example(
            "instance session through an attacker's endpoint",
            (
                data_event(
                    "ListObjects",
                    "acme-data",
                    None,
                    identity=APP,
                    sourceIPAddress="172.31.5.9",
                    vpcEndpointId="vpce-0f00ba4",
                    vpcEndpointAccountId=FOREIGN,
                ),
            ),
        ),
        Example(
            "instance session from the internet, access log",
            access_lines=(access_line(requester=APP_ARN, ip="185.220.101.4"),),
        ),
        Example(
            "instance session inside the VPC through our endpoint",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=APP,
                    sourceIPAddress="10.0.1.20",
                    vpcEndpointId="vpce-0123abcd",
                    vpcEndpointAccountId=OUR_ACCOUNT,
                ),
            ),
            fires=False,
        ),
        Example(
            "customer downloading through a URL the instance presigned",
            (
                data_event(
                    "GetObject",
                    "acme-app-uploads",
                    "uploads/u50412/scan_0001.tiff",
                    identity=APP,
                    sourceIPAddress="86.163.119.245",
                    userAgent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4)",
                    additionalEventData={"AuthenticationMethod": "QueryString"},
                ),
            ),
            fires=False,
        ),
        Example(
            "human session from the internet",
            (
                record(
                    "GetObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "key": "x"},
                    identity=ADMIN,
                ),
            ),
            fires=False,
        ),
        Example(
            "AWS service",
            (
                record(
                    "GetObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "key": "x"},
                    identity=SERVICE,
                    sourceIPAddress="athena.amazonaws.com",
                ),
            ),
            fires=False,
        ),
    )


@register
class ThreatIntelCaller(EventRule):
    id = "threat_intel_source_ip"
    title = "Request from an address on the threat-intel list"
    severity = "high"
    capabilities = ("C16",)
    attack = ("T1078", "T1090.003")
    dedup_by = ("principal", "source_ip")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Treat the principal's credentials as exposed: check what the address did "
        "(successful calls first), rotate keys or revoke sessions, and block the address."
    )
    reason_feature = "source_ip"
    reason_template = (
        "{event_name} on {bucket} by {principal} from listed address {source_ip} "
        "(error: {error_code})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return in_threat_networks(settings)

    examples = (
        Example(
            "admin calls from a listed address",
            (
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    {"Host": "s3.amazonaws.com"},
                    sourceIPAddress="198.51.100.23",
                ),
            ),
        ),
        Example(
            "anonymous probe from a listed address (denied, still fires)",
            access_lines=(
                access_line(
                    requester=None,
                    ip="198.51.100.200",
                    status=403,
                    error="AccessDenied",
                    bytes_sent=243,
                    object_size=0,
                ),
            ),
        ),
        Example(
            "address just outside the list",
            (
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    {"Host": "s3.amazonaws.com"},
                    sourceIPAddress="198.51.101.1",
                ),
            ),
            fires=False,
        ),
        Example(
            "AWS service caller",
            (
                record(
                    "GetObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-data", "key": "x"},
                    identity=SERVICE,
                    sourceIPAddress="cloudtrail.amazonaws.com",
                ),
            ),
            fires=False,
        ),
    )


@register
class VpcEndpointPath(EventRule):
    id = "vpc_endpoint_foreign_or_denied"
    title = "S3 request denied by a VPC endpoint policy or sent through a foreign endpoint"
    severity = "medium"
    capabilities = ("C14",)
    attack = ("T1078.004", "T1530")
    dedup_by = ("principal", "vpc_endpoint_id")
    runbook = (
        "Identify the endpoint and its owner account; our credentials used through "
        "another account's endpoint mean they are in use outside our network."
    )
    reason_feature = "access_path"
    reason_template = (
        "{event_name} on {bucket} by {principal} through endpoint "
        "{vpc_endpoint_id} owned by {vpc_endpoint_account_id} (error: {error_code})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        ours = (
            pl.col("account_id").is_in(list(settings.our_accounts))
            if settings.our_accounts
            else pl.col("account_id") == pl.col("recipient_account_id")
        ).fill_null(False)
        s3 = pl.col("event_source") == "s3.amazonaws.com"
        return s3 & (
            (pl.col("error_code") == "VpceAccessDenied").fill_null(False)
            | (pl.col("is_foreign_vpce") & ours)
        )

    examples = (
        Example(
            "endpoint policy denied the request",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=ADMIN,
                    sourceIPAddress="10.0.7.3",
                    vpcEndpointId="vpce-0123abcd",
                    vpcEndpointAccountId=OUR_ACCOUNT,
                    errorCode="VpceAccessDenied",
                    errorMessage="Access Denied",
                ),
            ),
        ),
        Example(
            "our admin through a foreign endpoint",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "x.bin",
                    identity=ADMIN,
                    sourceIPAddress="172.16.0.4",
                    vpcEndpointId="vpce-0f00ba4",
                    vpcEndpointAccountId=FOREIGN,
                ),
            ),
        ),
        Example(
            "our endpoint, allowed",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=ADMIN,
                    sourceIPAddress="10.0.7.3",
                    vpcEndpointId="vpce-0123abcd",
                    vpcEndpointAccountId=OUR_ACCOUNT,
                ),
            ),
            fires=False,
        ),
        Example(
            "partner's own role through the partner's endpoint",
            (
                data_event(
                    "GetObject",
                    "acme-shared",
                    "feed.csv",
                    sourceIPAddress="10.9.0.4",
                    vpcEndpointId="vpce-0partner",
                    vpcEndpointAccountId=FOREIGN,
                    identity={
                        "type": "AssumedRole",
                        "principalId": "AROAPARTNER:etl",
                        "arn": f"arn:aws:sts::{FOREIGN}:assumed-role/feed-reader/etl",
                        "accountId": FOREIGN,
                    },
                ),
            ),
            fires=False,
        ),
    )
