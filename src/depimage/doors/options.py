"""The one table of the options both doors take: what shapes the image (all hashed) and the application image's
runtime settings. The command line's flags and the action's inputs are read through it, and one function each
turns what either door read into the typed request (ImageOptions, Runtime): the doors cannot drift apart."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Mapping

from depimage.doors.inputs import command_words, pairs
from depimage.fingerprint.options import ImageOptions
from depimage.image.runconfig import Runtime, port


@dataclass(frozen=True)
class Option:
    field: str  # of ImageOptions or Runtime, and the name errors.opt gives it
    kind: str  # text, flag, choice, list, pairs, command, ports
    cli: str  # the command line's flag
    input: str  # the action's input
    help: str
    metavar: str = ""
    choices: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """Where argparse keeps it (prefixed: `command` is also the subcommand's)."""
        return f"opt_{self.field}"


IMAGE_OPTIONS = (
    Option("base_image", "text", "--base-image", "base-image",
           "image to install into (default: python:X.Y-slim, X.Y from .python-version, else the lower bound of "
           "requires-python, else 3.12)", "REF"),
    Option("uv_version", "text", "--uv-version", "uv-version", "uv used in the image (default: the uv on PATH)",
           "X.Y.Z"),
    Option("uv_image", "text", "--uv-image", "uv-image",
           "image the uv binary is copied from (default: ghcr.io/astral-sh/uv:<uv-version>)", "REF"),
    Option("no_dev", "flag", "--no-dev", "no-dev", "leave out the dev dependency group"),
    Option("groups", "list", "--group", "groups", "add a dependency group (repeatable)", "NAME"),
    Option("extras", "list", "--extra", "extras", "add an extra (repeatable)", "NAME"),
    Option("all_extras", "flag", "--all-extras", "all-extras", "add every extra"),
    Option("all_groups", "flag", "--all-groups", "all-groups", "add every dependency group"),
    Option("no_default_groups", "flag", "--no-default-groups", "no-default-groups", "leave out the default groups"),
    Option("package", "text", "--package", "package", "install the dependencies of this workspace member only",
           "NAME"),
    Option("platforms", "list", "--platform", "platforms",
           "target platform(s), e.g. linux/amd64,linux/arm64 (repeatable); the layered path makes each from its own "
           "wheels, on any host, without an emulator", "OS/ARCH"),
    Option("builder", "choice", "--builder", "builder",
           "auto (default): assemble the image on the registry from wheels, one layer per heavy package, when every "
           "package has a wheel for the platform, else build it; docker: always build it with docker buildx (the two "
           "never share a tag)", choices=("auto", "docker")),
    Option("base_digest", "choice", "--base-digest", "base-digest",
           "follow (default): when the base image's tag moves to a new digest, ensure rebases the image (a new "
           "manifest over the same dependency layers, no package reinstalled); pin: the image keeps the base it was "
           "made on until a dependency changes", choices=("follow", "pin")),
    Option("no_compile", "flag", "--no-compile", "no-compile",
           "leave bytecode out of the image (each container start then compiles what it imports); by default every "
           "module is compiled for the base image's Python, as UV_COMPILE_BYTECODE=1 does"),
    Option("build_args", "pairs", "--build-arg", "build-args",
           "environment for `uv sync` in the build, e.g. UV_INDEX_STRATEGY=unsafe-best-match (visible in the image "
           "history: never a secret)", "NAME=VALUE"),
)

RUNTIME_OPTIONS = (
    Option("command", "command", "--command", "command",
           "CMD: a JSON list, or words as a shell splits them", "CMD"),
    Option("entrypoint", "command", "--entrypoint", "entrypoint",
           "ENTRYPOINT, likewise ('' or [] clears the base image's)", "CMD"),
    Option("workdir", "text", "--workdir", "workdir", "working folder (default: /app)", "DIR"),
    Option("user", "text", "--user", "user", "user to run as", "USER[:GROUP]"),
    Option("env", "pairs", "--env", "env", "environment (repeatable)", "NAME=VALUE"),
    Option("ports", "ports", "--port", "ports", "exposed port (repeatable)", "PORT[/PROTO]"),
    Option("labels", "pairs", "--label", "labels", "label (repeatable)", "NAME=VALUE"),
    Option("include", "list", "--include", "include",
           "files beyond the package, copied under /app (.dockerignore syntax, repeatable)", "PATTERN"),
)


def add_flags(group: argparse._ActionsContainer, options: tuple[Option, ...]) -> None:
    """The command line's flags for options, each stored under its field's name."""
    for o in options:
        if o.kind == "flag":
            group.add_argument(o.cli, dest=o.dest, action="store_true", help=o.help)
        elif o.kind == "choice":
            group.add_argument(o.cli, dest=o.dest, choices=o.choices, default=o.choices[0], help=o.help)
        elif o.kind in ("list", "pairs", "ports"):
            group.add_argument(o.cli, dest=o.dest, action="append", default=[], metavar=o.metavar, help=o.help)
        else:
            group.add_argument(o.cli, dest=o.dest, metavar=o.metavar, help=o.help)


def from_cli(args: argparse.Namespace, options: tuple[Option, ...]) -> dict[str, object]:
    """What the command line says of each option, typed (a flag not given: None where that means "not set")."""
    return {o.field: _typed(o, getattr(args, o.dest), o.cli) for o in options}


def from_action(get: Callable[[str], str], flag: Callable[[str, bool], bool], listed: Callable[[str], list[str]],
                lines: Callable[[str], list[str]], options: tuple[Option, ...]) -> dict[str, object]:
    """What the action's inputs say of each option, typed as from_cli types the command line's. An input left
    empty is not given (GitHub cannot tell the two apart)."""
    out: dict[str, object] = {}
    for o in options:
        what = f"input {o.input}"
        if o.kind == "flag":
            out[o.field] = flag(o.input, False)
        elif o.kind == "choice":
            out[o.field] = get(o.input) or o.choices[0]
        elif o.kind in ("list", "ports"):
            out[o.field] = _typed(o, listed(o.input), what)
        elif o.kind == "pairs":
            out[o.field] = _typed(o, lines(o.input), what)
        else:
            out[o.field] = _typed(o, get(o.input) or None, what)
    return out


def _typed(o: Option, value: object, what: str) -> object:
    if o.kind == "list":
        return tuple(p.strip() for item in value for p in str(item).split(",") if p.strip())  # type: ignore[union-attr]
    if o.kind == "pairs":
        return pairs(list(value), what)  # type: ignore[arg-type]
    if o.kind == "ports":
        return tuple(port(p) for item in value for p in str(item).split(",") if p.strip())  # type: ignore[union-attr]
    if o.kind == "command":
        return command_words(value, what)  # type: ignore[arg-type]
    return value


def image_options(values: Mapping[str, object]) -> ImageOptions:
    """The image options from either door's values; the use case fills in the defaults."""
    return ImageOptions(**{k: (v if v is not None else ("" if k != "package" else None)) for k, v in values.items()})


def runtime(values: Mapping[str, object]) -> Runtime:
    return Runtime(**{k: v for k, v in values.items()})
