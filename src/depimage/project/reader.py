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

from depimage.errors import InputError, line_of, opt, toml_error_line
from depimage.project.lockfile import Lock


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
    """A uv project or workspace, as read: root first among the pyprojects, members sorted by path.

    Paths are relative to `base`: the project folder itself, or, when path dependencies lead to siblings
    outside it (`path = "../common"`), the nearest folder that holds them all. The recipe keeps that layout."""

    root: Path
    base: Path
    pyprojects: list[Pyproject]
    lock: Lock
    extra_files: dict[str, bytes]  # settings files at the root that change what uv installs
    member_dirs: list[str]  # workspace members (not path dependencies)

    @property
    def subdir(self) -> str:
        """The project folder inside the recipe: "" unless path dependencies lead outside it."""
        rel = self.root.relative_to(self.base).as_posix()
        return "" if rel == "." else rel

    def at_root(self, name: str) -> str:
        """The recipe path of a file in the project folder, e.g. uv.lock."""
        return f"{self.subdir}/{name}" if self.subdir else name

    def workspace_members(self) -> list[Pyproject]:
        """The root (when it is a project) and the workspace members: what `uv sync --package` accepts."""
        dirs = {self.subdir, *self.member_dirs}
        return [pp for pp in self.pyprojects if pp.dir in dirs and pp.name]


def read_toml(path: Path) -> tuple[str, dict]:
    """Text and data of a TOML file, or an InputError naming the file and the line. A UTF-8 byte order mark,
    which some Windows editors write, is read past, as uv does."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=path) from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=path, line=toml_error_line(exc),
                         hint="fix the syntax there; `uv lock` will also point at it") from exc


def read_project(project_dir: Path | str, context: Path | str | None = None) -> Project:
    """Read the project at project_dir: root pyproject.toml, workspace members, path dependencies, uv.lock.

    Local packages may lie anywhere inside `context` (default: the git repository the project is in, else the
    project folder), never outside it, and are never reached through a symlink."""
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
            hint = (f"the workspace at {parent} does not list this folder as a member: add it to "
                    "[tool.uv.workspace] members there, or run `uv lock` here")
        raise InputError("no uv.lock next to pyproject.toml", file=given / "pyproject.toml", line=1, hint=hint)
    bound = _boundary(root, context)
    inside = _Boundary(bound, root)

    root_text, root_data = read_toml(root / "pyproject.toml")
    lock = Lock.read(lock_path)

    members = _workspace_members(inside, root_text, root_data)
    dirs = {inside.root_rel, *members}
    for pkg in lock.local.values():
        if pkg.kind == "path":
            continue  # a local archive: no pyproject to carry, and --no-install-local skips it
        rel = inside.check(pkg.path, lock_path, line_of(lock.text, f'"{pkg.path}"'))
        if (bound / rel / "pyproject.toml").is_file():
            dirs.add(rel)

    base_rel = os.path.commonpath([d or "." for d in dirs]) if dirs else ""
    base = (bound / base_rel).resolve() if base_rel not in ("", ".") else bound
    def below_base(rel: str) -> str:
        out = os.path.relpath(bound / rel if rel else bound, base)
        return "" if out == "." else PurePosixPath(out).as_posix()

    ordered = [inside.root_rel] + sorted(dirs - {inside.root_rel})
    pyprojects = []
    for d in ordered:
        sub = below_base(d)
        relpath = f"{sub}/pyproject.toml" if sub else "pyproject.toml"
        if d == inside.root_rel:
            pyprojects.append(Pyproject(relpath, root / "pyproject.toml", root_text, root_data))
        else:
            text, data = read_toml(bound / d / "pyproject.toml")
            pyprojects.append(Pyproject(relpath, bound / d / "pyproject.toml", text, data))
    for pp, d in zip(pyprojects, ordered):
        _check_path_sources(inside, pp, d)

    extra: dict[str, bytes] = {}
    root_sub = below_base(inside.root_rel)
    for name in (".python-version", "uv.toml"):
        f = root / name
        if f.is_symlink():
            raise InputError("is a symlink; depimage reads only regular files inside the project", file=f)
        if f.is_file():
            data = python_versions(f.read_bytes()) if name == ".python-version" else f.read_bytes()
            extra[f"{root_sub}/{name}" if root_sub else name] = data
    return Project(root=root, base=base, pyprojects=pyprojects, lock=lock, extra_files=extra,
                   member_dirs=sorted(below_base(m) for m in members))


def open_project(project_dir: Path | str, context: Path | str | None = None) -> tuple[Project, str | None]:
    """The project as `uv sync` in project_dir sees it: the project there, or, in a workspace member's folder
    (no uv.lock of its own), the workspace with that member selected, as if `--package` had been given."""
    given = Path(project_dir)
    if given.is_dir() and (given / "pyproject.toml").is_file() and not (given / "uv.lock").is_file():
        here = given.resolve()
        parent = _enclosing_workspace(here)
        if parent is not None:
            project = read_project(parent, context)
            for pp in project.workspace_members():
                if pp.path.parent == here:
                    return project, pp.name
    return read_project(project_dir, context), None


def python_versions(data: bytes) -> bytes:
    """.python-version as uv reads it: one request a line, trimmed, without comments, blank lines or a byte
    order mark. So an editor's line ends or a comment do not move the hash."""
    lines = (line.strip() for line in data.decode("utf-8-sig", errors="replace").splitlines())
    return "".join(f"{line}\n" for line in lines if line and not line.startswith("#")).encode()


