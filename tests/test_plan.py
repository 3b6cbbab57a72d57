"""`depimage plan` on a real uv workspace: per-member hashes that move only with what a member installs."""

from __future__ import annotations

import json

import pytest

from e2e import ensure
from helpers import cli, depimage, uv

APPS = ["api", "tool", "worker"]


def plan_json(repo, *extra) -> dict:
    code, out, err = cli("plan", str(repo), "--uv-version", "0.13.9", "--image", "registry.invalid/acme/{name}",
                         "--no-check", "--output", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def hashes(repo) -> dict[str, str]:
    return {t["name"]: t["hash"] for t in plan_json(repo)["targets"]}


def test_default_targets_are_members_with_scripts(monorepo):
    targets = plan_json(monorepo)["targets"]
    assert sorted(t["name"] for t in targets) == APPS
    assert all(t["package"] == t["name"] and t["project-dir"] == str(monorepo) for t in targets)
    assert len({t["hash"] for t in targets}) == 3


def test_version_bump_changes_no_hash(monorepo):
    before = hashes(monorepo)
    uv("version", "--bump", "minor", "--no-sync", "--package", "api", cwd=monorepo)
    uv("version", "--bump", "patch", "--no-sync", "--package", "core", cwd=monorepo)
    assert hashes(monorepo) == before


@pytest.mark.parametrize("lib, changed", [("db", {"api"}), ("core", {"api", "worker"})])
def test_library_dependency_changes_exactly_its_dependents(monorepo, lib, changed):
    before = hashes(monorepo)
    uv("add", "-q", "--no-sync", "certifi", cwd=monorepo / "libs" / lib)
    after = hashes(monorepo)
    assert {name for name in APPS if after[name] != before[name]} == changed


def test_new_member_changes_no_hash(monorepo):
    before = hashes(monorepo)
    uv("init", "-q", "--package", "apps/mailer", cwd=monorepo)
    uv("add", "-q", "--no-sync", "certifi", cwd=monorepo / "apps/mailer")
    after = hashes(monorepo)
    assert after.pop("mailer") and after == before


@pytest.mark.parametrize("member", APPS + ["core", "db"])
def test_installed_set_is_uv_export(monorepo, member):
    code, out, err = cli("hash", str(monorepo), "--uv-version", "0.13.9", "--package", member, "--json")
    assert code == 0, err
    listed = {(p["name"], p["version"]) for p in json.loads(out)["installed"]}
    exported = uv("export", "--frozen", "--no-emit-local", "--no-hashes", "--package", member, cwd=monorepo).stdout
    pins = {tuple(line.split(" ")[0].split("==")) for line in exported.splitlines() if "==" in line}
    assert listed == pins and listed


def test_configured_targets_and_options(monorepo):
    with (monorepo / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.depimage]\nimage = "ghcr.io/acme/{name}-deps"\nno-dev = true\n'
                 '[tool.depimage.targets.api]\npackage = "api"\n'
                 '[tool.depimage.targets.jobs]\npackage = "worker"\nimage = "ghcr.io/acme/jobs"\nno-dev = false\n')
    targets = {t["name"]: t for t in plan_json(monorepo)["targets"]}
    assert sorted(targets) == ["api", "jobs"]
    assert targets["api"]["image"] == "ghcr.io/acme/api-deps" and targets["api"]["no-dev"] is True
    assert targets["jobs"]["image"] == "ghcr.io/acme/jobs" and targets["jobs"]["no-dev"] is False


def test_unknown_target_key_is_refused(monorepo):
    with (monorepo / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.depimage.targets.api]\npackages = "api"\n')
    code, _, err = cli("plan", str(monorepo), "--uv-version", "0.13.9", "--image", "r.invalid/{name}", "--no-check")
    assert code == 2 and "unknown key(s) packages" in err and "pyproject.toml:" in err


