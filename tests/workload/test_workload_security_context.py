"""Container security context rules: KW-POD-001..010."""

from kubeward.rules import Severity


def summary(findings):
    return [(f.rule.id, f.severity.label, f.resolved_location()["path"], f.message) for f in findings]


def test_run_as_user_zero_is_root_and_container_overrides_pod(scan, make_pod):
    text = make_pod("""
        containers:
        - name: app
          image: app:1
          securityContext: {runAsUser: 0}
        - name: side
          image: side:1
        """, spec="securityContext: {runAsNonRoot: true, runAsUser: 1000}")
    assert summary(scan(text, "KW-POD-001")) == [
        ("KW-POD-001", "high", "spec.containers[0].securityContext.runAsUser", 'container "app" runs as root (runAsUser: 0)'),
    ]


def test_pod_level_root_applies_to_every_container(scan, make_pod):
    text = make_pod("""
        initContainers: [{name: init, image: i:1}]
        containers: [{name: app, image: a:1}]
        """, spec="securityContext: {runAsUser: 0}")
    found = summary(scan(text, "KW-POD-001"))
    assert [(rule, sev, path) for rule, sev, path, _ in found] == [
        ("KW-POD-001", "high", "spec.securityContext.runAsUser"),
        ("KW-POD-001", "high", "spec.securityContext.runAsUser"),
    ]
    assert 'init container "init"' in found[0][3]


def test_no_run_as_non_root_may_run_as_root(scan, make_pod):
    text = make_pod("containers: [{name: app, image: a:1, securityContext: {runAsNonRoot: false}}]")
    assert summary(scan(text, "KW-POD-001")) == [
        ("KW-POD-001", "medium", "spec.containers[0]",
         'container "app" may run as root (runAsNonRoot: false and no non-zero runAsUser: the image decides)'),
    ]


def test_non_root_settings_pass(scan, make_pod):
    assert scan(make_pod("containers: [{name: a, image: a:1}]", spec="securityContext: {runAsNonRoot: true}"), "KW-POD-001") == []
    assert scan(make_pod("containers: [{name: a, image: a:1, securityContext: {runAsUser: 1001}}]"), "KW-POD-001") == []


def test_windows_pods_are_not_judged_on_linux_controls(scan, make_pod):
    text = make_pod("containers: [{name: a, image: a:1}]", spec="os: {name: windows}")
    linux_only = ("KW-POD-001", "KW-POD-002", "KW-POD-003", "KW-POD-004", "KW-POD-005", "KW-POD-006",
                  "KW-POD-007", "KW-POD-008", "KW-POD-009", "KW-POD-010")
    assert scan(text, *linux_only) == []
    assert [f.rule.id for f in scan(make_pod("containers: [{name: a, image: a:1}]"), *linux_only)] == [
        "KW-POD-001", "KW-POD-002", "KW-POD-003", "KW-POD-005", "KW-POD-007", "KW-POD-008"]


def test_privilege_escalation_defaults_to_true_and_privileged_implies_it(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: unset, image: a:1}
        - {name: explicit, image: a:1, securityContext: {allowPrivilegeEscalation: true}}
        - {name: priv, image: a:1, securityContext: {privileged: true, allowPrivilegeEscalation: false}}
        - {name: admin, image: a:1, securityContext: {allowPrivilegeEscalation: false, capabilities: {add: [cap_sys_admin]}}}
        - {name: ok, image: a:1, securityContext: {allowPrivilegeEscalation: false}}
        """)
    assert summary(scan(text, "KW-POD-002")) == [
        ("KW-POD-002", "medium", "spec.containers[0]", 'container "unset" does not set allowPrivilegeEscalation: false (it defaults to true)'),
        ("KW-POD-002", "medium", "spec.containers[1].securityContext.allowPrivilegeEscalation", 'container "explicit" sets allowPrivilegeEscalation: true'),
        ("KW-POD-002", "medium", "spec.containers[2].securityContext.privileged", 'container "priv" is privileged, which always allows privilege escalation'),
        ("KW-POD-002", "medium", "spec.containers[3].securityContext.capabilities", 'container "admin" adds CAP_SYS_ADMIN, which always allows privilege escalation'),
    ]


def test_read_only_root_filesystem(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: a, image: a:1}
        - {name: b, image: a:1, securityContext: {readOnlyRootFilesystem: false}}
        - {name: c, image: a:1, securityContext: {readOnlyRootFilesystem: true}}
        """)
    assert summary(scan(text, "KW-POD-003")) == [
        ("KW-POD-003", "medium", "spec.containers[0]", 'container "a" does not set readOnlyRootFilesystem: true'),
        ("KW-POD-003", "medium", "spec.containers[1].securityContext.readOnlyRootFilesystem", 'container "b" sets readOnlyRootFilesystem: false'),
    ]


