"""Two real shapes made with real uv: sibling uv projects whose path dependencies carry version ranges,
released in lockstep; and a lock from an index that serves no hashes, hashed with the network off."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from helpers import cli, dep_hash, edit, uv
from pyindex import PACKAGE, build_wheel, serve


def make_ranged_siblings(where: Path) -> Path:
    """libs/prebuilt, libs/core (needs prebuilt) and services/api (needs both), each its own uv project, the
    local dependencies editable by path and pinned with ranges that move with every release."""
    where.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(where)], check=True)
    for folder, kind in (("libs/prebuilt", "--lib"), ("libs/core", "--lib"), ("services/api", "--package")):
        name = "acme-" + folder.split("/")[1]
        uv("init", "-q", kind, "--no-workspace", "--name", name, folder, cwd=where)
        edit(where / folder / "pyproject.toml", 'version = "0.1.0"', 'version = "1.1.0"')
    uv("add", "-q", "--no-sync", "six", cwd=where / "libs/prebuilt")
    uv("add", "-q", "--no-sync", "idna", cwd=where / "services/api")
    for folder, needs in (("libs/core", ["prebuilt"]), ("services/api", ["core", "prebuilt"])):
        path = where / folder / "pyproject.toml"
        text = path.read_text()
        reqs = "".join(f'    "acme-{n}>=1.1.0,<1.2.0",\n' for n in needs)
        text = re.sub(r"dependencies = \[\n?", lambda m: "dependencies = [\n" + reqs, text, count=1)
        text += "\n[tool.uv.sources]\n" + "".join(
            f'acme-{n} = {{ path = "{"../" if folder.startswith("libs") else "../../libs/"}{n}", editable = true }}\n'
            for n in needs)
        path.write_text(text)
    uv("lock", "-q", cwd=where / "services/api")
    for lib in ("prebuilt", "core"):
        (where / "libs" / lib / "uv.lock").unlink(missing_ok=True)
    return where


def lockstep_release(repo: Path) -> None:
    """Every local version and every range on a local package moves; nothing third-party does."""
    for pyproject in repo.glob("*/*/pyproject.toml"):
        text = pyproject.read_text().replace(">=1.1.0,<1.2.0", ">=1.2.0,<1.3.0")
        pyproject.write_text(text.replace('version = "1.1.0"', 'version = "1.2.0"'))
    uv("lock", "-q", "--offline", cwd=repo / "services/api")


def test_a_lockstep_release_with_ranges_between_siblings_moves_no_hash(tmp_path):
    repo = make_ranged_siblings(tmp_path / "repo")
    api = repo / "services/api"
    lock = (api / "uv.lock").read_text()
    assert 'name = "acme-prebuilt", editable = "../../libs/prebuilt"' in lock  # uv keeps no specifier there
    before = dep_hash(api)
    code, plan_before, err = cli("plan", str(repo), "--no-check", "--image", "r.io/{name}", "--uv-version", "0.13.9",
                                 "--output", "json")
    assert code == 0, err

    lockstep_release(repo)
    assert (api / "uv.lock").read_text() != lock and ">=1.2.0,<1.3.0" in (api / "pyproject.toml").read_text()
    assert dep_hash(api) == before
    code, plan_after, err = cli("plan", str(repo), "--no-check", "--image", "r.io/{name}", "--uv-version", "0.13.9",
                                "--output", "json")
    assert code == 0 and json.loads(plan_after) == json.loads(plan_before)

    # and the recipe uv reads is still one uv accepts: it installs what the project does
    out = tmp_path / "recipe"
    code, _, err = cli("recipe", str(api), "--out", str(out))
    assert code == 0, err
    recipe_api = out / "services/api"
    exported = uv("export", "--frozen", "--no-emit-local", "--all-extras", "--all-groups", cwd=recipe_api).stdout
    assert exported == uv("export", "--frozen", "--no-emit-local", "--all-extras", "--all-groups", cwd=api).stdout
    assert "six==" in exported and "idna==" in exported
    uv("sync", "-q", "--frozen", "--no-install-local", "--offline", cwd=recipe_api,
       env={"UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")})

    # a third-party change still moves it
    uv("add", "-q", "--no-sync", "iniconfig", cwd=repo / "libs/prebuilt")
    uv("lock", "-q", cwd=api)
    assert dep_hash(api) != before


@pytest.fixture
def hashless(tmp_path):
    """A workspace (api uses a package from a private index that serves no hashes; tool does not), locked while
    the index was up, which is then stopped: nothing below can reach it."""
    index = serve(build_wheel(tmp_path / "wheel"), hashes=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    try:
        uv("init", "-q", "--bare", "--name", "ws", ".", cwd=ws)
        with (ws / "pyproject.toml").open("a") as fh:
            fh.write(f'\n[tool.uv.workspace]\nmembers = ["apps/*"]\n\n[[tool.uv.index]]\nname = "private"\n'
                     f'url = "{index.url}"\nexplicit = true\n\n[tool.uv.sources]\n{PACKAGE} = {{ index = "private" }}\n')
        for app in ("api", "tool"):
            uv("init", "-q", "--package", f"apps/{app}", cwd=ws)
        uv("add", "-q", "--no-sync", PACKAGE, "six", cwd=ws / "apps/api")
        uv("add", "-q", "--no-sync", "idna", cwd=ws / "apps/tool")
    finally:
        index.stop()
    lock = (ws / "uv.lock").read_text()
    entry = re.search(rf'name = "{PACKAGE}"\n.*?\n\n', lock, re.S).group(0)
    assert "hash" not in entry and f"/files/{PACKAGE}-1.0.0-py3-none-any.whl" in entry, entry
    return ws, index.url


def member_hash(ws: Path, member: str) -> tuple[str, list[dict]]:
    code, out, err = cli("hash", str(ws), "--package", member, "--uv-version", "0.13.9", "--json")
    assert code == 0, err
    report = json.loads(out)
    return report["hash"], report["installed"]


def test_a_lock_without_hashes_is_hashed_offline_and_exactly(hashless):
    ws, index_url = hashless
    api, installed = member_hash(ws, "api")
    assert {"name": PACKAGE, "version": "1.0.0", "source": index_url} in installed
    tool, _ = member_hash(ws, "tool")
    code, out, err = cli("plan", str(ws), "--no-check", "--image", "r.io/{name}", "--uv-version", "0.13.9",
                         "--output", "json")
    assert code == 0, err
    assert {t["name"]: t["hash"] for t in json.loads(out)["targets"]} == {"api": api, "tool": tool}
    assert dep_hash(ws) and dep_hash(ws / "apps/api") == api  # the whole project, and api's own folder

    url = f"/files/{PACKAGE}-1.0.0-py3-none-any.whl"
    entry = re.search(rf'name = "{PACKAGE}"\n.*?\n\n', (ws / "uv.lock").read_text(), re.S).group(0)
    for old, new in ((url + '" }', url + '", size = 1234 }'),  # a size where there was none
                     (url, url.replace("/files/", "/other/")),  # another URL
                     (entry, entry.replace("1.0.0", "1.0.1"))):  # another version (and its file's name)
        lock = (ws / "uv.lock").read_text()
        edit(ws / "uv.lock", old, new)
        moved, _ = member_hash(ws, "api")
        assert moved != api, f"changing {old!r} in the lock did not move api's hash"
        assert member_hash(ws, "tool")[0] == tool
        (ws / "uv.lock").write_text(lock)
