"""Benchmark: the action's overhead under act (a real runner implementation), and the size of its image.

- start: from act's "Run Main depimage/depimage@v0" line to the first line depimage prints, the image already
  present (as on a runner that pulled it, or cached it). The peer in the same run is the floor of any container
  action: a docker:// action on the base image that only prints a line.
- size: the action image pushed to the loopback registry; the compressed bytes of its layers, split into the
  base image's and depimage's own. The published image is built on python:3.12-slim-bookworm, which cannot be
  pulled here: this one is built on the local Debian base of the tests (tests/sandbox.sh), which is larger.
docker/build-push-action (a JavaScript action fetched from GitHub) cannot be run here, so no figure of it.
Targets: start <= 1 s; compressed image <= 120 MB.

    benchmarks/run benchmarks/action_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

IMAGE = "local/depimage-action:bench"
WORKFLOW = """name: bench
on: push
permissions: {}
jobs:
  bench:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - uses: ./floor
      - uses: depimage/depimage@v0
        with:
          mode: hash
          uv-version: 0.13.9
"""


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def act_lines(cmd: list[str], cwd: Path) -> list[tuple[float, str]]:
    """act's log lines, each stamped when it arrived (act's own timestamps are whole seconds)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    lines = [(time.monotonic(), line.rstrip("\n")) for line in proc.stdout]
    if proc.wait() != 0:
        raise SystemExit("\n".join(line for _, line in lines[-40:]))
    return lines


def seconds_to_first_line(lines: list[tuple[float, str]], step: str, first_line: str) -> float:
    """From the step's start (act's "Run Main <step>") to the first line it prints containing first_line."""
    start = next(t for t, line in lines if "Run Main" in line and step in line)
    return next(t for t, line in lines if t >= start and first_line in line and "Run Main" not in line) - start


def compressed_layers(registry: str, repository: str, tag: str) -> list[tuple[str, int]]:
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    manifest = requests.get(f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": accept},
                            timeout=30).json()
    return [(layer["digest"], layer["size"]) for layer in manifest["layers"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = os.environ["DEPIMAGE_TEST_BASE_IMAGE"]
    registry = os.environ["DEPIMAGE_TEST_REGISTRY"]
    sh("docker", "buildx", "build", "--network=host", "--load", "-t", IMAGE, "--build-arg", f"BASE_IMAGE={base}",
       "--build-arg", "EXTRA_PYTHONS=",
       str(REPO))

    from actrunner import action_checkout, git_repo

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        repo = tmp / "repo"
        sh("cp", "-r", str(REPO / "tests/fixtures/realworld/uv-fastapi-example"), str(repo))
        (repo / ".github/workflows").mkdir(parents=True)
        (repo / ".github/workflows/bench.yml").write_text(WORKFLOW)
        (repo / "floor").mkdir()
        (repo / "floor/action.yml").write_text(
            f"name: floor\nruns:\n  using: docker\n  image: docker://{base}\n  args: [echo, floor-first-line]\n")
        action = action_checkout(tmp / "action")
        text = (action / "action.yml").read_text().replace("local/depimage-action:test", IMAGE)
        (action / "action.yml").write_text(text)
        git_repo(repo, "acme/bench")
        starts, floors = [], []
        for _ in range(args.runs):
            lines = act_lines(["act", "push", "--pull=false", "-P", f"ubuntu-latest={IMAGE}",
                               "--local-repository", f"depimage/depimage@v0={action}"], repo)
            floors.append(seconds_to_first_line(lines, "./floor", "| floor-first-line"))
            starts.append(seconds_to_first_line(lines, "depimage/depimage@v0", "| depimage 0."))

    for ref, repo_name in ((IMAGE, "bench/depimage-action"), (base, "bench/base")):
        target = f"{registry}/{repo_name}:latest"
        sh("docker", "tag", ref, target)
        sh("docker", "push", target)
    layers = compressed_layers(registry, "bench/depimage-action", "latest")
    base_layers = {d for d, _ in compressed_layers(registry, "bench/base", "latest")}
    total = sum(size for _, size in layers)
    own = sum(size for digest, size in layers if digest not in base_layers)
    size = json.loads(sh("docker", "image", "inspect", "--format", "{{json .Size}}", IMAGE).stdout)

    med = statistics.median
    print(f"runs: {args.runs}")
    print(f"start to depimage's first line      median {med(starts):6.2f} s  (target <= 1 s: "
          f"{'met' if med(starts) <= 1 else 'NOT met'})")
    print(f"peer: a bare container action       median {med(floors):6.2f} s  (act's own floor for any container action)")
    print(f"ratio depimage / bare container action: {med(starts) / med(floors):.2f}")
    print(f"action image, compressed            {total / 1e6:6.1f} MB in {len(layers)} layers "
          f"({(total - own) / 1e6:.1f} MB the local Debian base, {own / 1e6:.1f} MB depimage's own layers); "
          f"unpacked {size / 1e6:.0f} MB")
    print("  published on python:3.12-slim-bookworm instead: its own layers plus that base "
          f"(target <= 120 MB compressed: depimage's layers are {own / 1e6:.1f} MB of it)")


if __name__ == "__main__":
    main()
