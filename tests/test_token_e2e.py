"""ensure and app on a registry with Bearer token auth, as ghcr.io and Docker Hub run it: Distribution with
`auth: token` and the sandbox's token service (tests/tokenserver.py). The client must ask the token service for
the scopes each step needs (pull to check, push to build, and pull on the dependency repository to mount its
layers into the application's), with the user's credentials, and never show the password."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from e2e import APP_MAIN, app_cmd, blob_reads, docker, ensure, token_get
from faultproxy import FaultProxy

pytestmark = pytest.mark.e2e


def tags(sandbox: dict, repository: str) -> list[str]:
    response = token_get(sandbox, f"/v2/{repository}/tags/list", f"repository:{repository}:pull")
    return [] if response.status_code == 404 else response.json().get("tags") or []


def layers(sandbox: dict, repository: str, tag: str) -> set[str]:
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    manifest = token_get(sandbox, f"/v2/{repository}/manifests/{tag}", f"repository:{repository}:pull", accept)
    return {layer["digest"] for layer in manifest.json()["layers"]}


def grants(sandbox: dict) -> list[dict]:
    return [json.loads(line) for line in Path(sandbox["DEPIMAGE_TEST_TOKEN_GRANTS"]).read_text().splitlines()]


def login_args(sandbox: dict) -> tuple[str, ...]:
    return ("--registry-username", sandbox["DEPIMAGE_TEST_AUTH_USER"], "--registry-password-stdin")


def test_ensure_on_a_token_registry(app, sandbox, uv_image, run_id):
    registry, password = sandbox["DEPIMAGE_TEST_TOKEN_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"]
    repository = f"e2e/token-deps-{run_id}"
    seen = len(grants(sandbox))
    first, proc = ensure(app, sandbox, uv_image, f"{registry}/{repository}", *login_args(sandbox),
                         input=password + "\n")
    assert first["built"] is True and first["tag"] in tags(sandbox, repository)
    assert password not in proc.stdout + proc.stderr
    asked = grants(sandbox)[seen:]
    assert {g["account"] for g in asked} == {sandbox["DEPIMAGE_TEST_AUTH_USER"]}  # never anonymous
    assert any(f"repository:{repository}:pull" in g["scopes"] for g in asked)  # the check
    assert any(set(s.split(":")[-1].split(",")) == {"pull", "push"} for g in asked for s in g["scopes"]
               if s.startswith(f"repository:{repository}:"))  # the push

    again, proc = ensure(app, sandbox, uv_image, f"{registry}/{repository}", *login_args(sandbox),
                         input=password + "\n")
    assert again["cache_hit"] is True and again["digest"] == first["digest"], proc.stderr


def test_app_on_a_token_registry_mounts_the_dependency_layers(app, sandbox, uv_image, run_id, tmp_path):
    registry, user = sandbox["DEPIMAGE_TEST_TOKEN_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_USER"]
    password = sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"]
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    deps_repo, app_repo = f"e2e/token-shop-deps-{run_id}", f"e2e/token-shop-{run_id}"
    deps, _ = ensure(app, sandbox, uv_image, f"{registry}/{deps_repo}", "--no-dev", *login_args(sandbox),
                     input=password + "\n")
    deps_layers = layers(sandbox, deps_repo, deps["tag"])
    seen = len(grants(sandbox))
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:  # records what app asks of the registry
        result, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{app_repo}", "1.0",
                               "--deps-image", f"{proxy.address}/{deps_repo}@{deps['digest']}",
                               *login_args(sandbox), input=password + "\n")
    assert result is not None, proc.stderr
    assert password not in proc.stdout + proc.stderr
    mounted = {path.split("mount=")[1].split("&")[0].replace("%3A", ":") for method, path, status in proxy.log
               if method == "POST" and "mount=" in path and status == 201}
    assert mounted == deps_layers, "every dependency layer is mounted, none copied"
    assert not set(blob_reads(proxy)) & deps_layers, "a layer of the dependency image was downloaded"
    # One token for both repositories: push on the application's, pull on the dependency image's.
    assert any(f"repository:{deps_repo}:pull" in g["scopes"]
               and any(s.startswith(f"repository:{app_repo}:") and "push" in s for s in g["scopes"])
               for g in grants(sandbox)[seen:])
    assert "1.0" in tags(sandbox, app_repo)

    config = tmp_path / "docker-config"  # a login of the test's own, as a deploy machine has
    config.mkdir()
    docker("--config", str(config), "login", "--username", user, "--password-stdin", registry, input=password)
    subprocess.run(["docker", "--config", str(config), "pull", "-q", f"{registry}/{app_repo}:1.0"], check=True,
                   capture_output=True)
    out = docker("run", "--rm", "--network=none", f"{registry}/{app_repo}:1.0").stdout.strip()
    assert out == "shop runs with six"


def test_a_wrong_password_on_a_token_registry_is_refused(app, sandbox, uv_image, run_id):
    registry, user = sandbox["DEPIMAGE_TEST_TOKEN_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_USER"]
    result, proc = ensure(app, sandbox, uv_image, f"{registry}/e2e/token-refused-{run_id}", *login_args(sandbox),
                          input="wrong-token-5521\n", check=False)
    assert proc.returncode == 1 and f"refused user '{user}'" in proc.stderr, proc.stderr
    assert "wrong-token-5521" not in proc.stdout + proc.stderr
    assert tags(sandbox, f"e2e/token-refused-{run_id}") == []
