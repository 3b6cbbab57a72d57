"""Image names and references as the OCI distribution spec writes them: REGISTRY/NAME, a tag, a digest.
Checked here, before anything is sent, so that a bad tag is bad input (exit 2) and not a registry's 404."""

from __future__ import annotations

import re
from dataclasses import dataclass

from depimage.errors import InputError, opt

DOCKER_HUB = "registry-1.docker.io"
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
# The OCI distribution spec's grammar of a reference: a tag, or a digest (algorithm:encoded; sha256 is 64 hex).
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class ImageName:
    """REGISTRY/NAME as the user wrote it, and where its API lives."""

    name: str  # as docker takes it, without tag: ghcr.io/acme/api, localhost:5000/api, acme/api
    host: str  # API host: ghcr.io, registry-1.docker.io, 127.0.0.1:5000
    repository: str  # path on that host: acme/api, library/python

    def ref(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    @property
    def auth_host(self) -> str:
        """The key docker's config.json files credentials under."""
        return "https://index.docker.io/v1/" if self.host == DOCKER_HUB else self.host


def parse_image_name(value: str, field: str = "image") -> ImageName:
    """Split REGISTRY/NAME; names without a registry part are Docker Hub's, single ones under library/."""
    if "@" in value or re.search(r":[^/]*$", value.split("/", 1)[-1] if "/" in value else value):
        raise InputError(f"{opt(field)} {value!r} has a tag or digest",
                         hint="give REGISTRY/NAME only; depimage picks the tag")
    first, _, rest = value.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, rest
    else:
        host, repo = DOCKER_HUB, value
        if value.startswith("docker.io/"):
            repo = value[len("docker.io/"):]
        if "/" not in repo:
            repo = f"library/{repo}"
    if host in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
    if not _REPO.match(repo):
        raise InputError(f"{opt(field)} {value!r}: {repo!r} is not a valid repository name",
                         hint="lowercase letters, digits, and . _ - separators, e.g. ghcr.io/acme/api")
    return ImageName(name=value, host=host, repository=repo)


def is_digest(reference: str) -> bool:
    return ":" in reference


def check_reference(reference: str, field: str = "tag", within: str = "") -> str:
    """A tag or digest as the OCI distribution spec allows it, else an InputError (before anything is sent).
    field: the option it came from (errors.opt); within: what it was part of, for the message."""
    if is_digest(reference):
        if _DIGEST.match(reference) and (not reference.startswith("sha256:") or _SHA256.match(reference)):
            return reference
        raise InputError(f"{opt(field)} {within}{reference!r} is not a valid digest",
                         hint="write sha256: and 64 lowercase hex digits")
    return check_tag(reference, field, within)


def check_tag(reference: str, field: str = "tag", within: str = "") -> str:
    """A tag is 1 to 128 of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`."""
    if not _TAG.match(reference):
        raise InputError(f"{opt(field)} {within}{reference!r} is not a valid tag",
                         hint="a tag is 1 to 128 letters, digits, _ . and -, and does not start with . or - "
                              "(e.g. 1.4.0, or the commit)")
    return reference


def without_tag(ref: str) -> str:
    """REGISTRY/NAME of REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:... (a port's colon is not a tag's)."""
    ref = ref.partition("@")[0]
    colon = ref.rfind(":")
    return ref[:colon] if colon > ref.rfind("/") else ref


def parse_image_ref(value: str, field: str, default_tag: str | None = None) -> tuple[ImageName, str]:
    """REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:... as (name, tag or digest); without either, default_tag
    (a base image: `latest`, as docker reads it) or an InputError."""
    if "@" in value:
        name, _, reference = value.partition("@")
    else:
        slash = value.rfind("/")
        colon = value.rfind(":")
        if colon > slash:
            name, reference = value[:colon], value[colon + 1:]
        elif default_tag is not None:
            name, reference = value, default_tag
        else:
            raise InputError(f"{opt(field)} {value!r} names no tag or digest",
                             hint="give REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:...")
    return parse_image_name(name, field), check_reference(reference, field, within=f"{value!r}: ")
