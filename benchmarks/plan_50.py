"""Benchmark: `depimage plan` on a generated workspace of 50 deployable members, every image present in a
loopback registry. Prints the total wall time and the time per target; the peer in the same run is the
naive per-member loop `uv export --frozen --package <member>` (which does not even ask a registry).
Target: under 2 s for the 50.

    benchmarks/run benchmarks/plan_50.py [--members 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

THIRD_PARTY = ["six", "idna", "certifi", "packaging", "iniconfig", "pluggy", "attrs", "sniffio"]


def uv(*args: str, cwd: Path) -> None:
    subprocess.run(["uv", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def make_workspace(where: Path, members: int) -> list[str]:
    """Two shared libraries and N packaged apps, each app using one library and two PyPI packages."""
    uv("init", "-q", "--bare", "--name", "bench", ".", cwd=where)
    with (where / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.uv.workspace]\nmembers = ["libs/*", "apps/*"]\n')
    for lib, dep in (("shared-a", "six"), ("shared-b", "idna")):
        uv("init", "-q", "--lib", "--no-readme", f"libs/{lib}", cwd=where)
        text = (where / f"libs/{lib}/pyproject.toml").read_text().replace("dependencies = []", f'dependencies = ["{dep}"]')
        (where / f"libs/{lib}/pyproject.toml").write_text(text)
    names = []
    for i in range(members):
        name = f"app{i:02d}"
        uv("init", "-q", "--package", "--no-readme", f"apps/{name}", cwd=where)
        lib = "shared-a" if i % 2 else "shared-b"
        deps = [lib, THIRD_PARTY[i % len(THIRD_PARTY)], THIRD_PARTY[(i + 3) % len(THIRD_PARTY)]]
        text = (where / f"apps/{name}/pyproject.toml").read_text()
        text = text.replace("dependencies = []", "dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]")
        text += f'\n[tool.uv.sources]\n{lib} = {{ workspace = true }}\n'
        (where / f"apps/{name}/pyproject.toml").write_text(text)
        names.append(name)
    uv("lock", "-q", cwd=where)
    return names


def push_placeholder(registry: str, repository: str, tag: str, session: requests.Session) -> None:
    """A minimal image manifest under repository:tag, straight through the distribution API."""
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    base = f"http://{registry}/v2/{repository}"
    start = session.post(f"{base}/blobs/uploads/")
    start.raise_for_status()
    location = start.headers["Location"]
    location = location if location.startswith("http") else f"http://{registry}{location}"
    sep = "&" if "?" in location else "?"
    session.put(f"{location}{sep}digest={digest}", data=config,
                headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": len(config)},
                "layers": []}
    session.put(f"{base}/manifests/{tag}", data=json.dumps(manifest),
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    registry = os.environ.get("DEPIMAGE_TEST_REGISTRY")
    if not registry:
        sys.exit("DEPIMAGE_TEST_REGISTRY is unset: run this through benchmarks/run")
    work = Path(tempfile.mkdtemp(prefix="depimage-plan-bench-"))
    try:
        t = time.perf_counter()
        names = make_workspace(work, args.members)
        print(f"generated and locked {len(names)} members in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        prefix = f"plan50-{int(time.time())}"
        cmd = [sys.executable, "-m", "depimage", "plan", str(work), "--uv-version", "0.13.9",
               "--base-image", "python:3.11-slim", "--image", f"{registry}/{prefix}/{{name}}", "--output", "json"]
        targets = json.loads(subprocess.run(cmd + ["--no-check"], check=True, capture_output=True, text=True).stdout)["targets"]
        session = requests.Session()
        for target in targets:
            push_placeholder(registry, f"{prefix}/{target['name']}", target["tag"], session)

        runs = []
        for _ in range(args.runs):
            t = time.perf_counter()
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            runs.append(time.perf_counter() - t)
            assert out["has-missing"] is False and all(x["present"] for x in out["targets"]), out
        peer = time.perf_counter()
        for name in names:
            subprocess.run(["uv", "export", "-q", "--frozen", "--package", name, "-o", "/dev/null"], cwd=work, check=True)
        peer = time.perf_counter() - peer

        med = statistics.median(runs)
        print(f"targets: {len(out['targets'])}, all present in the registry")
        print(f"depimage plan (hash + registry check of every target)  median {med:6.2f} s "
              f"({med / len(names) * 1000:.1f} ms a target)  target < 2 s: {'met' if med < 2 else 'NOT met'}")
        print(f"peer: uv export --frozen --package, once per member        {peer:6.2f} s "
              f"({peer / len(names) * 1000:.1f} ms a member)")
        print(f"ratio plan / per-member uv export loop: {med / peer:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
