"""Real uv projects for the tests, made with the uv from PyPI, and a way to call depimage."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from depimage.doors.cli import main

REPO = Path(__file__).resolve().parent.parent
# Copies of ../shared/fixtures/realworld (see its SOURCES.txt), so the tests also run where shared/ is not.
SHARED_FIXTURES = REPO / "tests" / "fixtures" / "realworld"
UV_ENV = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"}


def uv(*args: str, cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real uv; on failure show what it said. A release (`uv version`) re-locks from uv's cache: it
    changes no third-party package, and the package index proxy here once answered mid-run with an older view,
    which moved a locked version under a test that asserts nothing moves."""
    offline = {"UV_OFFLINE": "1"} if args[:1] == ("version",) else {}
    proc = subprocess.run(["uv", *args], cwd=cwd, capture_output=True, text=True,
                          env={**UV_ENV, **offline, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"uv {' '.join(args)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """depimage in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def depimage(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
    """depimage as a user runs it: a separate process."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-m", "depimage", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"depimage {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def dep_hash(project: Path, *options: str) -> str:
    code, out, err = cli("hash", str(project), "--uv-version", "0.13.9", *options)
    assert code == 0, err
    return out.split()[0]


def export(project: Path) -> str:
    """What uv would install for the project, as `uv export` lists it, local packages left out."""
    return uv("export", "--frozen", "--no-emit-local", "--all-extras", "--all-groups", "--all-packages",
              cwd=project).stdout


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def make_app(where: Path) -> Path:
    """A single application: two runtime dependencies, a dev group."""
    where.mkdir(parents=True)
    uv("init", "-q", "--app", "--name", "shop", ".", cwd=where)
    uv("add", "-q", "--no-sync", "six", "idna", cwd=where)
    uv("add", "-q", "--no-sync", "--dev", "iniconfig", cwd=where)
    return where


def make_workspace(where: Path) -> Path:
    """Root app + library + packaged app depending on the library + a path dependency that is no member."""
    where.mkdir(parents=True)
    uv("init", "-q", "--app", "--name", "root", ".", cwd=where)
    uv("init", "-q", "--lib", "packages/liba", cwd=where)
    uv("init", "-q", "--package", "packages/appb", cwd=where)
    uv("add", "-q", "--no-sync", "six", cwd=where / "packages/liba")
    uv("add", "-q", "--no-sync", "liba", "idna", cwd=where / "packages/appb")
    uv("init", "-q", "--lib", "--no-workspace", "libs/pathdep", cwd=where)
    uv("add", "-q", "--no-sync", "certifi", cwd=where / "libs/pathdep")
    uv("add", "-q", "--no-sync", "--no-workspace", "./libs/pathdep", cwd=where)
    uv("add", "-q", "--no-sync", "appb", cwd=where)
    return where


def make_monorepo(where: Path) -> Path:
    """A workspace with three deployable members (api, worker, tool) and two shared libraries (core, db):
    api uses core and db, worker uses core, tool uses neither."""
    where.mkdir(parents=True)
    uv("init", "-q", "--bare", "--name", "monorepo", ".", cwd=where)
    with (where / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.uv.workspace]\nmembers = ["libs/*", "apps/*"]\n')
    for lib in ("core", "db"):
        uv("init", "-q", "--lib", f"libs/{lib}", cwd=where)
    for app in ("api", "worker", "tool"):
        uv("init", "-q", "--package", f"apps/{app}", cwd=where)
    uv("add", "-q", "--no-sync", "six", cwd=where / "libs/core")
    uv("add", "-q", "--no-sync", "idna", cwd=where / "libs/db")
    uv("add", "-q", "--no-sync", "core", "db", "iniconfig", cwd=where / "apps/api")
    uv("add", "-q", "--no-sync", "core", cwd=where / "apps/worker")
    uv("add", "-q", "--no-sync", "packaging", cwd=where / "apps/tool")
    return where


def make_siblings(where: Path) -> Path:
    """A repository with one uv project per service and shared libraries beside them, reached by path
    (`../../libs/common`): services/api uses libs/common, services/worker uses libs/extra."""
    where.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(where)], check=True)
    for lib, dep in (("common", "six"), ("extra", "idna")):
        uv("init", "-q", "--lib", "--no-workspace", f"libs/{lib}", cwd=where)
        uv("add", "-q", "--no-sync", dep, cwd=where / "libs" / lib)
    for service, lib in (("api", "common"), ("worker", "extra")):
        uv("init", "-q", "--package", "--no-workspace", f"services/{service}", cwd=where)
        uv("add", "-q", "--no-sync", f"../../libs/{lib}", cwd=where / "services" / service)
    for lib in ("common", "extra"):
        (where / "libs" / lib / "uv.lock").unlink()  # only the services are locked, as in such repositories
    return where


def make_compiled(where: Path) -> Path:
    """A project with a C extension (setuptools): its wheel is for one platform only."""
    where.mkdir(parents=True)
    uv("init", "-q", "--lib", "--build-backend", "setuptools", "--name", "fastcore", ".", cwd=where)
    (where / "src/fastcore/_speed.c").write_text(
        '#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, NULL};\n'
        "PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&m); }\n")
    (where / "setup.py").write_text("from setuptools import Extension, setup\n"
                                    "setup(ext_modules=[Extension('fastcore._speed', ['src/fastcore/_speed.c'])])\n")
    uv("add", "-q", "--no-sync", "six", cwd=where)
    return where
