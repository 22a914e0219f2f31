"""The HTML report: one self-contained file that opens offline. A summary with the counts and the
fix plan, the findings with filters (severity, rule, namespace, on an attack path or not), and the
attack graph drawn with Cytoscape.js (vendored from npm under reports/assets, inlined), each path
highlighted when clicked.

Every string that comes from the scanned objects is HTML-escaped where it is written into the
page, and the graph data travels as JSON in a non-executed script element with `<`, `>` and `&`
escaped, so no name or annotation can close the element or inject markup. A Content-Security-
Policy forbids every network load.
"""

from __future__ import annotations

import html
from collections import Counter
from functools import lru_cache
from importlib import resources

import orjson

from kubeward import __version__
from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.scanned import summary
from kubeward.reports.table import compact_fix, rule_label
from kubeward.rules.model import Finding, Severity

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "connect-src 'none'; base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def cytoscape_source() -> str:
    text = resources.files("kubeward.reports").joinpath("assets/cytoscape.min.js").read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def script_json(data: object) -> str:
    """JSON that is safe inside <script type="application/json">: no `<`, `>`, `&`, and no line
    separators JavaScript would choke on."""
    text = orjson.dumps(data).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _namespace(finding: Finding) -> str:
    if finding.resource is None:
        return "(files)"
    return finding.resource.namespace or "(cluster)"


def _subject(finding: Finding) -> str:
    if finding.resource is not None:
        return finding.resource.display()
    if finding.identity is not None:
        return finding.identity.display()
    return "-"


def _where(location: dict) -> str:
    file, line = location.get("file") or "", location.get("line")
    return f"{file}:{line}" if file and line else file


def _graph_data(attack) -> dict:
    from kubeward.graph.analysis import finding_ref

    graph = attack.graph
    vertices, edges = attack.subgraph()
    g = graph.graph
    positions = _layered(attack, vertices, edges)
    nodes = []
    for v in vertices:
        vertex = graph[v]
        x, y = positions[v]
        nodes.append({"data": {"id": f"n{v}", "label": vertex.label if not vertex.hub else "", "title": vertex.label,
                               "kind": vertex.kind, "key": vertex.key}, "position": {"x": x, "y": y}})
    links = []
    for i in edges:
        a, b = g.get_edge_endpoints_by_index(i)
        edge = g.get_edge_data_by_index(i)
        links.append({"data": {"id": f"e{i}", "source": f"n{a}", "target": f"n{b}", "kind": edge.kind,
                               "detail": edge.detail, "fixable": bool(edge.evidence),
                               "rules": sorted({f.rule.id for f in edge.evidence})}})
    paths = []
    for path in attack.paths:
        members = [f"n{v}" for v in path.vertices]
        members += [f"e{i}" for a, b in path.pairs() for i in g.edge_indices_from_endpoints(a, b)]
        paths.append({"entry": graph[path.entry].label, "jewel": graph[path.jewel].label, "hops": path.length,
                      "steps": [graph[v].label for v in path.vertices if not graph[v].hub], "members": members})
    plan = []
    if attack.plan is not None:
        plan = [{**finding_ref(fix.finding), "paths": fix.paths} for fix in attack.plan.fixes]
    return {"nodes": nodes, "edges": links, "paths": paths, "plan": plan}


def _layered(attack, vertices: list[int], edges: list[int]) -> dict[int, tuple[float, float]]:
    """Left to right: each vertex at its hop distance from the paths' entries, the jewels last."""
    from collections import deque

    graph = attack.graph
    g = graph.graph
    inside = set(vertices)
    out: dict[int, list[int]] = {v: [] for v in vertices}
    for i in edges:
        a, b = g.get_edge_endpoints_by_index(i)
        out[a].append(b)
    depth: dict[int, int] = {}
    queue: deque[int] = deque()
    for path in attack.paths:
        if path.entry not in depth:
            depth[path.entry] = 0
            queue.append(path.entry)
    while queue:
        v = queue.popleft()
        for w in out.get(v, ()):
            if w in inside and w not in depth:
                depth[w] = depth[v] + (0 if graph[w].hub else 1)
                queue.append(w)
    last = max((d for v, d in depth.items() if graph[v].kind != "jewel"), default=0) + 1
    layers: dict[int, list[int]] = {}
    for v in vertices:
        layer = last if graph[v].kind == "jewel" else depth.get(v, 0)
        layers.setdefault(layer, []).append(v)
    positions = {}
    for layer, members in layers.items():
        members.sort(key=lambda v: (graph[v].kind, graph[v].label))
        for row, v in enumerate(members):
            positions[v] = (layer * 260.0, (row - len(members) / 2) * 70.0)
    return positions


