"""network-config-analyzer's Calico and Istio connectivity-map cases (../shared/conformance/nca):
find every connectivity-map query with an expected output, decide whether kubeward can express
its inputs, and compare kubeward's connectivity with the expected one.

The expected outputs are the analyzer's "fw rules" (`src_ns: [..] src_pods: [..] dst_ns: [..]
dst_pods: [..] conn: ..`, or `src:`/`dst:` CIDR lists), or its plain `txt_no_fw_rules` lines.
Both are expanded here into the same shape as kubeward's result: a connection set per
(source pod, destination pod), and per pod and direction a connection set per outside IPv4 range.
Only TCP, UDP and SCTP are compared (kubeward's connection sets); L7 attributes of the analyzer's
connections (methods, paths, hosts) are dropped (kubeward lists L7 parts, it does not evaluate
them).

Input adaptation (stated, not hidden):
- The analyzer analyses pods one by one; pod lists are loaded with their owner references
  removed so that each pod is its own peer (pods of one owner may have different labels there).
- The analyzer assumes every pod of an Istio configuration runs a sidecar; the namespaces of a
  configuration holding Istio objects are labelled `istio-injection: enabled` to state the same.
"""

from __future__ import annotations

import copy
import glob
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache, cache
from pathlib import Path

import yaml

from kubeward.model.inventory import build_inventory
from kubeward.netpol import calico_selector as cs
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import Connectivity, External
from kubeward.netpol.model import Workload
from kubeward.sources.loader import load_paths

NOT_EXPRESSIBLE_KINDS = {"Sidecar", "Gateway", "VirtualService", "ServiceEntry", "Profile", "HostEndpoint",
                         "NetworkSet", "GlobalNetworkSet", "Ingress", "Route"}
POLICY_KINDS = {"NetworkPolicy", "GlobalNetworkPolicy", "AuthorizationPolicy", "PeerAuthentication", "Tier",
                "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}
OUTPUT_FORMATS = {"txt", "txt_no_fw_rules"}


@dataclass
class Case:
    scheme: Path
    query: str
    config: str
    expected_file: Path
    fmt: str
    files: list[Path] = field(default_factory=list)  # policies and resources
    topology: list[Path] = field(default_factory=list)  # pod and namespace lists
    kinds: set[str] = field(default_factory=set)
    topology_kinds: set[str] = field(default_factory=set)
    skip: str = ""

    @property
    def name(self) -> str:
        return f"{self.scheme.parent.name}/{self.query}/{self.config}"


def _expand(base: Path, entry: str) -> list[Path]:
    path = (base / entry).resolve()
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(Path(p) for p in glob.glob(str(path / "**" / "*"), recursive=True)
                      if p.endswith((".yaml", ".yml", ".json")) and os.path.isfile(p))
    return []


@cache
def _documents(path: Path) -> list[dict]:
    """The objects of a file (List items expanded); cached: callers must not change them."""
    try:
        with open(path) as handle:
            docs = list(yaml.safe_load_all(handle))
    except (yaml.YAMLError, UnicodeDecodeError):
        return []
    found = []
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            found.extend(d for d in doc["items"] if isinstance(d, dict))
        elif isinstance(doc, dict):
            found.append(doc)
    return found


@lru_cache(maxsize=4)
def cases(shared: Path) -> list[Case]:
    root = shared / "conformance" / "nca"
    found: list[Case] = []
    for scheme in sorted(root.glob("**/*scheme*.yaml")):
        try:
            data = yaml.safe_load(scheme.read_text())
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict):
            continue
        base = scheme.parent
        configs = {c.get("name"): c for c in data.get("networkConfigList") or [] if isinstance(c, dict)}
        for query in data.get("queries") or []:
            if "connectivityMap" not in query or not query.get("expectedOutput"):
                continue
            fmt = (query.get("outputConfiguration") or {}).get("outputFormat", "txt")
            for config_name in query["connectivityMap"]:
                config = configs.get(config_name.split("/")[0], {})
                case = Case(scheme, query["name"], config_name, (base / query["expectedOutput"]).resolve(), fmt)
                for key in ("podList", "namespaceList"):
                    entry = config.get(key, data.get(key))
                    if isinstance(entry, str) and not entry.startswith(("http", "k8s")):
                        case.topology.extend(p for p in _expand(base, entry) if p not in case.topology)
                for entry in (config.get("networkPolicyList") or []) + (config.get("resourceList") or []):
                    if isinstance(entry, str) and not entry.startswith(("http", "k8s")):
                        case.files.extend(p for p in _expand(base, entry) if p not in case.files)
                for path in case.files:
                    case.kinds.update(d.get("kind") for d in _documents(path) if isinstance(d.get("kind"), str))
                for path in case.topology:
                    case.topology_kinds.update(d.get("kind") for d in _documents(path) if isinstance(d.get("kind"), str))
                case.skip = _why_not(case, config)
                found.append(case)
    return found


