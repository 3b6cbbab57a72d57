"""The GitHub Action end to end: the action image built from the repository's Dockerfile and started the
way the runner starts a container action.

The runner's contract, as documented at
  https://docs.github.com/actions/sharing-automations/creating-actions/dockerfile-support-for-github-actions
  https://docs.github.com/actions/reference/workflows-and-actions/metadata-syntax#runs-for-docker-container-actions
  https://docs.github.com/actions/reference/workflows-and-actions/variables#default-environment-variables
and seen in any runner log of a container action (`docker run ... --workdir /github/workspace ...`):
  - the workspace is mounted at /github/workspace, which is also the working directory;
  - the host's Docker socket is mounted at /var/run/docker.sock;
  - file commands live in /github/file_commands: GITHUB_OUTPUT and GITHUB_STEP_SUMMARY point there;
  - HOME is /github/home (a fresh folder: no `docker login` of an earlier step is visible);
  - each input arrives as INPUT_<NAME>, upper case, with hyphens kept (INPUT_PROJECT-DIR);
  - GITHUB_ACTIONS=true, CI=true, GITHUB_WORKSPACE, GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_SERVER_URL, RUNNER_OS ...
Here the container runs with --network=host, as every container on this machine must (no bridge).
"""

from __future__ import annotations

import json

import os
import re
import subprocess
from pathlib import Path

import pytest

from e2e import ACTION_IMAGE, docker, registry_tags
from helpers import uv

pytestmark = pytest.mark.e2e


def run_action(workspace: Path, tmp_path: Path, inputs: dict[str, str], sandbox) -> tuple[subprocess.CompletedProcess, dict, str]:
    """docker run the action as the runner does; returns the process, the outputs and the summary."""
    files = tmp_path / f"file_commands-{len(list(tmp_path.glob('file_commands-*')))}"
    files.mkdir()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (files / "set_output").touch()
    (files / "step_summary").touch()
    socket = sandbox["DOCKER_HOST"].removeprefix("unix://")
    env = {
        "HOME": "/github/home", "GITHUB_ACTIONS": "true", "CI": "true", "RUNNER_OS": "Linux",
        "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123abcd" * 5,
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
        "GITHUB_OUTPUT": "/github/file_commands/set_output", "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary",
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
    }
    cmd = ["docker", "run", "--rm", "--network=host", "--workdir", "/github/workspace",
           "-v", f"{socket}:/var/run/docker.sock", "-v", f"{workspace}:/github/workspace",
           "-v", f"{files}:/github/file_commands", "-v", f"{home}:/github/home"]
    for key in env:
        cmd += ["-e", key]
    proc = subprocess.run(cmd + [ACTION_IMAGE], capture_output=True, text=True, env={**os.environ, **env})
    found = re.findall(r"^([\w-]+)<<(ghadelimiter_[\w-]+)\n(.*?)\n\2$", (files / "set_output").read_text(), re.M | re.S)
    outputs = {name: value for name, _, value in found}
    return proc, outputs, (files / "step_summary").read_text()


def base_inputs(sandbox, uv_image, image) -> dict[str, str]:
    return {"image": image, "base-image": sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "uv-image": uv_image,
            "build-network": "host", "no-dev": "true", "project-dir": ".", "builder": "docker"}


