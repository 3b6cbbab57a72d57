"""Reading a uv project from disk: its pyproject.toml files, its workspace members, its uv.lock.

Everything that leaves this module has been checked to lie inside the project directory, reached
without symlinks, so that nothing later can read or write outside it.
"""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import InputError, line_of, toml_error_line
from .lockfile import Lock


@dataclass
class Pyproject:
    """One pyproject.toml: where it is (relative to the project root, POSIX form), its text and data."""

    relpath: str
    path: Path
    text: str
    data: dict

    @property
    def dir(self) -> str:
        parent = str(PurePosixPath(self.relpath).parent)
        return "" if parent == "." else parent

    @property
    def name(self) -> str | None:
        return self.data.get("project", {}).get("name")


@dataclass
class Project:
    """A uv project or workspace, as read: root first among the pyprojects, members sorted by path."""

    root: Path
    pyprojects: list[Pyproject]
    lock: Lock
    extra_files: dict[str, bytes]  # settings files at the root that change what uv installs
    member_dirs: list[str]  # workspace members (not path dependencies), relative to the root

    def workspace_members(self) -> list[Pyproject]:
        """The root (when it is a project) and the workspace members: what `uv sync --package` accepts."""
        dirs = {"", *self.member_dirs}
        return [pp for pp in self.pyprojects if pp.dir in dirs and pp.name]


def read_toml(path: Path) -> tuple[str, dict]:
    """Text and data of a TOML file, or an InputError naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=path) from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=path, line=toml_error_line(exc),
                         hint="fix the syntax there; `uv lock` will also point at it") from exc


def read_project(project_dir: Path | str) -> Project:
    """Read the project at project_dir: root pyproject.toml, workspace members, path dependencies, uv.lock."""
    given = Path(project_dir)
    if not given.is_dir():
        raise InputError("not a directory", file=given, hint="pass the folder that holds pyproject.toml and uv.lock")
    root = given.resolve()
    if not (root / "pyproject.toml").is_file():
        raise InputError("no pyproject.toml here", file=given,
                         hint="pass the folder of a uv project (the one with pyproject.toml and uv.lock)")
    lock_path = root / "uv.lock"
    if not lock_path.is_file():
        hint = "run `uv lock` in that folder first, and commit uv.lock"
        parent = _enclosing_workspace(root)
        if parent:
            hint = f"this looks like a member of the workspace at {parent}: run depimage there"
        raise InputError("no uv.lock next to pyproject.toml", file=given, hint=hint)

    root_pp = _read_pyproject(root, "pyproject.toml")
    lock = Lock.read(lock_path)

    members = _workspace_members(root, root_pp)
    dirs = set(members)
    for pkg in lock.local.values():
        if pkg.kind == "path":
            continue  # a local archive: no pyproject to carry, and --no-install-local skips it
        rel = _checked_dir(root, pkg.path, lock_path, line_of(lock.text, f'"{pkg.path}"'))
        if (root / rel / "pyproject.toml").is_file():
            dirs.add(rel)
    dirs.discard("")

    pyprojects = [root_pp] + [_read_pyproject(root, f"{d}/pyproject.toml") for d in sorted(dirs)]
    for pp in pyprojects:
        _check_path_sources(root, pp)

    extra: dict[str, bytes] = {}
    for name in (".python-version", "uv.toml"):
        f = root / name
        if f.is_symlink():
            raise InputError("is a symlink; depimage reads only regular files inside the project", file=f)
        if f.is_file():
            extra[name] = f.read_bytes()
    return Project(root=root, pyprojects=pyprojects, lock=lock, extra_files=extra, member_dirs=members)


def _read_pyproject(root: Path, relpath: str) -> Pyproject:
    path = root / relpath
    text, data = read_toml(path)
    return Pyproject(relpath=relpath, path=path, text=text, data=data)


def _workspace_members(root: Path, root_pp: Pyproject) -> list[str]:
    """Member folders as uv finds them: glob matches that hold a pyproject.toml, less the excluded ones."""
    ws = root_pp.data.get("tool", {}).get("uv", {}).get("workspace", {})
    found: set[str] = set()
    excluded: set[str] = set()
    for key, into in (("members", found), ("exclude", excluded)):
        for pattern in ws.get(key, []):
            line = line_of(root_pp.text, f'"{pattern}"')
            # The fixed part before the first wildcard must stay inside, even when nothing matches yet.
            fixed = list(PurePosixPath(pattern).parts)
            fixed = fixed[: next((i for i, p in enumerate(fixed) if any(c in p for c in "*?[")), len(fixed))]
            if fixed:
                _checked_dir(root, "/".join(fixed), root_pp.path, line, what=f"glob {pattern!r}:")
            for match in sorted(glob.glob(pattern, root_dir=root)):
                rel = _checked_dir(root, match, root_pp.path, line)
                if key == "exclude" or (root / rel / "pyproject.toml").is_file():
                    into.add(rel)
    return sorted(found - excluded)


def _checked_dir(root: Path, rel: str, file: Path, line: int | None, what: str = "path") -> str:
    """rel, normalised to POSIX form, after checking it stays inside root and passes no symlink."""
    norm = os.path.normpath(rel.replace("\\", "/")) if rel else "."
    if os.path.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise InputError(f"{what} {rel!r} leads outside the project", file=file, line=line,
                         hint=f"depimage only reads inside {root}; run it from a folder that contains "
                              "every local package, or make the package a workspace member")
    if norm == ".":
        return ""
    current = root
    for part in PurePosixPath(norm).parts:
        current = current / part
        if current.is_symlink():
            raise InputError(f"{what} {rel!r} passes through the symlink {current.relative_to(root)}",
                             file=file, line=line,
                             hint="depimage does not follow symlinks; use the real folder instead")
    return PurePosixPath(norm).as_posix()


def _check_path_sources(root: Path, pp: Pyproject) -> None:
    sources = pp.data.get("tool", {}).get("uv", {}).get("sources", {})
    for name, spec in sources.items():
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, dict) and "path" in one:
                rel = os.path.join(pp.dir, one["path"]) if pp.dir else one["path"]
                _checked_dir(root, rel, pp.path, line_of(pp.text, one["path"]))


def _enclosing_workspace(start: Path) -> Path | None:
    for parent in start.parents:
        if (parent / "uv.lock").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return None