def _why_not(case: Case, config: dict) -> str:
    if case.fmt not in OUTPUT_FORMATS:
        return f"output format {case.fmt} (only txt and txt_no_fw_rules are compared)"
    if not config:
        return "configuration not found in the scheme"
    if not case.expected_file.is_file():
        return "expected output file missing"
    kinds = case.kinds & NOT_EXPRESSIBLE_KINDS
    if kinds:
        return f"uses {', '.join(sorted(kinds))}, which kubeward does not model the analyzer's way (or at all)"
    workloads = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
    if not (case.topology_kinds | case.kinds) & workloads:
        found = ", ".join(sorted(case.topology_kinds)) or "nothing"
        return f"its pod list holds no pods or workloads ({found}; Calico WorkloadEndpoints are not read)"
    return ""


# --- kubeward's side ----------------------------------------------------------------------------

@dataclass
class Peer:
    key: str  # ns/name as the comparison names it
    namespace: str
    labels: dict[str, str]
    names: set[str]  # names a fw rule may use for it (pod, owner, workload)


def kubeward_result(case: Case) -> tuple[dict, dict, list[Peer]]:
    docs: list[dict] = []
    istio = bool(case.kinds & {"AuthorizationPolicy", "PeerAuthentication"})
    owners: dict[tuple[str, str], str] = {}
    selected = _selected_policy(case.config)
    for path in [*case.topology, *case.files]:
        for doc in copy.deepcopy(_documents(path)):
            kind = doc.get("kind")
            if kind in POLICY_KINDS and path in case.topology and path not in case.files:
                continue
            if kind in POLICY_KINDS and selected is not None and not _is_selected(doc, selected):
                continue
            if kind == "Pod":
                meta = doc.setdefault("metadata", {})
                refs = meta.pop("ownerReferences", None) or []
                if refs:
                    owners[(meta.get("namespace", "default"), meta.get("name"))] = refs[0].get("name", "")
                doc.pop("status", None)
            if kind == "Namespace" and istio:
                doc.setdefault("metadata", {}).setdefault("labels", {})
                doc["metadata"]["labels"] = {**(doc["metadata"]["labels"] or {}), "istio-injection": "enabled"}
            docs.append(doc)
    if istio:
        names = {d.get("metadata", {}).get("name") for d in docs if d.get("kind") == "Namespace"}
        for doc in docs:
            ns = (doc.get("metadata") or {}).get("namespace") or "default"
            if doc.get("kind") in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet") and ns not in names:
                names.add(ns)
                docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
    with_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"kubeward-nca-{os.getpid()}-{abs(hash(case.name))}.yaml"
    with open(with_path, "w") as handle:
        yaml.safe_dump_all(docs, handle, sort_keys=False)
    try:
        inventory = build_inventory(load_paths([str(with_path)]))
        connectivity = Connectivity(inventory)
        peers = [Peer(_key(w), w.namespace, w.labels, {w.name, owners.get((w.namespace, w.name), w.name)}) for w in connectivity.workloads]
        pairs: dict[tuple[str, str], iv.Conn] = {}
        outside: dict[tuple[str, str], list[tuple[int, int, iv.Conn]]] = {}
        for src, dst, conn in connectivity.connections():
            if isinstance(src, Workload) and isinstance(dst, Workload):
                pairs[(_key(src), _key(dst))] = conn
            elif isinstance(src, External) and isinstance(dst, Workload):
                outside.setdefault((_key(dst), "in"), []).append((src.lo, src.hi, conn))
            elif isinstance(dst, External) and isinstance(src, Workload):
                outside.setdefault((_key(src), "out"), []).append((dst.lo, dst.hi, conn))
        return pairs, outside, peers
    finally:
        with_path.unlink(missing_ok=True)


