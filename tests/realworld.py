"""The real public uv projects of tests/fixtures/realworld, and every target x selection of each, with uv's own
answer (`uv export`) to what `uv sync` installs for it. The flags are written here from the fixture's
pyproject files, not taken from depimage, so the comparison is with uv and not with depimage itself."""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from helpers import SHARED_FIXTURES, UV_ENV, copy


@dataclass(frozen=True)
class Fixture:
    name: str
    folder: Path  # the copied fixture (a git repository, as upstream)
    project: Path  # the uv project inside it


def fixture_names() -> list[str]:
    return sorted(line.split()[0] for line in (SHARED_FIXTURES / "SOURCES.txt").read_text().splitlines() if line.strip())


def checkout(name: str, where: Path) -> Fixture:
    """A copy of the fixture as its own git repository; the uv project is SOURCES.txt's fifth column, if any."""
    fields = next(line.split() for line in (SHARED_FIXTURES / "SOURCES.txt").read_text().splitlines()
                  if line.split() and line.split()[0] == name)
    folder = copy(SHARED_FIXTURES / name, where / name)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return Fixture(name, folder, folder / fields[4] if len(fields) > 4 else folder)


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def _groups(data: dict) -> set[str]:
    groups = set(data.get("dependency-groups", {}))
    if data.get("tool", {}).get("uv", {}).get("dev-dependencies"):
        groups.add("dev")
    return groups


def selections(project: Path, member_pyproject: Path | None) -> list[tuple[str, ...]]:
    """Default, each group the member or the root declares, all groups, and the extras: all at once,
    or one at a time where the root declares conflicts."""
    root = _toml(project / "pyproject.toml")
    own = _toml(member_pyproject) if member_pyproject else root
    out: list[tuple[str, ...]] = [()]
    groups = _groups(root) | _groups(own)
    out += [("--group", g) for g in sorted(groups)]
    if groups:
        out.append(("--all-groups",))
    extras = sorted(own.get("project", {}).get("optional-dependencies", {}))
    if extras and root.get("tool", {}).get("uv", {}).get("conflicts"):
        out += [("--extra", e) for e in extras]
    elif extras:
        out.append(("--all-extras",))
    return out


def oracle(project: Path, package: str | None, selection: tuple[str, ...]) -> set[tuple[str, str, str]] | None:
    """(name, version, source) of what uv exports for the selection, or None where uv refuses it."""
    args = ["uv", "export", "--frozen", "--no-emit-local", "--format", "pylock.toml", "--no-header", "--quiet"]
    args += (["--package", package] if package else []) + list(selection)
    proc = subprocess.run(args, cwd=project, capture_output=True, text=True, env=UV_ENV)
    if proc.returncode != 0:
        return None
    found = set()
    for pkg in tomllib.loads(proc.stdout).get("packages", []):
        vcs = pkg.get("vcs")
        source = pkg.get("index") or (f"{vcs['type']}+{vcs['url']}@{vcs['commit-id']}" if vcs else "")
        found.add((pkg["name"], pkg.get("version", ""), source))
    return found


# ---- edits that a release makes, and one that changes an installed package ----------------------------

def _name_pattern(name: str) -> str:
    return "[-_.]+".join(re.escape(part) for part in re.split(r"[-_.]+", name))


def bump_release(fixture: Fixture, local_names: list[str], pyprojects: list[Path]) -> None:
    """A lockstep release: every local version +1 (pyproject.toml and uv.lock), every specifier on a local
    package with them (exact pins and ranges); descriptions reworded and an unrelated tool table added."""
    lock = fixture.project / "uv.lock"
    text = lock.read_text()
    for name in local_names:
        text = re.sub(rf'(\[\[package\]\]\nname = "{re.escape(name)}"\nversion = ")([^"]+)(")',
                      lambda m: m[1] + m[2] + "1" + m[3], text)
    # what `uv lock` records of a specifier on a local package (a path dependency's requirement) moves too
    recorded = re.compile(r'(\{ name = "(?:%s)"[^}]*?specifier = ")([^"]*)(")' % "|".join(map(re.escape, local_names)))
    text = recorded.sub(lambda m: m[1] + re.sub(r"(\d[\w.*+!]*)", r"\g<1>1", m[2]) + m[3], text)
    lock.write_text(text)
    # every specifier on a local package: `core==1.2.3` and `core>=1.1,<1.2` alike move with the release
    pins = re.compile(r"""(["']\s*(?:%s)\s*(?:\[[^\]]*\])?\s*)([<>=!~][^;"'@]*)"""
                      % "|".join(_name_pattern(n) for n in local_names), re.I)
    for path in pyprojects:
        src = path.read_text()
        src = re.sub(r'(?m)^(version\s*=\s*["\'])([^"\']+)(["\'])', lambda m: m[1] + m[2] + "1" + m[3], src, count=1)
        src = pins.sub(lambda m: m[1] + re.sub(r"(\d[\w.*+!]*)", r"\g<1>1", m[2]), src)
        src = re.sub(r'(?m)^(description\s*=\s*["\'])', r"\1Reworded. ", src, count=1)
        path.write_text(src + "\n[tool.depimage-test-unrelated]\nline-length = 99\n")


def change_locked_hash(lock: Path, name: str, version: str, source: str) -> None:
    """Change one sha256 (or, for a git source, the commit) of the locked package name==version from source."""
    text = lock.read_text()
    starts = [m.start() for m in re.finditer(r"(?m)^\[\[package\]\]$", text)] + [len(text)]
    for a, b in zip(starts, starts[1:]):
        block = text[a:b]
        if f'\nname = "{name}"\n' not in block or (version and f'\nversion = "{version}"\n' not in block):
            continue
        if source and source.split("@")[0] not in block:
            continue
        found = re.search(r"sha256:([0-9a-f]{64})", block) or re.search(r"#([0-9a-f]{40})", block)
        assert found, f"nothing to change in {name} {version}"
        old = found.group(1)
        new = ("0" if old[0] != "0" else "1") + old[1:]
        lock.write_text(text[:a] + block.replace(old, new, 1) + text[b:])
        return
    raise AssertionError(f"{name} {version} from {source} not found in {lock}")
