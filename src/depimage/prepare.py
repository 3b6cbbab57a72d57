"""Project files to recipe to hash: the first half of every command, done one way for all of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import dockerfile
from .hashing import DependencyHash, compute
from .options import ImageOptions
from .project import Project, read_project
from .recipe import Recipe, build_recipe


@dataclass(frozen=True)
class Prepared:
    """A project read, its recipe, the Dockerfile for the chosen options, and the hash of all three."""

    project: Project
    recipe: Recipe
    options: ImageOptions
    dockerfile: str
    hash: DependencyHash


def prepare(project_dir: Path | str, options: ImageOptions, project: Project | None = None) -> Prepared:
    project = project or read_project(project_dir)
    recipe = build_recipe(project)
    text = dockerfile.render(options)
    return Prepared(project, recipe, options, text, compute(recipe, options, text))
