"""Benchmark: the layer store (issue 22). A first project ensured cold into a new repository, then a second project
(another name, the same packages plus one small one) ensured cold, every cache empty, into another new
repository of the same owner: the second mounts what the first made. Printed for each: wall time, bytes from the
package index (the wheels uv installed, as ensure counts them) and bytes pushed (a recording proxy in front of
the registry), and the ratios; for numpy + pandas + scipy + scikit-learn, and for torch (with its CUDA wheels)
+ numpy.

Targets: the second project costs only its own packages: <= 5 s on the small set, <= 15 s on the torch stack.

    benchmarks/run benchmarks/shared_store.py [--stack small|torch|both]
"""

from __future__ import annotations

import os
import re
import shutil
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
from helpers import uv  # noqa: E402
from cold_stack import STACKS as COLD_STACKS  # noqa: E402
from cold_stack import ensure as cold_ensure  # noqa: E402
from cold_stack import stacks_asked  # noqa: E402

STACKS = {name: packages for name, (packages, _) in COLD_STACKS.items()}  # the same sets as cold_stack.py
EXTRA = "iniconfig"  # the second project's own package
MB = 1e6
SIZE = re.compile(r"installed from ([\d.]+) (B|kB|MB|GB) of wheels")


def project(where: Path, name: str, packages: list[str]) -> Path:
    where.mkdir(parents=True)
    uv("init", "-q", "--app", "--name", name, ".", cwd=where)
    uv("add", "-q", "--no-sync", *packages, cwd=where)
    return where


def ensure(path: Path, image: str, base: str, caches: Path, proxy: FaultProxy) -> dict:
    """cold_stack's ensure (empty caches, bytes pushed), with the wheels' bytes its last line counts."""
    done = cold_ensure(path, ["--image", image, "--base-image", base], caches, proxy)
    found = SIZE.search(done["log"])
    unit = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    shutil.rmtree(caches, ignore_errors=True)
    return {**done, "wheels": float(found[1]) * unit[found[2]] if found else 0.0}


def main() -> None:
    names = stacks_asked(__doc__)
    registry = os.environ["DEPIMAGE_TEST_REGISTRY"]
    work = Path(tempfile.mkdtemp(prefix="depimage-bench-store-"))
    owner = f"org{int(time.time())}"  # a fresh owner: an empty store
    results = {}
    try:
        subprocess.run(["docker", "tag", os.environ["DEPIMAGE_TEST_BASE_IMAGE"],
                        f"{registry}/bench/python:3.11-bookworm"], check=True)
        subprocess.run(["docker", "push", "-q", f"{registry}/bench/python:3.11-bookworm"], check=True,
                       capture_output=True)
        with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
            base = f"{proxy.address}/bench/python:3.11-bookworm"
            for name in names:
                first = project(work / f"{name}-first", f"{name}-service-one", STACKS[name])
                second = project(work / f"{name}-second", f"{name}-service-two", STACKS[name] + [EXTRA])
                one = ensure(first, f"{proxy.address}/{owner}/{name}-one", base, work / "c1", proxy)
                two = ensure(second, f"{proxy.address}/{owner}/{name}-two", base, work / "c2", proxy)
                results[name] = (one, two)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in names:
        one, two = results[name]
        target = 5 if name == "small" else 15
        print(f"\n{name}: {' '.join(STACKS[name])}; the second project adds {EXTRA}; each in a new repository of "
              f"one owner, every cache empty")
        for label, r in (("first project", one), ("second project", two)):
            print(f"  {label:15} {r['seconds']:7.1f} s   {r['wheels'] / MB:8.1f} MB from the package index   "
                  f"{r['pushed'] / MB:8.1f} MB pushed   {len(r['from_store']):3} layers from the store")
        print(f"  second / first: time {two['seconds'] / one['seconds']:.2f}x, index bytes "
              f"{two['wheels'] / max(one['wheels'], 1):.4f}x, pushed {two['pushed'] / max(one['pushed'], 1):.4f}x; "
              f"second project {two['seconds']:.1f} s (target <= {target} s)")


if __name__ == "__main__":
    main()
