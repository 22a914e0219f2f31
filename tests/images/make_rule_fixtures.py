"""Writes tests/rules/KW-VULN-*/ (manifests + reports) from reportgen; run it after changing either:
`python tests/images/make_rule_fixtures.py`. The files are committed; the fixture test reads them."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reportgen import Img, V, cyclonedx, grype, openvex, trivy, vex_statement

RULES = Path(__file__).resolve().parents[1] / "rules"
DIGEST = "sha256:" + "a1" * 32
IMAGE = "ghcr.io/shop/web:1.4.2"


def deployment(name: str = "web", image: str = IMAGE, extra_container: str = "", pod: str = "", namespace: str = "shop",
               automount: bool | None = None, account: str = "") -> str:
    lines = [f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:"""]
    if account:
        lines.append(f"      serviceAccountName: {account}")
    if automount is not None:
        lines.append(f"      automountServiceAccountToken: {str(automount).lower()}")
    if pod:
        lines.append(pod)
    lines.append(f"""      containers:
      - name: {name}
        image: {image}
        ports:
        - {{name: http, containerPort: 8080}}""")
    if extra_container:
        lines.append(extra_container)
    return "\n".join(lines) + "\n"


LOAD_BALANCER = """---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {port: 443, targetPort: http}
"""
DENY_INGRESS = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-ingress
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
SECRETS_READER = """---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: secret-reader
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: web-reads-secrets
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects:
- {kind: ServiceAccount, name: web, namespace: shop}
"""
PRIVILEGED = """        securityContext:
          privileged: true"""

FIXABLE = V("CVE-2024-24790", "golang.org/x/net", "0.17.0", "0.23.0", "CRITICAL", 9.8)
UNFIXED = V("CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", "", "CRITICAL", 9.8)


def write(folder: Path, manifests: str, reports: dict[str, dict], vex: dict | None = None) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "reports").mkdir(parents=True)
    (folder / "workload.yaml").write_text(manifests)
    for name, doc in reports.items():
        (folder / "reports" / name).write_text(json.dumps(doc, indent=1) + "\n")
    if vex is not None:
        (folder / "vex").mkdir()
        (folder / "vex" / "web.openvex.json").write_text(json.dumps(vex, indent=1) + "\n")


def main() -> None:
    pinned = f"{IMAGE}@{DIGEST}"
    fixable = Img(IMAGE, DIGEST, vulns=[FIXABLE])
    # 001: published by a LoadBalancer; the pass case adds a deny-all ingress policy (not reachable)
    write(RULES / "KW-VULN-001" / "fail-loadbalancer", deployment(image=pinned) + LOAD_BALANCER, {"web.trivy.json": trivy(fixable)})
    write(RULES / "KW-VULN-001" / "pass-policy-denies-outside", deployment(image=pinned) + LOAD_BALANCER + DENY_INGRESS,
          {"web.trivy.json": trivy(fixable)})
    # 002: privileged container; the vulnerable image in an unprivileged init container of a privileged pod's sidecar
    write(RULES / "KW-VULN-002" / "fail-privileged", deployment(image=pinned).replace(
        "        - {name: http, containerPort: 8080}", "        - {name: http, containerPort: 8080}\n" + PRIVILEGED),
        {"web.grype.json": grype(fixable)})
    write(RULES / "KW-VULN-002" / "pass-privileged-sidecar-only", deployment(image=pinned, extra_container=(
        "      - name: agent\n        image: ghcr.io/shop/agent:2.0@sha256:" + "b2" * 32 + "\n" + PRIVILEGED)),
        {"web.grype.json": grype(fixable)})
    # 003: the token of an account that reads every secret; the pass case does not mount it
    write(RULES / "KW-VULN-003" / "fail-token-reads-secrets", deployment(image=pinned, account="web") + SECRETS_READER,
          {"web.cdx.json": cyclonedx(fixable, "1.6")})
    write(RULES / "KW-VULN-003" / "pass-token-not-mounted", deployment(image=pinned, account="web", automount=False)
          + SECRETS_READER, {"web.cdx.json": cyclonedx(fixable, "1.6")})
    # 004: nothing exposes it; the pass case: an OpenVEX not_affected statement suppresses it
    write(RULES / "KW-VULN-004" / "fail-fixable", deployment(image=pinned), {"web.trivy.json": trivy(fixable)})
    write(RULES / "KW-VULN-004" / "pass-vex-not-affected", deployment(image=pinned), {"web.trivy.json": trivy(fixable)},
          openvex([vex_statement(FIXABLE.id, f"pkg:oci/web@{DIGEST}?repository_url=ghcr.io/shop/web")]))
    # 005: no fixed version; the pass case has one (KW-VULN-004 then)
    write(RULES / "KW-VULN-005" / "fail-no-fix", deployment(image=pinned), {"web.trivy.json": trivy(Img(IMAGE, DIGEST, vulns=[UNFIXED]))})
    write(RULES / "KW-VULN-005" / "pass-fixable", deployment(image=pinned), {"web.trivy.json": trivy(fixable)})
    # 006: the init container's image has no report; the pass case scans both images
    init = ("      initContainers:\n      - name: migrate\n        image: ghcr.io/shop/migrate:1.4.2@sha256:" + "c3" * 32)
    migrate = Img("ghcr.io/shop/migrate:1.4.2", "sha256:" + "c3" * 32, vulns=[])
    write(RULES / "KW-VULN-006" / "fail-init-container-unscanned", deployment(image=pinned, pod=init), {"web.trivy.json": trivy(fixable)})
    write(RULES / "KW-VULN-006" / "pass-every-image-scanned", deployment(image=pinned, pod=init),
          {"web.trivy.json": trivy(fixable), "migrate.trivy.json": trivy(migrate)})
    # 007: matched by tag only; the pass case pins the digest the report lists
    write(RULES / "KW-VULN-007" / "fail-tag-only", deployment(image=IMAGE), {"web.trivy.json": trivy(fixable)})
    write(RULES / "KW-VULN-007" / "pass-digest", deployment(image=pinned), {"web.trivy.json": trivy(fixable)})


if __name__ == "__main__":
    main()
