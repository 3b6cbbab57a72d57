"""Benchmark: the dependency image of numpy, pandas, scipy and scikit-learn, by the builder and by the layered
path, in one run, on the real engine and registry:

  1. builder `ensure` from a cold builder (no build cache, no uv cache mount), and
  2. layered `ensure` cold (an empty repository, an empty uv cache, no base facts cached);
  3. after adding one small package (iniconfig), on a fresh runner (no build cache, no uv cache): a builder rebuild
     against a layered update, with the bytes each downloads from the package index (estimated from uv.lock's
     file sizes for what each installs), pushes to the registry, and what a host that has the old image
     downloads to pull the new one (counted by a recording proxy in front of the registry);
  4. layered amd64+arm64 against amd64 alone, cold, from one amd64 host with no emulator;
  5. a new base image pushed under the same tag: the layered image rebased (the same dependency layers on the
     new base, nothing reinstalled) against the builder's rebuild of (3).

Targets: (3) layered at least 10x less time and 50x fewer bytes pushed than the builder; (4) the second
platform costs at most its own download and packing (at most 2x one platform); (2) no slower than (1);
(5) the rebase at least 20x faster than the rebuild.

    benchmarks/run benchmarks/layered_ensure.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from e2e import multiplatform_base  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from helpers import make_app, uv  # noqa: E402

HEAVY = ["numpy", "pandas", "scipy", "scikit-learn"]
UV_VERSION = "0.13.9"


def run(*cmd: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def depimage(*args: str, env: dict | None = None) -> tuple[dict, float]:
    env = {**(env or {}), "PYTHONPATH": str(REPO / "src")}
    started = time.monotonic()
    proc = run(sys.executable, "-m", "depimage", "ensure", *args, "--uv-version", UV_VERSION, "--no-dev",
               "--output", "json", env=env)
    return json.loads(proc.stdout), time.monotonic() - started


def measured(proxy: FaultProxy, project: Path, args: list[str], env: dict) -> tuple[dict, float, int]:
    """ensure's result, its seconds, and the bytes it pushed through the recording proxy."""
    sent = proxy.uploaded
    result, seconds = depimage(str(project), *args, env=env)
    return result, seconds, proxy.uploaded - sent


def cold_builder() -> None:
    run("docker", "buildx", "prune", "-af")


def fresh(work: Path, name: str) -> dict[str, str]:
    return {"UV_CACHE_DIR": str(work / name / "uv"), "XDG_CACHE_HOME": str(work / name / "xdg")}


def index_bytes(project: Path, names: set[str] | None = None) -> int:
    """What uv downloads for the lock's packages on linux x86_64, CPython 3.11 (the chosen wheel's size)."""
    total = 0
    for pkg in tomllib.loads((project / "uv.lock").read_text()).get("package", []):
        if "registry" not in pkg.get("source", {}) or (names is not None and pkg["name"] not in names):
            continue
        fits = [w for w in pkg.get("wheels", []) if re.search(r"(cp311|py3|abi3).*(manylinux.*x86_64|none-any)",
                                                               w["url"].rsplit("/", 1)[1])]
        total += max((w.get("size", 0) for w in fits), default=0)
    return total


def pull_bytes(registry: str, old: str, new: str) -> int:
    """What pulling `new` downloads onto a host that has `old`: the layers its manifest lists that old's lacks
    (an engine fetches a layer by digest only when it has none; this engine built the builder's images, so it
    would fetch nothing for them, and its own count could not be compared)."""
    import requests

    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                        "application/vnd.docker.distribution.manifest.v2+json"}

    def layers(ref: str) -> dict[str, int]:
        repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
        manifest = requests.get(f"http://{registry}/v2/{repository}/manifests/{tag}", headers=accept, timeout=10).json()
        return {layer["digest"]: layer["size"] for layer in manifest["layers"]}

    before, after = layers(old), layers(new)
    return sum(size for digest, size in after.items() if digest not in before)