def _key(w: Workload) -> str:
    return f"{w.namespace}/{w.name}"


def _selected_policy(config: str) -> tuple[str | None, str, str] | None:
    parts = config.split("/")[1:]
    if not parts:
        return None
    kind = None
    if parts[0] in ("K8sNetworkPolicy", "CalicoNetworkPolicy", "CalicoGlobalNetworkPolicy", "IstioAuthorizationPolicy"):
        kind, parts = parts[0], parts[1:]
    if len(parts) == 2:
        return kind, parts[0], parts[1]
    return kind, "", parts[0]


def _is_selected(doc: dict, selected: tuple[str | None, str, str]) -> bool:
    kind, namespace, name = selected
    meta = doc.get("metadata") or {}
    if meta.get("name") != name or (namespace and (meta.get("namespace") or "default") != namespace):
        return False
    group = str(doc.get("apiVersion", "")).split("/")[0]
    if kind == "K8sNetworkPolicy":
        return group == "networking.k8s.io"
    if kind in ("CalicoNetworkPolicy", "CalicoGlobalNetworkPolicy"):
        return group == "projectcalico.org"
    return True


# --- the analyzer's side -------------------------------------------------------------------------

SECTION = re.compile(r"(?:For connections of type (TCP|non-TCP), )?final fw rules for query: (.+?), config: (.+):$")
KEYS = ("protocols", "src_ports", "dst_ports", "methods", "paths", "hosts", "icmp_type", "icmp_code")
TCP_ONLY = iv.conn_of("TCP", iv.ALL_PORTS)
NON_TCP = iv.conn_subtract(iv.ALL_CONN, TCP_ONLY)


def expected_result(case: Case, peers: list[Peer]) -> tuple[dict, dict] | str:
    text = case.expected_file.read_text()
    if case.fmt == "txt_no_fw_rules":
        return _plain_lines(text, peers)
    pairs: dict[tuple[str, str], iv.Conn] = {}
    outside: dict[tuple[str, str], list[tuple[int, int, iv.Conn]]] = {}
    active = False
    section_conn = iv.ALL_CONN
    seen = False
    # a configuration narrowed to one policy is printed without its kind segment
    printed = {case.config, re.sub(r"/(K8sNetworkPolicy|CalicoNetworkPolicy|CalicoGlobalNetworkPolicy|IstioAuthorizationPolicy)/", "/", case.config)}
    for line in text.splitlines():
        header = SECTION.match(line.strip())
        if header:
            active = header.group(3) in printed and header.group(2) == case.query
            seen |= active
            section_conn = {"TCP": TCP_ONLY, "non-TCP": NON_TCP}.get(header.group(1) or "", iv.ALL_CONN)
            continue
        if not active or not line.strip():
            continue
        problem = _rule(line.strip(), peers, section_conn, pairs, outside)
        if problem:
            return problem
    if not seen:
        return "no section for this query and configuration in the expected output"
    return pairs, outside


