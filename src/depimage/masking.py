"""Version masking in pyproject.toml data: the project's own packages change version at every release, and
so do the exact pins between them (`proj-core==1.2.3` in a workspace released in lockstep). Neither
changes a third-party package, so both are masked to one fixed version before anything is hashed.
(uv.lock's own version lines are masked in lockfile.py; uv writes no specifier for local packages there.)
"""

from __future__ import annotations

import re

from . import MASKED_VERSION

# name, optional extras, then the specifiers up to a marker; a direct reference (`name @ url`) has no pin
_REQUIREMENT = re.compile(r"^(?P<head>\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?)"
                          r"(?P<spec>[^;@]*)(?P<rest>(?:;.*)?)$", re.S)
_EXACT = re.compile(r"(===?)\s*[^,\s;]+")


def normalize_name(name: str) -> str:
    """PEP 503 normal form: how uv compares package names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def mask_pin(requirement: str, local: set[str]) -> str:
    """`core==1.2.3 ; marker` -> `core==0.0.0 ; marker` when core is one of the project's own packages."""
    found = _REQUIREMENT.match(requirement)
    if not found or normalize_name(found["name"]) not in local or "==" not in found["spec"]:
        return requirement
    spec = _EXACT.sub(lambda m: f"{m[1]}{MASKED_VERSION}", found["spec"])
    return found["head"] + spec + found["rest"]


def mask_requirements(data: dict, local: set[str]) -> dict:
    """A reduced pyproject with exact pins on local packages masked, wherever requirements are listed."""
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