def test_privileged(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: a, image: a:1, securityContext: {privileged: true}}
        - {name: b, image: a:1, securityContext: {privileged: false}}
        """)
    found = scan(text, "KW-POD-004")
    assert summary(found) == [("KW-POD-004", "critical", "spec.containers[0].securityContext.privileged", 'container "a" is privileged')]
    assert found[0].resolved_location() == {"file": "manifest.yaml", "line": 8, "path": "spec.containers[0].securityContext.privileged"}


def test_capabilities_must_drop_all_in_any_case_but_not_as_cap_all(scan, make_pod):
    # containerd and CRI-O match ALL case-insensitively; CAP_ALL is an unknown capability to them.
    text = make_pod("""
        containers:
        - {name: none, image: a:1}
        - {name: some, image: a:1, securityContext: {capabilities: {drop: [NET_RAW]}}}
        - {name: lower, image: a:1, securityContext: {capabilities: {drop: [all]}}}
        - {name: prefixed, image: a:1, securityContext: {capabilities: {drop: [CAP_ALL]}}}
        """)
    assert [(f.message, f.resolved_location()["path"]) for f in scan(text, "KW-POD-005")] == [
        ('container "none" does not drop ALL capabilities', "spec.containers[0]"),
        ('container "some" does not drop ALL capabilities', "spec.containers[1]"),
        ('container "prefixed" does not drop ALL capabilities', "spec.containers[3]"),
    ]


def test_added_capabilities_are_ranked(scan, make_pod):
    text = make_pod("""
        containers:
        - name: a
          image: a:1
          securityContext:
            capabilities:
              drop: [ALL]
              add: [NET_BIND_SERVICE, sys_admin, CAP_NET_RAW, IPC_LOCK, chown, all]
        """)
    assert summary(scan(text, "KW-POD-006")) == [
        ("KW-POD-006", "critical", "spec.containers[0].securityContext.capabilities.add[1]", 'container "a" adds CAP_SYS_ADMIN, a path to the host'),
        ("KW-POD-006", "high", "spec.containers[0].securityContext.capabilities.add[2]", 'container "a" adds the dangerous capability CAP_NET_RAW'),
        ("KW-POD-006", "medium", "spec.containers[0].securityContext.capabilities.add[3]", 'container "a" adds CAP_IPC_LOCK, beyond the runtime default set'),
        ("KW-POD-006", "low", "spec.containers[0].securityContext.capabilities.add[4]", 'container "a" adds CAP_CHOWN (part of the runtime default set)'),
        ("KW-POD-006", "critical", "spec.containers[0].securityContext.capabilities.add[5]", 'container "a" adds ALL capabilities, a path to the host'),
    ]
    assert scan(make_pod("containers: [{name: a, image: a:1, securityContext: {capabilities: {add: [NET_BIND_SERVICE]}}}]"), "KW-POD-006") == []


def test_seccomp_field_annotation_and_precedence(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: inherits, image: a:1}
        - {name: unconfined, image: a:1, securityContext: {seccompProfile: {type: Unconfined}}}
        - {name: annotated, image: a:1}
        - {name: local, image: a:1, securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}}
        """, spec="securityContext: {seccompProfile: {type: RuntimeDefault}}",
        metadata="annotations: {container.seccomp.security.alpha.kubernetes.io/annotated: unconfined}")
    assert summary(scan(text, "KW-POD-007")) == [
        ("KW-POD-007", "medium", "spec.containers[1].securityContext.seccompProfile.type", 'container "unconfined" runs with seccomp profile Unconfined'),
        ("KW-POD-007", "medium", "metadata.annotations.container.seccomp.security.alpha.kubernetes.io/annotated",
         'container "annotated" runs with seccomp profile Unconfined'),
    ]


