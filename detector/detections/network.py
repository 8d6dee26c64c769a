"""Where calls come from: EC2 instance credentials used outside their VPC (C15), callers on a
threat-intel list (C16), and S3 requests through a foreign or denying VPC endpoint (C14)."""

from __future__ import annotations

import ipaddress
import re
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
from detector.detections.base import EventRule, Example, Finding, register

_INSTANCE_SESSION = r"(?i)^i-[0-9a-f]{8,17}$"
"""EC2 names an instance-role session after the instance id; ids are hex, in any case
(logs and pseudonymised datasets show ``i-786a3A8B5C0d92eF4``)."""
SSM_AGENT_UA = r"(?i)amazon-ssm-agent/"
"""The SSM agent appends ``amazon-ssm-agent/<version>`` to its SDK's user agent."""
SSM_AGENT_SOURCES = ("ec2messages.amazonaws.com", "ssmmessages.amazonaws.com")
"""Message channels only the SSM agent (and Session Manager's agent side) calls."""
SSM_AGENT_CALLS = (
    "UpdateInstanceInformation",
    "ListInstanceAssociations",
    "DescribeInstanceAssociationsStatus",
    "UpdateInstanceAssociationStatus",
    "PutInventory",
    "PutComplianceItems",
    "GetManifest",
    "GetDeployablePatchSnapshotForInstance",
    "PutConfigurePackageResult",
)
"""``ssm.amazonaws.com`` calls the agent makes on its own schedule with the instance role."""
_V4 = r"^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ranges(networks: tuple[Network, ...], version: int) -> tuple[list[int], list[int]]:
    """Merged, sorted (start, end) integer ranges of the networks of one IP version."""
    nets = ipaddress.collapse_addresses(n for n in networks if n.version == version)
    pairs = [(int(n.network_address), int(n.broadcast_address)) for n in nets]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def in_threat_networks(settings: Settings) -> pl.Expr:
    """``source_ip`` inside a configured threat-intel network."""
    return in_networks(settings.threat_networks)


def in_networks(networks: tuple[Network, ...]) -> pl.Expr:
    """``source_ip`` inside any of ``networks``, judged once per distinct address: IPv4
    (and IPv4-mapped IPv6) by integer range lookup in polars, IPv6 with ``ipaddress``."""
    if not networks:
        return pl.lit(False)
    starts, ends = _ranges(networks, 4)
    starts6, ends6 = _ranges(networks, 6)
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


def ip_prefix(ip: str) -> str | None:
    """The network of an address as ``enrich`` writes ``ip_prefix`` (IPv4 /24, IPv6 /48)."""
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip):
        return ip.rsplit(".", 1)[0] + ".0/24"
    m = re.match(r"^([0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*)", ip)
    return f"{m.group(1)}::/48" if m and ":" in ip else None


def ssm_agent_call() -> pl.Expr:
    """The SSM agent's own background calls with the instance role (from the instance's
    public address when it has no VPC endpoints): by its user agent, its message channels,
    or the agent-only ``ssm`` APIs."""
    return (
        pl.col("user_agent").str.contains(SSM_AGENT_UA).fill_null(False)
        | pl.col("event_source").is_in(SSM_AGENT_SOURCES).fill_null(False)
        | (
            (pl.col("event_source") == "ssm.amazonaws.com")
            & pl.col("event_name").is_in(SSM_AGENT_CALLS)
        ).fill_null(False)
    )


_STOLEN_INSTANCE = "i-786a3A8B5C0d92eF4"
_STOLEN = {
    "type": "AssumedRole",
    "principalId": f"AROAEXAMPLEEC2ROLE:{_STOLEN_INSTANCE}",
    "arn": f"arn:aws:sts::{OUR_ACCOUNT}:assumed-role/ec2-web-role/{_STOLEN_INSTANCE}",
    "accountId": OUR_ACCOUNT,
    "accessKeyId": "ASIAEXAMPLEEC2ROLE",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OUR_ACCOUNT}:role/ec2-web-role",
            "userName": "ec2-web-role",
        },
        "ec2RoleDelivery": "2.0",
    },
}
"""An instance-role session as the instance metadata service hands it out (IMDSv2)."""


