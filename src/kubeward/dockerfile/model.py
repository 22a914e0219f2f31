"""A Dockerfile as the checks see it: stages, each with its base image and instructions, parsed by
BuildKit's own parser (the `dockerfile` package wraps moby/buildkit's Go parser), plus the
workloads that run the image it builds when a build definition (skaffold, compose) names it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubeward.images.refs import ImageRef, parse_ref
from kubeward.model.resource import Path, Resource

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True)
class Instruction:
    cmd: str  # upper case: FROM, RUN, ENV ...
    value: tuple[str, ...]
    flags: tuple[str, ...]
    line: int
    original: str
    json: bool = False
    heredocs: tuple[str, ...] = ()  # heredoc bodies (RUN <<EOF ... EOF)

    def flag(self, name: str) -> str | None:
        for flag in self.flags:
            key, _, value = flag.partition("=")
            if key.lstrip("-").lower() == name:
                return value
        return None


@dataclass
class Stage:
    index: int
    base: str  # as written after FROM (variables resolved when their default is known)
    base_line: int
    alias: str | None
    instructions: list[Instruction] = field(default_factory=list)
    parent: Stage | None = None  # FROM an earlier stage of this file
    unresolved: bool = False  # the base names a build argument without a default

    @property
    def base_ref(self) -> ImageRef | None:
        return None if self.parent is not None or self.unresolved else parse_ref(self.base)


@dataclass
class Runner:
    """A workload container that runs the image this Dockerfile builds."""

    resource: Resource
    path: Path  # of the container's image field
    image: str


@dataclass
class Dockerfile:
    path: str
    stages: list[Stage]
    global_args: dict[str, str | None]  # ARGs before the first FROM
    images: list[str] = field(default_factory=list)  # images a build definition says it builds
    runners: list[Runner] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.path

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def chain(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it is built FROM, nearest first."""
        out = []
        current: Stage | None = stage
        while current is not None and current not in out:
            out.append(current)
            current = current.parent
        return out


class DockerfileError(ValueError):
    """A Dockerfile the parser refuses; the message says where."""


def _substitute(text: str, values: dict[str, str | None]) -> tuple[str, bool]:
    """Replace $VAR / ${VAR} by the known defaults; (text, whether every variable was known)."""
    known = True

    def replace(match: re.Match) -> str:
        nonlocal known
        name = match.group(1) or match.group(2)
        value = values.get(name)
        if value is None:
            known = False
            return match.group(0)
        return value

    return _VARIABLE.sub(replace, text), known


def unquote(value: str) -> str:
    """A shell word as the Dockerfile's ENV/ARG would store it: outer quotes removed."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner
    return value


def parse(text: str, path: str) -> Dockerfile:
    # BuildKit's parser is Go (cgo): its runtime starts threads and reserves address space, so it
    # is loaded only when a scan holds a Dockerfile.
    import dockerfile as buildkit

    try:
        commands = buildkit.parse_string(text)
    except buildkit.GoParseError as exc:
        raise DockerfileError(f"invalid Dockerfile: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:  # the wrapper cuts some non-ASCII instructions mid-character
        raise DockerfileError(f"the Dockerfile parser cannot read this file: {type(exc).__name__}") from None
    stages: list[Stage] = []
    global_args: dict[str, str | None] = {}
    by_alias: dict[str, Stage] = {}
    for command in commands:
        instruction = Instruction(command.cmd.upper(), tuple(command.value), tuple(command.flags), command.start_line,
                                  command.original, command.json, tuple(h.content for h in command.heredocs))
        if instruction.cmd == "FROM":
            words = [w for w in instruction.value if w]
            if not words:
                raise DockerfileError(f"line {instruction.line}: FROM names no image")
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            base, known = _substitute(words[0], global_args)
            parent = by_alias.get(base.lower())
            # a stage index is ASCII digits ("²" is a digit to str.isdigit, and a name here)
            if parent is None and base.isascii() and base.isdigit() and int(base) < len(stages):
                parent = stages[int(base)]
            stage = Stage(len(stages), base, instruction.line, alias, [instruction], parent, not known)
            stages.append(stage)
            if alias:
                by_alias[alias.lower()] = stage
        elif not stages:
            if instruction.cmd == "ARG":
                for word in instruction.value:
                    name, eq, default = word.partition("=")
                    global_args[name] = unquote(default) if eq else None
            # a parser directive or comment-only file is fine; other instructions before FROM are not
            elif instruction.cmd not in ("ARG",):
                raise DockerfileError(f"line {instruction.line}: {instruction.cmd} before the first FROM")
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(path, stages, global_args)


def pairs(instruction: Instruction) -> list[tuple[str, str | None, int]]:
    """ENV / ARG (name, value or None, position) pairs: `ENV A=1 B=2`, `ENV A 1`, `ARG A`, `ARG A=1`."""
    value = instruction.value
    out: list[tuple[str, str | None, int]] = []
    if instruction.cmd == "ENV":
        for i in range(0, len(value) - 1, 2):
            out.append((value[i], unquote(value[i + 1]), i))
    elif instruction.cmd == "ARG":
        for i, word in enumerate(value):
            name, eq, default = word.partition("=")
            out.append((name, unquote(default) if eq else None, i))
    return out
