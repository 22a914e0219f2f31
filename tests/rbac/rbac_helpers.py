"""Building small inventories from YAML text and asking the RBAC index about them."""

from __future__ import annotations

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.rbac.index import User, rbac_index
from kubeward.rbac.resolve import resolve_request
from kubeward.sources.loader import load_text


def inventory(text: str) -> Inventory:
    return build_inventory(load_text(text, "test.yaml"))


def can(inv: Inventory, user: str, verb: str, target: str, namespace: str | None = None,
        subresource: str = "", groups: tuple[str, ...] = ()) -> bool:
    request = resolve_request(inv, verb, target, subresource, namespace).request
    return rbac_index(inv).can_i(User.impersonated(user, groups), request).allowed


def cluster_role(name: str, rules: str, labels: str = "") -> str:
    return f"""---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {name}
{labels}rules:
{rules}
"""


def role(namespace: str, name: str, rules: str) -> str:
    return f"""---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}
  namespace: {namespace}
rules:
{rules}
"""


def binding(kind: str, name: str, role_kind: str, role_name: str, subjects: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""---
apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: {name}{ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {role_kind}
  name: {role_name}
subjects:
{subjects}
"""


def user_subject(name: str) -> str:
    return f"- kind: User\n  name: {name}\n  apiGroup: rbac.authorization.k8s.io"


def group_subject(name: str) -> str:
    return f"- kind: Group\n  name: {name}\n  apiGroup: rbac.authorization.k8s.io"


def sa_subject(name: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"- kind: ServiceAccount\n  name: {name}{ns}"
