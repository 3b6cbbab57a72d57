"""The layered path's memory does not grow with the stack: a package of 1 GiB, served by a real index on loopback,
installed, packed and pushed to the real registry by `depimage ensure` in bounded memory (the process's peak
resident set, as the kernel counts it), for one platform and for two side by side."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from e2e import docker, fresh, get_json, multiplatform_base
from helpers import REPO, UV_ENV
from pyindex import large_wheel, serve, use_private_index

pytestmark = pytest.mark.e2e

GIB = 1 << 30
LIMIT = GIB  # the peak resident set allowed, whatever the packages weigh

# Runs a command and reports the largest resident set of it and its descendants (the kernel's ru_maxrss).
PEAK = ("import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr,\n"
        "                  'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n")


def ensure_with_peak(project, base, image, tmp_path, *extra) -> dict:
    env = {**UV_ENV, **fresh(tmp_path, "peak"), "PYTHONPATH": str(REPO / "src")}
    args = [sys.executable, "-m", "depimage", "ensure", str(project), "--image", image, "--base-image", base,
            "--uv-version", "0.13.9", "--no-dev", "--output", "json", "--layer-store", "off", *extra]
    proc = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    index = serve(large_wheel(tmp_path_factory.mktemp("bigwheel"), "bigpkg", GIB))
    yield index
    index.stop()


@pytest.mark.parametrize("platforms", ["", "linux/amd64,linux/arm64"])
def test_a_gibibyte_package_in_bounded_memory(app, sandbox, registry_base, big_index, tmp_path, run_id, platforms):
    use_private_index(app, big_index, "bigpkg")
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    repository = f"e2e/memory-{run_id}-{len(platforms)}"
    base = multiplatform_base(registry, f"e2e/memory-base-{run_id}") if platforms else registry_base
    done = ensure_with_peak(app, base, f"{registry}/{repository}", tmp_path,
                            *(["--platform", platforms] if platforms else []))
    assert done["code"] == 0, done["err"][-3000:]
    result = json.loads(done["out"])
    assert result["path"] == "layers", done["err"][-2000:]
    print(f"peak resident set: {done['peak'] / 2**20:.0f} MiB")
    assert done["peak"] < LIMIT, f"peak resident set {done['peak'] / GIB:.2f} GiB for a 1 GiB package"
    top = get_json(registry, repository, result["tag"])
    assert len(top.get("manifests", [top])) == (2 if platforms else 1)
    if not platforms:  # the image holds the package whole
        code = "import bigpkg, os; print(os.path.getsize(os.path.join(os.path.dirname(bigpkg.__file__), 'data.bin')))"
        assert docker("run", "--rm", "--network", "none", result["image"], "python", "-c", code).stdout.strip() == \
            str(GIB)
        docker("rmi", "-f", result["image"])
