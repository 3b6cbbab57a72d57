"""Benchmark: the application image after a release (a version bump), three ways, in one run.

  1. uv's documented Dockerfile (bind mounts, --no-install-project, a cache mount) on a cold builder;
  2. depimage's Dockerfile path (examples/Dockerfile: FROM the dependency image, `uv sync` of the project) on a
     cold builder, which pulls the whole dependency image first;
  3. `depimage app`: one layer and a manifest pushed on the registry, no builder at all.

A cold builder is what a fresh hosted runner has: no build cache, no cache mount, no dependency image in the
engine (`docker buildx prune -af` and `docker rmi` before each build; the base and uv images stay local in all
three, as if pulled already). In (2) the pull of the dependency image is timed as its own `docker pull`, since
this engine's BuildKit will not pull from a plain-http registry itself. The registry is the loopback one, behind a recording proxy that counts the bytes
each way downloads from it; uv's way downloads its wheels from the package index instead.
Targets: depimage app >= 5x faster than (1) for numpy, pandas, scipy, scikit-learn; >= 10x for a set at least
4x larger (--set large); its own time does not grow with the dependencies.

    benchmarks/run benchmarks/app_release.py [--set small|large] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

SETS = {
    "small": ["numpy", "pandas", "scipy", "scikit-learn"],
    "large": ["numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "polars", "opencv-python-headless",
              "matplotlib", "jupyterlab", "sympy", "statsmodels", "duckdb", "bokeh", "plotly", "scikit-image",
              "xgboost"],
}
UV_DOCKERFILE = """\
ARG BASE
ARG UV_IMAGE
FROM ${UV_IMAGE} AS uv
FROM ${BASE}
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project --no-dev
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev
ENV PATH=/app/.venv/bin:$PATH
"""


def run(*cmd: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def timed(*cmd: str, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    run(*cmd, cwd=cwd)
    return time.perf_counter() - start


def make_project(where: Path, packages: list[str]) -> None:
    run("uv", "init", "-q", "--package", "--name", "bench-app", "--python", "3.11", ".", cwd=where)
    run("uv", "add", "-q", "--no-sync", *packages, cwd=where)
    imports = ", ".join(p.replace("-", "_").replace("scikit_learn", "sklearn").replace("opencv_python_headless", "cv2")
                        for p in packages[:4])
    (where / "src/bench_app/__init__.py").write_text(f"def main() -> None:\n    import {imports}\n    print('ok')\n")
    (where / ".dockerignore").write_text(".venv\n.git\n")


def cold() -> None:
    run("docker", "buildx", "prune", "-af")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(SETS), default="small")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from faultproxy import FaultProxy

    base, registry = os.environ["DEPIMAGE_TEST_BASE_IMAGE"], os.environ["DEPIMAGE_TEST_REGISTRY"]
    uv_image = "local/uv:bench"
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        import uv as uv_package

        shutil.copy(uv_package.find_uv_bin(), tmp / "uv")
        shutil.copy(Path(uv_package.find_uv_bin()).parent / "uvx", tmp / "uvx")
        (tmp / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
        run("docker", "build", "-q", "--network=host", "-t", uv_image, str(tmp))
        project = tmp / "project"
        project.mkdir()
        print(f"locking {' '.join(SETS[args.set])} ...", file=sys.stderr)
        make_project(project, SETS[args.set])
        (tmp / "uv.Dockerfile").write_text(UV_DOCKERFILE)
        repository = f"bench/app-{os.getpid()}"
        common = ["--base-image", base, "--uv-image", uv_image, "--uv-version", "0.13.9", "--no-dev"]
        print("building the dependency image once (not timed) ...", file=sys.stderr)
        ensured = json.loads(run(sys.executable, "-m", "depimage", "ensure", str(project), "--image",
                                 f"{registry}/{repository}", "--network", "host", "--output", "json", *common).stdout)
        size = lambda ref: int(run("docker", "image", "inspect", "--format", "{{.Size}}", ref).stdout)  # noqa: E731
        deps_size = size(ensured["image"]) - size(base)
        results: dict[str, list[float]] = {"uv": [], "dockerfile": [], "app": []}
        downloaded: dict[str, int] = {"dockerfile": 0, "app": 0}
        with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
            deps_via_proxy = ensured["image"].replace(registry, proxy.address)
            for n in range(args.runs):
                run("uv", "version", "--bump", "patch", "--no-sync", cwd=project)
                cold()
                results["uv"].append(timed("docker", "buildx", "build", "--network=host", "--load", "-t", "bench/uv",
                                           "-f", str(tmp / "uv.Dockerfile"), "--build-arg", f"BASE={base}",
                                           "--build-arg", f"UV_IMAGE={uv_image}", str(project)))
                cold()
                run("docker", "image", "rm", "-f", deps_via_proxy, ensured["image"], "bench/dockerfile")
                before = proxy.downloaded
                # The pull as its own command: BuildKit in this engine will not pull from a plain-http registry.
                results["dockerfile"].append(timed("docker", "pull", "-q", deps_via_proxy) + timed(
                    "docker", "buildx", "build", "--network=host", "--load", "-t", "bench/dockerfile", "-f",
                    str(REPO / "examples/Dockerfile"), "--build-arg", f"DEPS_IMAGE={deps_via_proxy}", str(project)))
                downloaded["dockerfile"] = proxy.downloaded - before
                before = proxy.downloaded
                results["app"].append(timed(sys.executable, "-m", "depimage", "app", str(project), "--image",
                                            f"{proxy.address}/{repository}", "--tag", f"v{n}", *common))
                downloaded["app"] = proxy.downloaded - before
        check = run("docker", "run", "--rm", "--network=none", f"{registry}/{repository}:v{args.runs - 1}")
        assert check.stdout.strip() == "ok", check.stdout

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"set: {args.set} ({', '.join(SETS[args.set])}); dependency layers {deps_size / 1e6:.0f} MB unpacked (the image less its base); "
          f"{args.runs} runs, medians")
    print(f"1. uv's documented Dockerfile, cold builder   {med['uv']:7.2f} s   (wheels from the package index)")
    print(f"2. depimage's Dockerfile path, cold builder   {med['dockerfile']:7.2f} s   "
          f"{downloaded['dockerfile'] / 1e6:8.1f} MB from the registry")
    print(f"3. depimage app                               {med['app']:7.2f} s   "
          f"{downloaded['app'] / 1e6:8.3f} MB from the registry")
    print(f"ratios: (1)/(3) = {med['uv'] / med['app']:.1f}x, (2)/(3) = {med['dockerfile'] / med['app']:.1f}x, "
          f"(1)/(2) = {med['uv'] / med['dockerfile']:.1f}x")


if __name__ == "__main__":
    os.environ.setdefault("UV_NO_PROGRESS", "1")
    main()
