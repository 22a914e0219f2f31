"""The I/O edge of `kubeward node`: read a node's files (under --root) into a NodeModel.

Every unreadable, unparseable or missing file becomes an error naming it; collection goes on
with the rest. Contents of kubeconfigs, keys and EncryptionConfigurations are never echoed.

Nothing outside --root is ever read or stat'ed: every path is resolved first, and one whose
symlinks or `..` lead out of the root is refused with an error naming it. Only regular files
are opened, and every read is capped (sources.loader.read_regular).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kubeward.model.inventory import build_inventory
from kubeward.model.resource import Resource
from kubeward.node.components import file_of, line_of, component_from_tokens, components_of_pod, identify
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import ETCD, KUBELET, APISERVER, Anchor, ConfigDocument, NodeFile, NodeModel
from kubeward.node.profiles import PROFILES, SYSTEMD_DIRS, Profile
from kubeward.node.systemd import command_tokens, read_environment_file, read_units
from kubeward.rules.model import Location
from kubeward.sources.loader import MAX_FILE_BYTES, InputRefused, LoadIssue, load_bytes, read_regular

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".manifest")
# Units, environment files, /proc/PID/cmdline, /etc/passwd and /etc/group: far below this
# (Linux caps a command line at a few MiB, systemd a unit line at 1 MiB).
TEXT_LIMIT = 8 * 1024 * 1024


class Collector:
    def __init__(self, root: str, profile: Profile):
        self.root = Path(root)
        self.real_root = os.path.realpath(root)  # the root itself may be a symlink: the user named it
        self.profile = profile
        self.model = NodeModel()
        self._refused: set[str] = set()
        self._names = self._owner_names()

    def path(self, node_path: str) -> Path:
        return self.root / node_path.lstrip("/")

    def error(self, file: object, message: str, line: int | None = None) -> None:
        self.model.errors.append(LoadIssue(str(file), line, message))

    # confined file access -----------------------------------------------------------------

    def resolve(self, file: Path) -> str | None:
        """The real path of `file` when it lies inside --root; else None, and an error (once per
        path) saying where it leads. Resolved one component at a time, the way the kernel would,
        but from the root and never past it: nothing outside the root is even stat'ed, and a
        symlink or `..` cannot make the host's files look like the node's."""
        try:
            relative = Path(file).relative_to(self.root)
        except ValueError:
            relative = Path(os.path.relpath(file, self.root))
        current = self.real_root
        parts = list(reversed(relative.parts))
        followed = 0
        while parts:
            part = parts.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if current == self.real_root:
                    if current == os.sep:
                        continue  # "/.." is "/"
                    return self._outside(file, "'..' climbs above it")
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, part)
            try:
                info = os.lstat(candidate)
            except OSError:
                return os.path.join(candidate, *reversed(parts))  # absent: opening it fails inside the root
            if not stat.S_ISLNK(info.st_mode):
                current = candidate
                continue
            followed += 1
            try:
                target = os.readlink(candidate)
            except OSError as exc:
                return self._outside(file, f"symlink {candidate} cannot be read ({exc.strerror})")
            if followed > 40:
                return self._outside(file, f"too many levels of symlinks at {candidate}")
            if os.path.isabs(target):
                normal = os.path.normpath(target)
                inside = self.real_root == os.sep or normal == self.real_root or normal.startswith(self.real_root + os.sep)
                if not inside:
                    return self._outside(file, f"symlink {candidate} -> {target}")
                parts.extend(reversed(Path(os.path.relpath(normal, self.real_root)).parts))
                current = self.real_root
            else:
                parts.extend(reversed(Path(target).parts))
        return current

    def _outside(self, file: Path, how: str) -> None:
        if str(file) not in self._refused:
            self._refused.add(str(file))
            self.error(file, f"not read: it leads outside --root {self.root} ({how})")
        return None

    def is_dir(self, file: Path) -> bool:
        real = self.resolve(file)
        return real is not None and os.path.isdir(real)

    def is_file(self, file: Path) -> bool:
        real = self.resolve(file)
        return real is not None and os.path.isfile(real)

    def entries(self, folder: Path) -> list[Path]:
        """The entries of a directory inside --root, sorted by name."""
        real = self.resolve(folder)
        if real is None or not os.path.isdir(real):
            return []
        try:
            return [folder / name for name in sorted(os.listdir(real))]
        except OSError as exc:
            self.error(folder, f"cannot read directory: {exc.strerror or exc}")
            return []

    def read(self, file: Path, limit: int = TEXT_LIMIT, report: bool = True) -> bytes | None:
        """A regular file inside --root, at most `limit` bytes; None (and an error, if `report`)
        when it is outside, not a regular file, too big or unreadable."""
        real = self.resolve(file)
        if real is None:
            return None
        try:
            return read_regular(real, limit)
        except InputRefused as exc:
            self.error(file, str(exc))
        except OSError as exc:
            if report:
                self.error(file, f"cannot read: {exc.strerror or exc}")
        return None

    def read_text(self, file: Path, report: bool = True) -> str | None:
        raw = self.read(file, report=report)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def load(self, file: Path, kind: str) -> list[Resource]:
        """Resources of `kind` in a file; errors (unreadable, invalid YAML, none of that kind) noted."""
        self.model.files_read += 1
        raw = self.read(file, limit=MAX_FILE_BYTES)
        if raw is None:
            return []
        result = load_bytes(raw, str(file))
        del raw
        inventory = build_inventory(result)
        self.model.errors.extend(inventory.errors)
        if inventory.errors:
            return []
        found = [r for r in inventory if r.kind == kind]
        if not found:
            self.error(file, f"no {kind} object in this file")
        return found

    def add_file(self, role: str, file: Path) -> None:
        real = self.resolve(file)
        if real is None:
            return
        try:
            info = os.stat(real)
        except OSError:
            return
        self.model.files.append(NodeFile(role, str(file), stat.S_IMODE(info.st_mode),
                                         f"{self._names[0].get(info.st_uid, info.st_uid)}:"
                                         f"{self._names[1].get(info.st_gid, info.st_gid)}",
                                         is_dir=stat.S_ISDIR(info.st_mode)))

    def _owner_names(self) -> tuple[dict[int, str], dict[int, str]]:
        """uid and gid names from the node's own /etc/passwd and /etc/group (root is always 0)."""
        tables: list[dict[int, str]] = []
        for name in ("etc/passwd", "etc/group"):
            table = {0: "root"}
            file = self.root / name
            text = self.read_text(file, report=False) if self.is_file(file) else None
            for line in (text or "").splitlines():
                fields = line.split(":")
                if len(fields) > 2 and fields[2].isdigit():
                    table.setdefault(int(fields[2]), fields[0])
            tables.append(table)
        return tables[0], tables[1]

    # components --------------------------------------------------------------------------

    def static_pods(self) -> None:
        if not self.profile.manifests_dir:
            return
        folder = self.path(self.profile.manifests_dir)
        for file in self.entries(folder):
            if not file.name.endswith(MANIFEST_SUFFIXES) or file.name.startswith("."):
                continue
            self.add_file("static-pod-manifest", file)
            for pod in self.load(file, "Pod"):
                for component in components_of_pod(pod, self.model.notes):
                    self.model.components[component.name] = component

    def processes(self) -> list[tuple[str, list[tuple[str, Anchor]]]]:
        """(component, argument tokens) of every Kubernetes process under proc/."""
        found = []
        for entry in self.entries(self.path("proc")):
            if not entry.name.isdigit():
                continue
            raw = self.read(entry / "cmdline", report=False)  # a process may end while read
            if raw is None:
                continue
            argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
            name, start = identify(argv)
            if name:
                where = Anchor(location=Location(str(entry / "cmdline")))
                found.append((name, [(a, where) for a in argv[start:]]))
        return found

    def kubelet_tokens(self) -> tuple[list[tuple[str, Anchor]], Anchor] | None:
        """The kubelet's arguments as systemd would run it, or None without a unit."""
        unit = self.profile.kubelet_unit
        main = next((self.path(d) / unit for d in reversed(SYSTEMD_DIRS) if self.is_file(self.path(d) / unit)), None)
        dropins: dict[str, Path] = {}
        for folder in SYSTEMD_DIRS:  # a drop-in in /etc masks one of the same name in /usr/lib
            for file in self.entries(self.path(folder) / f"{unit}.d"):
                if file.name.endswith(".conf"):
                    dropins[file.name] = file
        files = ([main] if main else []) + [dropins[name] for name in sorted(dropins)]
        if not files:
            return None
        texts = []
        for file in files:
            self.add_file("kubelet-service", file)
            self.model.files_read += 1
            text = self.read_text(file)
            if text is not None:
                texts.append((str(file), text))
        settings = read_units(texts)
        for where, problem in settings.problems:
            self.error(where.file, problem, where.line)
        environment = dict(settings.environment)
        for env_path, optional, where in settings.environment_files:
            file = self.path(env_path)
            real = self.resolve(file)
            if real is not None and not os.path.lexists(real):
                if not optional:
                    self.error(where.file, f"EnvironmentFile={env_path} does not exist (systemd will not start the kubelet)",
                               where.line)
                continue
            text = self.read_text(file, report=not optional) if real is not None else None
            if text is not None:
                environment.update(read_environment_file(str(file), text))
                self.model.files_read += 1
        if settings.exec_start is None:
            self.error(files[-1], "no ExecStart= for the kubelet in this unit and its drop-ins")
            return None
        tokens, problem = command_tokens(settings.exec_start, environment)
        if problem:
            self.error(settings.exec_start[1].file, problem, settings.exec_start[1].line)
            return None
        return tokens[1:], Anchor(location=settings.exec_start[1])

    def kubelet(self, from_process: list[tuple[str, Anchor]] | None) -> None:
        unit = self.kubelet_tokens()
        if from_process is not None:
            tokens, anchor = from_process, from_process[0][1] if from_process else Anchor()
        elif unit is not None:
            tokens, anchor = unit
        elif self.is_file(self.path(self.profile.kubelet_config)):
            # No command line to read: assume the distribution's usual --config.
            tokens, anchor = [(f"--config=/{self.profile.kubelet_config}", Anchor())], Anchor()
        else:
            return
        flags = component_from_tokens(KUBELET, tokens, anchor, self.model.notes).flags
        configs: list[Resource] = []
        config_flag = flags.get("config")
        if config_flag is not None:
            file = self.path(str(config_flag.value))
            if self.is_file(file):
                self.add_file("kubelet-config", file)
                configs += self.load(file, "KubeletConfiguration")
            else:
                self.error(file_of(config_flag.anchor), f"kubelet --config={config_flag.value} does not exist "
                           "(the kubelet would not start); its settings are checked as the defaults",
                           line_of(config_flag.anchor))
        config_dir = flags.get("config-dir")
        if config_dir is not None:
            for file in self.entries(self.path(str(config_dir.value))):
                if file.name.endswith(".conf"):
                    configs += self.load(file, "KubeletConfiguration")
        first = Anchor(configs[0], ()) if configs else anchor
        component = kubelet_component(flags, first if config_flag else anchor, configs, config_flag is not None)
        self.model.components[KUBELET] = component
        kubeconfig = flags.get("kubeconfig")
        self.add_file("kubelet-kubeconfig", self.path(str(kubeconfig.value) if kubeconfig else self.profile.kubelet_kubeconfig))
        client_ca = component.config["authentication.x509.clientCAFile"].value
        if client_ca:
            self.add_file("client-ca", self.path(str(client_ca)))

    # configuration files named by the API server ------------------------------------------

    def apiserver_files(self) -> None:
        apiserver = self.model.component(APISERVER)
        if apiserver is None:
            return
        for flag, kind, role in (("encryption-provider-config", "EncryptionConfiguration", "encryption-config"),
                                 ("audit-policy-file", "Policy", None)):
            setting = apiserver.flag(flag)
            if setting is None or not str(setting.value).strip():
                continue
            file = self.path(apiserver.host_path(str(setting.value)))
            if not self.is_file(file):
                self.error(file_of(setting.anchor), f"kube-apiserver --{flag}={setting.value}: {file} does not exist "
                           "(the API server would not start)", line_of(setting.anchor))
                continue
            if role:
                self.add_file(role, file)
            found = self.load(file, kind)
            if found:
                document = ConfigDocument(found[0].obj, found[0], Anchor(found[0], ()))
                if kind == "Policy":
                    self.model.audit_policy = document
                else:
                    self.model.encryption = document

    def node_files(self) -> None:
        profile = self.profile
        for name in profile.admin_kubeconfigs:
            self.add_file("admin-kubeconfig", self.path(name))
        for name in profile.component_kubeconfigs:
            self.add_file("component-kubeconfig", self.path(name))
        for name in profile.proxy_kubeconfigs:
            self.add_file("proxy-kubeconfig", self.path(name))
        for file in self.entries(self.path(profile.cni_dir)):
            if self.is_file(file):
                self.add_file("cni", file)
        etcd = self.model.component(ETCD)
        data_dir = etcd.flag("data-dir") if etcd else None
        if data_dir is not None:
            self.add_file("etcd-data", self.path(etcd.host_path(str(data_dir.value))))
        elif etcd is not None:
            self.add_file("etcd-data", self.path(profile.etcd_data_dir))
        for pki in profile.pki_dirs:
            folder = self.path(pki)
            if not self.is_dir(folder):
                continue
            # os.walk does not descend into directory symlinks; file symlinks are checked by add_file
            for directory, subdirs, files in os.walk(folder):
                subdirs.sort()
                self.add_file("pki-dir", Path(directory))
                for name in sorted(files):
                    role = "pki-key" if name.endswith((".key", "-key.pem")) else "pki-cert" if name.endswith(
                        (".crt", ".pem", ".pub")) else None
                    if role:
                        self.add_file(role, Path(directory) / name)


def collect(root: str = "/", profile: str = "kubeadm") -> NodeModel:
    collector = Collector(root, PROFILES[profile])
    if not os.path.isdir(root):
        collector.error(root, "root directory does not exist")
        return collector.model
    collector.static_pods()
    running_kubelet = None
    for name, tokens in collector.processes():
        if name == KUBELET:
            running_kubelet = tokens
            continue
        if name in (APISERVER, ETCD) or name.startswith("kube-"):
            earlier = collector.model.components.get(name)
            anchor = tokens[0][1] if tokens else Anchor()
            component = component_from_tokens(name, tokens, anchor, collector.model.notes)
            if earlier is not None:  # the process runs what the manifest says, mounts included
                component.host_paths = earlier.host_paths
            collector.model.components[name] = component
    collector.kubelet(running_kubelet)
    collector.apiserver_files()
    collector.node_files()
    return collector.model
