"""The recipe on real projects made with real uv: uv installs from it exactly what it installs from the project."""

from __future__ import annotations


import os
import shutil
from pathlib import Path

import pytest

from helpers import cli, dep_hash, export, uv
from pyindex import build_wheel, serve, use_private_index
from realworld import checkout, fixture_names

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


