"""A write to the registry counts as done only on the status the OCI distribution spec names for it, on the real
Distribution registry behind a proxy that can answer in its place; a bad tag is refused before any request."""

from __future__ import annotations

import pytest

from e2e import APP_MAIN, app_cmd, ensure, registry_tags
from faultproxy import FaultProxy

pytestmark = pytest.mark.e2e


@pytest.fixture
def deps_image(app, sandbox, uv_image, run_id) -> tuple[str, str]:
    """(repository, tag) of a dependency image of the app on the open registry."""
    (app / "src/shop/__init__.py").write_text(APP_MAIN)
    repository = f"e2e/writes-{run_id}"
    done, proc = ensure(app, sandbox, uv_image, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/{repository}", "--no-dev")
    assert done, proc.stderr
    return repository, done["tag"]


@pytest.mark.parametrize("tag", ["bad tag!", "a%2Fb", ".leading-dot", "x" * 129])
def test_an_invalid_tag_is_bad_input_before_any_request(app, sandbox, uv_image, deps_image, tag):
    repository, deps_tag = deps_image
    with FaultProxy(sandbox["DEPIMAGE_TEST_REGISTRY"], "NONE", r"^$", failures=0) as proxy:
        result, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{repository}-app", tag,
                               "--deps-image", f"{proxy.address}/{repository}:{deps_tag}", check=False)
        assert proc.returncode == 2, proc.stderr
        assert "is not a valid tag" in proc.stderr and "--tag" in proc.stderr
        assert proxy.log == [], "a request was sent for a tag the registry cannot take"


@pytest.mark.parametrize("method, path, code", [
    ("PUT", r"/manifests/1\.0$", "MANIFEST_UNKNOWN"),  # the tag's manifest
    ("PUT", r"/blobs/uploads/", "BLOB_UPLOAD_UNKNOWN"),  # the application layer's upload
])
def test_a_write_answered_404_fails_the_run_and_leaves_no_tag(app, sandbox, uv_image, deps_image, run_id,
                                                              method, path, code):
    repository, deps_tag = deps_image
    app_repository = f"{repository}-{code.lower().replace('_', '-')}"
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    with FaultProxy(registry, method, path, failures=1, status=404, errors=((code, "injected"),)) as proxy:
        result, proc = app_cmd(app, sandbox, uv_image, f"{proxy.address}/{app_repository}", "1.0",
                               "--deps-image", f"{proxy.address}/{repository}:{deps_tag}", check=False)
        assert (method, 404) in [(m, s) for m, _, s in proxy.log], (proxy.log, proc.stderr)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"HTTP 404 ({code}: injected)" in proc.stderr and "did not accept" in proc.stderr
    assert "image:" not in proc.stdout
    assert registry_tags(registry, app_repository) == []
