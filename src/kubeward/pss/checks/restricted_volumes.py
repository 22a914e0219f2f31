"""restrictedVolumes (restricted, v1.0): only ephemeral, projected and claim-based volume types;
no inline network or node storage. Replaces hostPathVolumes.

Upstream added `image` to the allowed types in place (Kubernetes 1.33), so it is allowed at every
policy version.
"""

from kubeward.pss.checks.host_path_volumes import CHECK_ID as BASELINE_HOST_PATH
from kubeward.pss.model import RESTRICTED, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, text

ALLOWED = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                     "persistentVolumeClaim", "projected", "secret"})
# Named in upstream's order; any other source is reported as "unknown".
RESTRICTED_TYPES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd",
    "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)


def volume_type(volume: dict) -> str | None:
    """The restricted type of a volume, or None when allowed. A volume naming no source is
    defaulted to emptyDir by the API server before admission sees it."""
    sources = {key for key, value in volume.items() if key != "name" and value is not None}
    if not sources or sources & ALLOWED:
        return None
    return next((kind for kind in RESTRICTED_TYPES if kind in sources), "unknown")


def restricted_volumes_1_0(pod: Pod) -> Failure | None:
    names: list[str] = []
    kinds: set[str] = set()
    paths = []
    for i, volume in pod.volumes():
        kind = volume_type(volume)
        if kind is None:
            continue
        names.append(text(volume.get("name")))
        kinds.add(kind)
        paths.append((*pod.spec_path, "volumes", i) if kind == "unknown" else (*pod.spec_path, "volumes", i, kind))
    if not names:
        return None
    return Failure("restricted volume types", " ".join((
        pluralize("volume", "volumes", len(names)), join_quote(names), pluralize("uses", "use", len(names)),
        pluralize("restricted volume type", "restricted volume types", len(kinds)), join_quote(sorted(kinds)))),
        tuple(paths))


CHECK = Check("restrictedVolumes", RESTRICTED, (VersionedCheck(0, restricted_volumes_1_0, (BASELINE_HOST_PATH,)),))