def test_seccomp_missing_and_legacy_pod_annotation(scan, make_pod):
    assert summary(scan(make_pod("containers: [{name: a, image: a:1}]"), "KW-POD-007")) == [
        ("KW-POD-007", "medium", "spec.containers[0]", 'container "a" has no seccomp profile')]
    annotated = make_pod("containers: [{name: a, image: a:1}]",
                         metadata="annotations: {seccomp.security.alpha.kubernetes.io/pod: runtime/default}")
    assert scan(annotated, "KW-POD-007") == []


def test_apparmor_unset_is_low_unconfined_is_medium(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: unset, image: a:1}
        - {name: field, image: a:1, securityContext: {appArmorProfile: {type: Unconfined}}}
        - {name: legacy, image: a:1}
        - {name: good, image: a:1, securityContext: {appArmorProfile: {type: RuntimeDefault}}}
        - {name: local, image: a:1}
        """, metadata="""annotations:
          container.apparmor.security.beta.kubernetes.io/legacy: unconfined
          container.apparmor.security.beta.kubernetes.io/local: localhost/k8s-nginx""")
    assert [(f.severity.label, f.resolved_location()["path"]) for f in scan(text, "KW-POD-008")] == [
        ("low", "spec.containers[0]"),
        ("medium", "spec.containers[1].securityContext.appArmorProfile.type"),
        ("medium", "metadata.annotations.container.apparmor.security.beta.kubernetes.io/legacy"),
    ]
    pod_level = make_pod("containers: [{name: a, image: a:1}]", spec="securityContext: {appArmorProfile: {type: RuntimeDefault}}")
    assert scan(pod_level, "KW-POD-008") == []


def test_selinux_options(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: a, image: a:1, securityContext: {seLinuxOptions: {type: spc_t}}}
        - {name: b, image: a:1, securityContext: {seLinuxOptions: {type: container_init_t, level: "s0:c1"}}}
        """, spec="securityContext: {seLinuxOptions: {user: system_u, role: sysadm_r}}")
    assert summary(scan(text, "KW-POD-009")) == [
        ("KW-POD-009", "medium", "spec.securityContext.seLinuxOptions.user", "the pod sets SELinux user 'system_u'"),
        ("KW-POD-009", "medium", "spec.securityContext.seLinuxOptions.role", "the pod sets SELinux role 'sysadm_r'"),
        ("KW-POD-009", "medium", "spec.containers[0].securityContext.seLinuxOptions.type", "container \"a\" sets SELinux type 'spc_t'"),
    ]


def test_unmasked_proc_only_outside_user_namespace(scan, make_pod):
    containers = "containers: [{name: a, image: a:1, securityContext: {procMount: Unmasked}}]"
    assert summary(scan(make_pod(containers), "KW-POD-010")) == [
        ("KW-POD-010", "medium", "spec.containers[0].securityContext.procMount", 'container "a" mounts /proc unmasked outside a user namespace')]
    assert scan(make_pod(containers, spec="hostUsers: false"), "KW-POD-010") == []


def test_severity_enum_used_for_graded_rules(scan, make_pod):
    found = scan(make_pod("containers: [{name: a, image: a:1, securityContext: {runAsUser: 0}}]"), "KW-POD-001")
    assert found[0].severity is Severity.HIGH and found[0].rule.severity is Severity.HIGH
