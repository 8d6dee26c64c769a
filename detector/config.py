"""Detector settings: one typed object read once, at the edge, from a TOML file.

    [org]          accounts = ["111122223333"]        our accounts (anything else is foreign)
                   partner_accounts = [...]            sanctioned partners (grants not foreign)
    [buckets]      website = [...]; log_buckets = [...]; decoys = [...]; decoys_file = "…"
    [threat_intel] ip_files = ["tor-exits.txt"]       IPs or CIDRs, one per line, # comments
                   builtin_tor = true                   long-running Tor exit networks
    [allowlist]    principals = [...]; ci_roles = [...]; user_agents = [...]
                   aws_services = [...]                 extra service principals to trust
    [detections]   disabled = ["..."]                   detection ids to switch off
    [windows]      minutes = 5; lateness_minutes = 15
    [learning]     days = 7                             behavioural detections only record
                                                        until the data spans this long
    [incidents]    horizon_hours = 24; notify = "medium"  one incident per principal over
                                                        the horizon; weaker ones are recorded

Relative file names are resolved against the TOML file's folder. Every problem is reported
with the file and the field at fault, before any data is read.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from detector.errors import UsageError
from detector.tor_exits import tor_exit_networks

_SEVERITIES = ("info", "low", "medium", "high", "critical")


class _Org(msgspec.Struct, forbid_unknown_fields=True):
    accounts: list[str] = msgspec.field(default_factory=list)
    partner_accounts: list[str] = msgspec.field(default_factory=list)
    org_id: str | None = None


class _Buckets(msgspec.Struct, forbid_unknown_fields=True):
    website: list[str] = msgspec.field(default_factory=list)
    log_buckets: list[str] = msgspec.field(default_factory=list)
    decoys: list[str] = msgspec.field(default_factory=list)
    decoys_file: str | None = None


class _ThreatIntel(msgspec.Struct, forbid_unknown_fields=True):
    ip_files: list[str] = msgspec.field(default_factory=list)
    builtin_tor: bool = True


class _Allowlist(msgspec.Struct, forbid_unknown_fields=True):
    principals: list[str] = msgspec.field(default_factory=list)
    ci_roles: list[str] = msgspec.field(default_factory=list)
    user_agents: list[str] = msgspec.field(default_factory=list)
    aws_services: list[str] = msgspec.field(default_factory=list)


class _Detections(msgspec.Struct, forbid_unknown_fields=True):
    disabled: list[str] = msgspec.field(default_factory=list)


class _Windows(msgspec.Struct, forbid_unknown_fields=True):
    minutes: int = 5
    lateness_minutes: int = 15


class _Learning(msgspec.Struct, forbid_unknown_fields=True):
    days: float = 7.0


class _Incidents(msgspec.Struct, forbid_unknown_fields=True):
    horizon_hours: float = 24.0
    notify: str = "medium"


class _File(msgspec.Struct, forbid_unknown_fields=True):
    org: _Org = msgspec.field(default_factory=_Org)
    buckets: _Buckets = msgspec.field(default_factory=_Buckets)
    threat_intel: _ThreatIntel = msgspec.field(default_factory=_ThreatIntel)
    allowlist: _Allowlist = msgspec.field(default_factory=_Allowlist)
    detections: _Detections = msgspec.field(default_factory=_Detections)
    windows: _Windows = msgspec.field(default_factory=_Windows)
    learning: _Learning = msgspec.field(default_factory=_Learning)
    incidents: _Incidents = msgspec.field(default_factory=_Incidents)


@dataclass(frozen=True)
class Settings:
    """Everything detections need to know about the environment they watch."""

    our_accounts: frozenset[str] = frozenset()
    partner_accounts: frozenset[str] = frozenset()
    """Accounts of sanctioned partners: grants to them and their endpoints are not foreign."""
    website_buckets: frozenset[str] = frozenset()
    log_buckets: frozenset[str] = frozenset()
    decoys: tuple[str, ...] = ()
    threat_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    tor_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=tor_exit_networks
    )
    """Long-running Tor exit operators' networks (``detector.tor_exits``), unless switched off."""
    allow_principals: frozenset[str] = frozenset()
    ci_roles: frozenset[str] = frozenset()
    allow_user_agents: tuple[str, ...] = ()
    aws_services: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()
    window_minutes: int = 5
    lateness_minutes: int = 15
    learning_days: float = 7.0
    """Behavioural detections record but do not notify until the data spans this long."""
    incident_hours: float = 24.0
    """An incident stays open this long after its latest signal."""
    notify_severity: str = "medium"
    """Incidents below this severity are recorded in the lake, not sent."""
    source: str = "(defaults)"
    notes: list[str] = field(default_factory=list)


