"""procMount_restricted (restricted, v1.35): restricted keeps /proc masked even in a user namespace,
replacing the relaxed baseline procMount check."""

from kubeward.pss.checks.proc_mount import CHECK_ID as BASELINE_PROC_MOUNT, proc_mount_1_0
from kubeward.pss.model import RESTRICTED, Check, VersionedCheck

CHECK = Check("procMount_restricted", RESTRICTED, (VersionedCheck(35, proc_mount_1_0, (BASELINE_PROC_MOUNT,)),))
