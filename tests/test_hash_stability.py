"""The dependency-only hash on real projects made and changed with real uv: the same when nothing that gets
installed changed, new when anything did."""

from __future__ import annotations

import json

import os
import subprocess
import sys

import pytest

from helpers import REPO, cli, copy, dep_hash, edit, uv
from realworld import change_locked_hash

# ---- same hash: nothing that gets installed changed ----------------------------------------------

COSMETIC_EDITS = {
    "description": ('description = "Add your description here"', 'description = "Now with words"'),
    "readme": ('readme = "README.md"', 'readme = "README.rst"'),
    "authors": ("authors = [", 'authors = [\n    { name = "Someone Else", email = "se@example.com" },'),
    "classifiers+keywords+urls": ("requires-python", 'classifiers = ["Private :: Do Not Upload"]\n'
                                  'keywords = ["shop"]\nurls = { Home = "https://example.com" }\nrequires-python'),
    "comments+whitespace": ("[project]\n", "# a comment\n[project]   # another\n\n\n"),
    "scripts": ('shop = "shop:main"', 'shop = "shop.cli:run"\nshop-admin = "shop.admin:main"'),
}
APPENDED_TABLES = {
    "ruff": "\n[tool.ruff]\nline-length = 120\n",
    "pytest": "\n[tool.pytest.ini_options]\naddopts = '-q'\n",
    "entry-points": '\n[project.entry-points."x.y"]\na = "b:c"\n',
}


def test_same_hash_after_version_bump_of_root_and_member(workspace):
    before = dep_hash(workspace)
    lock_before = (workspace / "uv.lock").read_text()
    uv("version", "--bump", "patch", "--no-sync", cwd=workspace)
    uv("version", "--bump", "minor", "--no-sync", "--package", "liba", cwd=workspace)
    uv("version", "--bump", "major", "--no-sync", cwd=workspace / "libs/pathdep")
    uv("lock", "--offline", cwd=workspace)  # as a release: from the cache (see helpers.uv)
    assert (workspace / "uv.lock").read_text() != lock_before  # uv did record the new versions
    assert dep_hash(workspace) == before


@pytest.mark.parametrize("name", sorted(COSMETIC_EDITS))
def test_same_hash_after_cosmetic_edit(app, name):
    before = dep_hash(app)
    edit(app / "pyproject.toml", *COSMETIC_EDITS[name])
    assert dep_hash(app) == before


