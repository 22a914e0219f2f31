"""Attack paths (kubeward.graph) for people (table) and tools (json, dot, graphml, cypher). The graph exports
hold the vertices and edges of the listed paths, every parallel edge of each step included."""

from __future__ import annotations

import io
import textwrap
from xml.sax.saxutils import escape as xml_escape

import orjson

from kubeward import __version__
from kubeward.graph.analysis import AttackAnalysis, finding_ref, path_dict, plan_dict, summary_dict
from kubeward.graph.model import Edge
from kubeward.reports.terminal import safe
from kubeward.rules.model import Finding, dotted

PATH_FORMATS = ("table", "json", "dot", "graphml", "cypher", "html")


def _evidence_text(finding: Finding) -> str:
    resource = finding.resource
    where = resource.display() if resource is not None else "-"
    mark = " (suppressed)" if finding.suppressed else ""
    return f"{finding.rule.id} {where} {dotted(finding.path)}{mark}"


def _edge_lines(edge: Edge, width: int) -> list[str]:
    lines = textwrap.wrap(safe(f"{edge.kind}: {edge.detail}"), width=max(20, width - 8), initial_indent="       ",
                          subsequent_indent="         ")
    if edge.evidence:
        for finding in edge.evidence:
            lines += textwrap.wrap(safe("fix: " + _evidence_text(finding)), width=max(20, width - 10),
                                   initial_indent="         ", subsequent_indent="           ")
    else:
        lines.append("         (inherent: no finding's fix removes it)")
    return lines


def render_table(analysis: AttackAnalysis, width: int = 120) -> str:
    graph = analysis.graph
    out = io.StringIO()
    for number, path in enumerate(analysis.paths, 1):
        out.write(safe(f"PATH {number} ({path.length} hop{'s' if path.length != 1 else ''}): "
                       f"{graph[path.entry].label} -> {graph[path.jewel].label}") + "\n")
        for step, hop in enumerate(path.hops, 1):
            out.write(safe(f"  {step}. {graph[hop.source].label} -> {graph[hop.target].label}") + "\n")
            for links in hop.links:
                for _index, edge in links:
                    out.write("\n".join(_edge_lines(edge, width)) + "\n")
        out.write("\n")
    summary = summary_dict(analysis)
    for note in summary["notes"]:
        out.write(textwrap.fill(safe("note: " + note), width=width, subsequent_indent="  ") + "\n")
    reached = ", ".join(key.split(":", 1)[-1] for key in summary["jewels_reached"]) or "none"
    line = (f"{len(analysis.paths)} path(s) from {summary['entries']} entry point(s) to the crown jewels "
            f"(reached: {reached}); graph of {summary['vertices']} vertices and {summary['edges']} edges.")
    if analysis.truncated:
        line += " Stopped at --limit: more paths exist."
    out.write(textwrap.fill(line, width=width) + "\n")
    if analysis.paths:
        out.write("Run `kubeward fix-plan` for the fewest fixes that cut every path.\n")
    return out.getvalue()


def render_json(analysis: AttackAnalysis) -> str:
    doc = {"tool": {"name": "kubeward", "version": __version__}, "graph": summary_dict(analysis),
           "paths": [path_dict(analysis.graph, p) for p in analysis.paths]}
    if analysis.plan is not None:
        doc["fix_plan"] = plan_dict(analysis)
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


# --- graph exports --------------------------------------------------------------------------------

def _elements(analysis: AttackAnalysis):
    vertices, edges = analysis.subgraph()
    g = analysis.graph.graph
    return ([(v, analysis.graph[v]) for v in vertices],
            [(i, *g.get_edge_endpoints_by_index(i), g.get_edge_data_by_index(i)) for i in edges])


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


DOT_SHAPES = {"entry": "house", "jewel": "doubleoctagon", "identity": "ellipse", "permset": "note", "capability": "hexagon",
              "workload": "box", "container": "box", "volume": "cylinder", "node": "box3d", "service": "component",
              "ingress": "component", "secret": "tab", "network": "point"}


