"""What a hash covers. The whole project: its recipe, every byte the image's `uv sync` reads. One workspace
member (`--package`): what uv says `uv sync --package` installs (installed.py), and the settings that change
how it installs, so that a change elsewhere in the workspace (another member's dependencies, a new
member, a version bump) leaves the member's hash alone."""

from __future__ import annotations

from pathlib import PurePosixPath

from depimage.fingerprint.canonical import canonical_json
from depimage.fingerprint.installed import InstalledSet
from depimage.project.lockfile import format_neutral
from depimage.project.reader import Project
from depimage.recipe.recipe import Recipe

# [tool.uv] keys whose whole effect is on the lock or on which packages are selected, both of which the
# installed set already shows; member lists and sources name the project's own folders and change
# when members come and go. Everything else in [tool.uv] (indexes, build settings, ...) is hashed.
RESOLUTION_ONLY = ("workspace", "sources", "dev-dependencies", "default-groups", "conflicts", "package",
                   "managed", "constraint-dependencies", "override-dependencies", "environments",
                   "required-environments")


def recipe_items(recipe: Recipe) -> list[tuple[str, bytes]]:
    """The whole project's hash input: one canonical form per recipe file, equal exactly when the files are,
    uv.lock less what another uv release rewrites without changing what gets installed."""
    items = [(p, canonical_json(d)) for p, d in recipe.pyprojects.items()]
    items += [(p, format_neutral(c.decode()).encode() if PurePosixPath(p).name == "uv.lock" else c)
              for p, c in recipe.verbatim.items()]
    return sorted(items)


def member_items(project: Project, recipe: Recipe, installed: InstalledSet) -> list[tuple[str, bytes]]:
    """The hash input of one member's image: uv's installed set, the lock's head (without the member
    list), the root's uv settings that shape installation, and the settings files."""
    head = {k: v for k, v in project.lock.head.items() if k not in ("manifest", "revision")}
    root_uv = project.pyprojects[0].data.get("tool", {}).get("uv", {})
    settings = {k: v for k, v in root_uv.items() if k not in RESOLUTION_ONLY}
    items = [("installed", format_neutral(installed.text).encode()), ("uv.lock#head", canonical_json(head)),
             ("pyproject.toml#tool.uv", canonical_json(settings))]
    lock_path = project.at_root("uv.lock")
    items += [(path, content) for path, content in recipe.verbatim.items() if path != lock_path]
    return sorted(items)
