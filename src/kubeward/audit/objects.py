"""The objects an audit event wrote, judged by the same rules `kubeward scan` runs on manifests:
the request body (or, for a patch, the response) becomes a Resource of a one-object Inventory
and goes through the pipeline's rule evaluation with the chosen object-local rules. No rule
logic is repeated here."""

from __future__ import annotations

from functools import cache
from typing import Iterable, Iterator

from kubeward.audit.event import AuditEvent
from kubeward.model.apiresources import STANDARD_TABLE
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource, as_dict, as_list
from kubeward.rbac.match import PolicyRule
from kubeward.rbac.policy import Problem, parse_role
from kubeward.rules.model import Finding, Rule


def written_resource(event: AuditEvent) -> Resource | None:
    """The object the event wrote, as scan would read it from a manifest (None when the audit
    level kept no body). Its origin names the event: `audit:<auditID>`."""
    body = event.written_object
    if not body or not isinstance(body.get("kind"), str):
        return None
    if not isinstance(body.get("apiVersion"), str):
        body = {**body, "apiVersion": event.object_ref.get("apiVersion") or "v1"}
    namespace = None
    if STANDARD_TABLE.is_namespaced(body["kind"]):
        given = as_dict(body.get("metadata")).get("namespace")
        namespace = given if isinstance(given, str) and given else (event.namespace or "default")
    resource = Resource(body, namespace, Origin(None, source=f"audit:{event.audit_id}"))
    if not isinstance(as_dict(body.get("metadata")).get("name"), str) and event.name:
        resource.name = event.name  # generateName: the response names the object
    return resource


@cache
def _rules(rule_ids: tuple[str, ...]) -> tuple[Rule, ...]:
    from kubeward.rules.catalogue import load, load_all

    catalogue = load({"workload"})  # the scan rules an audit detection runs: their modules only
    if not all(i in catalogue for i in rule_ids):
        catalogue = load_all()
    chosen = tuple(catalogue[i] for i in rule_ids)
    for rule_ in chosen:
        if not rule_.object_local:
            raise ValueError(f"{rule_.id} reads more than its object; an audit event cannot judge it alone")
    return chosen


def judge_written(event: AuditEvent, rule_ids: tuple[str, ...]) -> Iterator[Finding]:
    """The findings of the scan rules `rule_ids` on the object `event` wrote."""
    from kubeward import pipeline

    resource = written_resource(event)
    if resource is None:
        return
    findings, errors = pipeline.evaluate_rules(Inventory([resource]), _rules(rule_ids))
    if errors:
        raise ValueError(errors[0].message)
    yield from findings


def policy_rules(body: dict, source: tuple) -> list[PolicyRule]:
    """The rules of a Role/ClusterRole body, parsed by the RBAC engine (bad rules skipped)."""
    resource = Resource(body, source[1], Origin(None, source="audit"))
    problems: list[Problem] = []
    return parse_role(resource, problems).rules


def rules_of(body: dict) -> Iterable[dict]:
    return (as_dict(r) for r in as_list(body.get("rules")))


@cache
def _default_cluster_roles() -> dict[str, list[PolicyRule]]:
    from kubeward.rbac.defaults import bootstrap_resources
    from kubeward.rbac.index import RbacIndex

    index = RbacIndex(Inventory(list(bootstrap_resources())))  # aggregation applied (admin, edit, view)
    return {key[2]: role.rules for key, role in index.roles.items() if key[0] == "ClusterRole"}


def default_cluster_role_rules(name: str) -> list[PolicyRule] | None:
    """A Kubernetes default ClusterRole's rules (admin, edit and view as aggregated)."""
    return _default_cluster_roles().get(name)