def test_action_builds_then_hits_then_rebuilds(app, tmp_path, sandbox, uv_image, action_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    inputs = base_inputs(sandbox, uv_image, f"{registry}/action/shop-{run_id}")

    proc, out, summary = run_action(app, tmp_path, inputs, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["built"] == "true" and out["cache-hit"] == "false"
    assert out["image"] == f"{registry}/action/shop-{run_id}:{out['tag']}" and out["digest"].startswith("sha256:")
    assert out["tag"] in registry_tags(registry, f"action/shop-{run_id}")
    assert "::group::Build" in proc.stdout and "::endgroup::" in proc.stdout
    assert "built and pushed" in summary and out["hash"] in summary
    assert "what changed" not in summary  # the first image: nothing to compare with
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", out["image"]).stdout
    assert "https://github.com/acme/shop" in labels and "0123abcd" in labels

    uv("version", "--bump", "patch", "--no-sync", cwd=app)
    proc, again, summary = run_action(app, tmp_path, inputs, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert again["cache-hit"] == "true" and again["built"] == "false"
    assert again["image"] == out["image"] and "cache hit" in summary and "::group::" not in proc.stdout

    assert "what changed" not in summary and again["changes"] == ""  # a hit: no table

    uv("add", "-q", "--no-sync", "iniconfig", cwd=app)
    proc, third, summary = run_action(app, tmp_path, inputs, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert third["built"] == "true" and third["hash"] != out["hash"]
    assert third["tag"] in registry_tags(registry, f"action/shop-{run_id}")
    # the miss says why, in the log, the changes output and the job summary's table (read here from the file the
    # runner's protocol names: act, which the other action tests use, discards step summaries)
    version = json.loads(third["changes"])["added"][0]["version"]
    assert json.loads(third["changes"])["added"] == [{"name": "iniconfig", "version": version}]
    assert f"+ iniconfig {version}" in proc.stdout
    assert "### depimage: what changed" in summary and f"| added | iniconfig |  | {version} |" in summary


def test_action_with_registry_credentials(app, tmp_path, sandbox, uv_image, action_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"]
    user, password = sandbox["DEPIMAGE_TEST_AUTH_USER"], sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"]
    inputs = {**base_inputs(sandbox, uv_image, f"{registry}/action/shop-{run_id}"), "registry-username": user,
              "registry-password": password}
    proc, out, _ = run_action(app, tmp_path, inputs, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["built"] == "true" and out["tag"] in registry_tags(registry, f"action/shop-{run_id}", auth=(user, password))
    assert f"::add-mask::{password}" in proc.stdout  # the runner hides it from here on
    assert proc.stdout.count(password) == 1 and password not in proc.stderr

    proc, out, summary = run_action(app, tmp_path, {**inputs, "registry-password": "wrong-password-5"}, sandbox)
    assert proc.returncode == 1
    assert re.search(r"^::error title=depimage::.*refused user 'depimage-ci'", proc.stdout, re.M)
    assert "depimage failed" in summary and out == {}


@pytest.mark.parametrize("inputs, annotation, code", [
    ({"image": ""}, r"^::error title=depimage::input image is required", 2),
    ({"project-dir": "no/such/dir"}, r"^::error title=depimage,file=no/such/dir::not a directory", 2),
    ({"mode": "deploy"}, r"^::error title=depimage::input mode is 'deploy'", 2),
    ({"no-dev": "maybe"}, r"^::error title=depimage::input 'no-dev' must be true or false", 2),
])
def test_action_wrong_inputs_annotate(app, tmp_path, sandbox, uv_image, action_image, inputs, annotation, code, run_id):
    given = {**base_inputs(sandbox, uv_image, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/action/shop-{run_id}"), **inputs}
    proc, out, _ = run_action(app, tmp_path, given, sandbox)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert re.search(annotation, proc.stdout, re.M), proc.stdout
    assert out == {}


def test_action_annotates_the_line_of_a_stale_lock(app, tmp_path, sandbox, uv_image, action_image, run_id):
    text = (app / "pyproject.toml").read_text().replace('"idna', '"certifi>=2024",\n    "idna')
    (app / "pyproject.toml").write_text(text)
    proc, _, _ = run_action(app, tmp_path, base_inputs(sandbox, uv_image, "x.invalid/a"), sandbox)
    assert proc.returncode == 2
    line = text[: text.index("certifi")].count("\n") + 1
    assert re.search(rf"^::error title=depimage,file=pyproject.toml,line={line}::uv.lock is stale: 'certifi>=2024'",
                     proc.stdout, re.M), proc.stdout


def test_action_hash_and_plan_modes(monorepo, tmp_path, sandbox, uv_image, action_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    common = {"base-image": sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "uv-image": uv_image, "builder": "docker"}
    proc, out, _ = run_action(monorepo, tmp_path, {**common, "mode": "hash", "package": "api",
                                                   "image": f"{registry}/mono-{run_id}/api"}, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["image"] == f"{registry}/mono-{run_id}/api:{out['tag']}" and len(out["hash"]) == 64

    proc, out, summary = run_action(monorepo, tmp_path, {**common, "mode": "plan",
                                                         "image": f"{registry}/mono-{run_id}/{{name}}"}, sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    matrix = json.loads(out["matrix"])
    assert sorted(e["name"] for e in matrix["include"]) == ["api", "tool", "worker"]
    assert out["has-missing"] == "true" and "| missing | 3 of 3 |" in summary
