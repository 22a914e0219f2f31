"""Dockerfile checks (KW-DF): root user, floating and unpinned bases, ADD from a URL, secrets in
ENV/ARG, remote scripts piped to a shell, missing HEALTHCHECK. Each finding points at the file
and line, and names the workloads that run the image when a build definition says which it is."""

from __future__ import annotations

import re
from typing import Iterator

from kubeward.dockerfile.model import Dockerfile, Instruction, Stage, pairs
from kubeward.rules import Target, rule
from kubeward.rules.model import Hit, Location, Related, Severity
from kubeward.workload.credentials import FORMAT_LABELS, KNOWN_FORMATS, is_credential_name, is_literal_credential, mask

DOMAIN = "dockerfile"
CIS_IMAGES = "Docker 4.1"  # CIS Docker Benchmark 4.1: a user for the container
NSA_IMAGES = "NSA/CISA Kubernetes Hardening Guide: build secure container images (non-root, minimal, scanned)"

_SHELL = r"(?:sudo\s+(?:-\S+\s+)*)?(?:/usr)?(?:/bin/)?(?:ba|z|da|k|a)?sh\b"
PIPE_TO_SHELL = re.compile(r"\b(?:curl|wget)\b[^|;&\n]*\|\s*" + _SHELL)
SUBSHELL_FETCH = re.compile(r"\b(?:ba|z|da|k|a)?sh\s+(?:-\w+\s+)*[\"']?(?:\$\(|`|<\()\s*(?:curl|wget)\b")
ROOT_USERS = frozenset({"root", "0"})


def _hit(dockerfile: Dockerfile, line: int, message: str, severity: Severity | None = None,
         extra: dict | None = None, key: str = "") -> Hit:
    related = tuple(Related(f"runs {runner.image}, built from {dockerfile.path}", runner.resource, runner.path)
                    for runner in dockerfile.runners[:5])
    details = dict(extra or {})
    if dockerfile.images:
        details["builds"] = dockerfile.images
        details["workloads"] = sorted({r.resource.display() for r in dockerfile.runners})
    if dockerfile.runners:
        names = sorted({r.resource.display() for r in dockerfile.runners})
        message += f" (the image runs in {', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
    return Hit(None, (), message, severity, Location(dockerfile.path, line), details or None, related=related,
               key=key or str(line))


def _last(stages: list[Stage], cmd: str) -> tuple[Stage, Instruction] | None:
    """The last `cmd` instruction along a stage chain (the stage first, then what it is built FROM)."""
    for stage in stages:
        for instruction in reversed(stage.instructions):
            if instruction.cmd == cmd:
                return stage, instruction
    return None


@rule(
    "KW-DF-001", "high", "Image runs as root", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="A process that runs as root in the container is root on the host's kernel: one container "
              "escape or writable host mount away from the node, and free to change the image's own files.",
    fix="Create an unprivileged user and switch to it in the final stage (numeric ids let Kubernetes verify "
        "runAsNonRoot).",
    example="RUN useradd --uid 10001 --no-create-home app\nUSER 10001:10001",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1611", "T1068"),
)
def runs_as_root(dockerfile: Dockerfile) -> Iterator[Hit]:
    final = dockerfile.final
    if final is None:
        return
    found = _last(dockerfile.chain(final), "USER")
    if found is None:
        yield _hit(dockerfile, final.base_line,
                   f"the final stage (FROM {final.base}) sets no USER: the image runs as its base image's user, "
                   "root unless the base sets another", Severity.MEDIUM)
        return
    _stage, instruction = found
    user = (instruction.value[0] if instruction.value else "").split(":", 1)[0]
    if user in ROOT_USERS:
        yield _hit(dockerfile, instruction.line, f"the final stage runs as root ({instruction.original.strip()})")


def _external_bases(dockerfile: Dockerfile) -> Iterator[Stage]:
    for stage in dockerfile.stages:
        if stage.parent is None and not stage.unresolved and stage.base.lower() != "scratch":
            yield stage


@rule(
    "KW-DF-002", "medium", "Base image with latest or no tag", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="FROM without a tag (or with latest) builds on whatever the registry serves that day: builds "
              "are not reproducible, and whoever can push that tag decides what your image contains.",
    fix="Name a fixed version of the base image, ideally pinned by digest.",
    example="FROM python:3.12.3-slim@sha256:<digest>",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1195.002", "T1525"),
)
def floating_base(dockerfile: Dockerfile) -> Iterator[Hit]:
    for stage in _external_bases(dockerfile):
        ref = stage.base_ref
        if ref is None:
            yield _hit(dockerfile, stage.base_line, f"FROM {stage.base} is not a valid image reference", key=stage.base)
        elif ref.digest is None and ref.tag in (None, "latest"):
            what = "no tag (latest)" if ref.tag is None else "the tag latest"
            yield _hit(dockerfile, stage.base_line, f"FROM {stage.base} uses {what}", key=stage.base)


@rule(
    "KW-DF-003", "low", "Base image not pinned by digest", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="A tag can be re-pushed: a compromised registry account or upstream build replaces the base "
              "of your next build without any change to this file.",
    fix="Pin the base by digest (keep the tag for readers); let a bot such as Renovate update the digest.",
    example="FROM python:3.12.3-slim@sha256:<digest>",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1195.002",),
)
def unpinned_base(dockerfile: Dockerfile) -> Iterator[Hit]:
    for stage in _external_bases(dockerfile):
        ref = stage.base_ref
        if ref is not None and ref.digest is None and ref.tag not in (None, "latest"):
            yield _hit(dockerfile, stage.base_line, f"FROM {stage.base} is not pinned by digest", key=stage.base)


