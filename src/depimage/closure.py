"""What one workspace member installs: the part of uv.lock that `uv sync --package <member>` reaches.

The hash of a member's image covers only this closure, so a dependency change in member X changes
member Y's hash only when Y reaches the changed package.
"""

from __future__ import annotations

import tomllib

from .errors import InputError
from .lockfile import LOCAL_SOURCES, Lock, split_packages
from .options import ImageOptions
from .project import Project
from .recipe import Recipe, canonical_json, normalize_name


class LockGraph:
    """uv.lock parsed whole, once per project, with each package's masked text kept for hashing."""

    def __init__(self, lock: Lock) -> None:
        data = tomllib.loads(lock.text)
        head_text, blocks = split_packages(lock.masked)
        head = tomllib.loads(head_text)
        head.pop("manifest", None)  # the member list: adding a member must not move every hash
        self.head = canonical_json(head)
        self.packages: list[dict] = data.get("package", [])
        self.text = blocks
        self.by_name: dict[str, list[int]] = {}
        for i, pkg in enumerate(self.packages):
            self.by_name.setdefault(normalize_name(pkg["name"]), []).append(i)

    def _resolve(self, dep: dict) -> int | None:
        found = self.by_name.get(normalize_name(dep["name"]), [])
        if len(found) > 1 and "version" in dep:
            found = [i for i in found if self.packages[i].get("version") == dep["version"]] or found
        return found[0] if found else None

    def closure(self, member: str, options: ImageOptions) -> list[int]:
        """Indexes of every package `uv sync --package member` with these options can install."""
        start = self.by_name.get(normalize_name(member))
        if not start:
            raise InputError(f"package {member!r} is not in uv.lock",
                             hint="name a workspace member (its [project] name), or run `uv lock`")
        root = self.packages[start[0]]
        todo: list[tuple[int, tuple[str, ...]]] = []
        for dep in root.get("dependencies", []):
            todo.append((self._resolve(dep), tuple(dep.get("extra", []))))
        extras = root.get("optional-dependencies", {})
        chosen = extras if options.all_extras else {e: extras.get(e, []) for e in options.extras}
        groups = root.get("dev-dependencies", {})
        wanted: set[str] = set(groups) if options.all_groups else set(options.groups)
        if not options.no_dev and not options.no_default_groups and "dev" in groups:
            wanted.add("dev")
        for deps in list(chosen.values()) + [groups.get(g, []) for g in sorted(wanted)]:
            todo += [(self._resolve(dep), tuple(dep.get("extra", []))) for dep in deps]
        seen: set[int] = {start[0]}
        seen_extras: set[tuple[int, str]] = set()
        while todo:
            index, dep_extras = todo.pop()
            if index is None:
                continue
            pkg = self.packages[index]
            if index not in seen:
                seen.add(index)
                todo += [(self._resolve(d), tuple(d.get("extra", []))) for d in pkg.get("dependencies", [])]
            for extra in dep_extras:
                if (index, extra) not in seen_extras:
                    seen_extras.add((index, extra))
                    todo += [(self._resolve(d), tuple(d.get("extra", [])))
                             for d in pkg.get("optional-dependencies", {}).get(extra, [])]
        return sorted(seen)

    def is_local(self, index: int) -> bool:
        return any(kind in self.packages[index].get("source", {}) for kind in LOCAL_SOURCES)


def closure_items(project: Project, recipe: Recipe, graph: LockGraph, options: ImageOptions) -> list[tuple[str, bytes]]:
    """The hash input of one member: lock head, reached packages (masked), reached local pyprojects,
    the root's uv settings, and the settings files. What the member does not reach is left out."""
    assert options.package
    reached = graph.closure(options.package, options)
    local_names = {normalize_name(graph.packages[i]["name"]) for i in reached if graph.is_local(i)}
    items = [("uv.lock#head", graph.head)]
    items += [(f"uv.lock#{graph.packages[i]['name']}", graph.text[i].encode()) for i in reached]
    for pp in project.pyprojects:
        if pp.name and normalize_name(pp.name) in local_names:
            items.append((pp.relpath, canonical_json(recipe.pyprojects[pp.relpath])))
    root_uv = dict(project.pyprojects[0].data.get("tool", {}).get("uv", {}))
    root_uv.pop("workspace", None)  # member globs: adding a member must not move every hash
    items.append(("pyproject.toml#tool.uv", canonical_json(root_uv)))
    items += [(name, content) for name, content in recipe.verbatim.items() if name != "uv.lock"]
    return sorted(items)