def test_plan_hash_equals_hash_of_the_member(monorepo):
    target = next(t for t in plan_json(monorepo)["targets"] if t["name"] == "worker")
    code, out, _ = cli("hash", str(monorepo), "--uv-version", "0.13.9", "--package", "worker")
    assert out.split()[0] == target["hash"]


@pytest.mark.e2e
def test_plan_against_the_real_registry(monorepo, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    template = f"{registry}/plan-{run_id}/{{name}}"
    args = ["plan", str(monorepo), "--uv-version", "0.13.9", "--uv-image", uv_image,
            "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "--image", template, "--output", "json",
            "--builder", "docker"]  # as the ensure helper builds: the builder is part of the hash
    first = json.loads(depimage(*args).stdout)
    assert first["has-missing"] is True
    assert sorted(e["name"] for e in first["matrix"]["include"]) == APPS
    api = next(e for e in first["targets"] if e["name"] == "api")
    built, _ = ensure(monorepo, sandbox, uv_image, api["image"], "--package", "api")
    assert built["tag"] == api["tag"]
    second = json.loads(depimage(*args).stdout)
    present = {e["name"]: e["present"] for e in second["targets"]}
    assert present == {"api": True, "tool": False, "worker": False}
    assert sorted(e["name"] for e in second["matrix"]["include"]) == ["tool", "worker"]
    for entry in second["matrix"]["include"]:
        ensure(monorepo, sandbox, uv_image, entry["image"], "--package", entry["package"])
    third = json.loads(depimage(*args).stdout)
    assert third["has-missing"] is False and third["matrix"]["include"] == []
    assert all(t["changes"] is None for t in third["targets"])

    # a dependency of api moves: plan names it for the missing target, as ensure would
    uv("add", "-q", "--no-sync", "--package", "api", "packaging", cwd=monorepo)
    fourth = json.loads(depimage(*args).stdout)
    missing = {e["name"]: e for e in fourth["matrix"]["include"]}
    assert set(missing) == {"api"}
    added = missing["api"]["changes"]["added"]
    assert [a["name"] for a in added] == ["packaging"] and missing["api"]["changes"]["changed"] == []
    text = depimage(*[a for a in args if a not in ("--output", "json")]).stdout
    assert f"+ packaging {added[0]['version']}" in text


def test_a_matrix_entry_given_to_the_action_hashes_what_plan_hashed(monorepo):
    """examples/monorepo.yml passes each entry's options to the action's inputs: the hash must come out the
    same, whatever options plan was given, or the matrix job would build under another tag forever."""
    import os
    import re

    from depimage.doors.action import read_inputs
    from depimage.doors.inputs import host_from
    from depimage.usecases.hash import HashRequest, hash_project
    from helpers import REPO

    done = plan_json(monorepo, "--all-groups", "--no-default-groups", "--platform", "linux/arm64", "--build-arg",
                     "UV_INDEX_STRATEGY=unsafe-best-match", "--builder", "docker", "--base-image", "python:3.13-slim",
                     "--base-digest", "pin", "--no-compile")
    step = (REPO / "examples/monorepo.yml").read_text().split("strategy:")[1]
    wired = dict(re.findall(r"^\s+([a-z-]+): \$\{\{ matrix\.([a-z-]+) \}\}", step, re.M))
    for entry in done["matrix"]["include"]:
        env = {f"INPUT_{name.upper()}": str(entry[key]).lower() if isinstance(entry[key], bool) else str(entry[key])
               for name, key in wired.items()}
        inputs = read_inputs(env)
        os.chdir(monorepo)
        try:
            got = hash_project(HashRequest(inputs.project_dir, inputs.image), host_from(os.environ))
        finally:
            os.chdir(REPO)
        assert got.hash.hex == entry["hash"], entry["name"]
    assert {"builder", "platforms", "build-args", "all-groups", "no-default-groups", "uv-version", "base-digest",
            "no-compile"} <= set(wired)
