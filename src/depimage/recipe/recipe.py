"""The dependency recipe: the few files from which `uv sync --frozen --no-install-local` installs exactly
the project's third-party packages, with nothing in them that changes when those packages do not.

Like cargo-chef's recipe.json: computed from the full project in a planner step, copied alone into
the step that installs dependencies, so that step's cache survives releases and unrelated edits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from depimage.errors import InputError, opt
from depimage.layout import DIR_MODE, FILE_MODE, FIXED_MTIME
from depimage.project.names import normalize_name
from depimage.project.reader import Project
from depimage.project.staleness import check_lock_fresh
from depimage.recipe.masking import mask_requirements

PROJECT_KEYS = ("name", "version", "requires-python", "dependencies", "optional-dependencies", "dynamic")


@dataclass(frozen=True)
class Recipe:
    """The reduced pyproject data and the verbatim files (masked uv.lock, .python-version, uv.toml),
    by POSIX path relative to the project root."""

    pyprojects: dict[str, dict]
    verbatim: dict[str, bytes]

    def files(self) -> dict[str, bytes]:
        """Every file as written to disk, in sorted order. Rendering TOML needs tomlkit, which is loaded
        only here: `hash` does not need it (see fingerprint.scope), and it is most of the start-up time."""
        import tomlkit

        rendered = {path: tomlkit.dumps(data).encode() for path, data in self.pyprojects.items()}
        return dict(sorted({**rendered, **self.verbatim}.items()))


def build_recipe(project: Project) -> Recipe:
    """Reduce every pyproject.toml, mask local versions and the exact pins between local packages, and
    check the lock is not stale."""
    check_lock_fresh(project)
    local = {normalize_name(name) for name, pkg in project.lock.local.items() if pkg.masked}
    verbatim = {project.at_root("uv.lock"): project.lock.masked.encode(), **project.extra_files}
    return Recipe(pyprojects={pp.relpath: reduce_pyproject(pp.data, local) for pp in project.pyprojects},
                  verbatim=verbatim)


def reduce_pyproject(data: dict, local: set[str] = frozenset()) -> dict:
    """What decides installation, with tables in sorted order: key order, comments and layout drop out.
    Versions of the project's own packages (local: their normal names) are masked, see masking.py."""
    out: dict = {}
    project = data.get("project")
    if isinstance(project, dict):
        out["project"] = {k: project[k] for k in PROJECT_KEYS if k in project}
    for key in ("dependency-groups", "build-system"):
        if key in data:
            out[key] = data[key]
    uv = data.get("tool", {}).get("uv")
    if uv is not None:
        out["tool"] = {"uv": uv}
    return _sorted_tables(mask_requirements(out, local))


def _sorted_tables(value):
    """Sort table keys at every depth; arrays keep their order, since index order and the like matter."""
    if isinstance(value, dict):
        return {k: _sorted_tables(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_tables(v) for v in value]
    return value


def write_recipe(recipe: Recipe, out: Path, project_root: Path, *, force: bool = False) -> None:
    """Write the recipe into out, all or nothing: files go to a temporary sibling, then one rename."""
    out_abs = Path(os.path.abspath(out))
    root = project_root.resolve()
    real_out = out_abs.resolve() if out_abs.exists() else out_abs
    if real_out == root or root.is_relative_to(real_out):
        raise InputError(f"{opt('out')} is the project folder or contains it; writing there would replace your files",
                         file=out, hint="choose a new folder, e.g. recipe")
    if out_abs.exists() and not out_abs.is_dir():
        raise InputError(f"{opt('out')} exists and is not a folder", file=out, hint="choose a new folder")
    if out_abs.is_dir() and any(out_abs.iterdir()) and not force:
        raise InputError(f"{opt('out')} is a folder that is not empty", file=out,
                         hint=f"choose a new folder, or replace its contents with {opt('force')}")
    out_abs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_abs.name}.", dir=out_abs.parent))
    try:
        for rel, content in recipe.files().items():
            target = tmp / rel
            for parent in reversed(target.relative_to(tmp).parents[:-1]):
                d = tmp / parent
                if not d.is_dir():
                    d.mkdir()
                    os.chmod(d, DIR_MODE)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), FILE_MODE)  # the umask does not get a say
                fh.write(content)
            os.utime(target, (FIXED_MTIME, FIXED_MTIME))
        os.chmod(tmp, DIR_MODE)
        if out_abs.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_abs.name}.old.", dir=out_abs.parent))
            os.rename(out_abs, old / "x")
            os.rename(tmp, out_abs)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_abs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
