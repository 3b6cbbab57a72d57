"""What every use case takes from a door: the image options as the user chose them, how to reach the
registry, the secrets, and the environment the door read. The core never reads os.environ itself."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from depimage.fingerprint.options import ImageOptions, default_base_image, installed_uv_version
from depimage.layout import LAYER_STORE_AUTO
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
    """What the user chose about the image: the options (an empty base image or uv version gets the documented
    default) and the secrets, whose ids alone go into the options."""

    options: ImageOptions = ImageOptions()
    secrets: tuple[Secret, ...] = ()


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach the registry. Without a username, what `docker login` stored in docker_config is used."""

    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False
    docker_config: Path | None = None  # the folder of config.json: $DOCKER_CONFIG or ~/.docker, as the door reads it
    layer_store: str = LAYER_STORE_AUTO  # where package layers are shared between repositories (image/store.py); "off"

    def credentials(self, image: ImageName) -> Credentials | None:
        return resolve(self.username, self.password, image, self.docker_config)

    def credentials_beside(self, image: ImageName, target: ImageName) -> Credentials | None:
        """For an image read beside `target` (a base, a dependency image): these credentials on target's
        registry, else what `docker login` stored for image's."""
        if image.host == target.host:
            return self.credentials(target)
        return RegistryAccess(docker_config=self.docker_config).credentials(image)


@dataclass(frozen=True)
class Host:
    """The machine as the door found it: the environment handed to the tools depimage runs (uv, docker), and
    the source and revision labels from the CI's variables (empty: asked of git)."""

    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    source: str = ""
    revision: str = ""
    build_network: str = ""  # the default network of RUN steps when the request names none
    cache_dir: Path | None = None  # where facts worth keeping between runs go (a base image's Python, by digest)


def image_options(request: ImageRequest, project_root: Path, requires_python: str | None,
                  package: str | None = None) -> ImageOptions:
    """ImageOptions with the documented defaults filled in; `package` selects a member when none is given."""
    chosen = request.options
    return dataclasses.replace(
        chosen, base_image=chosen.base_image or default_base_image(project_root, requires_python),
        uv_version=chosen.uv_version or installed_uv_version(), package=chosen.package or package or None,
        secret_ids=tuple(s.id for s in request.secrets))


def source_labels(project_root: Path, host: Host) -> dict[str, str]:
    """OCI source and revision: as the door found them (the CI's variables), else from git; credentials in
    URLs removed."""
    source, revision = host.source, host.revision
    if not source or not revision:
        def git(*args: str) -> str:
            try:
                proc = subprocess.run(["git", "-C", str(project_root), *args], capture_output=True, text=True,
                                      timeout=10)
            except (OSError, subprocess.SubprocessError):
                return ""
            return proc.stdout.strip() if proc.returncode == 0 else ""
        source = source or git("config", "--get", "remote.origin.url")
        revision = revision or git("rev-parse", "HEAD")
    source = re.sub(r"^(\w+://)[^/@]*@", r"\1", source)  # https://user:token@host/... -> https://host/...
    return {"DEPIMAGE_SOURCE": source, "DEPIMAGE_REVISION": revision}
