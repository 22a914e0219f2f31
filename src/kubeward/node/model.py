"""The node model: what each component of a node effectively runs with, and where each value
was set. Built by `kubeward.node.collect` (a node's files) or `kubeward.node.from_inventory`
(scanned manifests); every node check is a pure function of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeward.model.resource import Path, Resource
from kubeward.rules.model import Hit, Location, Severity
from kubeward.sources.loader import LoadIssue

APISERVER, CONTROLLER_MANAGER, SCHEDULER, ETCD, KUBELET, PROXY = (
    "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet", "kube-proxy")


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where something was written: a field of a manifest (line found lazily) or a file line."""

    resource: Resource | None = None
    path: Path = ()
    location: Location | None = None

    def hit(self, message: str, severity: Severity | None = None) -> Hit:
        return Hit(self.resource, self.path, message, severity=severity, location=self.location)

    def describe(self) -> str:
        if self.location is not None:
            return f"{self.location.file}:{self.location.line}" if self.location.line else self.location.file
        if self.resource is not None:
            origin = self.resource.origin
            if origin.file is None:
                return self.resource.display()
            return f"{origin.filename}:{origin.line_of(self.path)}"
        return "-"


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective value; `explicit` is False for a default the component applies itself."""

    value: object
    anchor: Anchor
    explicit: bool = True


@dataclass
class Component:
    """A running (or configured) component: its flags, and for the kubelet its effective config.

    `flags` maps a flag name without dashes to its last value (repeatable list flags are
    joined with commas, as the component itself would see them). `anchor` is where a missing
    setting should be added (the command list, the unit file, the config file)."""

    name: str
    anchor: Anchor
    flags: dict[str, Setting] = field(default_factory=dict)
    config: dict[str, Setting] = field(default_factory=dict)  # kubelet: dotted field -> value
    uses_config_file: bool = False
    host_paths: tuple[tuple[str, str], ...] = ()  # static pod (mountPath, hostPath), longest first

    def flag(self, name: str) -> Setting | None:
        return self.flags.get(name)

    def host_path(self, path: str) -> str:
        """The node path of a path the container sees (static pods mount host directories)."""
        for mount, host in self.host_paths:
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return host.rstrip("/") + path[len(mount.rstrip("/")):]
        return path


@dataclass(frozen=True, slots=True)
class NodeFile:
    """A file or directory the benchmark names, with its permission bits and owner."""

    role: str  # key of kubeward.node.files.FILE_ROLES
    path: str  # as on the node (absolute, without the --root prefix)
    mode: int
    owner: str  # user:group by name when known, else by number
    is_dir: bool = False


@dataclass
class ConfigDocument:
    """A parsed component configuration file (EncryptionConfiguration, audit Policy)."""

    data: dict
    resource: Resource | None
    anchor: Anchor

    def at(self, path: Path) -> Anchor:
        if self.resource is not None:
            return Anchor(self.resource, path)
        return self.anchor


@dataclass
class NodeModel:
    components: dict[str, Component] = field(default_factory=dict)
    files: list[NodeFile] = field(default_factory=list)
    encryption: ConfigDocument | None = None
    audit_policy: ConfigDocument | None = None
    authorization_config: ConfigDocument | None = None  # kube-apiserver --authorization-config
    authentication_config: ConfigDocument | None = None  # kube-apiserver --authentication-config
    proxy_config: ConfigDocument | None = None  # kube-proxy --config (KubeProxyConfiguration)
    distribution_configs: list[ConfigDocument] = field(default_factory=list)  # k3s / RKE2 config.yaml files
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)
    files_read: int = 0

    def component(self, name: str) -> Component | None:
        return self.components.get(name)
