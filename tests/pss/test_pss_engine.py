"""Behaviours of the Pod Security engine, each pinned to the upstream version where it changes."""

from __future__ import annotations

import pytest

from kubeward.model import pod_template
from kubeward.model.resource import Origin, Resource
from kubeward.pss import LATEST_MINOR, evaluate, evaluate_template, parse_level, parse_version
from kubeward.pss.registry import CHECKS, checks_for

RESTRICTED_CONTAINER_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD_SC = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_spec(**extra) -> dict:
    spec = {"securityContext": dict(RESTRICTED_POD_SC),
            "containers": [{"name": "app", "image": "x", "securityContext": dict(RESTRICTED_CONTAINER_SC)}]}
    spec.update(extra)
    return spec


def controls(metadata, spec, level, version) -> list[str]:
    return [v.control for v in evaluate(metadata, spec, level, version)]


def test_restricted_minimal_pod_is_allowed_at_every_version():
    for minor in range(0, LATEST_MINOR + 1):
        assert controls({}, restricted_spec(), "restricted", f"v1.{minor}") == []


def test_violation_message_path_and_control_are_upstream_like():
    spec = {"containers": [{"name": "x", "securityContext": {"privileged": True}}]}
    (violation,) = evaluate({}, spec, "baseline", "latest")
    assert violation.control == "privileged"
    assert violation.message == 'privileged (container "x" must not set securityContext.privileged=true)'
    assert violation.paths == (("spec", "containers", 0, "securityContext", "privileged"),)
    assert violation.as_dict() == {"control": "privileged", "message": violation.message}


def test_init_and_ephemeral_containers_are_checked_in_upstream_order():
    spec = {"initContainers": [{"name": "i", "securityContext": {"privileged": True}}],
            "containers": [{"name": "c"}],
            "ephemeralContainers": [{"name": "e", "securityContext": {"privileged": True}}]}
    (violation,) = evaluate({}, spec, "baseline", "latest")
    assert violation.detail == 'containers "i", "e" must not set securityContext.privileged=true'
    assert violation.paths[1] == ("spec", "ephemeralContainers", 0, "securityContext", "privileged")


def test_privileged_level_allows_everything():
    spec = {"hostPID": True, "containers": [{"name": "x", "securityContext": {"privileged": True}}]}
    assert evaluate({}, spec, "privileged", "latest") == []


def test_host_probes_and_lifecycle_apply_from_1_34():
    spec = {"containers": [{"name": "x", "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
                            "lifecycle": {"preStop": {"tcpSocket": {"host": "evil", "port": 1}}}}]}
    assert controls({}, spec, "baseline", "v1.33") == []
    (violation,) = evaluate({}, spec, "baseline", "v1.34")
    assert violation.message == ('probe or lifecycle host (container "x" uses probe or lifecycle hosts '
                                 '"10.0.0.1", "evil")')
    assert ("spec", "containers", 0, "lifecycle", "preStop", "tcpSocket", "host") in violation.paths


@pytest.mark.parametrize("sysctl, first_safe", [
    ("kernel.shm_rmid_forced", 0), ("net.ipv4.ip_local_reserved_ports", 27), ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_rmem", 32), ("net.ipv4.tcp_notsent_lowat", 37), ("kernel.msgmax", None),
])
def test_safe_sysctls_grow_by_version(sysctl, first_safe):
    spec = {"securityContext": {"sysctls": [{"name": sysctl, "value": "1"}]}, "containers": [{"name": "x"}]}
    for minor in (0, 26, 27, 28, 29, 31, 32, 36, 37):
        allowed = first_safe is not None and minor >= first_safe
        assert (controls({}, spec, "baseline", f"v1.{minor}") == []) is allowed, (sysctl, minor)