@register
class InstanceCredentialsOutside(EventRule):
    """An instance-role session (named ``i-…`` in any case) calling from a public address
    without a VPC endpoint, or through an endpoint another account owns.

    Not fired: calls an AWS service makes with the session (``invokedBy`` set, or a service
    name / ``AWS Internal`` as the source address), the SSM agent's own calls (user agent
    ``amazon-ssm-agent/…``, ``ec2messages``/``ssmmessages``, agent-only ``ssm`` APIs such as
    ``UpdateInstanceInformation``), and presigned-URL requests (C31). The user agent is set by
    the client: a thief who spoofs the SSM agent's is left to the agent and origin anomalies
    (C12, C13). Public-subnet and NAT instances call from public addresses every day: a
    public network the role used on earlier days is its habit (``habit_of``: recorded, not
    notified), and the runbook starts by checking the address against the instance's own.
    """

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
        "instance session {session_name} of {principal} used[ from {source_ip}] "
        "(endpoint {vpc_endpoint_id}, owner {vpc_endpoint_account_id}) for "
        "{event_name}"
    )

    def habit_of(self, f: Finding) -> tuple[str, str] | None:
        """The instance role's usual network (C15): a public-subnet or NAT instance calls
        from its own public address every day, so a public /24 (/48) the role has used on
        earlier days and still uses is its habit, and so is any public address for a role
        that mostly calls from public ones (instances replaced get new addresses). A foreign
        endpoint never is."""
        if f.vpc_endpoint_ids or len(f.key) < 2:
            return None
        prefix = ip_prefix(f.key[1])
        return ("public_networks", prefix) if prefix else None

    def learns_on(self, f: Finding) -> bool:
        """From a public address it is judged against the role's usual networks, which
        takes learning; through a foreign endpoint it fires from the first event."""
        return not f.vpc_endpoint_ids

    def match(self, settings: Settings) -> pl.Expr:
        outside = (pl.col("is_public_ip") & pl.col("vpc_endpoint_id").is_null()) | pl.col(
            "is_foreign_vpce"
        )
        instance = pl.col("session_name").str.contains(_INSTANCE_SESSION).fill_null(False)
        by_service = pl.col("invoked_by").is_not_null() | pl.col("is_aws_service")
        return (
            instance
            & outside
            & ~by_service
            & ~ssm_agent_call()
            & ~pl.col("is_presigned")  # presigned: C31, not a leak
        )

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
            "mixed-case instance session from the internet (as in Stratus ec2-steal-credentials)",
            (
                record(
                    "DescribeInstances",
                    "ec2.amazonaws.com",
                    {
                        "instancesSet": {},
                        "filterSet": {},
                    },
                    identity=_STOLEN,
                    sourceIPAddress="18.236.253.47",
                    userAgent="aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0",
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
        Example(
            "Athena reading for the instance session (invokedBy athena)",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity={**APP, "invokedBy": "athena.amazonaws.com"},
                    sourceIPAddress="athena.amazonaws.com",
                    userAgent="athena.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "SSM agent reporting in from the instance's public address",
            (
                record(
                    "UpdateInstanceInformation",
                    "ssm.amazonaws.com",
                    {
                        "instanceId": _STOLEN_INSTANCE,
                        "agentVersion": "3.3.1142.0",
                        "agentStatus": "Active",
                        "platformType": "Linux",
                        "platformName": "Amazon Linux",
                        "platformVersion": "2023",
                        "iPAddress": "172.31.7.19",
                        "computerName": "ip-172-31-7-19.ec2.internal",
                        "agentName": "amazon-ssm-agent",
                        "availabilityZone": "us-east-1a",
                        "availabilityZoneId": "use1-az6",
                    },
                    identity=_STOLEN,
                    sourceIPAddress="18.236.253.47",
                    userAgent=(
                        "aws-sdk-go/1.51.30 (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.1142.0"
                    ),
                ),
            ),
            fires=False,
        ),
        Example(
            "SSM agent listing its associations (older agent user agent)",
            (
                record(
                    "ListInstanceAssociations",
                    "ssm.amazonaws.com",
                    {"instanceId": _STOLEN_INSTANCE, "maxResults": 20},
                    identity=_STOLEN,
                    sourceIPAddress="18.236.253.47",
                    userAgent="aws-sdk-go/1.44.260 (go1.20.4; linux; amd64)",
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
        "{event_name}[ on {bucket}] by {principal} from listed address {source_ip} "
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


DOCUMENTATION_NETS = r"(?i)^(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:0*db8:)"
"""RFC 5737 / RFC 3849 documentation addresses: never on the internet, so not "public" for a
request through an endpoint (Panther's rule asks ``is_global``); AWS's and Panther's sample
records put them behind VPC endpoints."""


def _ours(column: str, settings: Settings) -> pl.Expr:
    """``column`` names one of our (or a partner's) accounts, or the account that received
    the event (the only one known when the organisation is not configured)."""
    ours = sorted(settings.our_accounts | settings.partner_accounts)
    return (
        pl.col(column).is_in(ours) | (pl.col(column) == pl.col("recipient_account_id"))
    ).fill_null(False)


def path_issue(settings: Settings) -> pl.Expr:
    """What is wrong with a request's VPC endpoint path, in words, or null."""
    endpoint = pl.col("vpc_endpoint_id").is_not_null()
    documentation = pl.col("source_ip").str.contains(DOCUMENTATION_NETS).fill_null(False)
    principal_ours = _ours("account_id", settings)
    endpoint_owner = pl.col("vpc_endpoint_account_id")
    endpoint_ours = _ours("vpc_endpoint_account_id", settings)
    foreign_principal = (
        pl.col("account_id").is_not_null() & (pl.col("account_id") != "anonymous") & ~principal_ours
    ).fill_null(False)
    return (
        pl.when((pl.col("error_code") == "VpceAccessDenied").fill_null(False))
        .then(pl.lit("denied by the endpoint policy"))
        .when(endpoint_owner.is_not_null() & ~endpoint_ours & principal_ours)
        .then(pl.lit("our credentials through another account's endpoint"))
        .when(endpoint & endpoint_ours & foreign_principal)
        .then(
            pl.lit("principal of account ") + pl.col("account_id") + pl.lit(" through our endpoint")
        )
        .when(endpoint & pl.col("is_public_ip") & ~documentation)
        .then(pl.lit("public source address through an endpoint"))
    )


@register
class VpcEndpointPath(EventRule):
    """S3 requests whose VPC endpoint path is wrong: denied by the endpoint policy
    (``VpceAccessDenied``), our credentials through an endpoint another account owns, a
    foreign account's principal through our endpoint (their credentials used inside our
    network), or a public source address through an endpoint (requests through an endpoint
    show the caller's private address; documentation ranges are not public here). "Ours" is
    a configured or partner account, or the event's recipient account."""

    id = "vpc_endpoint_foreign_or_denied"
    title = (
        "S3 request on a wrong VPC endpoint path: denied, a foreign endpoint or principal, "
        "or a public address"
    )
    severity = "medium"
    capabilities = ("C14",)
    attack = ("T1078.004", "T1530")
    dedup_by = ("principal", "vpc_endpoint_id")
    runbook = (
        "Identify the endpoint and its owner account. Our credentials through another "
        "account's endpoint are in use outside our network; another account's credentials "
        "through ours mean someone inside our network uses them (restrict the endpoint "
        "policy to aws:PrincipalOrgID); a public address on an endpoint is unexpected."
    )
    reason_feature = "access_path"
    reason_template = (
        "{event_name}[ on {bucket}] by {principal}, {path_issue}: endpoint "
        "{vpc_endpoint_id} owned by {vpc_endpoint_account_id}[, from {source_ip}] "
        "(error: {error_code})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        s3 = pl.col("event_source") == "s3.amazonaws.com"
        return s3 & path_issue(settings).is_not_null()

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        return super().findings(events.with_columns(path_issue=path_issue(settings)), settings)

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
            "foreign account's principal through our endpoint",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "exports/customers.csv",
                    sourceIPAddress="10.0.7.44",
                    vpcEndpointId="vpce-0123abcd",
                    vpcEndpointAccountId=OUR_ACCOUNT,
                    identity={
                        "type": "AWSAccount",
                        "principalId": "AROAEXAMPLEOUTSIDER:exfil",
                        "accountId": FOREIGN,
                    },
                ),
            ),
        ),
        Example(
            "public source address through our endpoint",
            (
                data_event(
                    "GetObject",
                    "acme-data",
                    "reports/q3.csv",
                    identity=ADMIN,
                    sourceIPAddress="185.220.101.4",
                    vpcEndpointId="vpce-0123abcd",
                    vpcEndpointAccountId=OUR_ACCOUNT,
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
