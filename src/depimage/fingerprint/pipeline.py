"""Project files to recipe to installed set to hash: the first half of every command, done one way for all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from depimage.fingerprint import dockerfile
from depimage.fingerprint.hashing import DependencyHash, compute
from depimage.fingerprint.installed import InstalledSet, export_installed
from depimage.fingerprint.options import ImageOptions
from depimage.fingerprint.scope import member_items, recipe_items
from depimage.project.reader import Project
from depimage.recipe.recipe import Recipe, build_recipe


@dataclass(frozen=True)
class Fingerprint:
    """A project read, its recipe, what uv installs from it, the Dockerfile, and the hash of them."""

    project: Project
    recipe: Recipe
    options: ImageOptions
    dockerfile: str
    hash: DependencyHash
    installed: InstalledSet


    def report(self, tag_prefix: str) -> dict:
        """The hash and what it covers, as `hash --json` prints it and the action's `installed` output carries:
        to compare two revisions."""
        import hashlib

        return {"hash": self.hash.hex, "tag": self.hash.tag(tag_prefix), "options": self.options.as_dict(),
                "files": [{"path": p, "sha256": hashlib.sha256(c).hexdigest(), "size": len(c)}
                          for p, c in self.recipe.files().items()],
                "installed": self.installed.packages()}


def fingerprint(project: Project, options: ImageOptions, env: Mapping[str, str],
                recipe: Recipe | None = None) -> Fingerprint:
    """With options.package set, the hash covers what uv installs for that member (see scope.py).
    uv is asked in every case: a selection it refuses is bad input before anything is built.
    `plan` passes the recipe to reduce the files once for many targets; env is what uv runs with."""
    recipe = recipe or build_recipe(project)
    installed = export_installed(project, options, env)
    text = dockerfile.render(options, project.subdir)
    items = member_items(project, recipe, installed) if options.package else recipe_items(recipe)
    return Fingerprint(project, recipe, options, text, compute(items, options, text), installed)
