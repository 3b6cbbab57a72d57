"""Is uv.lock stale? The answer `uv sync --locked` gives, worked out offline and without an interpreter.

uv records in uv.lock what it resolved from: every local package's requirements (`requires-dist`,
`requires-dev`, `provides-extras`, its version), and the workspace's (members, `requires-python`, overrides,
constraints). A lock is stale when the pyproject.toml files ask for something else; uv then refuses
`uv sync --locked` and `uv lock --check`. uv itself cannot be asked here: its check needs a Python
interpreter that fits the project, which the machine computing a hash need not have.

Requirements are compared by meaning, not by text: uv rewrites markers (`python_version < "3.12"` becomes
`python_full_version < '3.12'`, simplified against `requires-python`), so two markers are equal when they
agree on every environment that can tell them apart, within the lock's `requires-python`. Specifiers are
compared as sets, sources by what they point at. What cannot be known offline (dynamic dependencies, which
need a build) is not judged. The tests hold this against `uv lock --check` on every real fixture.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from depimage.errors import InputError, line_of
from depimage.project.lockfile import LocalPackage
from depimage.project.names import normalize_name
from depimage.project.reader import Project, Pyproject

HINT = "`uv sync --locked` refuses this lock too: run `uv lock` and commit uv.lock"

Env = dict[str, str]
Predicate = Callable[[Env], bool]
# name, extras, specifiers, source: what one requirement asks for, apart from when (its marker)
Key = tuple[str, frozenset, frozenset, tuple]

_MARKER_ATOM = re.compile(r"""(?P<var>[a-z_]+)\s*(?P<op>[<>=!~]=?=?|not in|in)\s*(?P<q>['"])(?P<val>[^'"]*)(?P=q)"""
                          r"""|(?P<q2>['"])(?P<val2>[^'"]*)(?P=q2)\s*(?:not in|in|[<>=!~]=?=?)\s*(?P<var2>[a-z_]+)""")
_PY_VARS = ("python_version", "python_full_version")
# sys_platform, platform_system and os_name go together: uv rewrites `platform_system == "Windows"` as
# `sys_platform == 'win32'`, so the grid holds only platforms that exist, plus one of each value named.
_PLATFORM_VARS = ("sys_platform", "platform_system", "os_name")
_PLATFORMS = [("linux", "Linux", "posix"), ("win32", "Windows", "nt"), ("darwin", "Darwin", "posix"),
              ("emscripten", "Emscripten", "posix"), ("cygwin", "CYGWIN_NT", "posix"), ("freebsd", "FreeBSD", "posix"),
              ("android", "Android", "posix"), ("ios", "iOS", "posix"), ("aix", "AIX", "posix"),
              ("wasi", "WASI", "posix"), ("sunos5", "SunOS", "posix")]


@dataclass(frozen=True)
class _Req:
    """One requirement, lowered as uv lowers it: its key and when it applies (its marker, and the extra or
    source marker uv adds), with the marker texts for the message."""

    key: Key
    when: tuple[str, ...]  # marker texts, all of which must hold
    unless: tuple[str, ...] = ()  # marker texts none of which may hold (the rest of a split by source markers)
    text: str = ""


def check_lock_fresh(project: Project) -> None:
    """Refuse a lock that `uv sync --locked` would refuse, naming the file, the line and what differs."""
    lock = project.lock
    requires_python = _specifiers(lock.head.get("requires-python", ""))
    locals_by_path = {_norm(pkg.path): pkg for pkg in lock.local.values() if pkg.masked}
    by_name = {normalize_name(pkg.name): pkg for pkg in lock.local.values()}
    indexes = _index_urls(project)
    root_sources = _sources(project.pyprojects[0])
    workspace = project.workspace_members()
    _check_manifest(project, {normalize_name(pp.name) for pp in workspace if pp.name}, requires_python)
    for pp in project.pyprojects:
        if pp.name is None:
            continue
        pkg = by_name.get(normalize_name(pp.name)) or locals_by_path.get(_rel_to_root(project, pp))
        if pkg is None:
            raise InputError(f"uv.lock is stale: package {pp.name!r} is not in it", file=pp.path,
                             line=line_of(pp.text, "name"), hint=HINT)
        # The root's sources reach the workspace members; a path dependency is a project of its own.
        sources = {**root_sources, **_sources(pp)} if pp in workspace else _sources(pp)
        _check_package(project, pp, pkg, requires_python, sources, indexes)


def _check_package(project: Project, pp: Pyproject, pkg: LocalPackage, requires_python: SpecifierSet,
                   sources: dict[str, list[dict]], indexes: dict[str, str]) -> None:
    table = pp.data.get("project", {})
    dynamic = set(table.get("dynamic", []))
    lower = _Lowering(project, pp, sources, indexes)
    if "version" not in dynamic and "version" in table and pkg.version is not None:
        if _version(table["version"]) != _version(pkg.version):
            raise InputError(f"uv.lock is stale: the version of {pp.name!r} is {table['version']} in pyproject.toml, "
                             f"{pkg.version} in uv.lock", file=pp.path, line=line_of(pp.text, "version"),
                             hint=HINT)
    if "dependencies" not in dynamic and "optional-dependencies" not in dynamic:
        wanted = [lower.req(r, pp) for r in table.get("dependencies", [])]
        for extra, reqs in table.get("optional-dependencies", {}).items():
            wanted += [lower.req(r, pp, extra=extra) for r in reqs]
        locked = [_locked_req(entry) for entry in pkg.requires_dist]
        _compare(wanted, locked, requires_python, pp, f"the requirements of {pp.name!r}")
        declared = sorted(normalize_name(e) for e in table.get("optional-dependencies", {}))
        recorded = sorted(normalize_name(e) for e in (pkg.provides_extras or []))
        if pkg.provides_extras is not None and declared != recorded:
            raise InputError(f"uv.lock is stale: the extras of {pp.name!r} are {declared} in pyproject.toml, {recorded} in uv.lock",
                             file=pp.path, line=line_of(pp.text, "optional-dependencies"), hint=HINT)
    groups = _groups(pp)
    recorded_groups = {normalize_name(g): reqs for g, reqs in pkg.requires_dev.items()}
    for group, reqs in groups.items():
        have = recorded_groups.pop(normalize_name(group), None)
        if have is None:
            raise InputError(f"uv.lock is stale: dependency group {group!r} of {pp.name!r} is not in it", file=pp.path,
                             line=line_of(pp.text, group), hint=HINT)
        wanted = [lower.req(r, pp, group=group) for r in reqs]
        _compare(wanted, [_locked_req(e) for e in have], requires_python, pp, f"group {group!r} of {pp.name!r}")
    for group in recorded_groups:
        raise InputError(f"uv.lock is stale: it records a dependency group {group!r} of {pp.name!r} that pyproject.toml no "
                         "longer declares", file=pp.path, line=line_of(pp.text, "dependency-groups"), hint=HINT)


def _check_manifest(project: Project, members: set[str], requires_python: SpecifierSet) -> None:
    """The workspace's own records: members, requires-python, overrides, constraints, build constraints."""
    root = project.pyprojects[0]
    manifest = project.lock.head.get("manifest", {})
    recorded = manifest.get("members")
    if recorded is not None and {normalize_name(m) for m in recorded} != members:
        added = sorted(members - {normalize_name(m) for m in recorded})
        gone = sorted({normalize_name(m) for m in recorded} - members)
        what = "; ".join(filter(None, [f"new: {', '.join(added)}" if added else "",
                                       f"gone: {', '.join(gone)}" if gone else ""]))
        raise InputError(f"uv.lock is stale: the workspace members differ from its own ({what})", file=root.path,
                         line=line_of(root.text, "members"), hint=HINT)
    declared = [_specifiers(pp.data.get("project", {}).get("requires-python", ""))
                for pp in project.workspace_members()]
    if "requires-python" in project.lock.head and declared:
        locked = requires_python
        for version in _python_grid([locked, *declared]):
            if (version in locked) != all(version in spec for spec in declared):
                pp = next((pp for pp, spec in zip(project.workspace_members(), declared) if version not in spec),
                          root)
                raise InputError(f"uv.lock is stale: requires-python differs from its own ({project.lock.head['requires-python']}):"
                                 f" Python {version} is allowed by one and not the other", file=pp.path,
                                 line=line_of(pp.text, "requires-python"), hint=HINT)
    settings = _uv_settings(project)
    lower = _Lowering(project, root, {}, {})
    for key, field in (("override-dependencies", "overrides"), ("constraint-dependencies", "constraints"),
                       ("build-constraint-dependencies", "build-constraints")):
        wanted = [lower.req(r, root) for r in settings.get(key, [])]
        locked = [_locked_req(e) for e in manifest.get(field, [])]
        _compare(wanted, locked, requires_python, root, f"[tool.uv] {key}", line_key=key)


class _Lowering:
    """A pyproject requirement as uv records it: sources applied (with their markers, extras and groups),
    the extra it belongs to added to its marker."""

    def __init__(self, project: Project, pp: Pyproject, sources: dict[str, list[dict]],
                 indexes: dict[str, str]) -> None:
        self.project, self.pp, self.sources, self.indexes = project, pp, sources, indexes

    def req(self, text: object, pp: Pyproject, *, extra: str | None = None, group: str | None = None) -> list[_Req]:
        if not isinstance(text, str):
            return []
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise InputError(f"not a valid requirement {text!r}: {exc}", file=pp.path, line=line_of(pp.text, text),
                             hint="fix it as `uv lock` would ask you to") from exc
        name = normalize_name(req.name)
        base = (str(req.marker),) if req.marker else ()
        if extra is not None:
            base += (f"extra == '{normalize_name(extra)}'",)
        extras = frozenset(normalize_name(e) for e in req.extras)
        specs = _spec_set(req.specifier)
        if req.url:
            return [_Req((name, extras, specs, _url_source(req.url)), base, text=text)]
        applicable = [s for s in self.sources.get(name, [])
                      if (s.get("extra") is None or extra is not None and normalize_name(s["extra"]) ==
                          normalize_name(extra))
                      and (s.get("group") is None or group is not None and normalize_name(s["group"]) ==
                           normalize_name(group))]
        if not applicable:
            return [_Req((name, extras, specs, ("registry",)), base, text=text)]
        out = []
        for source in applicable:
            when = base + ((source["marker"],) if source.get("marker") else ())
            sig = self._source(source)
            out.append(_Req((name, extras, specs if sig[0] in ("index", "registry") else frozenset(), sig), when,
                            text=text))
        markers = tuple(s["marker"] for s in applicable if s.get("marker"))
        if len(markers) == len(applicable):  # every source has a marker: the rest comes from the index
            out.append(_Req((name, extras, specs, ("registry",)), base, unless=markers, text=text))
        return out

    def _source(self, source: dict) -> tuple:
        if source.get("workspace") or "path" in source:
            return ("local", "*")  # one of the project's own packages: read from its folder, where ever it is
        if "git" in source:
            ref = source.get("rev") or source.get("tag") or source.get("branch")
            return ("git", _git_base(source["git"]), ref, source.get("subdirectory"))
        if "url" in source:
            return ("url", source["url"].rstrip("/"))
        if "index" in source:
            return ("index", self.indexes.get(source["index"], source["index"]).rstrip("/"))
        return ("other",)


def _locked_req(entry: dict) -> list[_Req]:
    """A requirement as uv.lock records it."""
    name = normalize_name(entry.get("name", ""))
    extras = frozenset(normalize_name(e) for e in entry.get("extras", []))
    when = (entry["marker"],) if entry.get("marker") else ()
    for kind in ("editable", "directory", "virtual", "path"):
        if kind in entry:
            return [_Req((name, extras, frozenset(), ("local", "*")), when, text=_show(entry))]
    if "git" in entry:
        parts = urlsplit(entry["git"])
        query = parse_qs(parts.query)
        ref = next((query[k][0] for k in ("rev", "tag", "branch") if k in query), None)
        sub = query.get("subdirectory", [None])[0]
        return [_Req((name, extras, frozenset(), ("git", _git_base(entry["git"]), ref, sub)), when,
                     text=_show(entry))]
    if "url" in entry:
        return [_Req((name, extras, frozenset(), ("url", entry["url"].rstrip("/"))), when, text=_show(entry))]
    spec = _spec_set(_specifiers(entry.get("specifier", "")))
    source = ("index", entry["index"].rstrip("/")) if "index" in entry else ("registry",)
    return [_Req((name, extras, spec, source), when, text=_show(entry))]


def _compare(wanted: Iterable[list[_Req]], locked: Iterable[list[_Req]], requires_python: SpecifierSet,
             pp: Pyproject, where: str, line_key: str | None = None) -> None:
    """Same requirements by meaning, or an InputError saying the first difference."""
    ours = _by_key(r for group in wanted for r in group)
    theirs = _by_key(r for group in locked for r in group)
    for key in sorted(set(ours) | set(theirs), key=repr):
        a, b = ours.get(key, []), theirs.get(key, [])
        if a and b and _same_when(a, b, requires_python):
            continue
        if a and not b and not _ever(a, requires_python):
            continue  # the rest of a split by source markers that covers everything: nothing left over
        shown = (a or b)[0].text
        if not b:
            message = f"uv.lock is stale: {shown!r} ({where}) is missing from uv.lock"
        elif not a:
            message = f"uv.lock is stale: it records {shown!r} ({where}), which pyproject.toml no longer asks for"
        else:
            message = (f"uv.lock is stale: {a[0].text!r} ({where}) applies where uv.lock's {b[0].text!r} does "
                       "not, or the other way round")
        line = line_of(pp.text, a[0].text) if a else None
        if line is None:
            line = line_of(pp.text, line_key or key[0]) or line_of(pp.text, b[0].text.split("[")[0])
        raise InputError(message, file=pp.path, line=line, hint=HINT)


def _by_key(reqs: Iterable[_Req]) -> dict[Key, list[_Req]]:
    out: dict[Key, list[_Req]] = {}
    for r in reqs:
        out.setdefault(r.key, []).append(r)
    return out


def _same_when(a: list[_Req], b: list[_Req], requires_python: SpecifierSet) -> bool:
    """Whether the two lists apply in exactly the same environments (allowed by requires-python)."""
    return _equivalent(_conditions(a), _conditions(b), str(requires_python))


def _ever(reqs: list[_Req], requires_python: SpecifierSet) -> bool:
    return _satisfiable(_conditions(reqs), str(requires_python))


Conditions = frozenset[tuple[tuple[str, ...], tuple[str, ...]]]


def _conditions(reqs: list[_Req]) -> Conditions:
    return frozenset((tuple(sorted(_clean(m) for m in r.when)), tuple(sorted(_clean(m) for m in r.unless)))
                     for r in reqs)


@functools.lru_cache(maxsize=4096)
def _equivalent(a: Conditions, b: Conditions, requires_python: str) -> bool:
    """(Cached: the same markers recur in every member of a workspace.)"""
    if a == b:
        return True
    fa, fb = _predicate(a), _predicate(b)
    return all(fa(env) == fb(env) for env in _grid(a | b, SpecifierSet(requires_python)))


@functools.lru_cache(maxsize=4096)
def _satisfiable(a: Conditions, requires_python: str) -> bool:
    f = _predicate(a)
    return any(f(env) for env in _grid(a, SpecifierSet(requires_python)))


def _clean(marker: str) -> str:
    return re.sub(r"\s+", " ", marker.replace('"', "'")).strip()


def _predicate(conditions: Conditions) -> Predicate:
    compiled = [([_marker(m) for m in when], [_marker(m) for m in unless]) for when, unless in conditions]

    def holds(env: Env) -> bool:
        return any(all(m.evaluate(env) for m in when) and not any(m.evaluate(env) for m in unless)
                   for when, unless in compiled)
    return holds


_MARKERS: dict[str, Marker] = {}


def _marker(text: str) -> Marker:
    if text not in _MARKERS:
        try:
            _MARKERS[text] = Marker(text)
        except InvalidMarker:
            _MARKERS[text] = Marker("python_version >= '0'")  # uv refuses it before us; nothing to compare
    return _MARKERS[text]


def _grid(conditions: Conditions, requires_python: SpecifierSet) -> Iterable[Env]:
    """Environments that tell every marker of reqs apart: for each variable they name, each value they name
    and one they do not (for versions: each named version, and the versions just around it), the rest left
    as this interpreter has them."""
    values: dict[str, set[str]] = {}
    for text in {m for when, unless in conditions for m in when + unless}:
        for found in _MARKER_ATOM.finditer(text):
            var = found["var"] or found["var2"]
            values.setdefault("python" if var in _PY_VARS else var, set()).add(found["val"] or found["val2"])
    axes: list[list[tuple[str, str]]] = []
    if any(var in values for var in _PLATFORM_VARS):
        platforms: set[tuple[str, ...]] = set()
        for i, var in enumerate(_PLATFORM_VARS):
            for value in values.pop(var, ()):
                known = [p for p in _PLATFORMS if p[i] == value]
                platforms.update(known or [tuple(value if j == i else "depimage-other" for j in range(3))])
        platforms.add(("depimage-other",) * 3)
        axes.append([("platform", "\0".join(p)) for p in sorted(platforms)])
    for var, named in sorted(values.items()):
        if var == "python":
            bounds = {str(spec.version).replace(".*", "") for spec in requires_python}
            versions = sorted(v for v in _around(named | bounds) if requires_python.contains(v, prereleases=True))
            axes.append([("python", v) for v in versions])
        elif var.endswith("_version") or var == "platform_release":
            axes.append([(var, v) for v in sorted(_around(named))])
        else:
            axes.append([(var, v) for v in sorted(named | {"depimage-other"})])
    for combo in itertools.product(*axes):
        env: Env = {"extra": ""}
        for var, value in combo:
            if var == "platform":
                env.update(zip(_PLATFORM_VARS, value.split("\0")))
            elif var == "python":
                env["python_full_version"] = value
                env["python_version"] = ".".join(value.split(".")[:2])
            else:
                env[var] = value
        yield env


def _python_grid(specs: list[SpecifierSet], extra: Iterable[str] = ()) -> list[str]:
    """Full Python versions around every bound the specifiers and markers name, allowed by specs[0]."""
    named = set(extra) | {str(s.version).replace(".*", "") for spec in specs for s in spec}
    candidates = _around(named) | {f"{major}.{minor}.{micro}" for major, minor in
                                   [(2, 7)] + [(3, m) for m in range(0, 21)] for micro in (0, 7)}
    return sorted((v for v in candidates if specs[0].contains(v, prereleases=True)), key=Version)


def _around(named: Iterable[str]) -> set[str]:
    """Each version, padded to three parts, with its neighbours one step below and above in each part."""
    out: set[str] = set()
    for text in named:
        try:
            parts = [int(p) for p in Version(text.replace(".*", "")).release[:3]]
        except InvalidVersion:
            out.add(text)
            continue
        parts += [0] * (3 - len(parts))
        out.add(".".join(map(str, parts)))
        for i in range(3):
            for step in (-1, 1):
                moved = parts[:i] + [parts[i] + step] + [0] * (2 - i)
                if moved[i] >= 0:
                    out.add(".".join(map(str, moved)))
    return out


def _groups(pp: Pyproject) -> dict[str, list]:
    """The dependency groups of one pyproject, `{include-group = ...}` flattened, legacy dev-dependencies in dev."""
    declared = dict(pp.data.get("dependency-groups", {}))
    legacy = pp.data.get("tool", {}).get("uv", {}).get("dev-dependencies")
    if legacy:
        declared["dev"] = list(declared.get("dev", [])) + list(legacy)

    def flat(group: str, seen: tuple[str, ...]) -> list:
        out: list = []
        for item in declared.get(group, []):
            if isinstance(item, dict) and "include-group" in item:
                included = next((g for g in declared if normalize_name(g) == normalize_name(item["include-group"])),
                                None)
                if included is not None and included not in seen:
                    out += flat(included, seen + (included,))
            else:
                out.append(item)
        return out
    return {g: flat(g, (g,)) for g in declared}


def _sources(pp: Pyproject) -> dict[str, list[dict]]:
    raw = pp.data.get("tool", {}).get("uv", {}).get("sources", {})
    return {normalize_name(k): [s for s in (v if isinstance(v, list) else [v]) if isinstance(s, dict)]
            for k, v in raw.items()}


def _index_urls(project: Project) -> dict[str, str]:
    out: dict[str, str] = {}
    for pp in reversed(project.pyprojects):
        for index in pp.data.get("tool", {}).get("uv", {}).get("index", []):
            if isinstance(index, dict) and "name" in index and "url" in index:
                out[index["name"]] = index["url"]
    return out


def _uv_settings(project: Project) -> dict:
    """[tool.uv] of the root, or uv.toml beside it, which uv reads instead."""
    uv_toml = project.extra_files.get(project.at_root("uv.toml"))
    if uv_toml is not None:
        try:
            return tomllib.loads(uv_toml.decode("utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return {}
    return project.pyprojects[0].data.get("tool", {}).get("uv", {})


def _url_source(url: str) -> tuple:
    if url.startswith("git+"):
        base, _, ref = url[4:].partition("#")[0].rpartition("@") if "@" in urlsplit(url[4:]).path else \
            (url[4:].partition("#")[0], "", "")
        return ("git", _git_base(base), ref or None, None)
    if url.startswith("file:"):
        return ("local", "*")
    return ("url", url.rstrip("/"))


def _git_base(url: str) -> str:
    parts = urlsplit(url.removeprefix("git+"))
    return f"{parts.netloc.lower()}{parts.path.removesuffix('/').removesuffix('.git')}"


def _show(entry: dict) -> str:
    text = entry.get("name", "")
    if entry.get("extras"):
        text += f"[{','.join(entry['extras'])}]"
    text += entry.get("specifier", "")
    for kind in ("index", "git", "url", "editable", "directory", "path", "virtual"):
        if kind in entry:
            text += f" ({kind} {entry[kind]})"
    if entry.get("marker"):
        text += f"; {entry['marker']}"
    return text


def _specifiers(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return SpecifierSet()


def _spec_set(spec: SpecifierSet) -> frozenset:
    return frozenset(spec)


def _version(text: str) -> Version | str:
    try:
        return Version(text)
    except InvalidVersion:
        return text


def _norm(path: str) -> str:
    return PurePosixPath(os.path.normpath(path.replace("\\", "/"))).as_posix()


def _rel_to_root(project: Project, pp: Pyproject) -> str:
    return _norm(os.path.relpath(pp.path.parent, project.root))