def _boundary(root: Path, context: Path | str | None) -> Path:
    """The folder nothing is read outside of: --context, else the git top level, else the project."""
    if context is not None:
        bound = Path(context).resolve()
        if not bound.is_dir():
            raise InputError(f"{opt('context')} is not a directory", file=context)
        if not root.is_relative_to(bound):
            raise InputError(f"the project {root} is not inside {opt('context')}", file=context,
                             hint=f"name as {opt('context')} a folder that contains the project, e.g. the "
                                  "repository root")
        return bound
    return repository_root(root) or root


def repository_root(folder: Path) -> Path | None:
    """The git top level folder is in (a .git folder, or file for worktrees), or None."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@dataclass(frozen=True)
class _Boundary:
    """Checks that paths stay inside `bound` and pass no symlink; answers in POSIX form relative to it."""

    bound: Path
    root: Path

    @property
    def root_rel(self) -> str:
        rel = self.root.relative_to(self.bound).as_posix()
        return "" if rel == "." else rel

    def check(self, rel: str, file: Path, line: int | None, *, start: str | None = None,
              what: str = "path") -> str:
        """rel, read from `start` (default: the project folder), as a path relative to the boundary."""
        start = self.root_rel if start is None else start
        given = rel.replace("\\", "/")
        norm = os.path.normpath(os.path.join(start, given) if given else (start or "."))
        if os.path.isabs(given) or norm == ".." or norm.startswith("../"):
            raise InputError(f"{what} {rel!r} leads outside {self.bound}", file=file, line=line,
                             hint="depimage reads local packages only inside the repository the project is in "
                                  f"(its git top level); name a wider folder with {opt('context')}, or move the "
                                  "package inside")
        if norm == ".":
            return ""
        current = self.bound
        for part in PurePosixPath(norm).parts:
            current = current / part
            if current.is_symlink():
                raise InputError(f"{what} {rel!r} passes through the symlink {current.relative_to(self.bound)}",
                                 file=file, line=line,
                                 hint="depimage does not follow symlinks; use the real folder instead")
        return PurePosixPath(norm).as_posix()


def _workspace_members(inside: _Boundary, text: str, data: dict) -> list[str]:
    """Member folders as uv finds them: glob matches that hold a pyproject.toml, less the excluded ones."""
    ws = data.get("tool", {}).get("uv", {}).get("workspace", {})
    file = inside.root / "pyproject.toml"
    found: set[str] = set()
    excluded: set[str] = set()
    for key, into in (("members", found), ("exclude", excluded)):
        for pattern in ws.get(key, []):
            line = line_of(text, f'"{pattern}"')
            # The fixed part before the first wildcard must stay inside, even when nothing matches yet.
            fixed = list(PurePosixPath(pattern).parts)
            fixed = fixed[: next((i for i, p in enumerate(fixed) if any(c in p for c in "*?[")), len(fixed))]
            if fixed:
                inside.check("/".join(fixed), file, line, what=f"glob {pattern!r}:")
            for match in sorted(glob.glob(pattern, root_dir=inside.root)):
                rel = inside.check(match, file, line)
                if key == "exclude" or (inside.bound / rel / "pyproject.toml").is_file():
                    into.add(rel)
    return sorted(found - excluded)


def _check_path_sources(inside: _Boundary, pp: Pyproject, pp_dir: str) -> None:
    sources = pp.data.get("tool", {}).get("uv", {}).get("sources", {})
    for name, spec in sources.items():
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, dict) and "path" in one:
                inside.check(one["path"], pp.path, line_of(pp.text, one["path"]), start=pp_dir)


def _enclosing_workspace(start: Path) -> Path | None:
    for parent in start.parents:
        if (parent / "uv.lock").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return None