def main() -> None:
    registry = os.environ["DEPIMAGE_TEST_REGISTRY"]
    local_base = os.environ["DEPIMAGE_TEST_BASE_IMAGE"]
    work = Path(tempfile.mkdtemp(prefix="depimage-bench-layered-"))
    stamp = str(int(time.time()))
    try:
        base = f"{registry}/bench/python:3.11-bookworm"
        run("docker", "tag", local_base, base)
        run("docker", "push", "-q", base)
        uv_ctx = work / "uv-image"
        uv_ctx.mkdir()
        uv_bin = shutil.which("uv")
        shutil.copy(uv_bin, uv_ctx / "uv")
        shutil.copy(Path(uv_bin).parent / "uvx", uv_ctx / "uvx")
        (uv_ctx / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
        run("docker", "build", "-q", "--network=host", "-t", f"local/uv:{UV_VERSION}", str(uv_ctx))
        project = make_app(work / "heavy")
        uv("add", "-q", "--no-sync", *HEAVY, cwd=project)

        with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
            at = proxy.address
            builder_args = ["--base-image", local_base, "--uv-image", f"local/uv:{UV_VERSION}", "--network", "host",
                            "--builder", "docker", "--image", f"{at}/bench/builder-{stamp}"]
            layered_args = ["--base-image", f"{at}/bench/python:3.11-bookworm", "--image", f"{at}/bench/layered-{stamp}"]

            cold_builder()
            b1, b1_time, b1_pushed = measured(proxy, project, builder_args, fresh(work, "b1"))
            l1, l1_time, l1_pushed = measured(proxy, project, layered_args, fresh(work, "l1"))

            before = {p["name"] for p in tomllib.loads((project / "uv.lock").read_text())["package"]}
            uv("add", "-q", "--no-sync", "iniconfig", cwd=project)  # (a dev dependency so far: new to --no-dev)
            added = {p["name"] for p in tomllib.loads((project / "uv.lock").read_text())["package"]} - before

            cold_builder()
            b2, b2_time, b2_pushed = measured(proxy, project, builder_args, fresh(work, "b2"))
            l2, l2_time, l2_pushed = measured(proxy, project, layered_args, fresh(work, "l2"))
            b_pull = pull_bytes(registry, b1["image"], b2["image"])
            l_pull = pull_bytes(registry, l1["image"], l2["image"])

            fixed = work / "new-base"
            fixed.mkdir()
            (fixed / "Dockerfile").write_text(f"FROM {local_base}\nRUN echo fixed > /etc/security-fix\n")
            run("docker", "build", "-q", "--network=host", "-t", base, str(fixed))
            run("docker", "push", "-q", base)
            l3, rebase_time, rebase_pushed = measured(proxy, project, layered_args, fresh(work, "l3"))

        from depimage.image.layering import group_of

        group = {n for n in before | added if group_of(n) == group_of("iniconfig")}  # what the update reinstalls
        builder_index, layered_index = index_bytes(project), index_bytes(project, group)
        multi_base = multiplatform_base(registry, f"bench/multibase-{stamp}", "bench/python:3.11-bookworm")
        one, one_time = depimage(str(project), "--base-image", multi_base, "--platform", "linux/amd64",
                                 "--image", f"{registry}/bench/one-{stamp}", env=fresh(work, "one"))
        two, two_time = depimage(str(project), "--base-image", multi_base, "--platform", "linux/amd64,linux/arm64",
                                 "--image", f"{registry}/bench/two-{stamp}", env=fresh(work, "two"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = 1e6
    print(f"set: {', '.join(HEAVY)} (+ iniconfig added for (3)); Python 3.11, linux/amd64")
    print("(1) cold, builder  ensure:            "
          f"{b1_time:7.1f} s, {b1_pushed / mb:7.1f} MB pushed")
    print("(2) cold, layered  ensure:            "
          f"{l1_time:7.1f} s, {l1_pushed / mb:7.1f} MB pushed   ratio builder/layered time {b1_time / l1_time:.1f}x")
    print("(3) one small package added, fresh runner:")
    print(f"    builder rebuild: {b2_time:7.1f} s, {builder_index / mb:7.1f} MB from the package index, "
          f"{b2_pushed / mb:7.1f} MB pushed, re-pull {b_pull / mb:7.1f} MB")
    print(f"    layered update:  {l2_time:7.1f} s, {layered_index / mb:7.3f} MB from the package index, "
          f"{l2_pushed / mb:7.3f} MB pushed, re-pull {l_pull / mb:7.3f} MB")
    print(f"    ratios builder/layered: time {b2_time / l2_time:.1f}x, pushed {b2_pushed / max(l2_pushed, 1):.0f}x, "
          f"re-pull {b_pull / max(l_pull, 1):.0f}x   (targets: >= 10x time, >= 50x pushed)")
    print(f"(4) layered cold amd64 alone {one_time:.1f} s; amd64+arm64 {two_time:.1f} s: "
          f"{two_time / one_time:.2f}x one platform (target <= 2x)")
    print(f"(5) new base under the same tag: layered rebase {rebase_time:.1f} s, {rebase_pushed / mb:.3f} MB pushed, "
          f"no package installed; builder rebuild {b2_time:.1f} s: {b2_time / rebase_time:.0f}x (target >= 20x)")
    assert b1["path"] == "docker" and l1["path"] == l2["path"] == one["path"] == two["path"] == "layers"
    assert l3["rebased"] and l3["tag"] == l2["tag"]


if __name__ == "__main__":
    main()
