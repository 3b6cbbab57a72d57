"""The action under a real runner implementation (act): action.yml loaded as declared, the README's workflows
run as users write them (examples/workflow.yml, examples/monorepo.yml), bad inputs annotated, secrets kept
out of the log. See actrunner.py for what is swapped in for what cannot be fetched here."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

from actrunner import run_act
from e2e import UV_VERSION, docker, registry_tags
from helpers import REPO, uv

pytestmark = pytest.mark.e2e

APP_MAIN = "def main() -> None:\n    import six\n    print('shop runs with', six.__name__)\n"


@pytest.fixture(scope="session")
def engine_defaults(sandbox, uv_image, action_image) -> None:
    """The images the examples use by default, which cannot be pulled here: python:3.11-slim is the local
    Debian base, ghcr.io/astral-sh/uv:<version> the local uv image. The examples stay as they are."""
    docker("tag", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "python:3.11-slim")
    docker("tag", uv_image, f"ghcr.io/astral-sh/uv:{UV_VERSION}")


def example(name: str, registry: str, extra_steps: str = "", base: str = "") -> str:
    """An example workflow with ghcr.io replaced by the sandbox registry, and test steps appended. With base, each
    depimage step that names no base image gets it: the default python:X.Y-slim is Docker Hub's, out of reach
    here, and the layered path reads the base from its registry (the builder took the engine's local copy)."""
    text = (REPO / "examples" / name).read_text().replace("ghcr.io", registry) + extra_steps
    if not base:
        return text
    steps = re.split(r"(?m)^(?=      - )", text)
    for i, step in enumerate(steps):
        if "uses: depimage/depimage@" in step and "base-image:" not in step:
            steps[i] = step.replace("        with:\n", f"        with:\n          base-image: {base}\n", 1)
    return "".join(steps)


def auth(sandbox) -> tuple[str, str, str]:
    return sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_USER"], sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"]


def assert_secret_not_in(log: str, *secrets: str, user: str = "") -> None:
    for secret in secrets:
        assert secret not in log, "a secret value reached act's log"
        if user:
            assert base64.b64encode(f"{user}:{secret}".encode()).decode() not in log


OUTPUTS_STEP = """
      - name: the outputs arrive in a later step
        env:
          IMAGE: ${{ steps.deps.outputs.image }}
          TAG: ${{ steps.deps.outputs.tag }}
          DIGEST: ${{ steps.deps.outputs.digest }}
          HASH: ${{ steps.deps.outputs.hash }}
          CACHE_HIT: ${{ steps.deps.outputs.cache-hit }}
          BUILT: ${{ steps.deps.outputs.built }}
        run: echo "later step saw image=$IMAGE tag=$TAG digest=$DIGEST hash=$HASH cache-hit=$CACHE_HIT built=$BUILT"
"""


