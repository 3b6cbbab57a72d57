"""Project files to recipe to hash: the first half of every command, done one way for all of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import dockerfile
from .hashing import DependencyHash, compute
from .options import ImageOptions
from .project import Project, read_project
from .recipe import Recipe, build_recipe

if TYPE_CHECKING:
    from .closure import LockGraph


@dataclass(frozen=True)
class Prepared:
    """A project read, its recipe, the Dockerfile for the chosen options, and the hash of all three."""

    project: Project
    recipe: Recipe
    options: ImageOptions
    dockerfile: str
    hash: DependencyHash


def prepare(project_dir: Path | str, options: ImageOptions, project: Project | None = None,
            recipe: Recipe | None = None, graph: "LockGraph | None" = None) -> Prepared:
    """With options.package set, the hash covers only what that member reaches (see closure.py).
    `plan` passes project, recipe and graph to do the reading and parsing once for many members."""
    project = project or read_project(project_dir)
    recipe = recipe or build_recipe(project)
    text = dockerfile.render(options)
    if options.package:
        from .closure import LockGraph, closure_items

        items = closure_items(project, recipe, graph or LockGraph(project.lock), options)
    else:
        items = recipe.canonical_items()
    return Prepared(project, recipe, options, text, compute(items, options, text))
