"""Every real fixture, the whole project and every member, every selection: the hash follows what uv says
`uv sync` installs, and nothing else.

- depimage's installed set is uv's own export for the same selection; a selection uv refuses, depimage
  refuses too (exit 2).
- Changing the locked hash of a package changes the hash of every target and selection that installs it,
  and (for members) of no other: one rarely installed package, one installed everywhere, and one name locked
  from two indexes where the fixture has it.
- A lockstep release (every local version and the exact pins between local packages bumped, descriptions
  reworded, a tool table added) changes no hash.
"""

from __future__ import annotations

import os

import collections
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from depimage.errors import InputError
from depimage.fingerprint.options import ImageOptions
from depimage.fingerprint.pipeline import fingerprint
from depimage.project.reader import read_project
from depimage.recipe.recipe import build_recipe
from realworld import bump_release, change_locked_hash, checkout, fixture_names, oracle, selections

Pair = tuple[str | None, tuple[str, ...]]


def options_for(package: str | None, selection: tuple[str, ...]) -> ImageOptions:
    groups = [selection[1]] if selection[:1] == ("--group",) else []
    extras = [selection[1]] if selection[:1] == ("--extra",) else []
    return ImageOptions("python:3.12-slim", "0.13.9", package=package, groups=tuple(groups), extras=tuple(extras),
                        all_groups="--all-groups" in selection, all_extras="--all-extras" in selection)


def hashes(project_dir, pairs: list[Pair]) -> dict[Pair, tuple[str, frozenset] | None]:
    """depimage's hash and installed set of each pair (None where it refuses the selection as bad input)."""
    project = read_project(project_dir)
    recipe = build_recipe(project)

    def one(pair: Pair):
        try:
            prepared = fingerprint(project, options_for(*pair), os.environ, recipe=recipe)
        except InputError:
            return None
        return prepared.hash.hex, frozenset((p["name"], p["version"], p["source"])
                                            for p in prepared.installed.packages())

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(pairs, pool.map(one, pairs)))


def all_pairs(fx) -> list[Pair]:
    project = read_project(fx.project)
    pairs: list[Pair] = [(None, s) for s in selections(fx.project, None)]
    for pp in project.workspace_members():
        pairs += [(pp.name, s) for s in selections(fx.project, pp.path)]
    return pairs


def pick_mutations(sets: dict[Pair, frozenset]) -> list[tuple[str, str, str]]:
    """The package installed by the fewest member selections, the one installed by the most, and one name
    locked from two indexes (the PyTorch CPU/CUDA shape), when the fixture has one."""
    counts = collections.Counter(entry for (package, _), found in sets.items() if package for entry in found)
    hashed = sorted((n, e) for e, n in counts.items() if e[2].startswith("http"))  # index packages: sha256s
    picks = [hashed[0][1], hashed[-1][1]]
    by_name = collections.defaultdict(set)
    for entry in counts:
        by_name[entry[0]].add(entry)
    twice = sorted(e for entries in by_name.values() if len({x[2] for x in entries}) > 1 for e in entries)
    if twice:
        picks.append(twice[0])
    return list(dict.fromkeys(picks))


@pytest.mark.parametrize("name", fixture_names())
def test_hashes_follow_what_uv_installs(name, tmp_path):
    fx = checkout(name, tmp_path)
    pairs = all_pairs(fx)
    before = hashes(fx.project, pairs)

    # uv's answer, asked independently, for every target x selection
    with ThreadPoolExecutor(max_workers=4) as pool:
        expected = dict(zip(pairs, pool.map(lambda pair: oracle(fx.project, *pair), pairs)))
    for pair in pairs:
        if expected[pair] is None:
            assert before[pair] is None, f"{pair}: uv refuses it, depimage did not"
        else:
            assert before[pair] is not None, f"{pair}: uv accepts it, depimage refused"
            assert before[pair][1] == expected[pair], pair
    valid = [p for p in pairs if before[p] is not None]
    assert any(p[0] for p in valid), "no member selection to check"
    sets = {p: before[p][1] for p in valid}

    lock = fx.project / "uv.lock"
    original = lock.read_text()
    for entry in pick_mutations(sets):
        change_locked_hash(lock, *entry)
        after = hashes(fx.project, valid)
        for pair in valid:
            moved = after[pair][0] != before[pair][0]
            if entry in sets[pair]:
                assert moved, f"{entry} changed, installed by {pair}, and its hash stayed"
            elif pair[0] is not None:
                assert not moved, f"{entry} changed, not installed by member {pair}, and its hash moved"
        lock.write_text(original)

    project = read_project(fx.project)
    bump_release(fx, sorted(project.lock.local), [pp.path for pp in project.pyprojects])
    released = hashes(fx.project, valid)
    moved = [pair for pair in valid if released[pair][0] != before[pair][0]]
    assert not moved, f"a release moved the hash of {moved[:5]}"


def test_sibling_path_dependencies_outside_the_project(tmp_path):
    """deepagents-code: the uv project is libs/code; its local packages are siblings (../deepagents,
    ../partners/*). They are read inside the repository, laid out as there, and refused outside it."""
    fx = checkout("deepagents-code", tmp_path)
    project = read_project(fx.project)
    assert project.subdir == "code" and project.base == fx.folder / "libs"
    assert {pp.relpath for pp in project.pyprojects} >= {"code/pyproject.toml", "deepagents/pyproject.toml",
                                                         "partners/modal/pyproject.toml"}
    shutil.rmtree(fx.folder / ".git")
    with pytest.raises(InputError, match="leads outside"):
        read_project(fx.project)
    assert read_project(fx.project, context=fx.folder).subdir == "code"
    with pytest.raises(InputError, match="not inside --context"):
        read_project(fx.project, context=fx.folder / "libs" / "acp")
