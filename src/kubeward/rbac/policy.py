"""Reading Roles, ClusterRoles and their bindings out of an inventory, tolerating bad input:
every problem is recorded with the object and field it concerns, and the rest is kept."""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rbac.match import PolicyRule

SA_PREFIX = "system:serviceaccount:"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")

RoleKey = tuple[str, str | None, str]  # (kind, namespace, name); namespace None for ClusterRoles
SubjectKey = tuple[str, str]  # ("user", username) or ("group", name)


@dataclass(slots=True)
class Problem:
    resource: Resource
    path: Path
    message: str


@dataclass(slots=True)
class Role:
    resource: Resource
    rules: list[PolicyRule]  # as written; for an aggregated ClusterRole, replaced by aggregation
    selectors: list[dict] | None  # aggregationRule.clusterRoleSelectors; None when not aggregated
    key: RoleKey = ("", None, "")

    def display(self) -> str:
        return self.resource.display()


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str | None  # ServiceAccounts only, already defaulted to the RoleBinding's namespace
    index: int  # position in the binding's subjects

    @property
    def key(self) -> SubjectKey | None:
        """How the authorizer compares this subject with a user; None when it matches nobody."""
        if self.kind == "Group":
            return ("group", self.name)
        if self.kind == "User":
            return ("user", self.name)
        if not self.namespace:
            return None
        return ("user", service_account_username(self.namespace, self.name))

    def display(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace or '?'}/{self.name}"
        return f"{self.kind} {self.name}"

    def as_dict(self) -> dict:
        out: dict[str, str | None] = {"kind": self.kind, "name": self.name}
        if self.kind == "ServiceAccount":
            out["namespace"] = self.namespace
        return out


@dataclass(slots=True)
class Binding:
    resource: Resource
    role_ref: RoleKey | None  # the role it grants (resolved to a key), None when unusable
    subjects: list[Subject]

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace if self.resource.kind == "RoleBinding" else None

    @property
    def cluster_wide(self) -> bool:
        return self.resource.kind == "ClusterRoleBinding"

    def display(self) -> str:
        return self.resource.display()


def role_key(kind: str, namespace: str | None, name: str) -> RoleKey:
    return (kind, namespace if kind == "Role" else None, name)


def service_account_username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def _strings(value) -> list[str] | None:
    """A list of strings, or None when the field is not one."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def parse_role(resource: Resource, problems: list[Problem]) -> Role:
    obj = resource.obj
    selectors = None
    aggregation = obj.get("aggregationRule")
    if resource.kind == "ClusterRole" and aggregation is not None:
        raw = as_dict(aggregation).get("clusterRoleSelectors")
        selectors = [s for s in as_list(raw) if isinstance(s, dict)]
        if not isinstance(aggregation, dict) or (raw is not None and not isinstance(raw, list)):
            problems.append(Problem(resource, ("aggregationRule",), f"{resource.display()}: aggregationRule is not an object with a clusterRoleSelectors list; it aggregates nothing"))
    raw_rules = obj.get("rules")
    if raw_rules is None and selectors is None:
        problems.append(Problem(resource, ("rules",), f"{resource.display()}: rules is null; the role grants nothing"))
    elif raw_rules is not None and not isinstance(raw_rules, list):
        problems.append(Problem(resource, ("rules",), f"{resource.display()}: rules is a {type(raw_rules).__name__}, not a list; the role grants nothing"))
        raw_rules = []
    source = role_key(resource.kind, resource.namespace, resource.name)
    rules = []
    for i, raw in enumerate(as_list(raw_rules)):
        rule = _parse_rule(resource, raw, i, source, problems)
        if rule is not None:
            rules.append(rule)
    return Role(resource, rules, selectors, source)


def _parse_rule(resource: Resource, raw, i: int, source: RoleKey, problems: list[Problem]) -> PolicyRule | None:
    where = f"{resource.display()} rules[{i}]"
    if not isinstance(raw, dict):
        problems.append(Problem(resource, ("rules", i), f"{where} is not an object; skipped"))
        return None
    fields = {}
    for name in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
        value = _strings(raw.get(name))
        if value is None:
            problems.append(Problem(resource, ("rules", i, name), f"{where}.{name} is not a list of strings; rule skipped"))
            return None
        fields[name] = value
    if not fields["verbs"]:
        problems.append(Problem(resource, ("rules", i, "verbs"), f"{where} has no verbs; it grants nothing"))
    if fields["nonResourceURLs"] and resource.kind == "Role":
        # A namespaced Role can never grant non-resource URLs (the API server rejects it).
        problems.append(Problem(resource, ("rules", i, "nonResourceURLs"), f"{where}: a Role cannot grant nonResourceURLs; ignored"))
        fields["nonResourceURLs"] = []
    return PolicyRule(fields["verbs"], fields["apiGroups"], fields["resources"], fields["resourceNames"],
                      fields["nonResourceURLs"], source, i)


def parse_binding(resource: Resource, problems: list[Problem]) -> Binding:
    obj = resource.obj
    name = resource.display()
    ref = obj.get("roleRef")
    role_ref: RoleKey | None = None
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref.get("name"):
        problems.append(Problem(resource, ("roleRef",), f"{name}: roleRef is missing or has no name; the binding grants nothing"))
    elif ref.get("kind") not in ROLE_KINDS:
        problems.append(Problem(resource, ("roleRef", "kind"), f"{name}: roleRef.kind {ref.get('kind')!r} is neither Role nor ClusterRole; the binding grants nothing"))
    elif ref["kind"] == "Role" and resource.kind == "ClusterRoleBinding":
        problems.append(Problem(resource, ("roleRef", "kind"), f"{name}: a ClusterRoleBinding cannot reference a Role; the binding grants nothing"))
    else:
        role_ref = role_key(ref["kind"], resource.namespace, ref["name"])
    subjects = []
    raw_subjects = obj.get("subjects")
    if raw_subjects is not None and not isinstance(raw_subjects, list):
        problems.append(Problem(resource, ("subjects",), f"{name}: subjects is not a list; it binds nobody"))
    for i, raw in enumerate(as_list(raw_subjects)):
        subject = _parse_subject(resource, raw, i, problems)
        if subject is not None:
            subjects.append(subject)
    return Binding(resource, role_ref, subjects)


def _parse_subject(resource: Resource, raw, i: int, problems: list[Problem]) -> Subject | None:
    where = f"{resource.display()} subjects[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw.get("name"):
        problems.append(Problem(resource, ("subjects", i), f"{where} has no name; ignored"))
        return None
    kind = raw.get("kind")
    if kind not in SUBJECT_KINDS:
        problems.append(Problem(resource, ("subjects", i, "kind"), f"{where}: unknown subject kind {kind!r} (User, Group or ServiceAccount); it matches nobody"))
        return None
    namespace = None
    if kind == "ServiceAccount":
        given = raw.get("namespace")
        namespace = given if isinstance(given, str) and given else None
        if namespace is None and resource.kind == "RoleBinding":
            namespace = resource.namespace
        if namespace is None:
            problems.append(Problem(resource, ("subjects", i, "namespace"), f"{where}: ServiceAccount {raw['name']} has no namespace in a ClusterRoleBinding; it matches nobody"))
    return Subject(kind, raw["name"], namespace, i)
