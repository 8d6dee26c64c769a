"""Networks of long-running Tor exit operators: a built-in default, not a threat feed.

GuardDuty flags Tor callers out of the box (``UnauthorizedAccess:S3/TorIPCaller``); a first
run here has no threat-intel file, so it starts from the networks that have carried Tor exit
relays for years, each run by a known non-profit exit operator and listed as exits on Tor
Metrics (metrics.torproject.org, "Relay Search", flag Exit). Exit relays come and go: for a
current list, export the exit addresses (``https://check.torproject.org/torbulkexitlist``)
into a file named in ``[threat_intel] ip_files``. ``[threat_intel] builtin_tor = false``
switches this list off.
"""

from __future__ import annotations

import ipaddress

TOR_EXIT_NETWORKS: tuple[tuple[str, str], ...] = (
    ("185.220.100.0/22", "Zwiebelfreunde e.V. / Artikel10 / ForPrivacyNET exits (DE)"),
    ("171.25.193.0/24", "DFRI, Föreningen för digitala fri- och rättigheter (SE)"),
    ("199.249.230.0/24", "Quintex Alliance Consulting (US)"),
    ("23.129.64.0/24", "Emerald Onion (US)"),
    ("109.70.100.0/24", "Foundation for Applied Privacy (AT)"),
    ("192.42.116.0/24", "Stichting Hart voor Internetvrijheid (NL)"),
)
"""(network, operator) pairs."""


def tor_exit_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n) for n, _ in TOR_EXIT_NETWORKS)
