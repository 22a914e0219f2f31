"""The registry of checks, and which of them apply at a level and version.

Restricted is every baseline check, minus those a restricted check overrides at that version,
plus the restricted checks (policy/registry.go).
"""

from __future__ import annotations

from functools import cache

from kubeward.pss.checks import (allow_privilege_escalation, apparmor_profile, capabilities_baseline,
                                 capabilities_restricted, host_namespaces, host_path_volumes, host_ports,
                                 host_probes_and_host_lifecycle, privileged, proc_mount, proc_mount_restricted,
                                 restricted_volumes, run_as_non_root, run_as_user, seccomp_profile_baseline,
                                 seccomp_profile_restricted, selinux_options, sysctls, windows_host_process)
from kubeward.pss.model import BASELINE, PRIVILEGED, RESTRICTED, Check, CheckFn

CHECKS: tuple[Check, ...] = tuple(sorted(
    (module.CHECK for module in (
        apparmor_profile, capabilities_baseline, host_namespaces, host_path_volumes, host_ports,
        host_probes_and_host_lifecycle, privileged, proc_mount, seccomp_profile_baseline, selinux_options,
        sysctls, windows_host_process, allow_privilege_escalation, capabilities_restricted,
        proc_mount_restricted, restricted_volumes, run_as_non_root, run_as_user, seccomp_profile_restricted,
    )),
    key=lambda check: (check.level != BASELINE, check.id),
))


@cache
def checks_for(level: str, minor: int) -> tuple[tuple[str, CheckFn], ...]:
    """(check id, behaviour) pairs in force at `level` and policy version v1.<minor>."""
    if level == PRIVILEGED:
        return ()
    levels = (BASELINE,) if level == BASELINE else (BASELINE, RESTRICTED)
    in_force = [(check, versioned) for check in CHECKS if check.level in levels
                if (versioned := check.at(minor)) is not None]
    overridden = {overridden for check, versioned in in_force if check.level == RESTRICTED
                  for overridden in versioned.overrides} if level == RESTRICTED else set()
    return tuple((check.id, versioned.check) for check, versioned in in_force if check.id not in overridden)