def test_same_hash_after_a_windows_editor_saved_the_files(app):
    """A byte order mark and CRLF line ends, as some Windows editors write them, and a comment in
    .python-version: uv reads past all three."""
    before = dep_hash(app)
    json_before = cli("hash", str(app), "--json")[1]
    (app / ".python-version").write_text("# the Python of production\n" + (app / ".python-version").read_text())
    for name in ("pyproject.toml", ".python-version"):
        text = (app / name).read_text()
        (app / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    uv("lock", "--check", cwd=app)  # uv takes them as they are
    assert uv("python", "find", cwd=app).stdout.strip()
    assert dep_hash(app) == before
    assert cli("hash", str(app), "--json")[1].split('"base_image": ')[1][:30] == \
        json_before.split('"base_image": ')[1][:30]


@pytest.mark.parametrize("name", sorted(APPENDED_TABLES))
def test_same_hash_after_unrelated_table(app, name):
    before = dep_hash(app)
    (app / "pyproject.toml").write_text((app / "pyproject.toml").read_text() + APPENDED_TABLES[name])
    assert dep_hash(app) == before


def test_same_hash_after_key_order_and_source_change(app):
    before = dep_hash(app)
    text = (app / "pyproject.toml").read_text()
    head, sep, rest = text.partition("[dependency-groups]")
    (app / "pyproject.toml").write_text(sep + rest + "\n" + head)  # tables swapped
    (app / "main.py").write_text("print('changed')\n")
    (app / "newmodule.py").write_text("x = 1\n")
    assert dep_hash(app) == before


def test_same_hash_for_a_copy_elsewhere_under_another_umask(app, tmp_path):
    before = dep_hash(app)
    old = os.umask(0o077)
    try:
        other = copy(app, tmp_path / "elsewhere" / "deep")
        assert dep_hash(other) == before
    finally:
        os.umask(old)


# ---- new hash: what gets installed changed ------------------------------------------------------

def test_new_hash_after_dependency_changes(app):
    seen = {dep_hash(app)}
    steps = [
        ("add", "-q", "--no-sync", "certifi"),
        ("remove", "-q", "--no-sync", "six"),
        ("add", "-q", "--no-sync", "idna==3.7"),           # a downgrade...
        ("add", "-q", "--no-sync", "idna>=3.8"),           # ...and an upgrade
        ("add", "-q", "--no-sync", "--optional", "cli", "iniconfig"),  # a new extra
        ("add", "-q", "--no-sync", "--group", "lint", "six"),           # a new group
    ]
    for step in steps:
        uv(*step, cwd=app)
        h = dep_hash(app)
        assert h not in seen, f"hash did not change after uv {' '.join(step)}"
        seen.add(h)


def test_new_hash_after_requires_python_change(app):
    before = dep_hash(app, "--base-image", "python:3.12-slim")
    edit(app / "pyproject.toml", 'requires-python = ">=3.11"', 'requires-python = ">=3.11.5"')
    uv("lock", cwd=app)
    assert dep_hash(app, "--base-image", "python:3.12-slim") != before


def test_new_hash_after_uv_index_setting_change(app):
    seen = {dep_hash(app)}
    (app / "pyproject.toml").write_text((app / "pyproject.toml").read_text()
                                        + '\n[tool.uv]\nindex-strategy = "unsafe-best-match"\n')
    seen.add(dep_hash(app))
    (app / "pyproject.toml").write_text((app / "pyproject.toml").read_text()
                                        + '\n[[tool.uv.index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\n')
    seen.add(dep_hash(app))
    edit(app / "pyproject.toml", "https://mirror.example/simple", "https://other.example/simple")
    seen.add(dep_hash(app))
    assert len(seen) == 4


OPTION_CHANGES = [
    ("--base-image", "python:3.13-slim"), ("--uv-version", "0.13.8"), ("--uv-image", "mirror.example/uv:0.13.9"),
    ("--no-dev",), ("--group", "dev"), ("--extra", "cli"), ("--all-extras",), ("--all-groups",),
    ("--no-default-groups",), ("--package", "shop"), ("--platform", "linux/arm64"),
    ("--build-arg", "UV_INDEX_STRATEGY=first-index"), ("--secret", "HOME"),
]


def test_new_hash_for_every_image_shaping_option(app):
    uv("add", "-q", "--no-sync", "--optional", "cli", "certifi", cwd=app)
    hashes = {opts: dep_hash(app, *opts) for opts in [()] + OPTION_CHANGES}
    assert len(set(hashes.values())) == len(hashes)


def test_option_order_does_not_matter(app):
    uv("add", "-q", "--no-sync", "--group", "a", "certifi", cwd=app)
    uv("add", "-q", "--no-sync", "--group", "b", "packaging", cwd=app)
    assert dep_hash(app, "--group", "a", "--group", "b", "--platform", "linux/arm64,linux/amd64") == \
        dep_hash(app, "--group", "b", "--group", "a", "--platform", "linux/amd64", "--platform", "linux/arm64")


def test_hash_output_forms(app):
    code, out, _ = cli("hash", str(app), "--uv-version", "0.13.9", "--json")
    assert code == 0

    data = json.loads(out)
    assert len(data["hash"]) == 64 and data["tag"] == "deps-" + data["hash"][:24]
    assert {f["path"] for f in data["files"]} == {"pyproject.toml", "uv.lock", ".python-version"}
    code, out, _ = cli("hash", str(app), "--uv-version", "0.13.9", "--tag-prefix", "py-")
    assert out.split() == [data["hash"], "py-" + data["hash"][:24]]


def test_output_into_a_closed_pipe_is_no_traceback(app):
    """`depimage hash --json | head -1`: the reader goes away first; depimage ends like a tool SIGPIPE stops."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "depimage", "hash", str(app), "--uv-version", "0.13.9", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # before depimage writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and "Traceback" not in err and "Broken pipe" not in err, err




def test_same_hash_after_another_uv_release_rewrote_the_lock(app, tmp_path):
    """A team upgrades uv: the next release's `uv lock` rewrites the lock's format revision (uv 0.8 writes
    `revision = 3`, the uv of the tests 5) and nothing else that gets installed. The hash stays; a locked file
    that changes still moves it. The older uv comes from the package index."""
    old_uv = tmp_path / "old-uv"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
                    str(old_uv), "uv==0.8.24"], check=True, capture_output=True)
    env = {**os.environ, "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
    (app / "uv.lock").unlink()  # locked anew by the older uv
    subprocess.run([str(old_uv / "bin" / "uv"), "lock", "--python", sys.executable], cwd=app,
                   check=True, capture_output=True, env=env)
    old = (app / "uv.lock").read_text()
    assert "\nrevision = 3\n" in old
    before = dep_hash(app)
    uv("version", "--bump", "patch", "--no-sync", cwd=app)
    new = (app / "uv.lock").read_text()
    assert "\nrevision = 3\n" not in new and new.split("[[package]]")[0] != old.split("[[package]]")[0]
    assert dep_hash(app) == before
    change_locked_hash(app / "uv.lock", "six", "", "")  # another six: another file, another hash
    assert dep_hash(app) != before
