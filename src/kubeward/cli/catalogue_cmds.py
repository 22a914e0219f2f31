"""`kubeward rules` and `kubeward explain`: the catalogue, for people and tools."""

from __future__ import annotations

import click
import orjson
from rich.table import Table

from kubeward.reports.terminal import console, terminal_width
from kubeward.rules import get, load_all
from kubeward.rules.model import ANY_KIND


@click.command("rules")
@click.option("--format", "-o", "fmt", type=click.Choice(("table", "json", "markdown")), default="table",
              show_default=True, help="markdown: the rule reference (docs/rule-reference.md).")
@click.option("--domain", default=None, help="Only rules of this domain (workload, pss, rbac, netpol, node, ...).")
def rules_cmd(fmt, domain) -> None:
    """List every rule kubeward knows."""
    rules = [r for r in load_all().values() if domain is None or r.domain == domain]
    if fmt == "json":
        click.echo(orjson.dumps([r.as_dict() for r in rules], option=orjson.OPT_INDENT_2).decode())
        return
    if fmt == "markdown":
        from kubeward.rules.reference import markdown

        click.echo(markdown(rules), nl=False)
        return
    table = Table(expand=True, box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("domain", no_wrap=True)
    table.add_column("title", overflow="fold")
    for r in rules:
        table.add_row(r.id, r.severity.label, r.domain, r.title + (" (heuristic)" if r.heuristic else ""))
    console().print(table)
    click.echo(f"{len(rules)} rules")


@click.command("explain")
@click.argument("rule_id")
@click.option("--format", "-o", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def explain(rule_id, fmt) -> None:
    """Show one rule: why it matters, how to fix it, its references."""
    rule = get(rule_id)
    if rule is None:
        raise click.UsageError(f"unknown rule {rule_id!r}; `kubeward rules` lists them")
    if fmt == "json":
        click.echo(orjson.dumps(rule.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    from rich.markdown import Markdown  # markdown-it is slow to import; only explain needs it

    refs = rule.references
    ref_lines = [f"- {label}: {', '.join(values)}" for label, values in
                 (("CIS", refs.cis), ("NSA/CISA", refs.nsa), ("Pod Security", refs.pss), ("MITRE ATT&CK", refs.mitre)) if values]
    fix = rule.fix
    judges = f"{rule.target.value}" + (f" ({', '.join(sorted(rule.kinds))})" if rule.kinds and rule.kinds != ANY_KIND else "")
    reads = ", ".join(sorted(c.value for c in rule.context)) or "nothing else (object-local)"
    text = (f"# {rule.id}: {rule.title}\n\n**Severity:** {rule.severity.label}  **Domain:** {rule.domain}"
            + ("  **Heuristic**" if rule.heuristic else "")
            + f"\n\n**Judges:** {judges}  **Reads:** {reads}"
            + f"\n\n## Why it matters\n\n{rule.rationale}\n\n## How to fix\n\n{fix.prose}\n"
            + (f"\n```yaml\n{fix.example}\n```\n" if fix.example else "")
            + ("\nFindings of this rule carry a JSON patch (`-o json`: `fix.patch`; SARIF: `fixes`).\n" if fix.patch else "")
            + ("\n## References\n\n" + "\n".join(ref_lines) + "\n" if ref_lines else ""))
    console(width=min(terminal_width(), 100)).print(Markdown(text))


COMMANDS = [rules_cmd, explain]
