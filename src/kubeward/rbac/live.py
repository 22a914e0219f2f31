"""The RBAC analyses of an inventory, kept up to date while the inventory changes (kubeward watch),
and what each change can give other findings.

One analysis of the inventory (`rbac_state`) holds them all:

- the index (roles, bindings, aggregation; kubeward.rbac.index), updated for the objects that
  changed;
- the risk hits of every binding (kubeward.rbac.risks), judged again only for the bindings a
  change reaches;
- which workloads mount each ServiceAccount's token (each workload's identity from
  kubeward.model.identity), updated per workload and per account;
- the duplicate grants (the first binding of each subject, role, scope and directory).

What a change reaches:

- a binding added, changed or removed: that binding; the roles it names (bound or not); the
  bindings granting the same role to the same subject in the same scope (duplicates); for a
  cluster-wide one, the subjects' other cluster-wide bindings (a combination risk, KW-RBAC-009,
  needs requests that several bindings may grant together);
- a role: the bindings that resolve to it, and, through aggregation, the bindings of every
  aggregated ClusterRole whose rules change with it (aggregation runs again, from the rules as
  written, when the changed ClusterRole aggregates or is selected by one that does);
- a ServiceAccount: the bindings naming an account of its namespace (KW-RBAC-021), and, when the
  tokens its workloads carry change, the bindings of that account;
- a workload: when the workloads mounting an account's token change (a pod without a controller
  created or deleted, a template naming another account), the bindings of that account; a
  controller appearing or going re-reads the objects it owns (whether they have a template);
- a CustomResourceDefinition: everything (resource scopes are read by every role's judgement).

`affected(inventory)` gives the keys of the bindings and roles whose findings may differ since it
was last asked (None when it cannot tell: the analysis was built afresh), so that the live
evaluator re-judges only those; `affected_templates(inventory)` the workloads running as a
ServiceAccount that a changed binding names (any, when it names a group), whose token mounts
changed or whose object changed, for the pod-template rules that read RBAC. After every update the analyses equal a fresh build of the same
objects (tests/core/test_core_incremental.py, tests/rbac/test_rbac_live.py).
"""

from __future__ import annotations

import os
from collections import defaultdict

from kubeward.model.identity import WorkloadIdentity, account_key_of, identity_of
from kubeward.model.inventory import Inventory, reads
from kubeward.model.podspec import TEMPLATE_PATHS, WORKLOAD_KINDS, pod_template
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.rbac.index import IndexChange, RbacIndex
from kubeward.rbac.policy import BINDING_KINDS, ROLE_KINDS, Binding, service_account_username
from kubeward.rbac.risks import HitMemo, RiskAnalysis, _RoleCapabilities, binding_hits

Key = tuple  # (kind, namespace, name)
Account = tuple[str, str]  # (namespace, service account)
# The kinds the RBAC analyses read.
READS = (*ROLE_KINDS, *BINDING_KINDS, "ServiceAccount", "CustomResourceDefinition", *WORKLOAD_KINDS)
# pod_templates lists workloads kind by kind, in this order.
TEMPLATE_RANK = {kind: rank for rank, kind in enumerate(TEMPLATE_PATHS)}


def _controllers(resource: Resource) -> list[Key]:
    """The workload controllers an object names with a truthy `controller` (as pod_templates
    reads ownerReferences): when one is in the inventory, it speaks for the object."""
    found = []
    for owner in as_list(resource.metadata.get("ownerReferences")):
        owner = as_dict(owner)
        if owner.get("controller"):
            kind, name = owner.get("kind"), owner.get("name")
            if isinstance(kind, str) and kind in WORKLOAD_KINDS and isinstance(name, str):
                found.append((kind, resource.namespace, name))
    return found