def render_dot(analysis: AttackAnalysis) -> str:
    vertices, edges = _elements(analysis)
    lines = ["digraph attack_paths {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for v, vertex in vertices:
        lines.append(f"  n{v} [label={_dot_string(vertex.label)}, shape={DOT_SHAPES.get(vertex.kind, 'box')}, "
                     f"kind={_dot_string(vertex.kind)}, key={_dot_string(vertex.key)}];")
    for _i, a, b, edge in edges:
        rules = ",".join(sorted({f.rule.id for f in edge.evidence}))
        style = "" if edge.evidence else ", style=dashed"
        lines.append(f"  n{a} -> n{b} [label={_dot_string(edge.kind)}, tooltip={_dot_string(edge.detail)}, "
                     f"rules={_dot_string(rules)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graphml(analysis: AttackAnalysis) -> str:
    vertices, edges = _elements(analysis)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
           '  <key id="label" for="node" attr.name="label" attr.type="string"/>',
           '  <key id="kind" for="node" attr.name="kind" attr.type="string"/>',
           '  <key id="key" for="node" attr.name="key" attr.type="string"/>',
           '  <key id="namespace" for="node" attr.name="namespace" attr.type="string"/>',
           '  <key id="edge_kind" for="edge" attr.name="kind" attr.type="string"/>',
           '  <key id="condition" for="edge" attr.name="condition" attr.type="string"/>',
           '  <key id="rules" for="edge" attr.name="rules" attr.type="string"/>',
           '  <graph id="attack-paths" edgedefault="directed">']
    for v, vertex in vertices:
        out.append(f'    <node id="n{v}">')
        for key, value in (("label", vertex.label), ("kind", vertex.kind), ("key", vertex.key),
                           ("namespace", vertex.namespace or "")):
            out.append(f'      <data key="{key}">{xml_escape(_xml_text(value))}</data>')
        out.append("    </node>")
    for i, a, b, edge in edges:
        out.append(f'    <edge id="e{i}" source="n{a}" target="n{b}">')
        rules = ",".join(sorted({f.rule.id for f in edge.evidence}))
        for key, value in (("edge_kind", edge.kind), ("condition", edge.detail), ("rules", rules)):
            out.append(f'      <data key="{key}">{xml_escape(_xml_text(value))}</data>')
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"


def _xml_text(text: str) -> str:
    """XML 1.0 forbids most control characters even escaped: show them as \\uXXXX."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff"
                   else f"\\u{ord(c):04x}" for c in text)


def _cypher_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'"


def render_cypher(analysis: AttackAnalysis) -> str:
    """CREATE statements for Neo4j or Memgraph: one node per vertex (label = its kind), one
    relationship per edge (type = its kind), with the condition and the rule ids."""
    vertices, edges = _elements(analysis)
    lines = ["// kubeward attack paths: load with cypher-shell < this file"]
    for v, vertex in vertices:
        label = vertex.kind.capitalize()
        lines.append(f"CREATE (n{v}:{label} {{key: {_cypher_string(vertex.key)}, label: {_cypher_string(vertex.label)}, "
                     f"namespace: {_cypher_string(vertex.namespace or '')}}})")
    for _i, a, b, edge in edges:
        rules = ",".join(sorted({f.rule.id for f in edge.evidence}))
        lines.append(f"CREATE (n{a})-[:{edge.kind} {{condition: {_cypher_string(edge.detail)}, "
                     f"rules: {_cypher_string(rules)}}}]->(n{b})")
    return "\n".join(lines) + ";\n"


# --- the fix plan ---------------------------------------------------------------------------------

def render_plan_table(analysis: AttackAnalysis, width: int = 120) -> str:
    plan = analysis.plan
    graph = analysis.graph
    out = io.StringIO()
    if plan is None:
        return ""
    if not plan.fixes:
        out.write("No fix needed: no entry point reaches a crown jewel through an edge a fix removes.\n")
    for number, fix in enumerate(plan.fixes, 1):
        ref = finding_ref(fix.finding)
        resource = fix.finding.resource
        out.write(safe(f"{number}. {fix.finding.severity.label.upper():<8} {ref['rule']}  "
                       f"{resource.display() if resource is not None else '-'}  {ref['field']}") + "\n")
        out.write(textwrap.fill(safe(fix.finding.message), width=width, initial_indent="   ", subsequent_indent="   ") + "\n")
        out.write(textwrap.fill(safe("fix: " + " ".join(fix.finding.rule.fix.prose.split())), width=width,
                                initial_indent="   ", subsequent_indent="        ") + "\n")
        out.write(f"   cuts {fix.paths} of the {len(analysis.paths)} listed path(s) on its own; removes {len(fix.edges)} edge(s)"
                  + (f"; {len(fix.alternatives)} other finding(s) remove the same edges" if fix.alternatives else "") + "\n")
    for entry, jewel in plan.uncuttable:
        out.write(textwrap.fill(safe(f"uncuttable: {graph[entry].label} reaches {graph[jewel].label} through edges no "
                                     "finding's fix removes"), width=width, subsequent_indent="  ") + "\n")
    method = ("exact minimum (integer program, HiGHS)" if plan.method == "exact" and plan.optimal
              else plan.note or plan.method)
    out.write("\n" + textwrap.fill(
        f"{len(plan.fixes)} fix(es) cut all {plan.pairs_before} connected (entry, jewel) pair(s); method: {method}. "
        f"Checked: after removing their edges the graph leaves {plan.pairs_after} path(s).", width=width) + "\n")
    return out.getvalue()


def render_plan_json(analysis: AttackAnalysis) -> str:
    doc = {"tool": {"name": "kubeward", "version": __version__}, **plan_dict(analysis),
           "paths": len(analysis.paths), "graph": summary_dict(analysis)}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


EXPORTERS = {"dot": render_dot, "graphml": render_graphml, "cypher": render_cypher, "json": render_json}
__all__ = ["EXPORTERS", "PATH_FORMATS", "render_plan_json", "render_plan_table", "render_table"]
