"""Bad input on real projects: a clear message naming the file and line, exit code 2, nothing written; and
`--help` that teaches."""

from __future__ import annotations

import json

import os
import shutil
from pathlib import Path


from helpers import cli, dep_hash, edit, uv

# ---- bad input: a clear message, exit code 2, nothing written -------------------------------------

def assert_refused(args, *needles, out: Path | None = None):
    code, stdout, err = cli(*args)
    assert code == 2, (code, err)
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    if out is not None:
        assert not out.exists() or not any(out.iterdir())
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_no_pyproject(tmp_path):
    assert_refused(["hash", str(tmp_path), "--uv-version", "0.13.9"], "no pyproject.toml", str(tmp_path))


def test_no_lock(app, tmp_path):
    (app / "uv.lock").unlink()
    out = tmp_path / "out"
    assert_refused(["recipe", str(app), "--out", str(out)], "no uv.lock", "run `uv lock`", out=out)


def test_member_folder_selects_the_member_as_uv_sync_there_does(workspace):
    """`uv sync` in a member's folder installs that member's dependencies: so does depimage there."""
    member = workspace / "packages/appb"
    code, out, err = cli("hash", str(member), "--uv-version", "0.13.9", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["options"]["package"] == "appb"
    assert report["hash"] == dep_hash(workspace, "--package", "appb") != dep_hash(workspace)
    # uv's own answer in that folder: what `uv sync` there would install
    there = uv("export", "--frozen", "--no-emit-local", "--format", "requirements.txt", "--no-hashes", "--no-header",
               cwd=member).stdout
    wanted = sorted(line.split("==")[0] for line in there.splitlines() if "==" in line)
    assert sorted(p["name"] for p in report["installed"]) == wanted == ["idna", "six"]


def test_folder_outside_the_workspace_members_is_still_refused(workspace):
    (workspace / "stray").mkdir()
    uv("init", "-q", "--lib", "--no-workspace", "--name", "stray", "stray", cwd=workspace)
    assert_refused(["hash", str(workspace / "stray"), "--uv-version", "0.13.9"], "no uv.lock",
                   "does not list this folder as a member")


def test_malformed_toml_names_file_and_line(app, tmp_path):
    edit(app / "pyproject.toml", "[project]\n", "[project]\nname = = 'x'\n")
    out = tmp_path / "out"
    assert_refused(["recipe", str(app), "--out", str(out)], "pyproject.toml:2:", "not valid TOML", out=out)


def test_unknown_lock_version(app):
    edit(app / "uv.lock", "version = 1\n", "version = 2\n")
    assert_refused(["hash", str(app), "--uv-version", "0.13.9"], "uv.lock:1:", "lock format version 2",
                   "upgrade depimage")


def test_stale_lock(app):
    edit(app / "pyproject.toml", '"idna', '"certifi>=2024",\n    "idna')
    assert_refused(["hash", str(app), "--uv-version", "0.13.9"], "certifi>=2024", "missing from uv.lock",
                   "run `uv lock`", "pyproject.toml:")


def test_stale_lock_new_group(app):
    (app / "pyproject.toml").write_text(
        (app / "pyproject.toml").read_text().replace("[dependency-groups]\n", "[dependency-groups]\ndocs = [\"six\"]\n"))
    assert_refused(["hash", str(app), "--uv-version", "0.13.9"], "group 'docs'", "run `uv lock`")


def test_member_glob_outside_project(workspace, tmp_path):
    edit(workspace / "pyproject.toml", '"packages/liba",', '"../*",')
    out = tmp_path / "out"
    assert_refused(["recipe", str(workspace), "--out", str(out)], "leads outside", "pyproject.toml:",
                   out=out)


def test_member_through_symlink(workspace, tmp_path):
    real = tmp_path / "elsewhere"
    shutil.move(workspace / "packages/liba", real)
    (workspace / "packages/liba").symlink_to(real)
    out = tmp_path / "out"
    assert_refused(["recipe", str(workspace), "--out", str(out)], "symlink", out=out)


def test_path_source_outside_project(workspace, tmp_path):
    edit(workspace / "pyproject.toml", 'pathdep = { path = "libs/pathdep" }', 'pathdep = { path = "../pathdep" }')
    assert_refused(["hash", str(workspace), "--uv-version", "0.13.9"], "'../pathdep' leads outside", "--context")


def test_out_is_project_or_non_empty(app):
    assert_refused(["recipe", str(app), "--out", str(app)], "--out is the project folder")
    assert_refused(["recipe", str(app), "--out", str(app), "--force"], "--out is the project folder")
    out = app / "recipe"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_refused(["recipe", str(app), "--out", str(out)], "not empty", "--force")
    assert (out / "keep.txt").read_text() == "mine"
    assert cli("recipe", str(app), "--out", str(out), "--force")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [".python-version", "pyproject.toml", "uv.lock"]


def test_help_teaches():
    code, out, _ = cli("--help")
    assert code == 0 and "examples:" in out and "exit codes" in out
    for command in ["recipe", "hash"]:
        code, out, _ = cli(command, "--help")
        assert code == 0 and "example" in out


def test_hash_needs_no_secret_value_but_ensure_does(app):
    assert "DEPIMAGE_TEST_UNSET_SECRET" not in os.environ
    assert dep_hash(app, "--secret", "DEPIMAGE_TEST_UNSET_SECRET") != dep_hash(app)
    assert dep_hash(app, "--secret", "id=DEPIMAGE_TEST_UNSET_SECRET,env=OTHER") == \
        dep_hash(app, "--secret", "DEPIMAGE_TEST_UNSET_SECRET")
    assert_refused(["ensure", str(app), "--image", "127.0.0.1:9/x", "--uv-version", "0.13.9",
                    "--secret", "DEPIMAGE_TEST_UNSET_SECRET"], "no environment variable or file named")


def test_a_group_or_extra_nobody_declares_is_refused_as_uv_refuses_it(monorepo):
    code, _, err = cli("hash", str(monorepo), "--uv-version", "0.13.9", "--package", "api", "--group", "nosuch")
    assert code == 2 and "Group `nosuch` is not defined" in err and "apps/api/pyproject.toml" in err
    code, _, err = cli("hash", str(monorepo), "--uv-version", "0.13.9", "--package", "api", "--extra", "nosuch")
    assert code == 2 and "Extra `nosuch` is not defined" in err
    uv("add", "-q", "--no-sync", "--group", "lint", "six", cwd=monorepo)  # the root's group, installed with api
    assert cli("hash", str(monorepo), "--uv-version", "0.13.9", "--package", "api", "--group", "lint")[0] == 0
