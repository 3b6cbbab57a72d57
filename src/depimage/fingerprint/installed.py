"""What `uv sync` installs for a selection, as uv itself answers it: `uv export --format pylock.toml` with the
same package, group and extra flags as the image's `uv sync`, local packages left out.

uv is the oracle: default groups, a virtual root's groups, conflicting extras, one name from two indexes
and git sources are uv's rules, not depimage's. The answer names every package with its version, source,
markers and file hashes, so a per-member hash over it moves exactly when what gets installed does.

uv runs offline, and never downloads a file. Some indexes serve files without a hash (uv.lock then has
`{ url = "...", size = ... }` alone), and for those uv's pylock.toml export would download each file "to compute
missing hashes". So uv is then asked about a scratch copy of the project whose lock gives each such file a
stand-in hash computed from its URL and size: the file is still identified exactly as locked.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from depimage.errors import DepimageError, InputError, line_of, uv_os_failure
from depimage.fingerprint.canonical import canonical_json
from depimage.fingerprint.options import ImageOptions
from depimage.project.names import normalize_name
from depimage.project.reader import Project, Pyproject
from depimage.project.uv import clean_env, run_uv

EXPORT_ARGS = ["export", "--frozen", "--format", "pylock.toml", "--no-header", "--quiet"]
# A file entry of a package (its sdist, or one line of its wheels) as uv writes it: `{ url = "..." ... }`.
_FILE_ENTRY = re.compile(r'^(?P<lead>sdist = |    )\{ (?P<key>url|path|filename) = "(?P<where>[^"]*)"'
                         r'(?P<rest>[^}\n]*)\}', re.M)
_SIZE = re.compile(r"\bsize = (\d+)")
_SELECTION_WORDS = re.compile(r"\b(group|extra|conflict|package)s?\b", re.I)


@dataclass(frozen=True)
class InstalledSet:
    """uv's pylock.toml export for one selection: the text is what the hash covers."""

    text: str

    @functools.cached_property
    def data(self) -> dict:
        """The export parsed, once, for the few that need more than its text (a hash needs only the text)."""
        return tomllib.loads(self.text)

    def packages(self) -> list[dict[str, str]]:
        """name, version and source of each package, in uv's order: for people and for comparing revisions."""
        out = []
        for pkg in self.data.get("packages", []):
            out.append({"name": pkg["name"], "version": pkg.get("version", ""), "source": _source(pkg)})
        return out


@dataclass(frozen=True)
class Locked:
    name: str  # normalized
    version: str
    files: tuple[str, ...]  # the locked files' hashes (or URLs, for files locked without one), sorted
    wheel_size: int  # the largest locked wheel: how heavy the package is
    has_wheel: bool
    marker: str = ""  # where uv installs it (pywin32: sys_platform == 'win32'); "" everywhere
    source: str = ""  # where it comes from: the index URL, git+URL@commit, or a path


def locked_packages(export: dict) -> list[Locked]:
    """The packages of uv's pylock.toml export (parsed: InstalledSet.data), as the plan needs them."""
    out = []
    for pkg in export.get("packages", []):
        wheels = pkg.get("wheels", [])
        files = [f for f in wheels + ([pkg["sdist"]] if "sdist" in pkg else [])]
        ids = sorted(next(iter(f.get("hashes", {}).values()), f.get("url", f.get("path", ""))) for f in files)
        if "vcs" in pkg or "archive" in pkg or "directory" in pkg:
            ids.append(canonical_json({k: pkg[k] for k in ("vcs", "archive", "directory") if k in pkg}).decode())
        out.append(Locked(normalize_name(pkg["name"]), pkg.get("version", ""), tuple(ids),
                          max((w.get("size", 0) for w in wheels), default=0), bool(wheels), pkg.get("marker", ""),
                          _source(pkg)))
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