@rule(
    "KW-DF-004", "medium", "ADD fetches a URL without a checksum", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="ADD downloads at build time and trusts whatever the server (or anyone in the path) returns: "
              "the file enters the image unverified.",
    fix="Download with a pinned checksum (ADD --checksum=sha256:... URL), or fetch in a RUN step that verifies "
        "a signature or hash; prefer COPY for local files.",
    example="ADD --checksum=sha256:<sha256 of the file> https://example.com/tool.tar.gz /tmp/",
    cis=("Docker 4.9",), nsa=(NSA_IMAGES,), mitre=("T1195.002", "T1105"),
)
def add_from_url(dockerfile: Dockerfile) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd != "ADD" or instruction.flag("checksum"):
                continue
            for source in instruction.value[:-1]:
                if source.lower().startswith(("http://", "https://", "git@", "git://")):
                    yield _hit(dockerfile, instruction.line, f"ADD fetches {source} without --checksum", key=f"{instruction.line}|{source}")


def _known_format(value: str) -> str | None:
    for name, literals, pattern in KNOWN_FORMATS:
        if any(literal in value for literal in literals) and pattern.search(value):
            return FORMAT_LABELS[name]
    return None


@rule(
    "KW-DF-005", "high", "Secret in ENV or ARG", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="ENV values are stored in the image configuration and ARG values in its build history: anyone "
              "who can pull the image (a registry, a node, a leaked tarball) reads them with docker inspect "
              "or docker history.",
    fix="Pass build secrets with RUN --mount=type=secret and runtime secrets through a Kubernetes Secret "
        "mounted as a file; never bake them into ENV or ARG.",
    example="RUN --mount=type=secret,id=npm_token NPM_TOKEN=$(cat /run/secrets/npm_token) npm ci",
    cis=("Docker 4.10",), nsa=(NSA_IMAGES,), mitre=("T1552.001", "T1552.007"),
)
def secret_in_env_or_arg(dockerfile: Dockerfile) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd not in ("ENV", "ARG"):
                continue
            for name, value, _position in pairs(instruction):
                where = f"{instruction.cmd} {name}"
                key = f"{instruction.line}|{name}"
                label = _known_format(value) if value else None
                if label and value:
                    yield _hit(dockerfile, instruction.line, f"{where} holds {label} ({mask(value)})", key=key)
                elif not is_credential_name(name):
                    continue
                elif value is not None and is_literal_credential(value):
                    yield _hit(dockerfile, instruction.line, f"{where} holds a literal credential ({mask(value)})", key=key)
                elif value is not None and value.startswith("$") and instruction.cmd == "ENV":
                    yield _hit(dockerfile, instruction.line, f"{where} copies {value} into the image's environment, "
                               "where it stays in the image configuration", Severity.MEDIUM, key=key)
                elif value is None and instruction.cmd == "ARG":
                    yield _hit(dockerfile, instruction.line, f"{where} takes a credential as a build argument: the value "
                               "given with --build-arg is recorded in the history of every RUN that uses it",
                               Severity.MEDIUM, key=key)


def _command_text(instruction: Instruction) -> str:
    return " ".join((*instruction.value, *instruction.heredocs))


@rule(
    "KW-DF-006", "high", "Remote script piped to a shell", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="curl | sh runs whatever the server returns at build time, unverified: a compromised host, "
              "DNS or proxy puts its code into the image, and the build cannot be reproduced.",
    fix="Download to a file, verify its checksum or signature, then run it; or install from a package "
        "repository that signs its packages.",
    example="RUN curl -fsSLo install.sh https://example.com/install.sh \\\n"
            "    && echo '<sha256>  install.sh' | sha256sum -c - && sh install.sh",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1195.002", "T1059.004"),
)
def curl_pipe_shell(dockerfile: Dockerfile) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd != "RUN":
                continue
            text = _command_text(instruction)
            found = PIPE_TO_SHELL.search(text) or SUBSHELL_FETCH.search(text)
            if found:
                yield _hit(dockerfile, instruction.line, f"RUN pipes a download into a shell: {found.group(0)[:120]!r}")


@rule(
    "KW-DF-007", "info", "No HEALTHCHECK", target=Target.DOCKERFILE, domain=DOMAIN,
    rationale="Without a health check Docker and Compose cannot tell a hung process from a healthy one. "
              "Kubernetes ignores HEALTHCHECK: there, liveness and readiness probes do this job.",
    fix="Add a HEALTHCHECK for runtimes that use it, and liveness/readiness probes in the Kubernetes manifest.",
    example="HEALTHCHECK --interval=30s --timeout=3s CMD [\"/app/healthcheck\"]",
    cis=("Docker 4.6",), nsa=(NSA_IMAGES,), mitre=("T1499",),
)
def no_healthcheck(dockerfile: Dockerfile) -> Iterator[Hit]:
    final = dockerfile.final
    if final is None:
        return
    found = _last(dockerfile.chain(final), "HEALTHCHECK")
    if found is None:
        yield _hit(dockerfile, final.base_line, "the final stage defines no HEALTHCHECK")
    elif [v.upper() for v in found[1].value[:1]] == ["NONE"]:
        yield _hit(dockerfile, found[1].line, "HEALTHCHECK NONE turns the health check off")
