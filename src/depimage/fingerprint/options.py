"""The options that shape the dependency image besides the recipe: base image, uv, `uv sync` flags,
platforms, build args, secret ids. All of them go into the hash; none of them may hold a secret value."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from depimage.errors import InputError, opt
from depimage.project.reader import python_versions

DEFAULT_PYTHON = "3.12"
BUILDERS = ("auto", "docker")
BASE_DIGEST = ("follow", "pin")
UV_IMAGE = "ghcr.io/astral-sh/uv:{version}"
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")  # the image spec's os/architecture[/variant]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ImageOptions:
    """Everything besides the recipe that decides what the dependency image contains."""

    base_image: str = ""  # empty in a request: the use case fills in the default
    uv_version: str = ""
    uv_image: str = ""  # where the uv binary is copied from; default ghcr.io/astral-sh/uv:<uv_version>
    no_dev: bool = False
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    all_groups: bool = False
    no_default_groups: bool = False
    package: str | None = None
    platforms: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    secret_ids: tuple[str, ...] = field(default=())
    builder: str = "auto"  # auto: assembled from wheels on the registry where uv can; docker: always the builder
    base_digest: str = "follow"  # follow: a new digest of the base tag rebases the image; pin: it keeps its base
    no_compile: bool = False  # leave bytecode out (UV_COMPILE_BYTECODE=0): images then compile at each start

    def __post_init__(self) -> None:
        # Canonical order, so that the same choice written differently hashes the same.
        object.__setattr__(self, "groups", tuple(sorted(set(self.groups))))
        object.__setattr__(self, "extras", tuple(sorted(set(self.extras))))
        object.__setattr__(self, "platforms", tuple(sorted(set(self.platforms))))
        object.__setattr__(self, "build_args", tuple(sorted(dict(self.build_args).items())))
        object.__setattr__(self, "secret_ids", tuple(sorted(set(self.secret_ids))))
        if not self.uv_image and self.uv_version:
            object.__setattr__(self, "uv_image", UV_IMAGE.format(version=self.uv_version))
        for platform in self.platforms:
            if not _PLATFORM.match(platform):
                raise InputError(f"{opt('platforms')} {platform!r} is not OS/ARCH[/VARIANT]",
                                 hint="e.g. linux/amd64, linux/arm64 or linux/arm/v7; several: linux/amd64,linux/arm64")
        if self.base_digest not in BASE_DIGEST:
            raise InputError(f"{opt('base_digest')} is {self.base_digest!r}; it must be one of {', '.join(BASE_DIGEST)}")
        if self.builder not in BUILDERS:
            raise InputError(f"{opt('builder')} is {self.builder!r}; it must be one of {', '.join(BUILDERS)}")
        for name in [k for k, _ in self.build_args] + list(self.secret_ids):
            if not _ENV_NAME.match(name):
                raise InputError(f"{name!r} is not a valid name for a build arg or secret id",
                                 hint="use letters, digits and _ (it becomes an environment variable in the build)")

    def sync_args(self) -> list[str]:
        """The `uv sync` command line of the image."""
        return ["--frozen", "--no-install-local", *self.selection_args()]

    def selection_args(self) -> list[str]:
        """The flags that select what gets installed: the same for `uv sync` and for `uv export`."""
        args: list[str] = []
        if self.no_dev:
            args.append("--no-dev")
        if self.no_default_groups:
            args.append("--no-default-groups")
        if self.all_groups:
            args.append("--all-groups")
        if self.all_extras:
            args.append("--all-extras")
        if self.package:
            args += ["--package", self.package]
        for extra in self.extras:
            args += ["--extra", extra]
        for group in self.groups:
            args += ["--group", group]
        return args

    def as_dict(self) -> dict:
        return asdict(self)


def default_base_image(project_root: Path, requires_python: str | None) -> str:
    """python:X.Y-slim, X.Y from .python-version, else requires-python's lower bound, else 3.12."""
    pin = project_root / ".python-version"
    if pin.is_file():
        found = re.match(r"(?:cpython-)?(3\.\d+)", python_versions(pin.read_bytes()).decode())
        if found:
            return f"python:{found.group(1)}-slim"
    if requires_python:
        found = re.search(r">=\s*(3\.\d+)", requires_python)
        if found:
            return f"python:{found.group(1)}-slim"
    return f"python:{DEFAULT_PYTHON}-slim"


def installed_uv_version() -> str:
    """The default uv of the image: the uv depimage asks what gets installed (see uvcli)."""
    from depimage.project.uv import uv_version

    return uv_version()
