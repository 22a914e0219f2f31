"""Flag, systemd and kubelet-precedence semantics; node checks inside `scan`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeward.model.inventory import build_inventory
from kubeward.node.flags import duration_seconds, parse_flags
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import Anchor
from kubeward.node.systemd import command_tokens, read_environment_file, read_units
from kubeward.rules import load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources.loader import load_text

A = Anchor()
names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True).filter(lambda n: n not in ("feature-gates",))
values = st.from_regex(r"[A-Za-z0-9/._:]{1,12}", fullmatch=True)


@given(st.dictionaries(names, values, min_size=1, max_size=8))
def test_equals_form_round_trips(flags):
    parsed = parse_flags([(f"--{k}={v}", A) for k, v in flags.items()])
    assert {k: s.value for k, s in parsed.flags.items()} == flags


@given(st.integers(0, 100), st.integers(0, 59), st.integers(0, 59))
def test_go_durations(h, m, s):
    assert duration_seconds(f"{h}h{m}m{s}s") == h * 3600 + m * 60 + s


def test_flag_forms_and_repeats():
    parsed = parse_flags([(t, A) for t in ["--profiling", "--v", "2", "--enable-admission-plugins=A",
                                           "--enable-admission-plugins=B", "--bind-address=0.0.0.0",
                                           "--bind-address=127.0.0.1", "--", "--not-a-flag"]])
    assert parsed.flags["profiling"].value == "true" and parsed.flags["v"].value == "2"
    assert parsed.flags["enable-admission-plugins"].value == "A,B"  # pflag slices append
    assert parsed.flags["bind-address"].value == "127.0.0.1" and [r[0] for r in parsed.repeated] == ["bind-address"]
    assert parsed.positional == ["--not-a-flag"]
    assert duration_seconds("4h0m0s") == 14400 and duration_seconds("1.5m") == 90 and duration_seconds("x") is None


def test_systemd_precedence():
    settings = read_units([
        ("unit", "[Service]\nExecStart=/usr/bin/kubelet --old\n"),
        ("10.conf", '[Service]\nEnvironment="ARGS=--a=1 --b=2" X=env\nEnvironmentFile=-/etc/default/kubelet\n'
                    "ExecStart=\nExecStart=/usr/bin/kubelet $ARGS ${X} $MISSING\n"),
        ("20.conf", '[Service]\nEnvironment="ARGS=--a=3"\n'),
    ])
    env = dict(settings.environment)
    env.update(read_environment_file("/etc/default/kubelet", 'X="from-file"\n'))  # files beat Environment=
    tokens, problem = command_tokens(settings.exec_start, env)
    assert problem is None
    assert [t for t, _ in tokens] == ["/usr/bin/kubelet", "--a=3", "from-file"]
    assert tokens[1][1].location.file == "20.conf" and tokens[2][1].location.file == "/etc/default/kubelet"


def _config(text: str):
    return list(build_inventory(load_text(text, "config.yaml")))


def test_kubelet_flags_win_but_feature_gates_merge():
    config = _config("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"
                     "featureGates: {A: true, B: true}\n")
    flags = parse_flags([("--read-only-port=10255", A), ("--feature-gates=B=false", A)]).flags
    kubelet = kubelet_component(flags, A, config, uses_config_file=True)
    assert kubelet.config["readOnlyPort"].value == "10255"
    assert kubelet.config["featureGates.A"].value is True and kubelet.config["featureGates.B"].value == "false"


def test_kubelet_without_config_keeps_legacy_defaults():
    kubelet = kubelet_component({}, A, [], uses_config_file=False)
    assert kubelet.config["authentication.anonymous.enabled"].value is True
    assert kubelet.config["authorization.mode"].value == "AlwaysAllow" and kubelet.config["readOnlyPort"].value == 10255
    assert kubelet_component({}, A, [], uses_config_file=True).config["readOnlyPort"].value == 0


SCANNED = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication: {anonymous: {enabled: true}}
---
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [configmaps]
  providers: [{secretbox: {keys: [{name: k, secret: c2VjcmV0}]}}]
---
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
"""


def test_scan_runs_the_same_checks_on_config_objects():
    inventory = build_inventory(load_text(SCANNED, "configs.yaml"))
    findings, errors = evaluate(inventory, [r for r in load_all().values() if r.domain == "node"])
    assert not errors
    ids = {f.rule.id for f in findings}
    assert {"KW-KUBELET-001", "KW-ENC-001", "KW-AUDIT-003"} <= ids
    assert not any(i.startswith(("KW-FILE", "KW-APISERVER")) for i in ids)
    assert all("c2VjcmV0" not in f.message for f in findings)
    kubelet = next(f for f in findings if f.rule.id == "KW-KUBELET-001")
    assert kubelet.resolved_location()["line"] == 3