def _conn(text: str, section: iv.Conn) -> iv.Conn:
    text = text.strip()
    if text.lower() in ("all connections", "all"):
        return section
    if text.lower() in ("no connections",):
        return iv.NO_CONN
    total = iv.NO_CONN
    for part in re.split(r"\}\s*[,;]\s*\{", text.strip("{}")):
        positions = sorted((m.start(), m.group(1)) for m in re.finditer(r"(?:^|,)\s*(" + "|".join(KEYS) + r"):", part))
        values = {}
        for k, (start, key) in enumerate(positions):
            begin = part.index(":", start) + 1
            end = positions[k + 1][0] if k + 1 < len(positions) else len(part)
            values[key] = part[begin:end].strip().strip(",")
        conn = section
        if "protocols" in values:
            protocols = {p.strip().upper() for p in values["protocols"].split(",")}
            conn = iv.NO_CONN
            for name in protocols & set(iv.PROTOCOLS):
                conn = iv.conn_union(conn, iv.conn_of(name, iv.ALL_PORTS))
            conn = iv.conn_intersect(conn, section)
        if "dst_ports" in values:
            ports = []
            for item in values["dst_ports"].split(","):
                item = item.strip()
                if "-" in item:
                    lo, hi = item.split("-", 1)
                    ports.append((int(lo), int(hi)))
                elif item.isdigit():
                    ports.append((int(item), int(item)))
            ports_set = iv.normalize(ports)
            conn = tuple(iv.intersect(p, ports_set) for p in conn)  # type: ignore[assignment]
        total = iv.conn_union(total, conn)
    return total


FW = re.compile(r"^(?:src: (?P<src_ip>\S+)|src_ns: \[(?P<src_ns>[^\]]*)\] src_pods: \[(?P<src_pods>.*?)\]) "
                r"(?:dst: (?P<dst_ip>\S+)|dst_ns: \[(?P<dst_ns>[^\]]*)\] dst_pods: \[(?P<dst_pods>.*?)\]) conn: (?P<conn>.*)$")


def _rule(line: str, peers: list[Peer], section: iv.Conn, pairs: dict, outside: dict) -> str:
    match = FW.match(line)
    if not match:
        return f"unreadable fw rule: {line[:120]}"
    conn = _conn(match.group("conn"), section)
    if conn == iv.NO_CONN:
        return ""
    if match.group("src_ip") and match.group("dst_ip"):
        return ""
    if match.group("src_ip") or match.group("dst_ip"):
        blocks = _blocks(match.group("src_ip") or match.group("dst_ip"))
        if blocks is None:
            return ""  # a host name (egress to a ServiceEntry host): not in kubeward's map
        side = "in" if match.group("src_ip") else "out"
        members = _pods(peers, match.group("dst_ns") if side == "in" else match.group("src_ns"),
                        match.group("dst_pods") if side == "in" else match.group("src_pods"))
        if isinstance(members, str):
            return members
        for peer in members:
            outside.setdefault((peer.key, side), []).extend((lo, hi, conn) for lo, hi in blocks)
        return ""
    sources = _pods(peers, match.group("src_ns"), match.group("src_pods"))
    targets = _pods(peers, match.group("dst_ns"), match.group("dst_pods"))
    if isinstance(sources, str):
        return sources
    if isinstance(targets, str):
        return targets
    for a in sources:
        for b in targets:
            if a.key != b.key:
                pairs[(a.key, b.key)] = iv.conn_union(pairs.get((a.key, b.key), iv.NO_CONN), conn)
    return ""


def _blocks(text: str) -> list[tuple[int, int]] | None:
    found = []
    for item in text.split(","):
        item = item.strip()
        if ":" in item:
            continue  # IPv6: not listed by kubeward
        try:
            found.append(iv.cidr_interval(item) if "/" in item else iv.cidr_interval(item + "/32"))
        except ValueError:
            if "-" in item:
                lo, hi = item.split("-", 1)
                found.append((iv.address_value(lo), iv.address_value(hi)))
            else:
                return None
    return found


def _pods(peers: list[Peer], namespaces: str, expression: str) -> list[Peer] | str:
    wanted = {n.strip() for n in namespaces.split(",") if n.strip()}
    scope = [p for p in peers if p.namespace in wanted]
    expression = expression.strip()
    if expression == "*":
        return scope
    if not re.search(r"[=!()]| in | not in ", expression):
        names = {n.strip() for n in expression.split(",")}
        return [p for p in scope if p.names & names]
    try:
        tree = cs.parse(_as_calico(expression))
    except cs.CalicoSelectorError:
        return f"unreadable pod expression: {expression}"
    return [p for p in scope if cs.matches(tree, p.labels)]