class Mounts:
    """The workloads whose pods carry each (namespace, ServiceAccount)'s token, in the order
    pod_templates lists them: what `mounted_service_accounts` computes, kept per workload object."""

    def __init__(self, inventory: Inventory):
        self._order = inventory.order
        self.objects: dict[Key, Resource | list[Resource]] = {}  # workload key -> its object(s)
        self.owned: dict[Key, set[Key]] = defaultdict(set)  # controller key -> keys of objects naming it
        # account -> id(workload object) -> its identity, for the objects with a template of their own
        self.accounts: dict[Account, dict[int, WorkloadIdentity]] = defaultdict(dict)
        self._mounted: dict[Account, list[WorkloadIdentity]] = {}
        for resource in inventory.of_kind(*TEMPLATE_PATHS):
            key = resource.key
            for controller in _controllers(resource):
                self.owned[controller].add(key)
            known = self.objects.get(key)
            self.objects[key] = resource if known is None else [*(known if isinstance(known, list) else [known]), resource]
        for template in inventory.pod_templates:  # the templates every engine reads, built once
            identity = identity_of(template, inventory)
            self.accounts[identity.account_key][id(template.resource)] = identity

    def get(self, account: Account, default=None) -> list[WorkloadIdentity]:
        """The workloads that mount the token of `account` (mapping-like, as the risk hits read it)."""
        found = self._mounted.get(account)
        if found is None:
            entries = self.accounts.get(account)
            found = sorted((i for i in entries.values() if i.token), key=self._rank) if entries else []
            self._mounted[account] = found
        return found

    def _rank(self, identity: WorkloadIdentity) -> tuple[int, int]:
        resource = identity.template.resource
        return TEMPLATE_RANK[resource.kind], self._order(resource)

    def _add(self, resource: Resource, inventory: Inventory) -> Account | None:
        key = resource.key
        controllers = _controllers(resource)
        for controller in controllers:
            self.owned[controller].add(key)
        known = self.objects.get(key)
        self.objects[key] = resource if known is None else [*(known if isinstance(known, list) else [known]), resource]
        if any(inventory.get(*controller) is not None for controller in controllers):
            return None  # its controller speaks for it
        template = pod_template(resource)
        if template is None:
            return None
        identity = identity_of(template, inventory)
        self.accounts[identity.account_key][id(resource)] = identity
        return identity.account_key

    def _drop(self, key: Key) -> set[Account]:
        accounts: set[Account] = set()
        known = self.objects.pop(key, None)
        for resource in known if isinstance(known, list) else (known,) if known is not None else ():
            for controller in _controllers(resource):
                owned = self.owned.get(controller)
                if owned is not None:
                    owned.discard(key)
                    if not owned:
                        del self.owned[controller]
            template = pod_template(resource)
            account = account_key_of(template) if template is not None else None
            if account is None:
                continue
            entries = self.accounts.get(account)
            if entries is not None and entries.pop(id(resource), None) is not None:
                accounts.add(account)
                if not entries:
                    del self.accounts[account]
        return accounts

    def update(self, inventory: Inventory, workload_keys: list[Key], account_keys: list[Key]) -> set[Account]:
        """Follow changed workloads and ServiceAccounts; the accounts whose mounting workloads
        changed (other objects, tokens or fields)."""
        again = set(workload_keys)
        for key in workload_keys:
            if (key in self.objects) != bool(inventory.variants(*key)):
                again |= self.owned.get(key, set())  # a controller came or went: its objects' templates
        for _kind, namespace, name in account_keys:
            entries = self.accounts.get((namespace or "default", name))
            if entries:
                again |= {identity.template.resource.key for identity in entries.values()}
        accounts: set[Account] = set()
        for key in again:
            accounts |= self._drop(key)
        for key in again:
            for resource in inventory.variants(*key):
                account = self._add(resource, inventory)
                if account is not None:
                    accounts.add(account)
        changed = set()
        for account in accounts:
            before = self._mounted.pop(account, None)
            if before is None:
                continue  # nobody read it: nothing judged from it
            if not _same_mounts(before, self.get(account)):
                changed.add(account)
        return changed


def _same_mounts(a: list[WorkloadIdentity], b: list[WorkloadIdentity]) -> bool:
    return len(a) == len(b) and all(
        x.template.resource is y.template.resource and x.token == y.token and x.automount_path == y.automount_path
        for x, y in zip(a, b))


