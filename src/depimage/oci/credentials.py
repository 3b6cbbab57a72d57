"""Registry credentials: given by the user, or what `docker login` stored (config.json, a credential helper).
The docker config folder is named by the door (it reads DOCKER_CONFIG); nothing here reads the environment."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from depimage.errors import InputError
from depimage.oci.reference import ImageName


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


def basic_auth(credentials: Credentials) -> str:
    """base64 of user:password: the Basic scheme, and the `auth` of a docker config.json."""
    return base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()


def resolve(username: str, password: str, image: ImageName, docker_config: Path | None) -> Credentials | None:
    """Explicit credentials, else what `docker login` stored for the registry (in docker_config, if named)."""
    if username:
        if not password:
            raise InputError(f"registry username {username!r} given without a password",
                             hint="give the password too, never on a command line")
        return Credentials(username, password)
    if password:
        raise InputError("a registry password was given without a registry username")
    return docker_config_credentials(image, docker_config) if docker_config else None


def docker_config_credentials(image: ImageName, config_dir: Path) -> Credentials | None:
    """What `docker login` stored for this registry (config.json auths, or a credential helper)."""
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    key = image.auth_host
    helper = config.get("credHelpers", {}).get(key) or config.get("credsStore")
    if helper:
        try:
            out = subprocess.run([f"docker-credential-{helper}", "get"], input=key, capture_output=True,
                                 text=True, timeout=20, check=True).stdout
            data = json.loads(out)
            return Credentials(data["Username"], data["Secret"])
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass
    entry = config.get("auths", {}).get(key) or config.get("auths", {}).get(f"https://{key}")
    if entry and entry.get("auth"):
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        return Credentials(user, password)
    return None


def write_docker_config(folder: Path, image: ImageName, credentials: Credentials, original: Path | None) -> Path:
    """A private docker config folder holding just these credentials, for the builder's push: the user's own
    config is neither read for secrets nor written to. Plugins and builder settings are linked in, so buildx
    works."""
    folder.mkdir(mode=0o700)
    fd = os.open(folder / "config.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"auths": {image.auth_host: {"auth": basic_auth(credentials)}}}, fh)
    for name in ("cli-plugins", "buildx", "contexts"):
        if original and (original / name).exists():
            (folder / name).symlink_to(original / name)
    return folder