def _as_calico(text: str) -> str:
    text = re.sub(r"([\w./-]+)\s+not in\s+\(([^)]*)\)", lambda m: f"{m.group(1)} not in {{{_quote_list(m.group(2))}}}", text)
    text = re.sub(r"([\w./-]+)\s+in\s+\(([^)]*)\)", lambda m: f"{m.group(1)} in {{{_quote_list(m.group(2))}}}", text)
    text = re.sub(r"([\w./-]+)\s*!=\s*([\w./-]+)", r"\1 != '\2'", text)
    text = re.sub(r"([\w./-]+)\s*=\s*([\w./-]+)", r"\1 == '\2'", text)
    return text.replace(" and ", " && ").replace(" or ", " || ")


def _quote_list(text: str) -> str:
    return ", ".join(f"'{v.strip()}'" for v in text.split(",") if v.strip())


LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.*)$")


def _plain_lines(text: str, peers: list[Peer]) -> tuple[dict, dict] | str:
    pairs: dict = {}
    outside: dict = {}
    section = iv.ALL_CONN
    by_key = {}
    for p in peers:
        for name in p.names:
            by_key[f"{p.namespace}/{name}"] = p
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("TCP Connections"):
            section = TCP_ONLY
            continue
        if line.startswith("non-TCP Connections"):
            section = NON_TCP
            continue
        match = LINE.match(line)
        if not match:
            continue
        conn = _conn(match.group("conn"), section)
        src, dst = (re.sub(r"\[\w+\]$", "", match.group(k)) for k in ("src", "dst"))
        src_ip, dst_ip = _blocks(src) if "/" not in src and re.match(r"^[\d.]+-[\d.]+$", src) else None, \
            _blocks(dst) if re.match(r"^[\d.]+-[\d.]+$", dst) else None
        if src_ip and dst in by_key:
            outside.setdefault((by_key[dst].key, "in"), []).extend((lo, hi, conn) for lo, hi in src_ip)
        elif dst_ip and src in by_key:
            outside.setdefault((by_key[src].key, "out"), []).extend((lo, hi, conn) for lo, hi in dst_ip)
        elif src in by_key and dst in by_key:
            key = (by_key[src].key, by_key[dst].key)
            pairs[key] = iv.conn_union(pairs.get(key, iv.NO_CONN), conn)
    return pairs, outside


# --- comparing -------------------------------------------------------------------------------------

def _pieces(ranges: list[tuple[int, int, iv.Conn]], cuts: list[int]) -> list[iv.Conn]:
    result = []
    for k in range(len(cuts) - 1):
        lo, hi = cuts[k], cuts[k + 1] - 1
        conn = iv.NO_CONN
        for a, b, c in ranges:
            if a <= lo and hi <= b:
                conn = iv.conn_union(conn, c)
        result.append(conn)
    return result


def differences(kubeward: tuple[dict, dict], expected: tuple[dict, dict], limit: int = 6) -> list[str]:
    k_pairs, k_out = kubeward
    e_pairs, e_out = expected
    found = []
    for key in sorted(set(k_pairs) | set(e_pairs)):
        a, b = k_pairs.get(key, iv.NO_CONN), e_pairs.get(key, iv.NO_CONN)
        if a != b:
            found.append(f"{key[0]} => {key[1]}: kubeward {iv.format_conn(a)}, analyzer {iv.format_conn(b)}")
    for key in sorted(set(k_out) | set(e_out)):
        cuts = sorted({0, 1 << 32} | {x for lo, hi, _ in k_out.get(key, []) + e_out.get(key, []) for x in (lo, hi + 1)})
        a, b = _pieces(k_out.get(key, []), cuts), _pieces(e_out.get(key, []), cuts)
        for k, (x, y) in enumerate(zip(a, b)):
            if x != y:
                where = iv.format_ip_range(cuts[k], cuts[k + 1] - 1)
                found.append(f"{where} {'=>' if key[1] == 'in' else '<='} {key[0]}: kubeward {iv.format_conn(x)}, analyzer {iv.format_conn(y)}")
    return found[:limit] if limit else found
