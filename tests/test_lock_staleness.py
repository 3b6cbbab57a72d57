"""A stale uv.lock is refused exactly when uv refuses it: on every real fixture, edits of its pyproject.toml
files that make the lock stale (a specifier tightened or widened, a marker changed, an extra added, a group
entry changed, an override or constraint changed, a source changed, a version bumped alone, a member added)
and edits that do not (the same requirements written another way). uv's answer is `uv lock --check
--offline`, with an interpreter the project allows; depimage's is building the recipe, offline, with none."""

from __future__ import annotations

import functools
import glob
import re
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Callable

import pytest
import tomlkit
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from depimage.errors import InputError
from depimage.project.reader import read_project
from depimage.recipe.recipe import build_recipe
from helpers import UV_ENV
from realworld import Fixture, checkout, fixture_names

UV_CACHE = tempfile.mkdtemp(prefix="depimage-test-uvcheck-")


@functools.cache
def _interpreters() -> list[tuple[Version, str]]:
    """Every Python on this machine uv can be pointed at (pyenv's versions, the system's)."""
    found = []
    for path in sorted(set(glob.glob("/root/.pyenv/versions/*/bin/python3") + glob.glob("/usr/bin/python3.*")
                           + glob.glob("/usr/local/bin/python3.*"))):
        if not re.search(r"python3(\.\d+)?$", path):
            continue
        out = subprocess.run([path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            found.append((Version(out.stdout.strip()), path))
    return sorted(found, reverse=True)


def interpreter_for(project: Path) -> str:
    lock_head = (project / "uv.lock").read_text().split("[[package]]")[0]
    spec = SpecifierSet(tomllib.loads(lock_head).get("requires-python", ""))
    for version, path in _interpreters():
        if version in spec:
            return path
    raise AssertionError(f"no Python on this machine fits {spec}: uv needs one to check a lock")


def uv_refuses(project: Path, python: str) -> tuple[bool, str]:
    proc = subprocess.run(["uv", "lock", "--check", "--offline", "--python", python], cwd=project,
                          capture_output=True, text=True, env={**UV_ENV, "UV_CACHE_DIR": UV_CACHE})
    return proc.returncode != 0, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


def depimage_refuses(fx: Fixture) -> tuple[bool, str]:
    try:
        build_recipe(read_project(fx.project, context=fx.folder))
    except InputError as exc:
        return True, str(exc)
    return False, ""


# ---- edits: each takes the pyproject that declares third-party dependencies, returns False where it does
# not apply to this fixture --------------------------------------------------------------------------------

Doc = tomlkit.TOMLDocument


def _third_party(doc: Doc, local: set[str]) -> list[int]:
    deps = doc.get("project", {}).get("dependencies", [])
    return [i for i, r in enumerate(deps) if re.match(r"^[A-Za-z0-9._-]+", r)
            and re.sub(r"[-_.]+", "-", re.match(r"^[A-Za-z0-9._-]+", r)[0]).lower() not in local
            and "@" not in r]


def _set_dep(doc: Doc, i: int, text: str) -> None:
    deps = doc["project"]["dependencies"]
    deps[i] = text


def _name(req: str) -> str:
    return re.match(r"^[A-Za-z0-9._-]+", req)[0]


def tighten(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    for i in _third_party(doc, local):
        req = str(doc["project"]["dependencies"][i])
        version = locked.get(re.sub(r"[-_.]+", "-", _name(req)).lower())
        if version and ";" not in req:
            _set_dep(doc, i, f"{_name(req)}>{version}")
            return True
    return False


def widen(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    for i in _third_party(doc, local):
        req = str(doc["project"]["dependencies"][i])
        if re.search(r"[<>=~]", req.split(";")[0]) and "[" not in req:
            _set_dep(doc, i, _name(req) + (";" + req.split(";", 1)[1] if ";" in req else ""))
            return True
    return False


def marker(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    for i in _third_party(doc, local):
        req = str(doc["project"]["dependencies"][i])
        if ";" not in req:
            _set_dep(doc, i, req + " ; sys_platform == 'linux'")
            return True
    return False


def extra(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    for i in _third_party(doc, local):
        req = str(doc["project"]["dependencies"][i])
        if "[" in req:
            _set_dep(doc, i, req.replace("[", "[depimage-test,", 1))
        else:
            _set_dep(doc, i, _name(req) + "[depimage-test]" + req[len(_name(req)):])
        return True
    return False


def group_entry(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    groups = doc.get("dependency-groups")
    if not groups:
        doc["dependency-groups"] = {"depimage-test": ["idna"]}
        return True
    first = next(iter(groups))
    groups[first].append("idna>=2")
    return True


def _uv_table(doc: Doc):
    """[tool.uv], made where missing (tomlkit's setdefault hands back a copy of a dotted table)."""
    if "tool" not in doc:
        doc["tool"] = tomlkit.table(is_super_table=True)
    if "uv" not in doc["tool"]:
        doc["tool"]["uv"] = tomlkit.table()
    return doc["tool"]["uv"]


def constraint(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    """(Applied to the workspace root's pyproject.toml: uv reads overrides and constraints there only.)"""
    uv = _uv_table(doc)
    key = "override-dependencies" if "override-dependencies" in uv else "constraint-dependencies"
    uv[key] = [*uv.get(key, []), "idna<99"]
    return True


def source(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    deps = _third_party(doc, local)
    if not deps:
        return False
    name = _name(str(doc["project"]["dependencies"][deps[0]]))
    uv = _uv_table(doc)
    indexes = uv["index"] if "index" in uv else tomlkit.aot()
    indexes.append({"name": "depimage-test", "url": "https://example.invalid/simple", "explicit": True})
    uv["index"] = indexes
    sources = uv["sources"] if "sources" in uv else tomlkit.table()
    sources[name] = {"index": "depimage-test"}
    uv["sources"] = sources
    return True


def version_alone(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    project = doc.get("project", {})
    if "version" not in project or "version" in project.get("dynamic", []):
        return False
    project["version"] = str(project["version"]) + "1"
    return True


# ---- edits that leave the lock fresh: the same requirements written another way ---------------------------

def reordered(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    deps = doc.get("project", {}).get("dependencies")
    if not deps or len(deps) < 2:
        return False
    items = [str(d) for d in deps]
    doc["project"]["dependencies"] = list(reversed(items))
    return True


def respelled(doc: Doc, local: set[str], locked: dict[str, str]) -> bool:
    """Quotes, spaces and name case changed; python_version written as python_full_version; specifiers in
    another order."""
    deps = doc.get("project", {}).get("dependencies")
    if not deps:
        return False
    changed = False
    for i, req in enumerate(list(deps)):
        new = str(req)
        if new[:1].islower():
            new = new[0].upper() + new[1:]
        new = re.sub(r"python_version\s*<\s*['\"](\d+\.\d+)['\"]", r"python_full_version < '\1'", new)
        new = new.replace('"', "'").replace(";", " ; ")
        head = new.split(";")[0]
        if "," in head and "@" not in head and "[" not in head:
            name, specs = _name(head), head[len(_name(head)):]
            new = name + ",".join(reversed(specs.split(","))) + new[len(head):]
        if new != str(req):
            deps[i] = new
            changed = True
    return changed


STALE: list[Callable] = [tighten, widen, marker, extra, group_entry, constraint, source, version_alone]
FRESH: list[Callable] = [reordered, respelled]


def _target(fx: Fixture) -> tuple[Path, set[str], dict[str, str]]:
    """The pyproject with the most third-party dependencies, the local names and locked versions."""
    project = read_project(fx.project, context=fx.folder)
    local = {re.sub(r"[-_.]+", "-", n).lower() for n in project.lock.local}
    locked = {m[1]: m[2] for m in re.finditer(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"',
                                               project.lock.text)}
    members = project.workspace_members() or project.pyprojects[:1]
    best = max(members, key=lambda pp: len(_third_party(tomlkit.parse(pp.text), local)))
    return best.path, local, locked


@pytest.mark.parametrize("name", fixture_names())
def test_a_stale_lock_is_refused_exactly_when_uv_refuses_it(name, tmp_path):
    fx = checkout(name, tmp_path)
    python = interpreter_for(fx.project)
    refused, why = uv_refuses(fx.project, python)
    assert not refused, f"the fixture's lock is stale as it is: {why}"
    assert depimage_refuses(fx) == (False, "")
    member, local, locked = _target(fx)
    tried = []
    for edit in STALE + FRESH:
        path = fx.project / "pyproject.toml" if edit is constraint else member
        original = path.read_text()
        doc = tomlkit.parse(original)
        if not edit(doc, local, locked):
            continue
        path.write_text(tomlkit.dumps(doc))
        uv_says, uv_why = uv_refuses(fx.project, python)
        ours, why = depimage_refuses(fx)
        assert ours == uv_says, (f"{edit.__name__} of {path.relative_to(fx.folder)}: uv "
                                 f"{'refuses' if uv_says else 'accepts'} ({uv_why}), depimage "
                                 f"{'refuses: ' + why if ours else 'accepts'}")
        assert uv_says == (edit in STALE), f"{edit.__name__}: the edit did not do what it meant to ({uv_why})"
        if ours:
            assert str(path) in why and "`uv lock`" in why, why
        tried.append(edit.__name__)
        path.write_text(original)
    assert {"tighten", "marker", "extra", "group_entry", "constraint", "source"} <= set(tried), tried
