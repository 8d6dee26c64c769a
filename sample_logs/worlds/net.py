"""IP addresses by where they come from: offices and homes, AWS regions, CI runners, VPS
providers, Tor exits. Plausible public ranges, drawn reproducibly."""

from __future__ import annotations

from aws import Rng

RANGES: dict[str, tuple[str, ...]] = {
    "berlin": ("91.64", "80.187", "77.180", "178.201"),
    "lisbon": ("85.240", "94.60"),
    "newyork": ("72.229", "100.2", "69.203", "108.41"),
    "london": ("81.2", "86.1", "90.216", "151.224"),
    "chicago": ("73.45", "98.213", "24.14"),
    "seattle": ("73.221", "67.183", "76.104"),
    "sanfrancisco": ("67.169", "98.207", "73.189"),
    "bangalore": ("49.207", "106.51", "122.171"),
    "aws:us-east-1": ("3.215", "34.197", "44.199", "52.70", "54.86", "3.236"),
    "aws:us-west-2": ("34.214", "44.234", "52.36", "54.185"),
    "aws:eu-west-1": ("34.245", "52.18", "54.74", "63.33"),
    "aws:eu-central-1": ("3.120", "18.194", "52.58"),
    "github": ("4.148", "20.55", "13.105", "172.183", "52.159", "20.102"),
    "circleci": ("3.228", "18.214", "35.174"),
    "vps": ("45.76", "139.59", "165.22", "5.188", "193.32", "194.87", "103.214", "45.147"),
    "tor": ("185.220.101", "185.220.100", "171.25.193", "199.249.230"),
}


def ip(rng: Rng, where: str) -> str:
    head = rng.choice(RANGES[where])
    parts = head.count(".") + 1
    tail = [str(rng.randrange(1, 255)) for _ in range(4 - parts)]
    return ".".join([head, *tail])


def ips(rng: Rng, where: str, n: int) -> list[str]:
    return [ip(rng, where) for _ in range(n)]


def private(rng: Rng, net: str) -> str:
    return f"{net}.{rng.randrange(4, 250)}"


THREAT_INTEL = (
    "185.220.100.0/22",
    "171.25.193.0/24",
    "199.249.230.0/24",
    "104.244.72.115",
    "45.155.205.0/24",
    "193.142.146.0/24",
)