def _summary_html(report: ReportInput, active: list[Finding], attack) -> str:
    counts = summary(report.findings)
    scanned = report.scanned
    cards = "".join(f'<div class="card sev-{e(name)}"><span class="n" id="count-{e(name)}">{count}</span>'
                    f'<span class="l">{e(name)}</span></div>' for name, count in counts.items())
    out = [f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>',
           f'<p>Scanned {scanned.files} file(s), {scanned.objects} object(s)'
           f'{", " + str(len(scanned.clusters)) + " cluster(s)" if scanned.clusters else ""}; '
           f'<span id="finding-count">{len(active)}</span> finding(s)'
           f'{f", {len(scanned.errors)} input error(s)" if scanned.errors else ""}.</p>']
    if attack is None:
        out.append("<p>No attack-path analysis in this report.</p></section>")
        return "".join(out)
    on_path = sum(1 for f in active if attack.paths_of(f))
    vertices, _edges = attack.subgraph()
    share = f"{100 * on_path / len(active):.0f}%" if active else "0%"
    out.append(f'<p><span id="path-count">{len(attack.paths)}</span> attack path(s) from entry points to crown jewels; '
               f'<span id="on-path-count">{on_path}</span> finding(s) ({share}) sit on a path, the rest are not on an '
               f'attack path. The graph below holds <span id="graph-count">{len(vertices)}</span> vertices.</p>')
    plan = attack.plan
    if plan is not None:
        planned = attack.planned()
        covered = sum(1 for f in active if _key(f) in planned)
        method = "exact minimum" if plan.method == "exact" and plan.optimal else e(plan.note or plan.method)
        out.append(f'<h3>Fix plan: <span id="plan-count">{len(plan.fixes)}</span> fix(es) cut every path</h3>'
                   f'<p>Method: {method}. Checked: without the edges they remove, {plan.pairs_after} path(s) remain. '
                   f'The plan covers {covered} of {len(active)} finding(s)'
                   f' ({100 * covered / len(active) if active else 0:.1f}%).</p>')
        if plan.fixes:
            rows = "".join(
                f'<tr><td class="sev sev-{e(fix.finding.severity.label)}">{e(fix.finding.severity.label)}</td>'
                f"<td>{e(fix.finding.rule.id)}</td><td>{e(_subject(fix.finding))}</td>"
                f"<td><code>{e(_field(fix.finding))}</code></td><td>{fix.paths}</td>"
                f"<td>{e(compact_fix(fix.finding))}</td></tr>" for fix in plan.fixes)
            out.append('<table id="plan-table"><thead><tr><th>severity</th><th>rule</th><th>object</th><th>field</th>'
                       f"<th>paths cut alone</th><th>fix</th></tr></thead><tbody>{rows}</tbody></table>")
        for entry, jewel in plan.uncuttable:
            out.append(f"<p>Uncuttable: {e(attack.graph[entry].label)} reaches {e(attack.graph[jewel].label)} through "
                       "edges no finding's fix removes.</p>")
    for note in attack.graph.notes:
        out.append(f'<p class="note">{e(note)}</p>')
    out.append("</section>")
    return "".join(out)


def _key(finding: Finding) -> tuple:
    from kubeward.graph.fixplan import finding_key

    return finding_key(finding)


def _field(finding: Finding) -> str:
    from kubeward.rules.model import dotted

    return dotted(finding.path)


def _options(values, label: str) -> str:
    return f'<option value="">{e(label)}</option>' + "".join(f'<option value="{e(v)}">{e(v)}</option>' for v in values)


