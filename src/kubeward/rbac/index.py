"""The RBAC index of an inventory, built once (`rbac_index(inventory)`; a live inventory updates it
in place, kubeward.rbac.live), and the three questions asked of it: can this user do this (can_i),
who can do this (who_can), what can this subject do (permissions). Semantics follow the API server's RBAC authorizer; members of system:masters are
allowed everything by the privileged-group authorizer that runs before RBAC."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from kubeward.model.inventory import Inventory, nearest
from kubeward.model.resource import Resource
from kubeward.rbac.aggregation import aggregate, selector_matches
from kubeward.rbac.match import ALL, PolicyRule, Request, rule_allows
from kubeward.rbac.policy import (BINDING_KINDS, SA_PREFIX, Binding, Problem, Role, RoleKey, Subject,
                                  SubjectKey, parse_binding, parse_role, role_key)

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
_Parsed = TypeVar("_Parsed", Role, Binding)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @classmethod
    def impersonated(cls, name: str, groups: tuple[str, ...] | list[str] = ()) -> User:
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


# Lists of the index follow the inventory's order (Roles before ClusterRoles, RoleBindings before
# ClusterRoleBindings, each in the order the inventory lists them): an updated index lists what a
# fresh build of the same objects would, in the same order.
KIND_RANK = {"Role": 0, "ClusterRole": 1, "RoleBinding": 0, "ClusterRoleBinding": 1}
Key = tuple  # (kind, namespace, name) of an object


@dataclass
class IndexChange:
    """What one update of the index did: the roles and bindings replaced (stale, fresh), and the
    role keys whose role (variants or, through aggregation, rules) changed."""

    stale_roles: list[Role] = field(default_factory=list)
    fresh_roles: list[Role] = field(default_factory=list)
    stale_bindings: list[Binding] = field(default_factory=list)
    fresh_bindings: list[Binding] = field(default_factory=list)
    role_keys: set[RoleKey] = field(default_factory=set)


class RbacIndex:
    """Roles and bindings of an inventory, indexed for the authorizer's questions. Built once per
    inventory; a live inventory updates it in place (`update`) for the objects that changed."""

    def __init__(self, inventory: Inventory):
        self._problems: dict[int, list[Problem]] = {}  # id(object) -> what parsing it found
        self._rank: dict[int, tuple[int, int]] = {}  # id(object) -> (kind rank, inventory order)
        self._order = inventory.order
        # Every variant of a role (repositories hold several installs): each binding uses the
        # variant nearest to it; `roles` keeps the first of each name for listings.
        self.all_roles: list[Role] = [self._parse_role(r)
                                      for r in distinct_objects(inventory.of_kind("Role", "ClusterRole"))]
        self.role_variants: dict[RoleKey, list[Role]] = defaultdict(list)
        for role in self.all_roles:
            self.role_variants[role.key].append(role)
        self.roles: dict[RoleKey, Role] = {key: variants[0] for key, variants in self.role_variants.items()}
        # aggregated ClusterRoles and their rules as written (aggregation starts from them again)
        self._written: dict[int, tuple[Role, list[PolicyRule]]] = {
            id(role): (role, role.rules) for role in self.all_roles if role.selectors is not None}
        aggregate([role for role in self.all_roles if role.key[0] == "ClusterRole"])
        self.bindings: list[Binding] = [self._parse_binding(r)
                                        for r in distinct_objects(inventory.of_kind(*BINDING_KINDS))]
        self.cluster_bindings: dict[SubjectKey, list[tuple[Binding, Subject]]] = defaultdict(list)
        self.namespace_bindings: dict[tuple[str, SubjectKey], list[tuple[Binding, Subject]]] = defaultdict(list)
        self.bindings_of_subject: dict[SubjectKey, list[tuple[Binding, Subject]]] = defaultdict(list)
        self.bindings_of_role: dict[RoleKey, list[Binding]] = defaultdict(list)
        self._role_of: dict[int, Role | None] = {}
        self.binding_of_object: dict[int, Binding] = {id(b.resource): b for b in self.bindings}
        self.role_of_object: dict[int, Role] = {id(r.resource): r for r in self.all_roles}
        self._bindings_by_key: dict[Key, list[Binding]] = defaultdict(list)
        # namespace -> bindings naming a ServiceAccount of it (id(binding object) -> binding)
        self.service_account_namespaces: dict[str, dict[int, Binding]] = defaultdict(dict)
        for binding in self.bindings:
            self._bindings_by_key[binding.resource.key].append(binding)
            if binding.role_ref is not None:
                self.bindings_of_role[binding.role_ref].append(binding)
                self._role_of[id(binding)] = self._resolve_role(binding)
            for subject in binding.subjects:
                key = subject.key
                if key is None:
                    continue
                self.bindings_of_subject[key].append((binding, subject))
                if binding.cluster_wide:
                    self.cluster_bindings[key].append((binding, subject))
                else:
                    self.namespace_bindings[(binding.namespace or "", key)].append((binding, subject))
                if subject.kind == "ServiceAccount" and subject.namespace:
                    self.service_account_namespaces[subject.namespace][id(binding)] = binding
        self._rule_lookup: tuple[dict[str, list[tuple[Role, PolicyRule]]], list[tuple[Role, PolicyRule]]] | None = None

    # --- building and updating -----------------------------------------------------------

    def _parse_role(self, resource: Resource) -> Role:
        return self._parsed(resource, parse_role)

    def _parse_binding(self, resource: Resource) -> Binding:
        return self._parsed(resource, parse_binding)

    def _parsed(self, resource: Resource, parse: Callable[[Resource, list[Problem]], _Parsed]) -> _Parsed:
        """A role or binding parsed, with what parsing found and where the index lists it."""
        problems: list[Problem] = []
        parsed = parse(resource, problems)
        if problems:
            self._problems[id(resource)] = problems
        self._rank[id(resource)] = (KIND_RANK[resource.kind], self._order(resource))
        return parsed

    def rank(self, item: Role | Binding) -> tuple[int, int]:
        """Where a role or binding of the index is listed (a fresh build's order)."""
        return self._rank[id(item.resource)]

    def _pair_rank(self, pair: tuple[Binding, Subject]) -> tuple[tuple[int, int], int]:
        return self._rank[id(pair[0].resource)], pair[1].index

    def _resolve_role(self, binding: Binding) -> Role | None:
        variants = self.role_variants.get(binding.role_ref) if binding.role_ref is not None else None
        if not variants:
            return None
        return variants[0] if len(variants) == 1 else self._nearest_role(variants, binding.resource)

    @property
    def problems(self) -> list[Problem]:
        """What parsing found, roles first, in the order the objects are listed."""
        if not self._problems:
            return []
        found = self._problems.get
        items: tuple[Role | Binding, ...] = (*self.all_roles, *self.bindings)
        return [p for item in items for p in found(id(item.resource), ())]

    def update(self, inventory: Inventory, keys: set[Key]) -> IndexChange:
        """Bring the index up to date after the roles and bindings of `keys` (kind, namespace,
        name) were added, replaced or removed in `inventory`: their entries are dropped and the
        inventory's current objects of those keys indexed, aggregation is run again when a
        ClusterRole it reads changed, and bindings resolve their roles again."""
        change = IndexChange()
        role_keys = [key for key in keys if key[0] in ("Role", "ClusterRole")]
        binding_keys = [key for key in keys if key[0] in BINDING_KINDS]
        if role_keys:
            self._rule_lookup = None
            for key in role_keys:
                self._resync_role(inventory, key, change)
            self._aggregate_again(change)
            for role_key_ in {role.key for role in (*change.stale_roles, *change.fresh_roles)}:
                for binding in self.bindings_of_role.get(role_key_, ()):
                    self._role_of[id(binding)] = self._resolve_role(binding)
        for key in binding_keys:
            self._resync_binding(inventory, key, change)
        return change

    def _resync_role(self, inventory: Inventory, key: Key, change: IndexChange) -> None:
        rkey = role_key(*key)
        variants = self.role_variants.get(rkey, [])
        stale = [role for role in variants if role.resource.key == key]
        kept = [role for role in variants if role.resource.key != key]
        for role in stale:
            _remove(self.all_roles, role, self.rank)
            self.role_of_object.pop(id(role.resource), None)
            self._problems.pop(id(role.resource), None)
            self._written.pop(id(role), None)
            del self._rank[id(role.resource)]
        fresh = [self._parse_role(r) for r in distinct_objects(inventory.variants(*key))]
        for role in fresh:
            _insert(self.all_roles, role, self.rank)
            self.role_of_object[id(role.resource)] = role
            if role.selectors is not None:
                self._written[id(role)] = (role, role.rules)
        merged = sorted([*kept, *fresh], key=self.rank)
        if merged:
            self.role_variants[rkey] = merged
            self.roles[rkey] = merged[0]
        else:
            self.role_variants.pop(rkey, None)
            self.roles.pop(rkey, None)
        change.stale_roles.extend(stale)
        change.fresh_roles.extend(fresh)
        if stale or fresh:
            change.role_keys.add(rkey)

    def _aggregate_again(self, change: IndexChange) -> None:
        """Aggregation again, from the rules as written, when a changed ClusterRole aggregates or
        is (or was) selected by one that does; the aggregated roles whose rules differ join
        `change.role_keys`."""
        touched = [role for role in (*change.stale_roles, *change.fresh_roles) if role.key[0] == "ClusterRole"]
        if not touched:
            return
        aggregated = [role for role, _written in self._written.values()]
        needed = any(role.selectors is not None for role in touched) or any(
            selector_matches(selector, role.resource.labels)
            for other in aggregated for selector in other.selectors or () for role in touched)
        if not needed:
            return
        before = {id(role): role.rules for role in aggregated}
        for role, written in self._written.values():
            role.rules = written
        aggregate([role for role in self.all_roles if role.key[0] == "ClusterRole"])
        for role in aggregated:
            old = before[id(role)]
            if len(old) != len(role.rules) or any(a is not b for a, b in zip(old, role.rules)):
                change.role_keys.add(role.key)

    def _resync_binding(self, inventory: Inventory, key: Key, change: IndexChange) -> None:
        stale = self._bindings_by_key.pop(key, [])
        for binding in stale:
            self._unindex_binding(binding)
        fresh = [self._parse_binding(r) for r in distinct_objects(inventory.variants(*key))]
        for binding in fresh:
            self._index_binding(binding)
        if fresh:
            self._bindings_by_key[key] = fresh
        change.stale_bindings.extend(stale)
        change.fresh_bindings.extend(fresh)

    def _index_binding(self, binding: Binding) -> None:
        _insert(self.bindings, binding, self.rank)
        self.binding_of_object[id(binding.resource)] = binding
        if binding.role_ref is not None:
            _insert(self.bindings_of_role[binding.role_ref], binding, self.rank)
            self._role_of[id(binding)] = self._resolve_role(binding)
        for subject in binding.subjects:
            key = subject.key
            if key is None:
                continue
            pair = (binding, subject)
            _insert(self.bindings_of_subject[key], pair, self._pair_rank)
            if binding.cluster_wide:
                _insert(self.cluster_bindings[key], pair, self._pair_rank)
            else:
                _insert(self.namespace_bindings[(binding.namespace or "", key)], pair, self._pair_rank)
            if subject.kind == "ServiceAccount" and subject.namespace:
                self.service_account_namespaces[subject.namespace][id(binding)] = binding

    def _unindex_binding(self, binding: Binding) -> None:
        _remove(self.bindings, binding, self.rank)
        self.binding_of_object.pop(id(binding.resource), None)
        self._problems.pop(id(binding.resource), None)
        if binding.role_ref is not None:
            _remove_from(self.bindings_of_role, binding.role_ref, binding, self.rank)
            self._role_of.pop(id(binding), None)
        for subject in binding.subjects:
            key = subject.key
            if key is None:
                continue
            pair = (binding, subject)
            _remove_from(self.bindings_of_subject, key, pair, self._pair_rank)
            if binding.cluster_wide:
                _remove_from(self.cluster_bindings, key, pair, self._pair_rank)
            else:
                _remove_from(self.namespace_bindings, (binding.namespace or "", key), pair, self._pair_rank)
            if subject.kind == "ServiceAccount" and subject.namespace:
                named = self.service_account_namespaces.get(subject.namespace)
                if named is not None:
                    named.pop(id(binding), None)
                    if not named:
                        del self.service_account_namespaces[subject.namespace]
        del self._rank[id(binding.resource)]

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

    def _rules_lookup(self) -> tuple[dict[str, list[tuple[Role, PolicyRule]]], list[tuple[Role, PolicyRule]]]:
        """(role, rule) pairs by the resource each rule names, and those naming URLs: built when
        first asked (who-can), again after roles changed."""
        if self._rule_lookup is None:
            by_resource: dict[str, list[tuple[Role, PolicyRule]]] = defaultdict(list)
            urls: list[tuple[Role, PolicyRule]] = []
            for role in self.all_roles:
                for rule in role.rules:
                    for resource in set(rule.resources):
                        by_resource[resource].append((role, rule))
                    if rule.non_resource_urls:
                        urls.append((role, rule))
            self._rule_lookup = (by_resource, urls)
        return self._rule_lookup

    def _allowing_rules(self, request: Request) -> list[tuple[Role, PolicyRule]]:
        by_resource, urls = self._rules_lookup()
        if request.is_resource_request:
            candidates = [*by_resource.get(ALL, ()), *by_resource.get(request.combined_resource, ())]
            if request.subresource:
                candidates.extend(by_resource.get(f"*/{request.subresource}", ()))
        else:
            candidates = urls
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


def _insert(items: list, item, rank) -> None:
    """Insert into a list kept in rank order."""
    items.insert(bisect_left(items, rank(item), key=rank), item)


def _remove(items: list, item, rank) -> None:
    """Remove the item of this rank (ranks are unique: one object, one subject entry) from a list
    kept in rank order."""
    wanted = rank(item)
    position = bisect_left(items, wanted, key=rank)
    if position < len(items) and rank(items[position]) == wanted:
        del items[position]


def _remove_from(lists: dict, key, item, rank) -> None:
    found = lists.get(key)
    if found is not None:
        _remove(found, item, rank)
        if not found:
            del lists[key]


def rbac_index(inventory: Inventory) -> RbacIndex:
    """The RBAC index of an inventory (built once; a live inventory keeps it up to date)."""
    from kubeward.rbac.live import rbac_state

    return rbac_state(inventory).index
