"""hostPathVolumes (baseline, v1.0): hostPath volumes expose the node's filesystem."""

from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, text

CHECK_ID = "hostPathVolumes"


def host_path_volumes_1_0(pod: Pod) -> Failure | None:
    bad = [(i, text(v.get("name"))) for i, v in pod.volumes() if v.get("hostPath") is not None]
    if not bad:
        return None
    names = [name for _, name in bad]
    return Failure("hostPath volumes", f"{pluralize('volume', 'volumes', len(names))} {join_quote(names)}",
                   tuple((*pod.spec_path, "volumes", i, "hostPath") for i, _ in bad))


CHECK = Check(CHECK_ID, BASELINE, (VersionedCheck(0, host_path_volumes_1_0),))
