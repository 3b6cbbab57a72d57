"""What every use case takes from a door: the image options as the user chose them, how to reach the
registry, the secrets, and the environment the door read. The core never reads os.environ itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from depimage.image.options import ImageOptions, default_base_image, installed_uv_version
from depimage.oci.credentials import Credentials, resolve
from depimage.oci.reference import ImageName


@dataclass(frozen=True)
class Secret:
    """A value `uv sync` reads as the variable `id` (UV_INDEX_PRIVATE_PASSWORD): the id goes into the hash,
    the value goes only into the one build step that needs it."""

    id: str
    value: str = field(default="", repr=False)


@dataclass(frozen=True)
class ImageRequest:
    """What the user chose about the image. Empty base_image and uv_version get the documented defaults."""

    base_image: str = ""
    uv_version: str = ""
    uv_image: str = ""
    no_dev: bool = False
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    all_groups: bool = False
    no_default_groups: bool = False
    package: str | None = None
    platforms: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    secrets: tuple[Secret, ...] = ()


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach the registry. Without a username, what `docker login` stored in docker_config is used."""

    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False
    docker_config: Path | None = None  # the folder of config.json: $DOCKER_CONFIG or ~/.docker, as the door reads it

    def credentials(self, image: ImageName) -> Credentials | None:
        return resolve(self.username, self.password, image, self.docker_config)


@dataclass(frozen=True)
class Host:
    """The machine as the door found it: the environment handed to the tools depimage runs (uv, docker), and
    the source and revision labels from the CI's variables (empty: asked of git)."""

    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    source: str = ""
    revision: str = ""
    build_network: str = ""  # the default network of RUN steps when the request names none


def image_options(request: ImageRequest, project_root: Path, requires_python: str | None,
                  package: str | None = None) -> ImageOptions:
    """ImageOptions with the documented defaults filled in; `package` selects a member when none is given."""
    return ImageOptions(
        base_image=request.base_image or default_base_image(project_root, requires_python),
        uv_version=request.uv_version or installed_uv_version(), uv_image=request.uv_image,
        no_dev=request.no_dev, groups=request.groups, extras=request.extras, all_extras=request.all_extras,
        all_groups=request.all_groups, no_default_groups=request.no_default_groups,
        package=request.package or package or None, platforms=request.platforms, build_args=request.build_args,
        secret_ids=tuple(s.id for s in request.secrets))
