"""Benchmark: `depimage hash` against `uv export` on a large real lock (issues: dependency-only hash, per-member
hashes). `hash --package` asks uv for the installed set itself, so its peer is that one `uv export`:
the target is at most 100 ms added to it.

Makes (once, cached in benchmarks/.work/big) a project with apache-airflow and a few providers, jupyterlab,
pandas, scikit-learn, fastapi, django and boto3 locked by real uv, then times both commands as a user runs
them (separate processes), and depimage's own work in-process. Prints medians and the ratio.

    python benchmarks/hash_vs_export.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIG = HERE / ".work" / "big"
PACKAGES = ["apache-airflow", "apache-airflow-providers-amazon", "apache-airflow-providers-google",
            "apache-airflow-providers-postgres", "apache-airflow-providers-http", "apache-airflow-providers-celery",
            "jupyterlab", "pandas", "scikit-learn", "fastapi", "django", "boto3"]


def make_project() -> None:
    marker = BIG / "packages.txt"
    if (BIG / "uv.lock").is_file() and marker.is_file() and marker.read_text() == " ".join(PACKAGES):
        return
    shutil.rmtree(BIG, ignore_errors=True)
    BIG.mkdir(parents=True, exist_ok=True)
    print(f"locking {len(PACKAGES)} top-level packages with uv (once)...", file=sys.stderr)
    subprocess.run(["uv", "init", "-q", "--app", "--name", "big", "--python", "3.11", "--no-workspace", "."], cwd=BIG, check=True)
    subprocess.run(["uv", "add", "-q", "--no-sync", *PACKAGES], cwd=BIG, check=True)
    (BIG / "packages.txt").write_text(" ".join(PACKAGES))


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=BIG, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    make_project()
    lock = BIG / "uv.lock"
    packages = lock.read_text().count("[[package]]")
    print(f"lock: {lock.stat().st_size / 1e6:.2f} MB, {packages} packages")

    uv_export = timed(["uv", "export", "--frozen", "--no-emit-project", "-o", "/dev/null"], args.runs)
    depimage = timed([sys.executable, "-m", "depimage", "hash", "--uv-version", "0.13.9"], args.runs)
    export_member = timed(["uv", "export", "--frozen", "--no-emit-local", "--format", "pylock.toml", "--package", "big"],
                          args.runs)
    depimage_member = timed([sys.executable, "-m", "depimage", "hash", "--uv-version", "0.13.9", "--package", "big"],
                            args.runs)
    python_bare = timed([sys.executable, "-c", "pass"], args.runs)
    python_startup = timed([sys.executable, "-c", "import depimage.doors.cli"], args.runs)

    sys.path.insert(0, str(HERE.parent / "src"))
    from depimage.fingerprint.options import ImageOptions
    from depimage.fingerprint.pipeline import fingerprint
    from depimage.project.reader import read_project

    options = ImageOptions(base_image="python:3.11-slim", uv_version="0.13.9")
    inproc = []
    for _ in range(args.runs):
        t = time.perf_counter()
        fingerprint(read_project(BIG), options, os.environ)
        inproc.append(time.perf_counter() - t)
    import tomllib

    t = time.perf_counter()
    tomllib.loads(lock.read_text())
    full_parse = time.perf_counter() - t

    med = statistics.median
    print(f"uv export --frozen (process)        median {med(uv_export) * 1000:7.1f} ms")
    print(f"depimage hash (process)             median {med(depimage) * 1000:7.1f} ms")
    print(f"  of which python itself            median {med(python_bare) * 1000:7.1f} ms (the floor for any Python CLI)")
    print(f"  of which python + imports         median {med(python_startup) * 1000:7.1f} ms")
    print(f"  depimage's own work (in-process)  median {med(inproc) * 1000:7.1f} ms")
    print(f"uv export --package (pylock.toml)   median {med(export_member) * 1000:7.1f} ms")
    print(f"depimage hash --package (process)   median {med(depimage_member) * 1000:7.1f} ms, "
          f"{(med(depimage_member) - med(export_member)) * 1000:.1f} ms added to one uv export (target: at most 100)")
    print(f"full tomllib parse of the lock      once   {full_parse * 1000:7.1f} ms (what depimage avoids)")
    print(f"ratio depimage hash / uv export: {med(depimage) / med(uv_export):.2f} (process), "
          f"{med(inproc) / med(uv_export):.2f} (own work)")


if __name__ == "__main__":
    os.environ.setdefault("UV_NO_PROGRESS", "1")
    main()
