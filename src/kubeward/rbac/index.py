"""The RBAC index of an inventory, built once (`rbac_index(inventory)`), and the three questions
asked of it: can this user do this (can_i), who can do this (who_can), what can this subject do
(permissions). Semantics follow the API server's RBAC authorizer; members of system:masters are
allowed everything by the privileged-group authorizer that runs before RBAC."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kubeward.model.inventory import Inventory, nearest
from kubeward.model.resource import Resource
from kubeward.rbac.aggregation import aggregate
from kubeward.rbac.match import ALL, PolicyRule, Request, rule_allows
from kubeward.rbac.policy import (BINDING_KINDS, SA_PREFIX, Binding, Problem, Role, RoleKey, Subject,
                                  SubjectKey, parse_binding, parse_role)

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @classmethod
    def impersonated(cls, name: str, groups: tuple[str, ...] | list[str] = ()) -> "User":
        """The user the API server builds for `--as NAME [--as-group G]...`: a service account
        name brings its groups unless groups are given; everyone but system:anonymous is in
        system:authenticated, system:anonymous is in system:unauthenticated."""
        groups = list(groups)
        sa = split_service_account(name)
        if sa and not groups:
            groups = [ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{sa[0]}"]
        extra = UNAUTHENTICATED if name == ANONYMOUS else AUTHENTICATED
        if extra not in groups:
            groups.append(extra)
        return cls(name, tuple(groups))

    @property
    def subject_keys(self) -> list[SubjectKey]:
        return [("user", self.name), *(("group", g) for g in self.groups)]


def split_service_account(username: str) -> tuple[str, str] | None:
    if not username.startswith(SA_PREFIX):
        return None
    namespace, sep, name = username[len(SA_PREFIX):].partition(":")
    return (namespace, name) if sep and namespace and name and ":" not in name else None


@dataclass(frozen=True, slots=True)
class Grant:
    """Why a subject is allowed: the binding, the subject entry, the role and its rule."""

    binding: Binding | None  # None for the system:masters bypass
    subject: Subject | None
    role: Role | None
    rule: PolicyRule | None

    def as_dict(self) -> dict:
        if self.binding is None:
            return {"reason": f"member of {MASTERS}: the privileged-group authorizer allows everything before RBAC"}
        out = {"binding": self.binding.resource.ref(), "subject": self.subject.as_dict() if self.subject else None,
               "role": self.role.resource.ref() if self.role else None, "rule": self.rule.as_dict() if self.rule else None}
        if self.rule is not None and self.role is not None and self.rule.source != self.role.key:
            out["aggregated_from"] = {"kind": self.rule.source[0], "name": self.rule.source[2], "rule": self.rule.index}
        return out

    def describe(self) -> str:
        if self.binding is None:
            return f"member of {MASTERS} (bypasses RBAC)"
        via = ""
        if self.rule is not None and self.role is not None and self.rule.source != self.role.key:
            via = f" (aggregated from ClusterRole/{self.rule.source[2]} rules[{self.rule.index}])"
        role = self.role.display() if self.role is not None else "?"
        rule = self.rule.describe() if self.rule is not None else "?"
        return f"{self.binding.display()} -> {role}: {rule}{via}"


@dataclass
class Decision:
    allowed: bool
    grants: list[Grant] = field(default_factory=list)


def distinct_objects(resources: list[Resource]) -> list[Resource]:
    """One object per kind/namespace/name and file: an object written twice in one file is one
    object (the first wins), while variants from different files are all kept."""
    seen: set = set()
    out = []
    for resource in resources:
        key = (resource.key, resource.origin.filename)
        if key not in seen:
            seen.add(key)
            out.append(resource)
    return out


class RbacIndex:
    def __init__(self, inventory: Inventory):
        self.problems: list[Problem] = []
        # Every variant of a role (repositories hold several installs): each binding uses the
        # variant nearest to it; `roles` keeps the first of each name for listings.
        self.all_roles: list[Role] = [parse_role(r, self.problems)
                                      for r in distinct_objects(inventory.of_kind("Role", "ClusterRole"))]
        self.role_variants: dict[RoleKey, list[Role]] = defaultdict(list)
        for role in self.all_roles:
            self.role_variants[role.key].append(role)
        self.roles: dict[RoleKey, Role] = {key: variants[0] for key, variants in self.role_variants.items()}
        aggregate([role for role in self.all_roles if role.key[0] == "ClusterRole"])
        self.bindings: list[Binding] = [parse_binding(r, self.problems)
                                        for r in distinct_objects(inventory.of_kind(*BINDING_KINDS))]
        self.cluster_bindings: dict[SubjectKey, list[tuple[Binding, Subject]]] = defaultdict(list)
        self.namespace_bindings: dict[tuple[str, SubjectKey], list[tuple[Binding, Subject]]] = defaultdict(list)
        self.bindings_of_subject: dict[SubjectKey, list[tuple[Binding, Subject]]] = defaultdict(list)
        self.bindings_of_role: dict[RoleKey, list[Binding]] = defaultdict(list)
        self._role_of: dict[int, Role | None] = {}
        self.binding_of_object: dict[int, Binding] = {id(b.resource): b for b in self.bindings}
        self.role_of_object: dict[int, Role] = {id(r.resource): r for r in self.all_roles}
        for binding in self.bindings:
            if binding.role_ref is not None:
                self.bindings_of_role[binding.role_ref].append(binding)
                variants = self.role_variants.get(binding.role_ref)
                self._role_of[id(binding)] = (None if not variants else variants[0] if len(variants) == 1 else
                                              self._nearest_role(variants, binding.resource))
            for subject in binding.subjects:
                key = subject.key
                if key is None:
                    continue
                self.bindings_of_subject[key].append((binding, subject))
                if binding.cluster_wide:
                    self.cluster_bindings[key].append((binding, subject))
                else:
                    self.namespace_bindings[(binding.namespace or "", key)].append((binding, subject))
        self._rules_by_resource: dict[str, list[tuple[Role, PolicyRule]]] = defaultdict(list)
        self._url_rules: list[tuple[Role, PolicyRule]] = []
        for role in self.all_roles:
            for rule in role.rules:
                for resource in set(rule.resources):
                    self._rules_by_resource[resource].append((role, rule))
                if rule.non_resource_urls:
                    self._url_rules.append((role, rule))

    @staticmethod
    def _nearest_role(variants: list[Role], near: Resource) -> Role:
        chosen = nearest([v.resource for v in variants], near)
        return next(v for v in variants if v.resource is chosen)

    def role_of(self, binding: Binding) -> Role | None:
        """The role a binding grants (the variant nearest to it); a binding to a missing role grants nothing."""
        return self._role_of.get(id(binding))

    def rule_owner(self, role: Role, rule: PolicyRule) -> Role:
        """The role whose `rules` list holds `rule` (another ClusterRole when aggregated)."""
        if rule.source == role.key:
            return role
        variants = self.role_variants.get(rule.source) or [role]
        return self._nearest_role(variants, role.resource) if len(variants) > 1 else variants[0]

    # --- can-i -------------------------------------------------------------------------
    def can_i(self, user: User, request: Request, explain: bool = False) -> Decision:
        decision = Decision(False)
        if MASTERS in user.groups:
            decision.allowed = True
            decision.grants.append(Grant(None, None, None, None))
            if not explain:
                return decision
        for binding, subject in self._bindings_for(user, request.namespace):
            role = self.role_of(binding)
            if role is None:
                continue
            for rule in role.rules:
                if rule_allows(request, rule):
                    decision.allowed = True
                    decision.grants.append(Grant(binding, subject, role, rule))
                    if not explain:
                        return decision
                    break
        return decision

    def absent_roles(self, user: User | None, namespace: str) -> list[RoleKey]:
        """Roles that bindings of `user` (every binding when None) name but the input lacks: the
        answer to a question about them is unknown from the input alone."""
        if user is None:
            bindings = [b for b in self.bindings if b.cluster_wide or not namespace or b.namespace == namespace]
        else:
            bindings = [b for b, _subject in self._bindings_for(user, namespace)]
        return sorted({b.role_ref for b in bindings if b.role_ref is not None and self.role_of(b) is None},
                      key=lambda key: (key[0], key[1] or "", key[2]))

    def _bindings_for(self, user: User, namespace: str):
        keys = user.subject_keys
        for key in keys:
            yield from self.cluster_bindings.get(key, ())
        if namespace:
            for key in keys:
                yield from self.namespace_bindings.get((namespace, key), ())

    # --- who-can -------------------------------------------------------------------------
    def who_can(self, request: Request) -> list[Grant]:
        """Every (binding, subject) allowed, with the first rule of its role that allows it.
        The system:masters bypass comes first."""
        grants = [Grant(None, None, None, None)]
        for role, rule in self._allowing_rules(request):
            for binding in self.bindings_of_role.get(role.key, ()):
                if not binding.cluster_wide and (not request.namespace or binding.namespace != request.namespace):
                    continue
                if self.role_of(binding) is not role:
                    continue  # this binding grants another variant of the role
                grants.extend(Grant(binding, s, role, rule) for s in binding.subjects if s.key is not None)
        return grants

    def _allowing_rules(self, request: Request) -> list[tuple[Role, PolicyRule]]:
        if request.is_resource_request:
            candidates = [*self._rules_by_resource.get(ALL, ()), *self._rules_by_resource.get(request.combined_resource, ())]
            if request.subresource:
                candidates.extend(self._rules_by_resource.get(f"*/{request.subresource}", ()))
        else:
            candidates = self._url_rules
        first: dict[int, tuple[Role, PolicyRule]] = {}
        for role, rule in candidates:
            if id(role) not in first and rule_allows(request, rule):
                first[id(role)] = (role, rule)
        return list(first.values())

    # --- permissions ---------------------------------------------------------------------
    def permissions(self, keys: list[SubjectKey]) -> dict[str, list[tuple[PolicyRule, Binding, Role]]]:
        """Rules granted to any of these subject keys, by scope: "" is cluster-wide, else the
        namespace of the RoleBinding."""
        scopes: dict[str, list[tuple[PolicyRule, Binding, Role]]] = defaultdict(list)
        seen: set = set()
        for key in keys:
            for binding, _subject in self.bindings_of_subject.get(key, ()):
                if id(binding) in seen:
                    continue
                seen.add(id(binding))
                role = self.role_of(binding)
                if role is None:
                    continue
                scope = binding.namespace or ""
                scopes[scope].extend((rule, binding, role) for rule in role.rules)
        return dict(sorted(scopes.items()))


def rbac_index(inventory: Inventory) -> RbacIndex:
    return inventory.analysis(RbacIndex)
