"""Fixtures: template uv projects made once per session with real uv, copied fresh into each test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# This checkout's code, whatever other checkout an editable install points at.
sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

from helpers import copy, make_app, make_monorepo, make_workspace, uv  # noqa: E402


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture(scope="session")
def app_template(templates) -> Path:
    return make_app(templates / "app")


@pytest.fixture(scope="session")
def workspace_template(templates) -> Path:
    return make_workspace(templates / "workspace")


@pytest.fixture(scope="session")
def monorepo_template(templates) -> Path:
    return make_monorepo(templates / "monorepo")


@pytest.fixture
def monorepo(monorepo_template, tmp_path) -> Path:
    return copy(monorepo_template, tmp_path / "monorepo")


@pytest.fixture
def app(app_template, tmp_path) -> Path:
    return copy(app_template, tmp_path / "app")


@pytest.fixture
def workspace(workspace_template, tmp_path) -> Path:
    return copy(workspace_template, tmp_path / "workspace")


# ---- the real parts, started by tests/run (tests/sandbox.sh) --------------------------------------

def pytest_collection_modifyitems(items) -> None:
    """Every test that uses the real parts is an e2e test, marked or not: so `tests/run -m "not e2e"`, which
    starts none of them, runs exactly the tests that need none of them."""
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def sandbox() -> dict[str, str]:
    """The Docker engine, registries and base image of tests/sandbox.sh. Missing ones fail the test, never
    skip it: an end-to-end test that quietly does not run hides a broken CI."""
    import os

    keys = ["DOCKER_HOST", "DEPIMAGE_TEST_REGISTRY", "DEPIMAGE_TEST_AUTH_REGISTRY", "DEPIMAGE_TEST_AUTH_USER",
            "DEPIMAGE_TEST_AUTH_PASSWORD", "DEPIMAGE_TEST_BASE_IMAGE", "DEPIMAGE_TEST_TOKEN_REGISTRY",
            "DEPIMAGE_TEST_TOKEN_GRANTS"]
    missing = [k for k in keys if not os.environ.get(k)]
    if missing:
        pytest.fail(f"the real parts are not running ({', '.join(missing)} unset): run the tests with tests/run")
    return {k: os.environ[k] for k in keys}


@pytest.fixture(scope="session")
def run_id() -> str:
    """Part of every repository name the e2e tests push to, so a second run on the same registry starts empty."""
    import uuid

    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def uv_image(sandbox, tmp_path_factory) -> str:
    """local/uv:<version>: the uv binaries from the uv wheel, laid out like ghcr.io/astral-sh/uv (no pulls here)."""
    import shutil
    import subprocess

    import uv as uv_package

    version = subprocess.run([uv_package.find_uv_bin(), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[1]
    ref = f"local/uv:{version}"
    ctx = tmp_path_factory.mktemp("uv-image")
    binary = Path(uv_package.find_uv_bin())
    shutil.copy(binary, ctx / "uv")
    shutil.copy(binary.parent / "uvx", ctx / "uvx")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
    subprocess.run(["docker", "build", "-q", "--network=host", "-t", ref, str(ctx)], check=True, capture_output=True)
    return ref


@pytest.fixture(scope="session")
def action_image(sandbox) -> str:
    """The action's image, built from the repository's Dockerfile on the local base image."""
    import subprocess

    from e2e import ACTION_IMAGE
    from helpers import REPO

    build = subprocess.run(["docker", "buildx", "build", "--network=host", "--load", "-t", ACTION_IMAGE,
                            "--build-arg", f"BASE_IMAGE={sandbox['DEPIMAGE_TEST_BASE_IMAGE']}",
                            "--build-arg", "EXTRA_PYTHONS=", str(REPO)],  # no downloads here: the base's Python
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    return ACTION_IMAGE


@pytest.fixture(scope="session")
def registry_base(sandbox) -> str:
    """The sandbox's Python base image in the open registry, where the layered path reads it (it runs no engine)."""
    import subprocess

    ref = f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/base/python:3.11-bookworm"
    for args in (["tag", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], ref], ["push", "-q", ref]):
        proc = subprocess.run(["docker", *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return ref


@pytest.fixture(scope="session")
def siblings_template(templates) -> Path:
    from helpers import make_siblings

    return make_siblings(templates / "siblings")


@pytest.fixture
def siblings(siblings_template, tmp_path) -> Path:
    return copy(siblings_template, tmp_path / "siblings")


@pytest.fixture(scope="session")
def heavy_template(templates) -> Path:
    """numpy, pandas, scipy and scikit-learn: the heavy set of the issue and the benchmark."""
    where = make_app(templates / "heavy")
    uv("add", "-q", "--no-sync", "numpy", "pandas", "scipy", "scikit-learn", cwd=where)
    return where