class Duplicates:
    """Bindings by (subject, role, scope, directory), each list in the bindings' order: the first
    of each is the grant the others repeat (KW-RBAC-024)."""

    def __init__(self, index: RbacIndex):
        self.groups: dict[tuple, list[Binding]] = defaultdict(list)
        for binding in index.bindings:
            for group in self.groups_of(binding):
                self.groups[group].append(binding)

    @staticmethod
    def groups_of(binding: Binding) -> set[tuple]:
        if binding.role_ref is None:
            return set()
        directory = os.path.dirname(binding.resource.origin.filename)
        return {(subject.key, binding.role_ref, binding.namespace, directory)
                for subject in binding.subjects if subject.key is not None}

    def add(self, binding: Binding, index: RbacIndex) -> None:
        from kubeward.rbac.index import _insert

        for group in self.groups_of(binding):
            _insert(self.groups[group], binding, index.rank)

    def remove(self, binding: Binding) -> None:
        for group in self.groups_of(binding):
            found = self.groups.get(group)
            if found is not None:
                found[:] = [b for b in found if b is not binding]
                if not found:
                    del self.groups[group]

    def of(self, binding: Binding) -> list[tuple[int, str]]:
        """The subjects of `binding` that an earlier binding (or entry) already grants the same role
        in the same scope: (subject index, message)."""
        found: list[tuple[int, str]] = []
        if binding.role_ref is None:
            return found
        directory = os.path.dirname(binding.resource.origin.filename)
        for subject in binding.subjects:
            if subject.key is None:
                continue
            first = self.groups[(subject.key, binding.role_ref, binding.namespace, directory)][0]
            repeated = any(o.key == subject.key and o.index < subject.index for o in binding.subjects)
            if repeated or (first is not binding and first.resource.key != binding.resource.key):
                found.append((
                    subject.index,
                    f"{subject.display()} already receives {binding.role_ref[0]} {binding.role_ref[2]} "
                    f"{'cluster-wide' if binding.cluster_wide else 'in ' + str(binding.namespace)} via {first.display()}"))
        return found


class RbacState:
    """The RBAC analyses of one inventory. The index is built at once, the rest when first read."""

    def __init__(self, inventory: Inventory):
        self.index = RbacIndex(inventory)
        self._risks: RiskAnalysis | None = None
        self._capabilities: _RoleCapabilities | None = None
        self._mounts: Mounts | None = None
        self._duplicates: Duplicates | None = None
        # keys of the bindings and roles whose findings may differ since `affected` was last
        # asked; None: anything may (built afresh)
        self.affected: set[Key] | None = None
        # the ServiceAccounts whose RBAC view may differ since `affected_templates` was last asked
        # (a binding naming one changed, its grants or mounted tokens, its object); None: any may
        self.accounts: set[Account] | None = None
        self.updates = 0  # updates applied in place (rather than a rebuild)

    def mounts(self, inventory: Inventory) -> Mounts:
        if self._mounts is None:
            self._mounts = Mounts(inventory)
        return self._mounts

    def risks(self, inventory: Inventory) -> RiskAnalysis:
        if self._risks is None:
            capabilities = self._capabilities = _RoleCapabilities(inventory)
            mounts = self.mounts(inventory)
            index = self.index
            memo = HitMemo()
            self._risks = RiskAnalysis([hit for binding in index.bindings
                                        for hit in binding_hits(binding, index, capabilities, mounts, memo)],
                                       bindings=lambda: index.bindings)  # (not self: no cycle to collect)
        return self._risks

    def duplicates(self) -> Duplicates:
        if self._duplicates is None:
            self._duplicates = Duplicates(self.index)
        return self._duplicates

    def update(self, inventory: Inventory, keys: set[Key]) -> RbacState | None:
        """Follow the changes of `keys`; None when only a rebuild will do (a CRD changed the
        resource scopes every role is judged with)."""
        if any(key[0] == "CustomResourceDefinition" for key in keys):
            return None
        index = self.index
        index_keys = {key for key in keys if key[0] in ROLE_KINDS or key[0] in BINDING_KINDS}
        change = index.update(inventory, index_keys) if index_keys else IndexChange()
        affected: set[Key] = set(index_keys)
        judge: dict[int, Binding] = {id(b): b for b in change.fresh_bindings}  # risk hits to compute again
        for role_key in change.role_keys:
            for binding in index.bindings_of_role.get(role_key, ()):
                judge[id(binding)] = binding
        for binding in (*change.stale_bindings, *change.fresh_bindings):
            for role in index.role_variants.get(binding.role_ref, ()) if binding.role_ref is not None else ():
                affected.add(role.resource.key)  # bound or not (KW-RBAC-022, -023)
        account_keys = [key for key in keys if key[0] == "ServiceAccount"]
        for _kind, namespace, _name in account_keys:
            for binding in index.service_account_namespaces.get(namespace, {}).values():
                affected.add(binding.resource.key)  # which accounts exist (KW-RBAC-021)
        if self._mounts is not None:
            workload_keys = [key for key in keys if key[0] in WORKLOAD_KINDS]
            if workload_keys or account_keys:
                for namespace, name in self._mounts.update(inventory, workload_keys, account_keys):
                    for binding, _subject in index.bindings_of_subject.get(("user", service_account_username(namespace, name)), ()):
                        judge[id(binding)] = binding
        # A combination risk (KW-RBAC-009: CSR approval and the signer's `approve`, or status and
        # `sign`) of a cluster-wide binding reads the subject's other cluster-wide bindings: when one
        # of them goes, comes or resolves to other rules, the others are judged again too.
        for binding in [*change.stale_bindings, *judge.values()]:
            if binding.cluster_wide:
                for subject in binding.subjects:
                    for other, _subject in index.cluster_bindings.get(subject.key, ()) if subject.key is not None else ():
                        judge[id(other)] = other
        if self._risks is not None:
            assert self._capabilities is not None and self._mounts is not None
            for role in change.stale_roles:
                self._capabilities.forget(role)
            for binding in change.stale_bindings:
                self._risks.replace(binding.resource, [])
            memo = HitMemo()  # for this state of the index (binding_hits)
            for binding in judge.values():
                if index.binding_of_object.get(id(binding.resource)) is binding:
                    self._risks.replace(binding.resource,
                                        binding_hits(binding, index, self._capabilities, self._mounts, memo))
        affected.update(binding.resource.key for binding in judge.values())
        if self._duplicates is not None:
            duplicates = self._duplicates
            for binding in change.stale_bindings:
                duplicates.remove(binding)
            for binding in change.fresh_bindings:
                duplicates.add(binding, index)
            for binding in (*change.stale_bindings, *change.fresh_bindings):
                for group in duplicates.groups_of(binding):
                    affected.update(b.resource.key for b in duplicates.groups.get(group, ()))
        if self.affected is not None:
            self.affected |= affected
        if self.accounts is not None:
            self.accounts |= {(namespace or "default", name) for _kind, namespace, name in account_keys}
            for binding in (*change.stale_bindings, *change.fresh_bindings, *judge.values()):
                if not _note_accounts(binding, self.accounts):
                    self.accounts = None
                    break
        self.updates += 1
        return self


