"""windowsHostProcess (baseline, v1.0): HostProcess containers run as processes on the Windows node."""

from kubeward.model.resource import as_dict
from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, is_true, setters


def _host_process(security_context: dict) -> bool:
    return is_true(as_dict(security_context.get("windowsOptions")).get("hostProcess"))


def windows_host_process_1_0(pod: Pod) -> Failure | None:
    pod_bad = _host_process(pod.security_context)
    bad = [c for c in pod.containers if _host_process(c.security_context)]
    if not pod_bad and not bad:
        return None
    paths = [(*pod.sc_path, "windowsOptions", "hostProcess")] if pod_bad else []
    paths += [(*c.sc_path, "windowsOptions", "hostProcess") for c in bad]
    return Failure("hostProcess",
                   f"{setters(pod_bad, [c.name for c in bad])} must not set securityContext.windowsOptions.hostProcess=true",
                   tuple(paths))


CHECK = Check("windowsHostProcess", BASELINE, (VersionedCheck(0, windows_host_process_1_0),))
