"""Connectivity outputs: the conformance-suite text lines, JSON, a rich table, Graphviz dot."""

from __future__ import annotations

from typing import Iterable

import orjson

from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import INGRESS_CONTROLLER, Connectivity, External
from kubeward.netpol.model import Workload

Row = tuple[str, str, str]  # source, destination, conn text


def endpoint_key(endpoint) -> str:
    if isinstance(endpoint, (Workload, External)):
        return endpoint.key
    return INGRESS_CONTROLLER


def rows(connectivity: Connectivity, focus: Workload | None = None) -> list[Row]:
    """Allowed connections sorted by source then destination (byte order of the keys)."""
    found: Iterable = connectivity.annotated_connections()
    if focus is not None:
        found = (c for c in found if c[0] is focus or c[1] is focus)
    return sorted((endpoint_key(s), endpoint_key(d), conn_text(conn, l7)) for s, d, conn, l7 in found)


def conn_text(conn: iv.Conn, l7: iv.Conn = iv.NO_CONN) -> str:
    """The conn, and the part of it that L7 rules restrict (listed, not evaluated)."""
    text = iv.format_conn(conn)
    if l7 != iv.NO_CONN:
        text += f" (L7-restricted: {iv.format_conn(l7)})"
    return text


def txt_lines(connectivity: Connectivity, focus: Workload | None = None) -> list[str]:
    return [f"{s} => {d} : {c}" for s, d, c in rows(connectivity, focus)]


def to_json(table: list[Row]) -> bytes:
    return orjson.dumps([{"src": s, "dst": d, "conn": c} for s, d, c in table], option=orjson.OPT_INDENT_2)


def to_dot(table: list[Row]) -> str:
    """A digraph with one cluster per namespace (workloads) and external ranges outside."""
    namespaces: dict[str, set[str]] = {}
    others: set[str] = set()
    for s, d, _ in table:
        for key in (s, d):
            if key.endswith("[External]") or key == INGRESS_CONTROLLER:
                others.add(key)
            else:
                namespaces.setdefault(key.split("/", 1)[0], set()).add(key)
    lines = ["digraph {"]
    for namespace in sorted(namespaces):
        lines.append(f"\tsubgraph {_quote('cluster_' + namespace)} {{")
        for key in sorted(namespaces[namespace]):
            lines.append(f"\t\t{_quote(key)} [label={_quote(key.split('/', 1)[1])} color=\"blue\" fontcolor=\"blue\"]")
        lines.append(f"\t\tlabel={_quote(namespace)}")
        lines.append("\t}")
    for key in sorted(others):
        lines.append(f"\t{_quote(key)} [label={_quote(key)} color=\"red2\" fontcolor=\"red2\"]")
    for s, d, c in table:
        lines.append(f"\t{_quote(s)} -> {_quote(d)} [label={_quote(c)} color=\"gold2\" fontcolor=\"darkgreen\"]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