def _note_accounts(binding: Binding, accounts: set[Account]) -> bool:
    """Add the ServiceAccounts a binding names (as a ServiceAccount or by its user name); False
    when it names a group, which may hold any account."""
    for subject in binding.subjects:
        if subject.kind == "ServiceAccount":
            accounts.add((subject.namespace or binding.namespace or "default", subject.name))
        elif subject.kind == "Group":
            return False
        elif subject.name.startswith("system:serviceaccount:"):
            namespace, _, name = subject.name.removeprefix("system:serviceaccount:").partition(":")
            accounts.add((namespace, name))
    return True


def _update(state: RbacState, inventory: Inventory, keys: set[Key]) -> RbacState | None:
    return state.update(inventory, keys)


@reads(*READS, update=_update)
def _build(inventory: Inventory) -> RbacState:
    return RbacState(inventory)


def rbac_state(inventory: Inventory) -> RbacState:
    """The RBAC analyses of an inventory, up to date with its changes."""
    return inventory.analysis(_build)


def affected_templates(inventory: Inventory) -> set[Key] | None:
    """The keys of the workload objects (with a pod template of their own) running as a
    ServiceAccount whose RBAC view may have changed since the last call (None: any may); the live
    evaluator re-judges only these with the pod-template rules that read RBAC (KW-RBAC-035)."""
    state = rbac_state(inventory)
    accounts, state.accounts = state.accounts, set()
    mounts = state._mounts
    if accounts is None or mounts is None:
        return None
    return {identity.template.resource.key for account in accounts for identity in mounts.accounts.get(account, {}).values()}


def affected(inventory: Inventory) -> set[Key] | None:
    """The keys of the bindings and roles whose RBAC findings may have changed since the last call
    (None: any may, e.g. on the first call); the live evaluator re-judges only these."""
    state = rbac_state(inventory)
    found, state.affected = state.affected, set()
    return found
