"""Project files to recipe to hash: the first half of every command, done one way for all of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import dockerfile
from .hashing import DependencyHash, compute
from .installed import InstalledSet, export_installed
from .options import ImageOptions
from .project import Project, read_project
from .recipe import Recipe, build_recipe
from .scope import member_items


@dataclass(frozen=True)
class Prepared:
    """A project read, its recipe, what uv installs from it, the Dockerfile, and the hash of them."""

    project: Project
    recipe: Recipe
    options: ImageOptions
    dockerfile: str
    hash: DependencyHash
    installed: InstalledSet


def prepare(project_dir: Path | str, options: ImageOptions, project: Project | None = None,
            recipe: Recipe | None = None, context: Path | str | None = None) -> Prepared:
    """With options.package set, the hash covers what uv installs for that member (see scope.py).
    uv is asked in every case: a selection it refuses is bad input before anything is built.
    `plan` passes project and recipe to read and reduce the files once for many targets."""
    project = project or read_project(project_dir, context)
    recipe = recipe or build_recipe(project)
    installed = export_installed(project, options)
    text = dockerfile.render(options, project.subdir)
    items = member_items(project, recipe, installed) if options.package else recipe.canonical_items()
    return Prepared(project, recipe, options, text, compute(items, options, text), installed)
