"""What `uv sync` installs for a selection, as uv itself answers it: `uv export --format pylock.toml` with the
same package, group and extra flags as the image's `uv sync`, local packages left out.

uv is the oracle: default groups, a virtual root's groups, conflicting extras, one name from two indexes
and git sources are uv's rules, not depimage's. The answer names every package with its version, source,
markers and file hashes, so a per-member hash over it moves exactly when what gets installed does.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from .errors import InputError, line_of
from .masking import normalize_name
from .options import ImageOptions
from .project import Project, Pyproject
from .uvcli import clean_env, run_uv

EXPORT_ARGS = ["export", "--frozen", "--format", "pylock.toml", "--no-header", "--quiet"]


@dataclass(frozen=True)
class InstalledSet:
    """uv's pylock.toml export for one selection: the text is what the hash covers."""

    text: str

    def packages(self) -> list[dict[str, str]]:
        """name, version and source of each package, in uv's order: for people and for comparing revisions."""
        out = []
        for pkg in tomllib.loads(self.text).get("packages", []):
            out.append({"name": pkg["name"], "version": pkg.get("version", ""), "source": _source(pkg)})
        return out


def _source(pkg: dict) -> str:
    if "index" in pkg:
        return pkg["index"]
    if "vcs" in pkg:
        vcs = pkg["vcs"]
        return f"{vcs.get('type', 'git')}+{vcs.get('url', '')}@{vcs.get('commit-id', '')}"
    if "archive" in pkg:
        return pkg["archive"].get("url") or pkg["archive"].get("path", "")
    for kind in ("directory", "path"):
        if kind in pkg:
            return str(pkg[kind].get("path", pkg[kind]) if isinstance(pkg[kind], dict) else pkg[kind])
    return ""


def export_installed(project: Project, options: ImageOptions, *, local: bool = False) -> InstalledSet:
    """Ask uv; a selection uv refuses (a group or extra nobody declares, conflicting extras) is bad input.
    The project's own packages are left out, as the dependency image leaves them out; `local` keeps them."""
    args = EXPORT_ARGS + ([] if local else ["--no-emit-local"]) + options.selection_args()
    proc = run_uv(args, cwd=str(project.root), env=clean_env(dict(options.build_args)))
    if proc.returncode != 0:
        said = "\n".join(line.removeprefix("error: ") for line in proc.stderr.strip().splitlines()) or \
            f"exit code {proc.returncode}"
        pp = _selected_pyproject(project, options.package)
        table = "[dependency-groups]" if "Group" in said else "optional-dependencies" if "Extra" in said else "[project]"
        raise InputError(f"uv refuses this selection: {said}", file=pp.path, line=line_of(pp.text, table),
                         hint=f"`uv {' '.join(args)}` in {project.root} says the same; name groups and extras "
                              "that the selected package or the workspace root declares")
    return InstalledSet(proc.stdout)


def _selected_pyproject(project: Project, package: str | None) -> Pyproject:
    wanted = normalize_name(package) if package else None
    return next((pp for pp in project.pyprojects if pp.name and normalize_name(pp.name) == wanted),
                project.pyprojects[0])
