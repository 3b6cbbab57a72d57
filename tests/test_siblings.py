"""One uv project per service, shared libraries beside them reached by `path = "../../libs/common"`: read
inside the repository, laid out as there in the recipe, planned, hashed where reached, built for real."""

from __future__ import annotations

import json

import pytest

from e2e import docker, ensure
from helpers import cli, copy, uv

PLAN = ["--uv-version", "0.13.9", "--image", "registry.invalid/acme/{name}", "--no-check", "--output", "json"]


def plan_targets(repo, cwd=None) -> dict[str, dict]:
    code, out, err = cli("plan", str(repo), *PLAN, cwd=cwd)
    assert code == 0, err
    return {t["name"]: t for t in json.loads(out)["targets"]}


def test_recipe_keeps_the_layout_and_exports_the_same(siblings, tmp_path):
    out = tmp_path / "recipe"
    code, _, err = cli("recipe", str(siblings / "services/api"), "--out", str(out))
    assert code == 0, err
    assert "the project is at" in err and str(out / "services/api") in err
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["libs/common/pyproject.toml", "services/api/.python-version", "services/api/pyproject.toml",
                     "services/api/uv.lock"]
    args = ["export", "--frozen", "--no-emit-local", "--no-header"]
    assert uv(*args, cwd=out / "services/api").stdout == uv(*args, cwd=siblings / "services/api").stdout
    assert "six==" in uv(*args, cwd=out / "services/api").stdout


def test_real_fixture_recipe_exports_the_same(tmp_path):
    from realworld import checkout

    fx = checkout("deepagents-code", tmp_path)
    out = tmp_path / "recipe"
    code, _, err = cli("recipe", str(fx.project), "--out", str(out))
    assert code == 0, err
    args = ["export", "--frozen", "--no-emit-local", "--no-header", "--all-extras", "--all-groups"]
    assert uv(*args, cwd=out / "code").stdout == uv(*args, cwd=fx.project).stdout


def test_plan_finds_each_service_with_a_path_the_next_step_can_use(siblings):
    targets = plan_targets("siblings", cwd=siblings.parent)
    assert sorted(targets) == ["api", "worker"]
    assert targets["api"]["project-dir"] == "siblings/services/api"
    assert targets["worker"]["project-dir"] == "siblings/services/worker"
    code, out, err = cli("hash", targets["api"]["project-dir"], "--uv-version", "0.13.9", cwd=siblings.parent)
    assert code == 0 and out.split()[0] == targets["api"]["hash"], err


def test_a_library_change_moves_only_the_services_that_reach_it(siblings):
    before = plan_targets(siblings)
    uv("add", "-q", "--no-sync", "certifi", cwd=siblings / "libs/common")
    for service in ("api", "worker"):
        uv("lock", "-q", cwd=siblings / "services" / service)
    after = plan_targets(siblings)
    assert after["api"]["hash"] != before["api"]["hash"]
    assert after["worker"]["hash"] == before["worker"]["hash"]
    uv("version", "--bump", "minor", "--no-sync", cwd=siblings / "libs/extra")
    uv("lock", "-q", cwd=siblings / "services/worker")
    assert plan_targets(siblings)["worker"]["hash"] == after["worker"]["hash"]  # a release of the library


def test_outside_the_repository_is_refused(siblings, tmp_path):
    outside = copy(siblings, tmp_path / "elsewhere")
    (outside / ".git").rename(outside / "not-git")
    code, _, err = cli("hash", str(outside / "services/api"), "--uv-version", "0.13.9")
    assert code == 2 and "'../../libs/common' leads outside" in err and "--context" in err
    assert "uv.lock:" in err  # the file and line that name the path
    code, out, err = cli("hash", str(outside / "services/api"), "--uv-version", "0.13.9", "--context", str(outside))
    assert code == 0, err


@pytest.mark.e2e
def test_the_image_builds_with_the_sibling_dependencies(siblings, sandbox, uv_image, run_id):
    image = f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/siblings-{run_id}"
    result, proc = ensure(siblings / "services/api", sandbox, uv_image, image)
    assert result["built"] is True, proc.stderr
    listing = docker("run", "--rm", "--network=none", result["image"], "uv", "pip", "list").stdout
    assert "six" in listing and "common" not in listing and "idna" not in listing
