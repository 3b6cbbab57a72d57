"""`depimage ensure` end to end: real dockerd + BuildKit, real Distribution registries, real uv."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from e2e import docker, ensure, registry_tags
from faultproxy import FaultProxy
from helpers import REPO, depimage, uv
from pyindex import build_wheel, serve, use_private_index

pytestmark = pytest.mark.e2e


def test_build_then_cache_hit_after_bump_then_rebuild_after_add(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    image = f"{registry}/e2e/app-{run_id}"

    first, proc = ensure(app, sandbox, uv_image, image, "--no-dev")
    assert first["built"] is True and first["cache_hit"] is False
    assert first["tag"] in registry_tags(registry, f"e2e/app-{run_id}")
    assert first["digest"].startswith("sha256:")
    assert "uv sync --frozen --no-install-local --no-dev" in proc.stderr  # the builder's output was shown

    uv("version", "--bump", "patch", "--no-sync", cwd=app)
    second, proc = ensure(app, sandbox, uv_image, image, "--no-dev")
    assert second["cache_hit"] is True and second["built"] is False
    assert (second["image"], second["digest"]) == (first["image"], first["digest"])
    assert "buildx" not in proc.stderr and "#1" not in proc.stderr  # nothing was built

    uv("add", "-q", "--no-sync", "iniconfig", cwd=app)
    third, _ = ensure(app, sandbox, uv_image, image, "--no-dev")
    assert third["built"] is True and third["hash"] != first["hash"]
    assert third["tag"] in registry_tags(registry, f"e2e/app-{run_id}")
    listing = docker("run", "--rm", "--network=none", third["image"], "uv", "pip", "list").stdout
    assert "iniconfig" in listing and "six" in listing and "shop" not in listing


def test_app_image_installs_only_the_project(app, sandbox, uv_image, tmp_path, run_id):
    """The downstream pattern of the README and examples/Dockerfile."""
    (app / "src/shop/__init__.py").write_text(
        "def main() -> None:\n    import idna, six\n    print('shop runs with', six.__name__, idna.__name__)\n")
    result, _ = ensure(app, sandbox, uv_image, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/app-{run_id}", "--no-dev")
    build = docker("buildx", "build", "--progress=plain", "--no-cache", "--network=host", "--load", "-t", "e2e/shop:app",
                   "--build-arg", f"DEPS_IMAGE={result['image']}", "-f", str(REPO / "examples/Dockerfile"), str(app))
    changes = [line.split("+ ", 1)[1].split()[0] for line in build.stderr.splitlines() if " + " in line and "==" in line]
    assert changes == ["shop==0.1.0"], build.stderr  # the project, and no third-party package
    assert "Downloading six" not in build.stderr and "Downloading idna" not in build.stderr
    run = docker("run", "--rm", "--network=none", "e2e/shop:app", "shop")
    assert run.stdout.strip() == "shop runs with six idna"


def test_registry_down(app, sandbox, uv_image, run_id):
    image = "127.0.0.1:9/e2e/down"  # the discard port: nothing listens there
    result, proc = ensure(app, sandbox, uv_image, image, check=False)
    assert proc.returncode == 1
    assert "registry http://127.0.0.1:9 is unavailable" in proc.stderr and "Connection refused" in proc.stderr
    assert "#1" not in proc.stderr  # no build was started
    assert docker("image", "ls", "-q", "127.0.0.1:9/e2e/down").stdout.strip() == ""


def test_auth_registry_right_and_wrong_password(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"]
    user, password = sandbox["DEPIMAGE_TEST_AUTH_USER"], sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"]
    image = f"{registry}/e2e/app-{run_id}"
    good = {"DEPIMAGE_REGISTRY_PASSWORD": password}
    first, proc = ensure(app, sandbox, uv_image, image, "--registry-username", user, env=good)
    assert first["built"] is True
    assert first["tag"] in registry_tags(registry, f"e2e/app-{run_id}", auth=(user, password))
    again, _ = ensure(app, sandbox, uv_image, image, "--registry-username", user, env=good)
    assert again["cache_hit"] is True
    from_stdin, _ = ensure(app, sandbox, uv_image, image, "--registry-username", user, "--registry-password-stdin",
                           input=password + "\n")
    assert from_stdin["cache_hit"] is True

    wrong = "not-the-password-41"
    _, proc = ensure(app, sandbox, uv_image, image, "--registry-username", user,
                     env={"DEPIMAGE_REGISTRY_PASSWORD": wrong}, check=False)
    assert proc.returncode == 1
    assert f"refused user '{user}'" in proc.stderr and "401" in proc.stderr
    assert wrong not in proc.stderr + proc.stdout

    _, proc = ensure(app, sandbox, uv_image, image, check=False, env={"DOCKER_CONFIG": str(app)})
    assert proc.returncode == 1 and "refused anonymous access" in proc.stderr


def test_private_index_secret_used_and_not_kept(app, sandbox, uv_image, tmp_path, run_id):
    password = "s3cret-index-token-7731"
    index = serve(build_wheel(tmp_path / "wheel"), user="reader", password=password)
    try:
        use_private_index(app, index)
        env = {"UV_INDEX_PRIVATE_USERNAME": "reader", "UV_INDEX_PRIVATE_PASSWORD": password}
        result, proc = ensure(app, sandbox, uv_image, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/app-{run_id}",
                              "--secret", "UV_INDEX_PRIVATE_USERNAME", "--secret", "UV_INDEX_PRIVATE_PASSWORD",
                              env=env)
    finally:
        index.stop()
    assert result["built"] is True
    assert any(path.startswith("/files/privpkg") for path in index.requests)  # uv fetched it, with the secret
    assert password not in proc.stdout + proc.stderr
    ref = result["image"]
    origin = docker("run", "--rm", "--network=none", ref, "python", "-c", "import privpkg; print(privpkg.ORIGIN)")
    assert origin.stdout.strip() == "private index"
    history = docker("history", "--no-trunc", ref).stdout
    assert "UV_INDEX_PRIVATE_PASSWORD" in history and password not in history
    inspect = docker("image", "inspect", ref).stdout
    assert password not in inspect
    saved = subprocess.run(["docker", "save", ref], capture_output=True, check=True).stdout
    assert len(saved) > 10_000_000 and password.encode() not in saved


def test_concurrent_ensure_for_the_same_hash(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "certifi", cwd=app)  # a hash no other test makes
    results: list = [None, None]

    def run(i: int) -> None:
        results[i] = ensure(app, sandbox, uv_image, f"{registry}/e2e/race-{run_id}", check=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for data, proc in results:
        assert proc.returncode == 0, proc.stderr
    refs = {data["image"] for data, _ in results}
    assert len(refs) == 1
    ref = refs.pop()
    docker("image", "rm", ref)
    docker("pull", ref)  # the tag ends on a complete image
    assert "certifi" in docker("run", "--rm", "--network=none", ref, "uv", "pip", "list").stdout


def test_a_push_refused_with_500_is_pushed_again(app, sandbox, uv_image, run_id):
    """What broke a concurrent run here once: Distribution answered 500 to one of two pushes of the same
    image. The proxy makes that happen every time, on the first manifest PUT; the second push goes through."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "idna", "iniconfig", cwd=app)
    with FaultProxy(registry, "PUT", r"/manifests/", failures=1) as proxy:
        result, proc = ensure(app, sandbox, uv_image, f"{proxy.address}/e2e/retry-{run_id}", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "500 Internal Server Error" in proc.stderr and "pushing again (2 of 3)" in proc.stderr
    assert result["built"] is True and result["tag"] in registry_tags(registry, f"e2e/retry-{run_id}")
    manifest_puts = [status for method, path, status in proxy.log
                     if method == "PUT" and path.endswith(f"/manifests/{result['tag']}")]
    assert manifest_puts == [500, 201, 201]  # the builder's two, then depimage's OCI form with the base annotations
    assert [p for m, p, _ in proxy.log if m == "PUT" and p.endswith("/manifests/deps-latest")]  # moved after


def test_a_push_answered_with_an_error_list_is_pushed_again(app, sandbox, uv_image, run_id):
    """What broke a concurrent run in CI: Distribution answered the manifest PUT of one of two pushes of the
    same image with a list of errors (digest invalid, manifest blob unknown), which docker prints a line each
    under `ERROR: errors:`. The proxy answers the first manifest PUT so; the second push goes through."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "six", cwd=app)
    errors = (("DIGEST_INVALID", ""), ("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry"))
    with FaultProxy(registry, "PUT", r"/manifests/", failures=1, status=400, errors=errors) as proxy:
        result, proc = ensure(app, sandbox, uv_image, f"{proxy.address}/e2e/error-list-{run_id}", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR: errors:\n  | digest invalid\n  | manifest blob unknown" in proc.stderr
    assert "pushing again (2 of 3)" in proc.stderr
    assert result["built"] is True and result["tag"] in registry_tags(registry, f"e2e/error-list-{run_id}")
    assert [s for m, p, s in proxy.log if m == "PUT" and p.endswith(f"/manifests/{result['tag']}")] == [400, 201, 201]
    assert [p for m, p, _ in proxy.log if m == "PUT" and p.endswith("/manifests/deps-latest")]  # moved after


def test_a_push_that_lost_a_race_uses_the_image_that_won(app, sandbox, uv_image, run_id):
    """The other half of a collision: the manifest lands (as a concurrent run's would) but our push is
    answered 500. The registry has a complete image for the hash, so ensure uses it and pushes no more."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "idna", "six", cwd=app)
    with FaultProxy(registry, "PUT", r"/manifests/", failures=1, forward_failures=True) as proxy:
        result, proc = ensure(app, sandbox, uv_image, f"{proxy.address}/e2e/lost-race-{run_id}", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "was pushed meanwhile by another run" in proc.stderr and "pushing again" not in proc.stderr
    assert result["cache_hit"] is True and result["built"] is False
    assert [s for m, p, s in proxy.log if m == "PUT" and "/manifests/" in p] == [500]
    assert result["tag"] in registry_tags(registry, f"e2e/lost-race-{run_id}")
    assert result["digest"].startswith("sha256:")


def test_a_push_refused_with_500_every_time_fails_after_three_pushes(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "idna", "six", "iniconfig", cwd=app)
    with FaultProxy(registry, "PUT", r"/manifests/", failures=99) as proxy:
        _, proc = ensure(app, sandbox, uv_image, f"{proxy.address}/e2e/retry-fails-{run_id}", check=False)
    assert proc.returncode == 1
    assert "pushing again (3 of 3)" in proc.stderr and "docker buildx build failed" in proc.stderr
    assert [s for m, p, s in proxy.log if m == "PUT" and "/manifests/" in p] == [500, 500, 500]
    assert registry_tags(registry, f"e2e/retry-fails-{run_id}") == []


def test_failed_build_leaves_no_tag_and_shows_the_builder(app, sandbox, uv_image, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    proc = depimage("ensure", str(app), "--image", f"{registry}/e2e/broken-{run_id}", "--base-image",
                    "local/no-such-base:1", "--uv-version", "0.13.9", "--uv-image", uv_image, "--network", "host",
                    check=False)
    assert proc.returncode == 1
    assert "docker buildx build failed" in proc.stderr and "its last lines" in proc.stderr
    assert "no-such-base" in proc.stderr.split("its last lines")[1]
    assert registry_tags(registry, f"e2e/broken-{run_id}") == []


def test_no_push_builds_in_the_local_engine(app, sandbox, uv_image, run_id):
    uv("add", "-q", "--no-sync", "packaging", cwd=app)
    first, _ = ensure(app, sandbox, uv_image, f"local/e2e-nopush-{run_id}", "--no-push")
    assert first["built"] is True and first["digest"].startswith("sha256:")
    second, _ = ensure(app, sandbox, uv_image, f"local/e2e-nopush-{run_id}", "--no-push")
    assert second["cache_hit"] is True and second["digest"] == first["digest"]
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", first["image"]).stdout)
    assert labels["dev.depimage.hash"] == first["hash"]


def test_recipe_dockerfile_keeps_the_dependency_step_cached(app, sandbox, uv_image, action_image, run_id):
    """examples/recipe.Dockerfile (the README's no-registry pattern): after a release and a source change,
    the dependency stage's `uv sync` is CACHED and only the project is installed again."""
    (app / "src/shop/__init__.py").write_text("def main() -> None:\n    import six\n    print('v1', six.__name__)\n")

    def build() -> str:
        return docker("buildx", "build", "--progress=plain", "--network=host", "--load", "-t", f"e2e/recipe-{run_id}",
                      "-f", str(REPO / "examples/recipe.Dockerfile"), "--build-arg", f"DEPIMAGE_IMAGE={action_image}",
                      "--build-arg", f"PYTHON_IMAGE={sandbox['DEPIMAGE_TEST_BASE_IMAGE']}",
                      "--build-arg", f"UV_IMAGE={uv_image}", str(app)).stderr

    def step_cached(log: str, needle: str) -> bool:
        step = next(line.split()[0] for line in log.splitlines() if needle in line and line.startswith("#"))
        return f"{step} CACHED" in log

    build()
    uv("version", "--bump", "minor", "--no-sync", cwd=app)
    with (app / "pyproject.toml").open("a") as fh:
        fh.write("\n[tool.ruff]\nline-length = 100\n")
    # run_id: a source change no earlier run against this engine has built
    (app / "src/shop/__init__.py").write_text(f"def main() -> None:\n    import six\n    print('v2-{run_id}', six.__name__)\n")
    log = build()
    assert step_cached(log, "uv sync --frozen --no-install-local --no-dev"), log
    assert not step_cached(log, "RUN uv sync --frozen --no-dev"), log
    assert docker("run", "--rm", "--network=none", f"e2e/recipe-{run_id}", "shop").stdout.strip() == f"v2-{run_id} six"


def test_failed_push_leaves_no_tag(app, sandbox, uv_image, tmp_path, run_id):
    """A real Distribution registry in read-only mode: the check answers, the push is refused."""
    import socket
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\nhttp: {{addr: 127.0.0.1:{port}}}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'data'}}}, maintenance: {{readonly: {{enabled: true}}}}}}\n")
    server = subprocess.Popen(["docker-registry", "serve", str(tmp_path / "config.yml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        uv("add", "-q", "--no-sync", "iniconfig", cwd=app)
        _, proc = ensure(app, sandbox, uv_image, f"127.0.0.1:{port}/e2e/readonly-{run_id}", check=False)
        assert proc.returncode == 1
        assert "docker buildx build failed" in proc.stderr and "no tag was pushed" in proc.stderr
        assert "Method not allowed" in proc.stderr  # the build went through; the push was refused
        assert registry_tags(f"127.0.0.1:{port}", f"e2e/readonly-{run_id}") == []
    finally:
        server.terminate()
        server.wait(timeout=10)