def test_windows_pods_are_exempt_from_linux_only_restricted_checks_from_1_25():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}, "containers": [{"name": "x"}]}
    assert set(controls({}, spec, "restricted", "v1.24")) == {
        "allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}
    assert controls({}, spec, "restricted", "v1.25") == []
    # runAsNonRoot has no Windows exemption
    spec["securityContext"] = {}
    assert controls({}, spec, "restricted", "latest") == ["runAsNonRoot"]


def test_proc_mount_unmasked_is_allowed_in_a_user_namespace_from_1_35_at_baseline_only():
    container = {"name": "x", "securityContext": {**RESTRICTED_CONTAINER_SC, "procMount": "Unmasked"}}
    spec = restricted_spec(hostUsers=False, containers=[container])
    assert controls({}, spec, "baseline", "v1.34") == ["procMount"]
    assert controls({}, spec, "baseline", "v1.35") == []
    assert controls({}, spec, "restricted", "v1.34") == ["procMount"]
    assert controls({}, spec, "restricted", "v1.35") == ["procMount_restricted"]
    assert controls({}, dict(spec, hostUsers=True), "baseline", "v1.35") == ["procMount"]


def test_run_as_root_is_allowed_in_a_user_namespace_from_1_35():
    spec = restricted_spec(hostUsers=False)
    spec["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    assert controls({}, spec, "restricted", "v1.34") == ["runAsNonRoot", "runAsUser"]
    assert controls({}, spec, "restricted", "v1.35") == []


def test_run_as_user_zero_is_checked_from_1_23_and_false_is_not_zero():
    spec = restricted_spec()
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    assert controls({}, spec, "restricted", "v1.22") == []
    (violation,) = evaluate({}, spec, "restricted", "v1.23")
    assert violation.message == 'runAsUser=0 (container "app" must not set runAsUser=0)'
    spec["containers"][0]["securityContext"]["runAsUser"] = False
    assert controls({}, spec, "restricted", "latest") == []


def test_seccomp_annotations_until_1_18_fields_from_1_19():
    annotated = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    field = {"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "x"}]}
    assert controls(annotated, {"containers": [{"name": "x"}]}, "baseline", "v1.18") == ["seccompProfile_baseline"]
    assert controls(annotated, {"containers": [{"name": "x"}]}, "baseline", "v1.19") == []
    assert controls({}, field, "baseline", "v1.18") == []
    (violation,) = evaluate({}, field, "baseline", "v1.19")
    assert violation.message == 'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'


def test_apparmor_fields_and_annotations_are_checked_at_every_version():
    spec = {"containers": [{"name": "x", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}
    metadata = {"annotations": {"container.apparmor.security.beta.kubernetes.io/x": "unconfined"}}
    (violation,) = evaluate(metadata, spec, "baseline", "v1.0")
    assert violation.message == (
        'forbidden AppArmor profiles (container "x" and annotation must not set AppArmor profile type to '
        '"Unconfined", "container.apparmor.security.beta.kubernetes.io/x=\\"unconfined\\"")')
    allowed = {"annotations": {"container.apparmor.security.beta.kubernetes.io/x": "localhost/prof"}}
    assert controls(allowed, {"containers": [{"name": "x"}]}, "baseline", "latest") == []


def test_selinux_container_engine_type_allowed_from_1_31():
    spec = {"containers": [{"name": "x", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}
    assert controls({}, spec, "baseline", "v1.30") == ["seLinuxOptions"]
    assert controls({}, spec, "baseline", "v1.31") == []
    spec["containers"][0]["securityContext"]["seLinuxOptions"] = {"type": "spc_t", "user": "root"}
    (violation,) = evaluate({}, spec, "baseline", "latest")
    assert violation.detail == ('container "x" set forbidden securityContext.seLinuxOptions: type "spc_t"; '
                                "user may not be set")


def test_restricted_volumes_replace_host_path_volumes():
    spec = restricted_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}, {"name": "img", "image": {"reference": "x"}},
                                    {"name": "plain"}, {"name": "odd", "someFutureSource": {}}])
    assert controls({}, spec, "baseline", "latest") == ["hostPathVolumes"]
    (violation,) = evaluate({}, spec, "restricted", "latest")
    assert violation.control == "restrictedVolumes"
    assert violation.message == ('restricted volume types (volumes "root", "odd" use restricted volume types '
                                 '"hostPath", "unknown")')
    assert violation.paths[0] == ("spec", "volumes", 0, "hostPath")


def test_capabilities_restricted_replace_baseline_from_1_22():
    spec = restricted_spec()
    spec["containers"][0]["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    assert controls({}, spec, "restricted", "v1.21") == ["capabilities_baseline"]
    (violation,) = evaluate({}, spec, "restricted", "v1.22")
    assert violation.message == ('unrestricted capabilities (container "app" must not include "SYS_ADMIN" in '
                                 "securityContext.capabilities.add)")


def test_host_namespaces_and_ports_messages():
    spec = {"hostNetwork": True, "hostIPC": True,
            "containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"hostPort": 443}]}]}
    messages = [v.message for v in evaluate({}, spec, "baseline", "latest")]
    assert messages == ["host namespaces (hostNetwork=true, hostIPC=true)",
                        'hostPort (container "a" uses hostPorts 443, 8080)']


def test_run_as_non_root_explicit_false_wins_over_missing():
    spec = restricted_spec()
    spec["securityContext"]["runAsNonRoot"] = False
    (violation,) = evaluate({}, spec, "restricted", "latest")
    assert violation.message == "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"


def test_template_paths_are_absolute_within_the_workload():
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"spec": {"containers": [{"name": "x", "securityContext": {"privileged": True}}]}}}}
    template = pod_template(Resource(obj, "default", Origin(None)))
    (violation,) = evaluate_template(template, "baseline", "latest")
    assert violation.paths == (("spec", "template", "spec", "containers", 0, "securityContext", "privileged"),)


def test_checks_newer_than_the_version_are_not_applied():
    for level in ("baseline", "restricted"):
        for minor in range(LATEST_MINOR + 1):
            applied = {check_id for check_id, _ in checks_for(level, minor)}
            for check in CHECKS:
                if check.versions[0].minimum > minor:
                    assert check.id not in applied


def test_restricted_includes_every_baseline_check_unless_replaced():
    replaced = {"hostPathVolumes", "capabilities_baseline", "seccompProfile_baseline", "procMount"}
    baseline = {check_id for check_id, _ in checks_for("baseline", LATEST_MINOR)}
    restricted = {check_id for check_id, _ in checks_for("restricted", LATEST_MINOR)}
    assert baseline - restricted == replaced


@pytest.mark.parametrize("text, minor", [("latest", LATEST_MINOR), ("v1.0", 0), ("v1.25", 25), ("v1.99", 99)])
def test_parse_version(text, minor):
    assert parse_version(text) == minor


@pytest.mark.parametrize("text", ["1.25", "v1.025", "v2.0", "v1", "", "Latest", "v1.2.3", None])
def test_parse_version_rejects(text):
    with pytest.raises(ValueError, match="latest"):
        parse_version(text)


def test_versions_newer_than_known_behave_as_latest():
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}]}, "containers": [{"name": "x"}]}
    assert controls({}, spec, "baseline", "v1.99") == controls({}, spec, "baseline", "latest") == []


def test_parse_level():
    assert parse_level("baseline") == "baseline"
    with pytest.raises(ValueError, match="must be one of"):
        parse_level("strict")
