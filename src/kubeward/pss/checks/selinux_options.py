"""seLinuxOptions (baseline, v1.0, v1.31): only the container SELinux types; no custom user or role."""

from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, setters, text

TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
TYPES_1_31 = TYPES_1_0 | {"container_engine_t"}


def _checker(allowed_types: frozenset[str]):
    def check(pod: Pod) -> Failure | None:
        bad_types: set[str] = set()
        flags = {"user": False, "role": False}
        paths = []

        def invalid(security_context: dict, sc_path) -> bool:
            options = security_context.get("seLinuxOptions")
            if not isinstance(options, dict):
                return False
            bad = False
            if text(options.get("type")) not in allowed_types:
                bad_types.add(text(options.get("type")))
                paths.append((*sc_path, "seLinuxOptions", "type"))
                bad = True
            for name in ("user", "role"):
                if text(options.get(name)):
                    flags[name] = True
                    paths.append((*sc_path, "seLinuxOptions", name))
                    bad = True
            return bad

        pod_bad = invalid(pod.security_context, pod.sc_path)
        containers = [c.name for c in pod.containers if invalid(c.security_context, c.sc_path)]
        if not pod_bad and not containers:
            return None
        problems = []
        if bad_types:
            problems.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}")
        problems += [f"{name} may not be set" for name in ("user", "role") if flags[name]]
        return Failure("seLinuxOptions",
                       f"{setters(pod_bad, containers)} set forbidden securityContext.seLinuxOptions: {'; '.join(problems)}",
                       tuple(paths))

    return check


CHECK = Check("seLinuxOptions", BASELINE, (VersionedCheck(0, _checker(TYPES_1_0)), VersionedCheck(31, _checker(TYPES_1_31))))
