"""The dependency-only recipe and hash, on real projects made and changed with real uv."""

from __future__ import annotations

import json

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, cli, copy, dep_hash, edit, export, uv
from pyindex import build_wheel, serve, use_private_index
from realworld import checkout, fixture_names

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
    import json

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


# ---- equivalence: uv installs from the recipe what it installs from the project -----------------

def assert_equivalent(project: Path, tmp_path: Path) -> Path:
    out = tmp_path / "recipe"
    code, _, err = cli("recipe", str(project), "--out", str(out))
    assert code == 0, err
    assert export(out) == export(project)
    assert export(out).count("==") > 0
    return out


def test_equivalent_single_app(app, tmp_path):
    assert_equivalent(app, tmp_path)


def test_equivalent_library_with_extras_and_groups(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    uv("init", "-q", "--lib", "--name", "mylib", ".", cwd=lib)
    uv("add", "-q", "--no-sync", "six", cwd=lib)
    uv("add", "-q", "--no-sync", "--optional", "net", "idna", cwd=lib)
    uv("add", "-q", "--no-sync", "--group", "test", "iniconfig", cwd=lib)
    assert_equivalent(lib, tmp_path)


def test_equivalent_workspace_with_member_deps_and_path_dependency(workspace, tmp_path):
    out = assert_equivalent(workspace, tmp_path)
    assert (out / "libs/pathdep/pyproject.toml").is_file()
    assert (out / "packages/appb/pyproject.toml").is_file()
    assert "certifi" in export(out)  # the path dependency's own dependency


def test_a_vendored_wheel_keeps_its_version_and_the_recipe_syncs(app, tmp_path):
    """A wheel kept in the repository (`path = "wheels/x.whl"`) is local, so the image's `uv sync
    --no-install-local` skips it; its version is in its file name, which uv checks against the lock."""
    wheel = build_wheel(tmp_path / "build")
    (app / "wheels").mkdir()
    shutil.copy(wheel, app / "wheels" / wheel.name)
    uv("add", "-q", "--no-sync", f"./wheels/{wheel.name}", cwd=app)
    before = dep_hash(app)
    out = assert_equivalent(app, tmp_path)
    assert 'version = "1.0.0"' in (out / "uv.lock").read_text().split('name = "privpkg"')[1].split("[[package]]")[0]
    uv("sync", "-q", "--frozen", "--no-install-local", cwd=out, env={"UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")})
    uv("version", "--bump", "minor", "--no-sync", cwd=app)
    assert dep_hash(app) == before


def test_equivalent_with_platform_markers(app, tmp_path):
    uv("add", "-q", "--no-sync", "colorama; sys_platform == 'win32'", "tomli; python_version < '3.11'", cwd=app)
    out = assert_equivalent(app, tmp_path)
    assert "sys_platform == 'win32'" in export(out)


def test_equivalent_with_explicit_second_index_and_package_source(app, tmp_path):
    index = serve(build_wheel(tmp_path / "wheel"))
    try:
        use_private_index(app, index)
        out = assert_equivalent(app, tmp_path)
        assert "privpkg==1.0.0" in export(out)
        assert index.url in (out / "uv.lock").read_text()
    finally:
        index.stop()


def test_equivalent_dynamic_version(tmp_path):
    proj = tmp_path / "dyn"
    proj.mkdir()
    uv("init", "-q", "--lib", "--name", "dyn", ".", cwd=proj)
    text = (proj / "pyproject.toml").read_text()
    text = text.replace('version = "0.1.0"\n', 'dynamic = ["version"]\n')
    text = text[: text.index("[build-system]")] + (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[tool.hatch.version]\npath = "src/dyn/__init__.py"\n')
    (proj / "pyproject.toml").write_text(text)
    (proj / "src/dyn/__init__.py").write_text('__version__ = "1.2.3"\n')
    uv("add", "-q", "--no-sync", "six", cwd=proj)
    before = dep_hash(proj)
    assert_equivalent(proj, tmp_path)
    (proj / "src/dyn/__init__.py").write_text('__version__ = "1.2.4"\n')
    uv("lock", cwd=proj)
    assert dep_hash(proj) == before


@pytest.mark.parametrize("name", fixture_names())
def test_equivalent_real_world_lock(name, tmp_path):
    """Every real fixture: uv reads the recipe (where the image's `uv sync` runs) as it reads the project."""
    fx = checkout(name, tmp_path)
    out = tmp_path / "recipe"
    code, _, err = cli("recipe", str(fx.project), "--out", str(out))
    assert code == 0, err
    in_recipe = Path(err.split("the project is at ")[1].split()[0]) if "the project is at " in err else out
    for flags in [(), ("--all-packages", "--all-groups"), ("--all-packages", "--all-groups", "--all-extras")]:
        want = uv("export", "--frozen", "--no-emit-local", *flags, cwd=fx.project, check=False)
        got = uv("export", "--frozen", "--no-emit-local", *flags, cwd=in_recipe, check=False)
        assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr), flags
        assert want.returncode == 0 or flags, want.stderr
    assert want.stdout.count("==") > 0


def test_recipe_syncs_the_same_packages_as_the_project(workspace, tmp_path):
    """The real install, not just the export: the same third-party distributions land in the venv."""
    out = tmp_path / "recipe"
    assert cli("recipe", str(workspace), "--out", str(out))[0] == 0
    envs = {}
    for name, where, flags in [("orig", workspace, ["--no-install-local"]), ("recipe", out, ["--no-install-local"])]:
        env_dir = tmp_path / f"venv-{name}"
        uv("sync", "-q", "--frozen", "--all-packages", *flags, cwd=where, env={"UV_PROJECT_ENVIRONMENT": str(env_dir)})
        envs[name] = uv("pip", "freeze", "--python", str(env_dir / "bin/python"), cwd=tmp_path).stdout
    assert envs["orig"] == envs["recipe"]
    assert "certifi==" in envs["recipe"] and "six==" in envs["recipe"]


# ---- the recipe files -----------------------------------------------------------------------------

def test_recipe_is_deterministic_and_masked(workspace, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("recipe", str(workspace), "--out", str(a))[0] == 0
    old = os.umask(0o027)
    try:
        assert cli("recipe", str(workspace), "--out", str(b))[0] == 0
    finally:
        os.umask(old)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in files_a:
        sa, sb = (a / rel).stat(), (b / rel).stat()
        assert sa.st_mode == sb.st_mode
        if (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes()
            assert oct(sa.st_mode & 0o777) == "0o644"
    lock = (a / "uv.lock").read_text()
    assert 'version = "0.1.0"' not in lock.split('name = "six"')[0].split('name = "root"')[-1]
    for member in ["pyproject.toml", "packages/liba/pyproject.toml", "libs/pathdep/pyproject.toml"]:
        text = (a / member).read_text()
        assert 'version = "0.0.0"' in text and "description" not in text and "readme" not in text


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