def test_single_project_workflow_builds_runs_then_hits_after_a_release(app, tmp_path, sandbox, engine_defaults,
                                                                      registry_base, run_id):
    """The README's Dockerfile-path workflow: the dependency image assembled on the registry (layered path), the
    app image built FROM it by build-push, run; a release is a cache hit."""
    registry, user, password = auth(sandbox)
    repo = app
    (repo / "src/shop/__init__.py").write_text(APP_MAIN)
    dockerfile = (REPO / "examples/Dockerfile").read_text().replace('# CMD ["my-app"]', 'CMD ["shop"]')
    (repo / "Dockerfile").write_text(dockerfile)
    (repo / ".dockerignore").write_text(".venv\n.git\n")
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/image.yml").write_text(example("workflow.yml", registry, OUTPUTS_STEP, base=registry_base))
    secrets = {"GITHUB_TOKEN": password}
    env = {"DEPIMAGE_BUILD_NETWORK": "host"}
    owner = f"acme{run_id}"

    first = run_act(repo, tmp_path, repository=f"{owner}/shop", actor=user, secrets=secrets, env=env)
    assert first.returncode == 0, first.log[-6000:]
    out = first.outputs()
    assert out["built"] == "true" and out["cache-hit"] == "false", first.log[-3000:]
    assert out["path"] == "layers" and "layered path:" in first.log
    assert out["image"].startswith(f"{registry}/{owner}/shop-deps:deps-")
    lines = first.step_lines()
    assert "shop runs with six" in lines  # the app image FROM the dependency image, run
    seen = next(line for line in lines if line.startswith("later step saw"))
    for name in ("image", "tag", "digest", "hash", "cache-hit", "built"):
        assert f"{name}={out[name]} " in seen + " "
    assert out["tag"] in registry_tags(registry, f"{owner}/shop-deps", auth=(user, password))
    assert_secret_not_in(first.log, password, user=user)

    uv("version", "--bump", "minor", "--no-sync", cwd=repo)
    second = run_act(repo, tmp_path, repository=f"{owner}/shop", actor=user, secrets=secrets, env=env)
    assert second.returncode == 0, second.log[-6000:]
    again = second.outputs()
    assert again["cache-hit"] == "true" and again["built"] == "false"
    assert (again["image"], again["digest"]) == (out["image"], out["digest"])
    assert "shop runs with six" in second.step_lines()
    assert "what changed" not in second.log and again.get("changes", "") == ""

    # a dependency moves: the miss names it with both versions (act discards step summaries, see the note in
    # test_action_e2e.py, where the summary's table is read from the runner's own file)
    uv("add", "-q", "--no-sync", "six==1.16.0", cwd=repo)
    third = run_act(repo, tmp_path, repository=f"{owner}/shop", actor=user, secrets=secrets, env=env)
    assert third.returncode == 0, third.log[-6000:]
    moved = third.outputs()
    assert moved["built"] == "true" and "~ six 1.17.0 -> 1.16.0" in third.log
    assert json.loads(moved["changes"])["changed"] == [{"name": "six", "old": "1.17.0", "new": "1.16.0"}]


def test_monorepo_workflow_plan_matrix_apps(monorepo, tmp_path, sandbox, engine_defaults, registry_base, run_id):
    registry, user, password = auth(sandbox)
    repo = monorepo
    shutil.copy(REPO / "examples/member.Dockerfile", repo / "member.Dockerfile")
    (repo / ".dockerignore").write_text(".venv\n.git\n")
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/images.yml").write_text(example("monorepo.yml", registry, base=registry_base))
    secrets = {"GITHUB_TOKEN": password}
    env = {"DEPIMAGE_BUILD_NETWORK": "host"}
    owner = f"acme{run_id}"

    first = run_act(repo, tmp_path, repository=f"{owner}/mono", actor=user, secrets=secrets, env=env)
    assert first.returncode == 0, first.log[-8000:]
    plan = first.outputs("plan")
    assert plan["has-missing"] == "true"
    matrix = json.loads(plan["matrix"])
    assert sorted(e["name"] for e in matrix["include"]) == ["api", "tool", "worker"]
    assert {e["project-dir"] for e in matrix["include"]} == {"."}
    for name in ("api", "tool", "worker"):
        assert f"Hello from {name}!" in first.step_lines()  # each app image, FROM its dependency image, ran
        entry = next(e for e in matrix["include"] if e["name"] == name)
        assert entry["tag"] in registry_tags(registry, f"{owner}/mono/{name}-deps", auth=(user, password))
    assert_secret_not_in(first.log, password, user=user)

    uv("version", "--bump", "patch", "--no-sync", "--package", "api", cwd=repo)
    second = run_act(repo, tmp_path, repository=f"{owner}/mono", actor=user, secrets=secrets, env=env)
    assert second.returncode == 0, second.log[-8000:]
    assert second.outputs("plan")["has-missing"] == "false"
    assert not re.search(r"\[images/deps", second.log)  # nothing to build: the matrix job is skipped
    assert all(f"Hello from {name}!" in second.step_lines() for name in ("api", "tool", "worker"))


BAD_INPUTS = """name: bad
on: push
permissions: {}
jobs:
  no-image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - id: deps
        uses: depimage/depimage@v0
        with:
          no-dev: true
  no-lock:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - id: deps
        uses: depimage/depimage@v0
        with:
          project-dir: unlocked
          image: @REGISTRY@/acme/unlocked
  wrong-password:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - id: deps
        uses: depimage/depimage@v0
        with:
          image: @REGISTRY@/acme/shop-deps
          registry-username: ${{ github.actor }}
          registry-password: ${{ vars.REGISTRY_PASSWORD }}
          secrets: |
            UV_INDEX_PRIVATE_PASSWORD=${{ vars.INDEX_TOKEN }}
"""