def stand_in_hashes(lock_text: str) -> str | None:
    """The lock with a stand-in hash on every file entry that has none (sha256 of the entry's location and
    size, so that a change of either moves it), or None when every file has its hash already."""
    entries = sum(lock_text.count(f"{{ {key} = ") for key in ("url", "path", "filename"))
    if lock_text.count('", hash = "') >= entries:  # every located file has its hash (the common case): done
        return None
    changed = False

    def fill(found: re.Match[str]) -> str:
        nonlocal changed
        if "hash = " in found["rest"]:
            return found[0]
        changed = True
        size = _SIZE.search(found["rest"])
        stand_in = hashlib.sha256(f"depimage-unhashed\0{found['where']}\0{size[1] if size else ''}".encode())
        return (f'{found["lead"]}{{ {found["key"]} = "{found["where"]}", hash = "sha256:{stand_in.hexdigest()}"'
                f'{found["rest"]}}}')

    patched = _FILE_ENTRY.sub(fill, lock_text)
    return patched if changed else None


def export_installed(project: Project, options: ImageOptions, env: Mapping[str, str], *,
                     local: bool = False) -> InstalledSet:
    """Ask uv, offline; a selection uv refuses (a group or extra nobody declares, conflicting extras) is bad
    input. The project's own packages are left out, as the dependency image leaves them out; `local` keeps
    them. env: the environment the door read (uv's own settings are shut out of it)."""
    args = EXPORT_ARGS + ([] if local else ["--no-emit-local"]) + options.selection_args()
    uv_env = clean_env(env, dict(options.build_args))
    patched = stand_in_hashes(project.lock.text)
    if patched is None:
        proc = run_uv(args, cwd=str(project.root), env=uv_env)
    else:
        with tempfile.TemporaryDirectory(prefix="depimage-export-") as scratch:
            root = _scratch_copy(project, patched, Path(scratch))
            proc = run_uv(args, cwd=str(root), env=uv_env)
    if proc.returncode != 0:
        raise _refusal(project, options, args, proc.stderr, proc.returncode)
    return InstalledSet(proc.stdout)


def _scratch_copy(project: Project, lock_text: str, scratch: Path) -> Path:
    """The files uv reads for `--frozen`, laid out as in the project (every pyproject.toml, .python-version,
    uv.toml), and the patched lock; the project folder in it."""
    files = {pp.relpath: pp.text.encode() for pp in project.pyprojects}
    files.update(project.extra_files)
    files[project.at_root("uv.lock")] = lock_text.encode()
    for rel, content in files.items():
        target = scratch / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return scratch / project.subdir if project.subdir else scratch


def _refusal(project: Project, options: ImageOptions, args: list[str], stderr: str, code: int) -> DepimageError:
    """uv's words, and where to look: the selection's table when uv refused the selection, else the lock."""
    said = "\n".join(line.removeprefix("error: ") for line in stderr.strip().splitlines()) or f"exit code {code}"
    machine = uv_os_failure(said)
    if machine is not None:
        return machine
    command = f"`uv {' '.join(args)}` in {project.root}"
    if "network connectivity is disabled" in said.lower() or "failed to download" in said.lower():
        return InputError(f"uv cannot say offline what gets installed: {said}", file=project.lock.path,
                          hint=f"depimage asks uv with the network off ({command}, UV_OFFLINE=1) and never "
                               "downloads a package to hash it; run `uv lock` with this uv version, and report it "
                               "if it persists")
    first = said.splitlines()[0]
    if _SELECTION_WORDS.search(first):
        pp = _selected_pyproject(project, options.package)
        table = ("[dependency-groups]" if re.search(r"group", first, re.I) else
                 "optional-dependencies" if re.search(r"extra", first, re.I) else "[project]")
        return InputError(f"uv refuses this selection: {said}", file=pp.path, line=line_of(pp.text, table),
                          hint=f"{command} says the same; name groups and extras that the selected package or the "
                               "workspace root declares")
    return InputError(f"uv could not read the project: {said}", file=project.lock.path,
                      hint=f"{command} says the same; `uv lock` rewrites a lock this uv cannot read")


def _selected_pyproject(project: Project, package: str | None) -> Pyproject:
    wanted = normalize_name(package) if package else None
    return next((pp for pp in project.pyprojects if pp.name and normalize_name(pp.name) == wanted),
                project.pyprojects[0])
