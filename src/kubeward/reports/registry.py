"""The registry of report formats: a format is a name and a function of one ReportInput."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from kubeward.reports.scanned import Locations, Scanned, resolve_locations, sort_findings
from kubeward.rules.model import Finding, Rule

if TYPE_CHECKING:  # the graph (rustworkx) is imported only by the commands that rank by attack paths
    from kubeward.graph.analysis import AttackAnalysis


@dataclass
class ReportInput:
    findings: list[Finding]  # ordered: severity, rule, cluster, namespace, kind, name
    locations: Locations  # file, line, dotted path of each finding (each made when asked for)
    scanned: Scanned
    rules: list[Rule]
    color: bool = False
    width: int | None = None  # the terminal's, for tables; None: the renderer's default
    attack: AttackAnalysis | None = None  # ranks findings by the paths they sit on


# A renderer returns the whole text, or its pieces in order (a large report is written piece by
# piece rather than held whole, twice, in memory).
Renderer = Callable[[ReportInput], "str | Iterable[str]"]
FORMATS: dict[str, Renderer] = {}


def register_format(name: str) -> Callable[[Renderer], Renderer]:
    def decorate(renderer: Renderer) -> Renderer:
        if name in FORMATS:
            raise ValueError(f"report format {name!r} registered twice")
        FORMATS[name] = renderer
        return renderer

    return decorate


def render(findings: list[Finding], scanned: Scanned, fmt: str, *, color: bool = False,
           rules: list[Rule] | None = None, width: int | None = None, attack: AttackAnalysis | None = None,
           jobs: int | None = 1) -> str:
    pieces = render_pieces(findings, scanned, fmt, color=color, rules=rules, width=width, attack=attack, jobs=jobs)
    return pieces if isinstance(pieces, str) else "".join(pieces)


def render_pieces(findings: list[Finding], scanned: Scanned, fmt: str, *, color: bool = False,
                  rules: list[Rule] | None = None, width: int | None = None,
                  attack: AttackAnalysis | None = None, jobs: int | None = 1) -> str | Iterable[str]:
    """The report as its renderer gives it: the text, or its pieces in order (write them one by one).
    `jobs`: processes that find the findings' lines (see resolve_locations)."""
    renderer = FORMATS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ordered = sort_findings(findings)
    return renderer(ReportInput(ordered, resolve_locations(ordered, jobs), scanned, list(rules or []), color, width, attack))