def test_bad_inputs_fail_the_step_with_an_annotation_and_no_secret(app, tmp_path, sandbox, engine_defaults,
                                                                   run_id):
    registry, user, _ = auth(sandbox)
    repo = app
    (repo / "unlocked").mkdir()
    shutil.copy(repo / "pyproject.toml", repo / "unlocked/pyproject.toml")
    (repo / ".github/workflows").mkdir(parents=True)
    workflow = BAD_INPUTS.replace("@REGISTRY@", registry)
    (repo / ".github/workflows/bad.yml").write_text(workflow)
    wrong, token = "wrong-password-17", "index-token-value-23"
    # vars, unlike secrets, are not hidden by the runner: only depimage's own masking keeps them out
    run = run_act(repo, tmp_path, repository=f"acme{run_id}/bad", actor=user,
                  variables={"REGISTRY_PASSWORD": wrong, "INDEX_TOKEN": token}, env={"DEPIMAGE_BUILD_NETWORK": "host"})
    assert run.returncode != 0
    step_line = workflow[: workflow.index("      - id: deps")].count("\n") + 1

    def annotation(job: str) -> str:
        found = [line for line in run.log.splitlines() if re.match(rf"\[bad/{job}\s*\]", line) and "::error" in line]
        assert found, run.log[-4000:]
        return found[0]

    no_image = annotation("no-image")
    assert f"file=.github/workflows/bad.yml,line={step_line}" in no_image and "input image is required" in no_image
    no_lock = annotation("no-lock")
    assert "file=unlocked/pyproject.toml,line=1" in no_lock and "no uv.lock" in no_lock
    refused = annotation("wrong-password")
    line = workflow.index("      - id: deps", workflow.index("wrong-password:"))
    assert f"file=.github/workflows/bad.yml,line={workflow[:line].count(chr(10)) + 1}" in refused
    assert "refused user" in refused
    assert_secret_not_in(run.log, wrong, token, user=user)


def app_mode_workflow(registry: str, base: str) -> str:
    """examples/app.yml as the README shows it, with all-extras and env switched on, and a check of the extra."""
    text = example("app.yml", registry, base=base)
    for old, new in (("# all-extras: true", "all-extras: true"), ("# env: |", "env: |"),
                     ("#   LOG_LEVEL=info", "  GREETING=hello"),
                     ('"$APP_IMAGE"   # the image\'s CMD; use your app\'s own check',
                      '"$APP_IMAGE"\n          docker run --rm --network none "$APP_IMAGE" python -c '
                      '"import packaging; print(\'extra installed:\', packaging.__name__)"')):
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_app_mode_makes_the_application_image(app, tmp_path, sandbox, engine_defaults, registry_base, run_id):
    """mode: app, with `all-extras: true`: the extra's package is in the dependency image."""
    registry, user, password = auth(sandbox)
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    uv("add", "-q", "--no-sync", "--optional", "cli", "packaging", cwd=app)
    (app / ".github/workflows").mkdir(parents=True)
    (app / ".github/workflows/release.yml").write_text(app_mode_workflow(registry, registry_base))
    run = run_act(app, tmp_path, repository=f"acme{run_id}/shop", actor=user, secrets={"GITHUB_TOKEN": password},
                  env={"DEPIMAGE_BUILD_NETWORK": "host"})
    assert run.returncode == 0, run.log[-6000:]
    out = run.outputs()
    assert out["image"].startswith(f"{registry}/acme{run_id}/shop:") and out["digest"].startswith("sha256:")
    assert "shop runs with six" in run.step_lines()
    assert "extra installed: packaging" in run.step_lines()
    assert f"app image {out['image']} {out['digest']}" in run.step_lines()
    name = out["image"].rsplit(":", 1)[0]
    assert out["name"] == name  # what the provenance step takes, with the digest
    assert f"would attest {name}@{out['digest']} (push-to-registry true)" in run.step_lines()
    assert_secret_not_in(run.log, password, user=user)
