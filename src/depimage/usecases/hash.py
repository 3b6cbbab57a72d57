"""hash: the dependency-only hash of a project, as `uv sync` in its folder would install it."""

from __future__ import annotations

from dataclasses import dataclass

from depimage.fingerprint.pipeline import Fingerprint, fingerprint
from depimage.project.reader import open_project
from depimage.usecases.common import Host, ImageRequest, image_options


@dataclass(frozen=True)
class HashRequest:
    project_dir: str
    image: ImageRequest = ImageRequest()
    context: str | None = None


def hash_project(request: HashRequest, host: Host) -> Fingerprint:
    """Read the project, reduce it to its recipe, ask uv what gets installed, and hash. In a workspace
    member's folder the member is selected, as `uv sync` there selects it."""
    project, member = open_project(request.project_dir, request.context)
    requires_python = project.pyprojects[0].data.get("project", {}).get("requires-python")
    options = image_options(request.image, project.root, requires_python, package=member)
    return fingerprint(project, options, host.env)
