"""Version masking in pyproject.toml data: the project's own packages change version at every release, and
so do the pins between them (`proj-core==1.2.3` in a workspace released in lockstep, or a range that moves
with it, `acme-prebuilt>=1.1.0,<1.2.0`). Neither changes a third-party package: uv.lock keeps no specifier for
a local package, so no specifier on one can change what `uv sync --frozen` installs. Both are masked to one
fixed version before anything is hashed. (uv.lock's own version lines are masked in project/lockfile.py.)
"""

from __future__ import annotations

import re

from depimage import MASKED_VERSION
from depimage.project.names import normalize_name

# name, optional extras, then the specifiers up to a marker; a direct reference (`name @ url`) has no pin
_REQUIREMENT = re.compile(r"^(?P<head>\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?)"
                          r"(?P<spec>[^;@]*)(?P<rest>(?:;.*)?)$", re.S)
_SPECIFIER = re.compile(r"^(?P<lead>\s*)(?P<body>.*?)(?P<trail>\s*)$", re.S)


def mask_pin(requirement: str, local: set[str]) -> str:
    """`core==1.2.3 ; marker` or `core>=1.2,<1.3 ; marker` -> `core==0.0.0 ; marker` when core is one of the
    project's own packages; a requirement without a specifier, or on a third-party package, as it is."""
    found = _REQUIREMENT.match(requirement)
    if not found or normalize_name(found["name"]) not in local or not found["spec"].strip():
        return requirement
    spec = _SPECIFIER.match(found["spec"])
    return f"{found['head']}{spec['lead']}=={MASKED_VERSION}{spec['trail']}{found['rest']}"


def mask_requirements(data: dict, local: set[str]) -> dict:
    """A reduced pyproject with the specifiers on local packages masked, wherever requirements are listed."""
    def each(reqs: list) -> list:
        return [mask_pin(r, local) if isinstance(r, str) else r for r in reqs]

    out = dict(data)
    project = out.get("project")
    if isinstance(project, dict):
        project = dict(project)
        if isinstance(project.get("dependencies"), list):
            project["dependencies"] = each(project["dependencies"])
        if isinstance(project.get("optional-dependencies"), dict):
            project["optional-dependencies"] = {k: each(v) for k, v in project["optional-dependencies"].items()}
        if "version" in project:
            project["version"] = MASKED_VERSION
        out["project"] = project
    if isinstance(out.get("dependency-groups"), dict):
        out["dependency-groups"] = {k: each(v) if isinstance(v, list) else v
                                    for k, v in out["dependency-groups"].items()}
    uv = out.get("tool", {}).get("uv")
    if isinstance(uv, dict) and isinstance(uv.get("dev-dependencies"), list):
        out["tool"] = {**out["tool"], "uv": {**uv, "dev-dependencies": each(uv["dev-dependencies"])}}
    return out
