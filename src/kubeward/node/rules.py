"""Node and control-plane rules (CIS Kubernetes Benchmark 1.12), registered in the catalogue
on import. The checks live in the modules below; `kubeward.node.catalogue` explains how they
run both in `kubeward node` and in `kubeward scan`."""

from kubeward.node import (apiserver_rules, config_rules, controlplane_rules, file_rules, kubelet_rules,
                           proxy_rules)

RULE_MODULES = (apiserver_rules, config_rules, controlplane_rules, file_rules, kubelet_rules, proxy_rules)
