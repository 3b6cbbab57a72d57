"""`depimage app` end to end: the application image assembled on a real Distribution registry, run by the real
engine. A recording proxy in front of the registry shows what `app` asked of it: never a layer of the
dependency image."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from e2e import APP_MAIN, app_cmd, blob_reads, docker, ensure, get_json, registry_get, registry_tags
from faultproxy import FaultProxy
from helpers import make_compiled, uv

pytestmark = pytest.mark.e2e

def deps_layers(registry: str, repository: str, tag: str) -> set[str]:
    manifest = get_json(registry, repository, tag)
    return {layer["digest"] for layer in manifest["layers"]}


def test_app_image_runs_without_reading_a_dependency_layer(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    repository = f"e2e/appimage-{run_id}"
    deps, _ = ensure(app, sandbox, uv_image, f"{registry}/{repository}", "--no-dev")
    layers = deps_layers(registry, repository, deps["tag"])

    # One recording proxy for all three runs (its address is part of the image name, so of the labels).
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        first, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{repository}", "1.0")
        assert first is not None, proc.stderr
        assert not set(blob_reads(proxy)) & layers, "a layer of the dependency image was downloaded"
        assert first["installed"] == ["shop==0.1.0"] and first["deps_image"].endswith(deps["digest"])
        assert "1.0" in registry_tags(registry, repository)
        ref = f"{registry}/{repository}:1.0"
        assert docker("run", "--rm", "--network=none", ref).stdout.strip() == "shop runs with six"  # CMD: the script
        assert docker("run", "--rm", "--network=none", ref, "shop").stdout.strip() == "shop runs with six"

        seen = len(proxy.log)
        again, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{repository}", "1.0")
        assert again["digest"] == first["digest"] and again["uploaded"] == 0, proc.stderr
        assert not [m for m, _, _ in proxy.log[seen:] if m in ("PUT", "POST", "PATCH")]  # nothing new pushed

        uv("version", "--bump", "minor", "--no-sync", cwd=app)  # a release: only the project's bytes move
        release, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{repository}", "1.1")
        assert release["installed"] == ["shop==0.2.0"] and release["deps_image"] == first["deps_image"]
        assert release["uploaded"] < 20_000 and "is missing" not in proc.stderr  # no image build
        assert not set(blob_reads(proxy)) & layers


def test_app_in_another_repository_mounts_the_layers(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    deps_repo, app_repo = f"e2e/deps-{run_id}", f"e2e/shop-{run_id}"
    deps, _ = ensure(app, sandbox, uv_image, f"{registry}/{deps_repo}", "--no-dev")
    layers = deps_layers(registry, deps_repo, deps["tag"])
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        result, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{app_repo}", "2.0",
                               "--deps-image", f"{proxy.address}/{deps_repo}@{deps['digest']}")
    assert result is not None, proc.stderr
    mounts = [path for method, path, status in proxy.log if method == "POST" and "mount=" in path and status == 201]
    assert len(mounts) == len(layers)
    assert not set(blob_reads(proxy)) & layers
    out = docker("run", "--rm", "--network=none", f"{registry}/{app_repo}:2.0").stdout.strip()
    assert out == "shop runs with six"


def test_project_without_a_build_system_ships_its_files(tmp_path, sandbox, uv_image, run_id):
    project = tmp_path / "script"
    project.mkdir()
    uv("init", "-q", "--bare", "--name", "script", ".", cwd=project)
    uv("add", "-q", "--no-sync", "six", cwd=project)
    (project / "main.py").write_text("import six\nimport pathlib\nprint('script with', six.__name__, "
                                     "sorted(p.name for p in pathlib.Path('conf').iterdir()))\n")
    (project / "conf").mkdir()
    (project / "conf/a.yaml").write_text("a: 1\n")
    (project / "conf/secret.env").write_text("TOKEN=do-not-ship\n")
    (project / ".dockerignore").write_text("conf/*.env\n")
    with (project / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.depimage.app]\ncommand = "python main.py"\nenv = { MODE = "prod" }\nports = [8000]\n')
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    result, proc = app_cmd(project, sandbox, uv_image, f"{registry}/e2e/script-{run_id}", "1", "--env", "EXTRA=1")
    assert result is not None, proc.stderr
    ref = f"{registry}/e2e/script-{run_id}:1"
    assert docker("run", "--rm", "--network=none", ref).stdout.strip() == "script with six ['a.yaml']"
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", ref).stdout)
    assert config["Cmd"] == ["python", "main.py"] and config["WorkingDir"] == "/app"
    assert "MODE=prod" in config["Env"] and "EXTRA=1" in config["Env"] and "8000/tcp" in config["ExposedPorts"]


def test_multi_platform_dependency_image_gives_a_multi_platform_app(app, sandbox, uv_image, run_id):
    """An index over the dependency image (as a multi-platform build pushes, with a build attestation), made
    with the registry API since this builder has no emulator: one app manifest a platform, under an index."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    repository = f"e2e/multi-{run_id}"
    deps, _ = ensure(app, sandbox, uv_image, f"{registry}/{repository}", "--no-dev")
    manifest = registry_get(registry, repository, "manifests", deps["digest"],
                            accept="application/vnd.docker.distribution.manifest.v2+json")
    entry = {"mediaType": manifest.headers["Content-Type"], "digest": deps["digest"], "size": len(manifest.content)}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {**entry, "platform": {"os": "linux", "architecture": "amd64"}},
        {**entry, "platform": {"os": "linux", "architecture": "arm64"}},
        {**entry, "platform": {"os": "unknown", "architecture": "unknown"}}]}
    body = json.dumps(index).encode()
    requests.put(f"http://{registry}/v2/{repository}/manifests/index", data=body, timeout=10,
                 headers={"Content-Type": index["mediaType"]}).raise_for_status()
    result, proc = app_cmd(app, sandbox, uv_image, f"{registry}/{repository}", "multi",
                           "--deps-image", f"{registry}/{repository}:index")
    assert result is not None, proc.stderr
    assert result["platforms"] == ["linux/amd64", "linux/arm64"]
    made = registry_get(registry, repository, "manifests", "multi", accept=index["mediaType"])
    assert "sha256:" + hashlib.sha256(made.content).hexdigest() == result["digest"]
    assert [m["platform"]["architecture"] for m in made.json()["manifests"]] == ["amd64", "arm64"]
    out = docker("run", "--rm", "--network=none", f"{registry}/{repository}:multi").stdout.strip()
    assert out == "shop runs with six"


