"""Which builder failures `ensure` pushes again: the lines are as docker buildx prints them."""

from __future__ import annotations

import pytest

from depimage.build.buildx import transient_push_failure

BUILT = ["#10 [stage-1 4/4] RUN uv sync --frozen --no-install-local", "#10 DONE 0.2s", "",
         "#11 exporting to image", "#11 exporting layers 0.0s done", "#11 DONE 0.0s", ""]
DOCKER_DRIVER_500 = BUILT + [  # as in a CI run where two ensure runs pushed the same image at once
    "#12 pushing 127.0.0.1:57313/e2e/race:deps-e1ed913d with docker",
    "#12 pushing layer 5b5542e07d29 0.1s done",
    "#12 ERROR: received unexpected HTTP status: 500 Internal Server Error",
    "------", " > pushing 127.0.0.1:57313/e2e/race:deps-e1ed913d with docker:", "------",
    "ERROR: received unexpected HTTP status: 500 Internal Server Error"]
CONTAINER_DRIVER_RESET = [
    "#11 exporting to image", "#11 pushing layers", "#11 pushing layers 1.2s done",
    "#11 ERROR: failed to push ghcr.io/acme/api:deps-1: failed to copy: read tcp 10.0.0.2:4432->1.2.3.4:443: "
    "read: connection reset by peer",
    "ERROR: failed to solve: failed to push ghcr.io/acme/api:deps-1: failed to copy: connection reset by peer"]
DOCKER_DRIVER_ERROR_LIST = BUILT + [  # as in a CI run: Distribution's answers to two pushes of the same blobs
    "#12 pushing 127.0.0.1:48833/e2e/race-5ff71503:deps-689ad9b1 with docker",
    "#12 pushing layer d67f6ca7c7c4 0.1s done",
    "#12 ERROR: errors:", "digest invalid", "manifest blob unknown: blob unknown to registry", "",
    "------", " > pushing 127.0.0.1:48833/e2e/race-5ff71503:deps-689ad9b1 with docker:", "------",
    "ERROR: errors:", "digest invalid", "manifest blob unknown: blob unknown to registry", ""]
UPLOAD_LOST = BUILT + [  # Distribution forgets an upload another push of the same blob committed first
    "#12 pushing 127.0.0.1:5000/e2e/race:deps-1 with docker",
    "#12 ERROR: blob upload unknown: blob upload unknown to registry",
    "ERROR: blob upload unknown: blob upload unknown to registry"]
ERROR_LIST_WITH_A_REFUSAL = BUILT + [
    "#12 pushing 127.0.0.1:5000/e2e/app:deps-1 with docker",
    "#12 ERROR: errors:", "blob unknown: blob unknown to registry", "denied: requested access to the resource is denied",
    "", "ERROR: errors:", "blob unknown: blob unknown to registry",
    "denied: requested access to the resource is denied", ""]
READ_ONLY = BUILT + [
    "#12 pushing 127.0.0.1:5000/e2e/readonly:deps-1 with docker",
    "#12 ERROR: denied: The operation is unsupported.: Method not allowed (405)",
    "ERROR: denied: The operation is unsupported.: Method not allowed"]
REFUSED = BUILT + [
    "#12 pushing 127.0.0.1:5000/e2e/app:deps-1 with docker",
    "#12 ERROR: unauthorized: authentication required",
    "ERROR: unauthorized: authentication required"]
BUILD_FAILED = ["#10 [stage-1 4/4] RUN uv sync --frozen --no-install-local",
                "#10 0.2 error: Failed to fetch: `http://index/simple/x/` (500 Internal Server Error)",
                "#10 ERROR: process \"/bin/sh -c uv sync\" did not complete successfully: exit code: 2",
                "ERROR: failed to solve: process \"/bin/sh -c uv sync\" did not complete successfully"]


@pytest.mark.parametrize("lines", [DOCKER_DRIVER_500, CONTAINER_DRIVER_RESET, DOCKER_DRIVER_ERROR_LIST, UPLOAD_LOST],
                         ids=["500", "reset", "error-list", "upload-lost"])
def test_a_push_that_a_second_push_can_get_past(lines):
    assert transient_push_failure(lines) is True


@pytest.mark.parametrize("lines", [READ_ONLY, REFUSED, BUILD_FAILED, BUILT, [], ERROR_LIST_WITH_A_REFUSAL],
                         ids=["405", "401", "build", "no-error", "empty", "error-list-refusal"])
def test_failures_for_the_user_to_fix(lines):
    assert transient_push_failure(lines) is False


def test_a_refusal_next_to_a_500_is_not_retried():
    lines = DOCKER_DRIVER_500[:-1] + ["ERROR: unauthorized: authentication required"]
    assert transient_push_failure(lines) is False
