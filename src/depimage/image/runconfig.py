"""What users otherwise write in the last lines of a Dockerfile: command, entrypoint, working folder, user,
environment, exposed ports, labels, and files to include beyond the package. From the project's
`[tool.depimage.app]` table, with command-line options (or action inputs) on top:

    [tool.depimage.app]
    command = ["api", "--port", "8000"]   # or a string, split as a shell would; default: the project's
    entrypoint = []                       #   console script when it has exactly one
    workdir = "/app"
    user = "1000:1000"
    env = { LOG_LEVEL = "info" }
    ports = [8000]                        # or "8000/tcp", "53/udp"
    labels = { "org.opencontainers.image.title" = "api" }
    include = ["config/*.yaml"]           # .dockerignore syntax, relative to the project, copied under /app
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace

from depimage.errors import InputError, line_of
from depimage.project.reader import Pyproject

KEYS = {"command", "entrypoint", "workdir", "user", "env", "ports", "labels", "include"}


@dataclass(frozen=True)
class Runtime:
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    workdir: str | None = None
    user: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    include: tuple[str, ...] = field(default=())

    def merged(self, over: "Runtime") -> "Runtime":
        """self, with what `over` sets on top (lists and tables add up, key by key)."""
        return replace(self, command=over.command if over.command is not None else self.command,
                       entrypoint=over.entrypoint if over.entrypoint is not None else self.entrypoint,
                       workdir=over.workdir or self.workdir, user=over.user or self.user,
                       env=tuple({**dict(self.env), **dict(over.env)}.items()),
                       ports=tuple(dict.fromkeys(self.ports + over.ports)),
                       labels=tuple({**dict(self.labels), **dict(over.labels)}.items()),
                       include=tuple(dict.fromkeys(self.include + over.include)))

    def apply(self, config: dict, default_command: list[str] | None) -> dict:
        """An image config's `config` section with these settings applied over the dependency image's."""
        out = dict(config)
        command = list(self.command) if self.command is not None else default_command
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint) or None
        if command is not None:
            out["Cmd"] = command
        if self.workdir:
            out["WorkingDir"] = self.workdir
        if self.user:
            out["User"] = self.user
        if self.env:
            env = dict(item.split("=", 1) for item in out.get("Env") or [] if "=" in item)
            env.update(dict(self.env))
            out["Env"] = [f"{k}={v}" for k, v in env.items()]
        if self.ports:
            out["ExposedPorts"] = {**(out.get("ExposedPorts") or {}), **{p: {} for p in self.ports}}
        if self.labels:
            out["Labels"] = {**(out.get("Labels") or {}), **dict(self.labels)}
        return {k: v for k, v in out.items() if v is not None}


def port(value: object) -> str:
    text = str(value).strip()
    number, _, proto = text.partition("/")
    if not number.isdigit() or not 0 < int(number) < 65536 or proto not in ("", "tcp", "udp", "sctp"):
        raise InputError(f"{text!r} is not a port", hint="write 8000, 8000/tcp or 53/udp")
    return f"{number}/{proto or 'tcp'}"


def words(value: object, what: str) -> tuple[str, ...]:
    """A command as a list, or a string split as a shell would (into exec form)."""
    if isinstance(value, str):
        return tuple(shlex.split(value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"{what} must be a list of strings or a string")


def from_pyproject(pp: Pyproject) -> Runtime:
    """[tool.depimage.app] of the workspace root (or project); errors name the file and the line."""
    table = pp.data.get("tool", {}).get("depimage", {}).get("app", {})
    line = line_of(pp.text, "[tool.depimage.app]")
    try:
        unknown = set(table) - KEYS
        if unknown:
            raise InputError(f"[tool.depimage.app] has unknown key(s) {', '.join(sorted(unknown))}",
                             hint=f"known keys: {', '.join(sorted(KEYS))}")
        return Runtime(
            command=words(table["command"], "command") if "command" in table else None,
            entrypoint=words(table["entrypoint"], "entrypoint") if "entrypoint" in table else None,
            workdir=table.get("workdir"), user=str(table["user"]) if "user" in table else None,
            env=tuple((str(k), str(v)) for k, v in table.get("env", {}).items()),
            ports=tuple(port(p) for p in table.get("ports", [])),
            labels=tuple((str(k), str(v)) for k, v in table.get("labels", {}).items()),
            include=tuple(table.get("include", [])))
    except InputError as exc:
        raise InputError(f"[tool.depimage.app]: {exc.message}", file=pp.path, line=line, hint=exc.hint) from None
    except (AttributeError, TypeError) as exc:
        raise InputError(f"[tool.depimage.app] is not in the expected form: {exc}", file=pp.path, line=line,
                         hint="see `depimage app --help` for the keys and their types") from None