def load_settings(path: str | Path | None) -> Settings:
    """Read and validate a settings file; ``None`` gives defaults (no org known)."""
    if path is None:
        return Settings()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    try:
        f = msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{path}: {exc}") from None
    base = path.parent
    for name, values in (
        ("accounts", f.org.accounts),
        ("partner_accounts", f.org.partner_accounts),
    ):
        for i, account in enumerate(values):
            if not (account.isdigit() and len(account) == 12):
                raise UsageError(
                    f"{path}: org.{name}[{i}] = {account!r} is not a 12-digit AWS account id"
                )
    if f.windows.minutes < 1 or f.windows.lateness_minutes < 0:
        raise UsageError(f"{path}: windows.minutes must be >= 1 and lateness_minutes >= 0")
    if f.learning.days < 0 or f.incidents.horizon_hours <= 0:
        raise UsageError(f"{path}: learning.days must be >= 0 and incidents.horizon_hours > 0")
    if f.incidents.notify not in _SEVERITIES:
        raise UsageError(
            f"{path}: incidents.notify = {f.incidents.notify!r} is not one of "
            f"{', '.join(_SEVERITIES)}"
        )
    decoys = list(f.buckets.decoys)
    if f.buckets.decoys_file:
        decoys += [t for _, t in _lines(base / f.buckets.decoys_file, path, "buckets.decoys_file")]
    networks = []
    for name in f.threat_intel.ip_files:
        ip_file = base / name
        for n, line in _lines(ip_file, path, "threat_intel.ip_files"):
            try:
                networks.append(ipaddress.ip_network(line, strict=False))
            except ValueError:
                raise UsageError(
                    f"{ip_file}:{n}: {line!r} is not an IP address or CIDR "
                    f"(from {path}: threat_intel.ip_files)"
                ) from None
    return Settings(
        our_accounts=frozenset(f.org.accounts),
        partner_accounts=frozenset(f.org.partner_accounts),
        website_buckets=frozenset(f.buckets.website),
        log_buckets=frozenset(f.buckets.log_buckets),
        decoys=tuple(decoys),
        threat_networks=tuple(networks),
        tor_networks=tor_exit_networks() if f.threat_intel.builtin_tor else (),
        allow_principals=frozenset(_role_key(p) for p in f.allowlist.principals),
        ci_roles=frozenset(_role_key(r) for r in f.allowlist.ci_roles),
        allow_user_agents=tuple(f.allowlist.user_agents),
        aws_services=frozenset(f.allowlist.aws_services),
        disabled=frozenset(f.detections.disabled),
        window_minutes=f.windows.minutes,
        lateness_minutes=f.windows.lateness_minutes,
        learning_days=f.learning.days,
        incident_hours=f.incidents.horizon_hours,
        notify_severity=f.incidents.notify,
        source=str(path),
    )


def _role_key(arn: str) -> str:
    """Role ARNs as principal keys name them: without the role path."""
    head, sep, rest = arn.partition(":role/")
    return f"{head}{sep}{rest.rsplit('/', 1)[-1]}" if sep else arn


def _lines(path: Path, config: Path, fieldname: str) -> list[tuple[int, str]]:
    """(line number, text) of the non-empty, non-comment lines of a list file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{config}: {fieldname}: {path} not found") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            out.append((n, line))
    return out
