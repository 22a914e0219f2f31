"""Attack paths: one graph of identities, workloads, network and nodes built from kubeward's
engines, the paths from entry points to crown jewels, and the fewest fixes that cut them all."""

from kubeward.graph.analysis import AttackAnalysis, analyse, workloads_on_paths
from kubeward.graph.build import EVIDENCE_RULES, build_graph
from kubeward.graph.fixplan import FixPlan, plan_fixes
from kubeward.graph.model import AttackGraph, Edge, Vertex
from kubeward.graph.paths import AttackPath, SelectionError

__all__ = ["EVIDENCE_RULES", "AttackAnalysis", "AttackGraph", "AttackPath", "Edge", "FixPlan", "SelectionError",
           "Vertex", "analyse", "build_graph", "plan_fixes", "workloads_on_paths"]
