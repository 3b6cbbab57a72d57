"""Benchmark: the FIRST dependency image of an ML stack, builder against layered, in one run, on the real engine
and registry, every cache empty:

  - torch (from the package index, with its CUDA wheels) + numpy, and numpy + pandas + scipy + scikit-learn;
  - for each: wall time, the depimage process's peak resident set (with its children: uv, the compilers),
    bytes downloaded from the package index (the wheels uv.lock names for linux x86_64, CPython 3.11) and bytes
    pushed to the registry (counted by a recording proxy in front of it);
  - the download alone: `uv pip install --target` of the same wheels into a folder with an empty cache (fetch and
    unpack, nothing else), the floor for any path;
  - start-up: `docker run IMG python -c '<import>'` on both images, median of three after a warm-up run.

Targets: layered cold <= 0.67x the builder's time on the torch stack and <= 1.0x on the small one; within 1.2x of
the download alone; peak RSS <= 1 GB; start-up within 1.1x of the builder image's.

    benchmarks/run benchmarks/cold_stack.py [--stack small|torch|both]
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
sys.path.insert(0, str(HERE))

from faultproxy import FaultProxy  # noqa: E402
from helpers import make_app, uv  # noqa: E402
from layered_ensure import UV_VERSION, cold_builder, index_bytes  # noqa: E402

STACKS = {
    "small": (["numpy", "pandas", "scipy", "scikit-learn"], "import pandas, sklearn.ensemble, scipy.stats"),
    "torch": (["torch==2.9.1", "numpy"], "import torch, numpy"),
}
PEAK = ("import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr,\n"
        "                  'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n")
MB = 1e6


def ensure(project: Path, args: list[str], caches: Path, proxy: FaultProxy) -> dict:
    """`depimage ensure` with empty caches: its result, seconds, peak RSS and the bytes it pushed."""
    env = {**os.environ, "UV_CACHE_DIR": str(caches / "uv"), "XDG_CACHE_HOME": str(caches / "xdg"),
           "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "depimage", "ensure", str(project), *args, "--uv-version", UV_VERSION,
               "--no-dev", "--output", "json"]
    sent, started = proxy.uploaded, time.monotonic()
    proc = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    done = json.loads(proc.stdout)
    if done["code"] != 0:
        raise SystemExit(f"ensure failed:\n{done['err'][-4000:]}")
    return {**json.loads(done["out"]), "seconds": seconds, "peak": done["peak"], "pushed": proxy.uploaded - sent,
            "log": done["err"]}


def download_only(project: Path, work: Path) -> float:
    """Seconds for uv to fetch and unpack the stack's wheels into a folder, from an empty cache."""
    lock = work / "pylock.toml"
    uv("export", "-q", "--format", "pylock.toml", "--no-dev", "--no-emit-project", "-o", str(lock), cwd=project)
    started = time.monotonic()
    subprocess.run(["uv", "pip", "install", "--quiet", "--target", str(work / "target"), "--python-platform",
                    "x86_64-manylinux_2_36", "--python-version", "3.11", "--no-deps", "--no-build", "--no-compile",
                    "--link-mode", "copy", "--preview-features", "pylock", "-r", str(lock)], check=True,
                   env={**os.environ, "UV_CACHE_DIR": str(work / "uv")})
    seconds = time.monotonic() - started
    shutil.rmtree(work / "target")
    shutil.rmtree(work / "uv")
    return seconds


def start_up(image: str, code: str) -> float:
    """Median seconds of `docker run IMAGE python -c code`, after one run that warms the engine's caches."""
    subprocess.run(["docker", "pull", "-q", image], check=True, capture_output=True)
    times = []
    for _ in range(4):
        started = time.monotonic()
        subprocess.run(["docker", "run", "--rm", "--network", "none", image, "python", "-c", code], check=True,
                       capture_output=True)
        times.append(time.monotonic() - started)
    subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
    return statistics.median(times[1:])


