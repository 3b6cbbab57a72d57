"""Benchmark: the cache-hit path of `depimage ensure` (hash + one registry check) against the best case of
the usual way, `docker buildx build` of the same dependency Dockerfile with every layer cached; and the
cold build against a plain `uv sync` of the same lock on the host, so the builder's overhead shows.

Needs the real parts: run it as   benchmarks/run benchmarks/ensure_cache_hit.py [--runs 10]
The project is shared/fixtures/realworld/uv-fastapi-example (fastapi, uvicorn, pydantic, ...).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests/fixtures/realworld/uv-fastapi-example"
sys.path.insert(0, str(REPO / "tests"))


def clock(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    for key in ("DOCKER_HOST", "DEPIMAGE_TEST_REGISTRY", "DEPIMAGE_TEST_BASE_IMAGE"):
        if not os.environ.get(key):
            sys.exit(f"{key} is unset: run this through benchmarks/run")
    work = Path(tempfile.mkdtemp(prefix="depimage-bench-"))
    project = work / "project"
    shutil.copytree(FIXTURE, project)
    (project / ".python-version").write_text("3.11\n")  # the local base image's Python
    text = (project / "pyproject.toml").read_text().replace('requires-python = ">=3.12"', 'requires-python = ">=3.11"')
    (project / "pyproject.toml").write_text(text)
    subprocess.run(["uv", "lock", "-q"], cwd=project, check=True)

    import uv as uv_package

    uv_ctx = work / "uvimg"
    uv_ctx.mkdir()
    shutil.copy(uv_package.find_uv_bin(), uv_ctx / "uv")
    shutil.copy(Path(uv_package.find_uv_bin()).parent / "uvx", uv_ctx / "uvx")
    (uv_ctx / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
    subprocess.run(["docker", "build", "-q", "--network=host", "-t", "local/uv:0.13.9", str(uv_ctx)], check=True,
                   stdout=subprocess.DEVNULL)

    image = f"{os.environ['DEPIMAGE_TEST_REGISTRY']}/bench/fastapi-example"
    ensure = [sys.executable, "-m", "depimage", "ensure", str(project), "--image", image,
              "--base-image", os.environ["DEPIMAGE_TEST_BASE_IMAGE"], "--uv-version", "0.13.9",
              "--uv-image", "local/uv:0.13.9", "--network", "host", "--no-dev"]

    subprocess.run(["docker", "builder", "prune", "-af"], check=True, stdout=subprocess.DEVNULL)
    ensure += ["--tag-prefix", f"cold{int(time.time())}-"]  # a tag no earlier run pushed: a real miss
    cold_build = clock(ensure)
    venv, cache = work / "venv", work / "uv-cache"
    host_sync = clock(["uv", "sync", "-q", "--frozen", "--no-install-local", "--no-dev"], cwd=project,
                      env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_CACHE_DIR": str(cache)})

    hits = [clock(ensure) for _ in range(args.runs)]

    from depimage.fingerprint.options import ImageOptions
    from depimage.fingerprint.pipeline import fingerprint
    from depimage.project.reader import read_project
    from depimage.recipe.recipe import write_recipe

    prepared = fingerprint(read_project(project), ImageOptions(base_image=os.environ["DEPIMAGE_TEST_BASE_IMAGE"], uv_version="0.13.9",
                                             uv_image="local/uv:0.13.9", no_dev=True), os.environ)
    ctx = work / "context"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(prepared.dockerfile)
    write_recipe(prepared.recipe, ctx / "recipe", project)
    buildx = ["docker", "buildx", "build", "--network", "host", "--load", "-t", "bench/cached:latest", str(ctx)]
    clock(buildx)  # warm: every layer in the cache from here on
    cached = [clock(buildx) for _ in range(args.runs)]

    med = statistics.median
    print(f"project: uv-fastapi-example, {prepared.recipe.verbatim['uv.lock'].count(b'[[package]]')} locked packages")
    print(f"cache hit: depimage ensure (hash + registry HEAD)  median {med(hits) * 1000:8.1f} ms")
    print(f"docker buildx build, every layer cached            median {med(cached) * 1000:8.1f} ms")
    print(f"  ratio ensure hit / cached buildx: {med(hits) / med(cached):.2f}")
    print(f"cold: depimage ensure (build + push)                      {cold_build:8.1f} s")
    print(f"cold: uv sync --frozen on the host, empty cache           {host_sync:8.1f} s")
    print(f"  ratio cold ensure / host uv sync: {cold_build / host_sync:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
