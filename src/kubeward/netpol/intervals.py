"""Sorted, disjoint, inclusive integer intervals: the one representation of port sets, IP
sets and connection sets (never a set of ints: a port range or a /8 stays two numbers).

An interval set is a tuple of `(lo, hi)` pairs, sorted, disjoint and non-adjacent, so equal
sets are equal tuples (hashable, usable as memo keys).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Intervals = tuple[tuple[int, int], ...]
EMPTY: Intervals = ()

PROTOCOLS = ("SCTP", "TCP", "UDP")  # output order of the conformance format: by protocol name
MIN_PORT, MAX_PORT = 1, 65535
ALL_PORTS: Intervals = ((MIN_PORT, MAX_PORT),)

# IPv4 addresses are 0 .. 2**32-1; IPv6 addresses follow them on the same integer line so
# one interval set holds both families and no range can straddle them.
IPV6_OFFSET = 1 << 32
IPV4_SPACE: Intervals = ((0, IPV6_OFFSET - 1),)
IPV6_SPACE: Intervals = ((IPV6_OFFSET, IPV6_OFFSET + (1 << 128) - 1),)


def normalize(pairs) -> Intervals:
    """Sort and merge overlapping or adjacent pairs; drops empty (lo > hi) pairs."""
    merged: list[list[int]] = []
    for lo, hi in sorted(p for p in pairs if p[0] <= p[1]):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def union(a: Intervals, b: Intervals) -> Intervals:
    if not a:
        return b
    if not b or a == b:
        return a
    return normalize(a + b)


def intersect(a: Intervals, b: Intervals) -> Intervals:
    if not a or not b:
        return EMPTY
    if a == b:
        return a
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Intervals, b: Intervals) -> Intervals:
    if not a or not b:
        return a
    out = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > lo:
                out.append((lo, b[k][0] - 1))
            lo = max(lo, b[k][1] + 1)
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def contains(a: Intervals, value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in a)


def is_subset(a: Intervals, b: Intervals) -> bool:
    return subtract(a, b) == EMPTY


def format_ports(a: Intervals) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in a)


# --- IP addresses -----------------------------------------------------------------------

def cidr_interval(text: str) -> tuple[int, int]:
    """`10.0.0.0/8` -> its first and last address on the shared line; ValueError if invalid
    (host bits set count as invalid, as the API server rejects them)."""
    network = ipaddress.ip_network(text.strip(), strict=True)
    offset = IPV6_OFFSET if network.version == 6 else 0
    return offset + int(network.network_address), offset + int(network.broadcast_address)


def address_value(text: str) -> int:
    address = ipaddress.ip_address(text.strip())
    return (IPV6_OFFSET if address.version == 6 else 0) + int(address)


def format_address(value: int) -> str:
    if value >= IPV6_OFFSET:
        return str(ipaddress.IPv6Address(value - IPV6_OFFSET))
    return str(ipaddress.IPv4Address(value))


def format_ip_range(lo: int, hi: int) -> str:
    return f"{format_address(lo)}-{format_address(hi)}"


def cut(space: Intervals, boundaries: set[int]) -> list[tuple[int, int]]:
    """Split every interval of `space` at each boundary (a boundary is the first value of a
    new piece)."""
    pieces = []
    ordered = sorted(boundaries)
    for lo, hi in space:
        start = lo
        for b in ordered:
            if start < b <= hi:
                pieces.append((start, b - 1))
                start = b
        pieces.append((start, hi))
    return pieces


# --- connection sets: ports per protocol ---------------------------------------------------

Conn = tuple[Intervals, Intervals, Intervals]  # SCTP, TCP, UDP port sets
NO_CONN: Conn = (EMPTY, EMPTY, EMPTY)
ALL_CONN: Conn = (ALL_PORTS, ALL_PORTS, ALL_PORTS)


def protocol_index(protocol: str) -> int:
    return PROTOCOLS.index(protocol)


def conn_of(protocol: str, ports: Intervals) -> Conn:
    parts = [EMPTY, EMPTY, EMPTY]
    parts[protocol_index(protocol)] = ports
    return tuple(parts)  # type: ignore[return-value]


@lru_cache(maxsize=1 << 16)
def conn_union(a: Conn, b: Conn) -> Conn:
    return (union(a[0], b[0]), union(a[1], b[1]), union(a[2], b[2]))


@lru_cache(maxsize=1 << 16)
def conn_intersect(a: Conn, b: Conn) -> Conn:
    return (intersect(a[0], b[0]), intersect(a[1], b[1]), intersect(a[2], b[2]))


@lru_cache(maxsize=1 << 16)
def conn_subtract(a: Conn, b: Conn) -> Conn:
    return (subtract(a[0], b[0]), subtract(a[1], b[1]), subtract(a[2], b[2]))


def conn_allows(conn: Conn, protocol: str, port: int) -> bool:
    return contains(conn[protocol_index(protocol)], port)


@lru_cache(maxsize=1 << 12)
def format_conn(conn: Conn) -> str:
    """`All Connections`, `No Connections`, or `SCTP 1-9,TCP 80,UDP 53` (protocols by name)."""
    if conn == ALL_CONN:
        return "All Connections"
    if conn == NO_CONN:
        return "No Connections"
    return ",".join(f"{name} {format_ports(ports)}" for name, ports in zip(PROTOCOLS, conn) if ports)