def one_stack(name: str, registry: str, work: Path, stamp: str) -> dict:
    packages, code = STACKS[name]
    project = make_app(work / name)
    uv("add", "-q", "--no-sync", *packages, cwd=project)
    local_base = os.environ["DEPIMAGE_TEST_BASE_IMAGE"]
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        at = proxy.address
        cold_builder()
        b = ensure(project, ["--base-image", local_base, "--uv-image", f"local/uv:{UV_VERSION}", "--network",
                             "host", "--builder", "docker", "--image", f"{at}/bench/cold-b-{name}-{stamp}"],
                   work / f"{name}-b", proxy)
        layered = ensure(project, ["--layer-store", "off", "--base-image", f"{at}/bench/python:3.11-bookworm", "--image",
                                   f"{at}/bench/cold-l-{name}-{stamp}"], work / f"{name}-l", proxy)
    assert b["path"] == "docker" and layered["path"] == "layers", layered["log"][-3000:]
    shutil.rmtree(work / f"{name}-b", ignore_errors=True)
    shutil.rmtree(work / f"{name}-l", ignore_errors=True)
    cold_builder()
    floor = download_only(project, work / f"{name}-d")
    local = registry  # the images, pulled straight from the registry (not through the proxy)
    b_start = start_up(b["image"].replace(at, local), code)
    l_start = start_up(layered["image"].replace(at, local), code)
    return {"builder": b, "layered": layered, "floor": floor, "index": index_bytes(project), "b_start": b_start,
            "l_start": l_start, "code": code, "packages": packages}


def report(name: str, r: dict, target: float) -> None:
    b, lay = r["builder"], r["layered"]
    print(f"\n{name}: {' '.join(r['packages'])} (Python 3.11, linux/amd64), every cache empty")
    print(f"  from the package index (uv.lock's wheels): {r['index'] / MB:8.1f} MB for both paths")
    for label, x in (("builder (--builder docker)", b), ("layered (default)", lay)):
        print(f"  {label:27} {x['seconds']:7.1f} s   peak RSS {x['peak'] / 2**20:7.0f} MiB   "
              f"pushed {x['pushed'] / MB:8.1f} MB")
    print(f"  download alone (uv, into a folder) {r['floor']:7.1f} s")
    ratio, floor = lay["seconds"] / b["seconds"], lay["seconds"] / r["floor"]
    print(f"  layered / builder time: {ratio:.2f}x (target <= {target}x); layered / download alone: {floor:.2f}x "
          f"(goal <= 1.2x); layered peak RSS {lay['peak'] / 1e9:.2f} GB (target <= 1 GB)")
    print(f"  start-up `python -c '{r['code']}'`: builder image {r['b_start']:.2f} s, layered image "
          f"{r['l_start']:.2f} s: {r['l_start'] / r['b_start']:.2f}x (target <= 1.1x)")


def stacks_asked(doc: str) -> list[str]:
    """The --stack argument (small, torch or both), once the sandbox's parts are known to be running."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=["small", "torch", "both"], default="both")
    args = parser.parse_args()
    for key in ("DOCKER_HOST", "DEPIMAGE_TEST_REGISTRY", "DEPIMAGE_TEST_BASE_IMAGE"):
        if not os.environ.get(key):
            sys.exit(f"{key} is unset: run this through benchmarks/run")
    return ["small", "torch"] if args.stack == "both" else [args.stack]


def main() -> None:
    names = stacks_asked(__doc__)
    registry, local_base = os.environ["DEPIMAGE_TEST_REGISTRY"], os.environ["DEPIMAGE_TEST_BASE_IMAGE"]
    work = Path(tempfile.mkdtemp(prefix="depimage-bench-cold-"))
    stamp = str(int(time.time()))
    try:
        subprocess.run(["docker", "tag", local_base, f"{registry}/bench/python:3.11-bookworm"], check=True)
        subprocess.run(["docker", "push", "-q", f"{registry}/bench/python:3.11-bookworm"], check=True,
                       capture_output=True)
        uv_ctx = work / "uv-image"
        uv_ctx.mkdir()
        uv_bin = shutil.which("uv") or "uv"
        shutil.copy(uv_bin, uv_ctx / "uv")
        shutil.copy(Path(uv_bin).parent / "uvx", uv_ctx / "uvx")
        (uv_ctx / "Dockerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
        subprocess.run(["docker", "build", "-q", "--network=host", "-t", f"local/uv:{UV_VERSION}", str(uv_ctx)],
                       check=True, capture_output=True)
        results = {name: one_stack(name, registry, work, stamp) for name in names}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in names:
        report(name, results[name], 0.67 if name == "torch" else 1.0)


if __name__ == "__main__":
    main()
