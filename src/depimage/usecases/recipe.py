"""recipe: the reduced files written to a folder, for a multi-stage build without a registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depimage.project.reader import read_project
from depimage.recipe.recipe import build_recipe, write_recipe


@dataclass(frozen=True)
class RecipeRequest:
    project_dir: str
    out: Path
    force: bool = False
    context: str | None = None


@dataclass(frozen=True)
class RecipeResult:
    files: int
    project_subdir: str  # where the project lies in the recipe: "" unless path dependencies lead outside it


def write_project_recipe(request: RecipeRequest) -> RecipeResult:
    project = read_project(request.project_dir, request.context)
    recipe = build_recipe(project)
    write_recipe(recipe, request.out, project.root, force=request.force)
    return RecipeResult(len(recipe.pyprojects) + len(recipe.verbatim), project.subdir)