# ---- bad input: a clear error, the documented exit code, no tag ------------------------------------

def test_registry_down_or_refusing(app, sandbox, uv_image, run_id):
    result, proc = app_cmd(app, sandbox, uv_image, "127.0.0.1:9/e2e/down", "1",
                           "--deps-image", "127.0.0.1:9/e2e/down:deps-x", check=False)
    assert proc.returncode == 1 and "unavailable" in proc.stderr and "Connection refused" in proc.stderr
    registry, user = sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_USER"]
    result, proc = app_cmd(app, sandbox, uv_image, f"{registry}/e2e/refused-{run_id}", "1", "--registry-username",
                           user, env={"DEPIMAGE_REGISTRY_PASSWORD": "wrong-password-3"}, check=False)
    assert proc.returncode == 1 and f"refused user '{user}'" in proc.stderr
    assert "wrong-password-3" not in proc.stderr + proc.stdout


def test_a_deps_image_not_made_by_depimage_is_refused(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    foreign = f"{registry}/e2e/foreign-{run_id}:base"
    docker("tag", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], foreign)
    docker("push", foreign)
    result, proc = app_cmd(app, sandbox, uv_image, f"{registry}/e2e/foreign-app-{run_id}", "1",
                           "--deps-image", foreign, check=False)
    assert proc.returncode == 2 and "not a dependency image made by this depimage" in proc.stderr, proc.stderr
    assert "Dockerfile" in proc.stderr
    assert registry_tags(registry, f"e2e/foreign-app-{run_id}") == []


def test_a_compiled_project_is_refused_with_the_dockerfile_path(tmp_path, sandbox, uv_image, run_id):
    project = make_compiled(tmp_path / "fastcore")
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    result, proc = app_cmd(project, sandbox, uv_image, f"{registry}/e2e/compiled-{run_id}", "1", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "is not pure Python" in proc.stderr and "Dockerfile path" in proc.stderr
    assert "1" not in registry_tags(registry, f"e2e/compiled-{run_id}")