def _findings_html(report: ReportInput, active: list[tuple[Finding, dict]], attack) -> str:
    severities = [s.label for s in sorted(Severity, reverse=True)]
    rules = sorted({f.rule.id for f, _ in active})
    namespaces = sorted({_namespace(f) for f, _ in active})
    filters = (f'<div class="filters"><label>severity <select id="filter-severity">{_options(severities, "all")}</select></label>'
               f'<label>rule <select id="filter-rule">{_options(rules, "all")}</select></label>'
               f'<label>namespace <select id="filter-namespace">{_options(namespaces, "all")}</select></label>'
               '<label>attack path <select id="filter-path"><option value="">all</option>'
               '<option value="yes">on an attack path</option><option value="no">not on an attack path</option>'
               '</select></label> <span id="shown-count"></span></div>')
    rows = []
    ordered = active
    if attack is not None:
        ordered = sorted(active, key=lambda item: -attack.paths_of(item[0]))
    for finding, location in ordered:
        paths = attack.paths_of(finding) if attack is not None else 0
        rows.append(
            f'<tr class="finding" data-severity="{e(finding.severity.label)}" data-rule="{e(finding.rule.id)}" '
            f'data-namespace="{e(_namespace(finding))}" data-path="{"yes" if paths else "no"}">'
            f'<td class="sev sev-{e(finding.severity.label)}">{e(finding.severity.label)}</td>'
            f"<td>{e(rule_label(finding))}</td><td>{e(_subject(finding))}</td><td>{e(_where(location))}</td>"
            f"<td>{e(finding.message)}<div class=\"fix\">fix: {e(compact_fix(finding))}</div></td>"
            f"<td>{paths if paths else 'not on an attack path'}</td></tr>")
    table = ('<table id="findings-table"><thead><tr><th>severity</th><th>rule</th><th>object</th><th>location</th>'
             f'<th>finding</th><th>attack paths</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<section id="findings"><h2>Findings</h2>{filters}{table}</section>'


def _graph_html(attack) -> str:
    if attack is None:
        return ""
    kinds = Counter(attack.graph[v].kind for v in attack.subgraph()[0])
    legend = " ".join(f'<span class="kind k-{e(k)}">{e(k)} {n}</span>' for k, n in sorted(kinds.items()))
    return ('<section id="graph"><h2>Attack graph</h2>'
            f'<p class="legend">{legend}</p>'
            '<div class="graph-wrap"><ol id="path-list"></ol><div id="cy"></div></div>'
            '<p id="selection">Click a path to highlight it; click a vertex or an edge to read it.</p></section>')


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c8ccd6}
section{background:#fff;margin:16px 24px;padding:12px 18px;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:15px}
.cards{display:flex;gap:10px}.card{padding:8px 14px;border-radius:6px;background:#eef0f4;min-width:80px}
.card .n{display:block;font-size:22px;font-weight:600}.card .l{font-size:12px;text-transform:uppercase}
.sev-critical{background:#b3261e;color:#fff}.sev-high{background:#e4572e;color:#fff}.sev-medium{background:#f3c13a}
.sev-low{background:#9ecae1}.sev-info{background:#e0e0e0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e3e5ea;padding:5px 6px;text-align:left;vertical-align:top}
td.sev{text-transform:uppercase;font-size:11px;font-weight:600;white-space:nowrap}
.fix{color:#2e7d32;font-size:12px;margin-top:3px}.filters{margin:0 0 10px}.filters label{margin-right:14px;font-size:13px}
#shown-count{font-size:13px;color:#555}.note{color:#555;font-size:12px}
.graph-wrap{display:flex;gap:12px}#cy{flex:1;height:620px;border:1px solid #e3e5ea;border-radius:6px}
#path-list{width:330px;max-height:620px;overflow:auto;font-size:12px;margin:0;padding-left:22px}
#path-list li{cursor:pointer;padding:4px 2px;border-bottom:1px solid #eee}#path-list li.active{background:#fff3cd}
.legend .kind{display:inline-block;font-size:12px;margin-right:8px;padding:1px 6px;border-radius:4px;background:#eef0f4}
#selection{font-size:13px;color:#333}
"""

APP = r"""
(function(){
  var data = JSON.parse(document.getElementById('kw-data').textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll('#findings-table tbody tr'));
  var filters = ['severity','rule','namespace','path'].map(function(n){return [n, document.getElementById('filter-'+n)];});
  function apply(){
    var shown = 0;
    rows.forEach(function(row){
      var ok = filters.every(function(f){ return !f[1].value || row.getAttribute('data-'+f[0]) === f[1].value; });
      row.style.display = ok ? '' : 'none';
      if (ok) shown++;
    });
    document.getElementById('shown-count').textContent = shown + ' of ' + rows.length + ' findings shown';
  }
  filters.forEach(function(f){ f[1].addEventListener('change', apply); });
  apply();
  window.kubeward = {data: data, applyFilters: apply, cy: null};
  var box = document.getElementById('cy');
  if (!box || typeof cytoscape === 'undefined') return;
  var colors = {entry:'#2e7d32', jewel:'#b3261e', identity:'#6a1b9a', permset:'#8e24aa', capability:'#ad1457',
    workload:'#1565c0', container:'#1e88e5', volume:'#6d4c41', node:'#e65100', service:'#00838f', ingress:'#00838f',
    secret:'#5d4037', network:'#9e9e9e'};
  var cy = cytoscape({container: box, elements: {nodes: data.nodes, edges: data.edges}, wheelSensitivity: 0.3,
    layout: {name: 'preset', fit: true, padding: 20},
    style: [
      {selector: 'node', style: {'label': 'data(label)', 'font-size': 9, 'text-wrap': 'wrap', 'text-max-width': 140,
        'background-color': function(n){ return colors[n.data('kind')] || '#607d8b'; }, 'width': 18, 'height': 18, 'color': '#222'}},
      {selector: 'node[kind = "network"]', style: {'width': 7, 'height': 7}},
      {selector: 'node[kind = "jewel"]', style: {'shape': 'star', 'width': 30, 'height': 30}},
      {selector: 'node[kind = "entry"]', style: {'shape': 'triangle', 'width': 26, 'height': 26}},
      {selector: 'edge', style: {'width': 1.2, 'line-color': '#b0b7c3', 'target-arrow-color': '#b0b7c3',
        'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'arrow-scale': 0.7}},
      {selector: 'edge[?fixable]', style: {'line-color': '#7d8796', 'target-arrow-color': '#7d8796'}},
      {selector: '.faded', style: {'opacity': 0.12}},
      {selector: 'node.hl', style: {'border-width': 3, 'border-color': '#ffb300'}},
      {selector: 'edge.hl', style: {'width': 3.5, 'line-color': '#ff6f00', 'target-arrow-color': '#ff6f00', 'opacity': 1}}
    ]});
  window.kubeward.cy = cy;
  var list = document.getElementById('path-list');
  var note = document.getElementById('selection');
  function highlight(index){
    cy.elements().removeClass('hl faded');
    Array.prototype.forEach.call(list.children, function(li){ li.classList.remove('active'); });
    window.kubeward.highlighted = index;
    if (index === null) { note.textContent = ''; return; }
    var members = data.paths[index].members.map(function(id){ return '#' + id; }).join(',');
    var chosen = cy.$(members);
    cy.elements().not(chosen).addClass('faded');
    chosen.addClass('hl');
    list.children[index].classList.add('active');
    note.textContent = data.paths[index].steps.join('  \u2192  ');
  }
  data.paths.forEach(function(path, i){
    var li = document.createElement('li');
    li.textContent = path.entry + ' \u2192 ' + path.jewel + ' (' + path.hops + ' hop' + (path.hops === 1 ? '' : 's') + ')';
    li.addEventListener('click', function(){ highlight(window.kubeward.highlighted === i ? null : i); });
    list.appendChild(li);
  });
  window.kubeward.highlight = highlight;
  cy.on('tap', 'node', function(evt){ note.textContent = evt.target.data('kind') + ': ' + evt.target.data('title'); });
  cy.on('tap', 'edge', function(evt){ var d = evt.target.data();
    note.textContent = d.kind + ': ' + d.detail + (d.rules.length ? '  (fix: ' + d.rules.join(', ') + ')' : '  (inherent)'); });
})();
"""


@register_format("html")
def render_html(report: ReportInput) -> str:
    attack = report.attack
    active = [(f, loc) for f, loc in zip(report.findings, report.locations) if not f.suppressed]
    data = _graph_data(attack) if attack is not None else {"nodes": [], "edges": [], "paths": [], "plan": []}
    scanned = report.scanned
    clusters = f" Clusters: {e(', '.join(scanned.clusters))}." if scanned.clusters else ""
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>kubeward report</title><style>{STYLE}</style></head><body>",
        f"<header><h1>kubeward report</h1><p>kubeward {e(__version__)}.{clusters}</p></header>",
        _summary_html(report, [f for f, _ in active], attack),
        _graph_html(attack),
        _findings_html(report, active, attack),
        f'<script type="application/json" id="kw-data">{script_json(data)}</script>',
        f"<script>{cytoscape_source()}</script>" if attack is not None else "",
        f"<script>{APP}</script></body></html>\n",
    ]
    return "".join(parts)
