"""Compiled bytecode in the layered image, as `UV_COMPILE_BYTECODE=1` gives the builder's: every module of every
installed package compiled for the base image's Python, so a container does not compile what it imports at each
start. A .pyc can only be made by an interpreter of the same X.Y, so one is looked for on this machine (and uv is
asked for one it knows of); it is named in the layer's key, so the same packages compiled by another interpreter
never pass for these.

The .pyc files check their source by time and size (the default, as uv's): the image's files all carry one fixed
time, set on the staged sources before compiling, so the checks hold in the image. The hash seed is fixed, so the
same interpreter writes the same bytes on any machine."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from depimage.errors import DepimageError, opt
from depimage.layout import FIXED_MTIME
from depimage.project.uv import run_uv

_IDENTIFY = "import sys, platform; print(platform.python_implementation(), '%d.%d.%d' % sys.version_info[:3])"
_COMPILE = """\
import compileall, os, py_compile, sys
staged, site, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
mode = py_compile.PycInvalidationMode.TIMESTAMP
for path in paths:
    ddir = os.path.normpath(os.path.join(site, os.path.relpath(os.path.dirname(path), staged)))
    if os.path.isdir(path):
        compileall.compile_dir(path, ddir=os.path.join(site, os.path.relpath(path, staged)), quiet=2, workers=1,
                               invalidation_mode=mode)
    elif path.endswith(".py"):
        compileall.compile_file(path, ddir=ddir, quiet=2, invalidation_mode=mode)
"""


def find_interpreter(version: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, "cpython-X.Y.Z") of a CPython X.Y on this machine, or None: pythonX.Y on PATH, then what uv
    finds (its own installs, pyenv's, the system's), then the usual folders."""
    candidates = [shutil.which(f"python{version}", path=env.get("PATH"))]
    proc = run_uv(["python", "find", "--no-project", version], cwd="/", env={**env, "UV_PYTHON_DOWNLOADS": "never"})
    candidates.append(proc.stdout.strip() if proc.returncode == 0 else None)
    home = env.get("HOME", "")
    for pattern in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}",
                    f"{home}/.pyenv/versions/{version}.*/bin/python{version}",
                    f"{home}/.local/share/uv/python/cpython-{version}.*/bin/python{version}",
                    f"/opt/python/cp{version.replace('.', '')}-*/bin/python{version}"):
        candidates += sorted(glob.glob(pattern), reverse=True)
    for path in dict.fromkeys(c for c in candidates if c):
        found = _identify(path)
        if found and found.startswith(f"cpython-{version}."):
            return path, found
    return None


@functools.cache
def _identify(path: str) -> str | None:
    try:
        proc = subprocess.run([path, "-I", "-c", _IDENTIFY], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.fullmatch(r"(\w+) (\d+\.\d+\.\d+)", proc.stdout.strip()) if proc.returncode == 0 else None
    return f"{found[1].lower()}-{found[2]}" if found else None


def need_interpreter(version: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The interpreter that compiles for Python X.Y, or a failure that says how to get one or do without."""
    found = find_interpreter(version, env)
    if found is None:
        raise DepimageError(f"no Python {version} on this machine to compile the image's bytecode with (a .pyc is "
                            f"for one Python X.Y only)",
                            hint=f"install Python {version} (e.g. `uv python install {version}`), or leave bytecode "
                                 f"out with {opt('no_compile')} (the image then compiles what it imports at each "
                                 "start)")
    return found


def compile_staged(staged: Path, site_packages: str, python: str, elsewhere: tuple[str, ...]) -> None:
    """Compile every module under the staged --target folder that goes to site-packages, for the image's path
    (site_packages, e.g. /opt/venv/lib/python3.12/site-packages), the sources first stamped with the image's
    fixed time. elsewhere: the staged top-level folders that go elsewhere in the image (bin, data), left out."""
    for root, _, files in os.walk(staged):
        for name in files:
            if name.endswith(".py"):
                os.utime(os.path.join(root, name), (FIXED_MTIME, FIXED_MTIME))
    env = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    tops = sorted(str(p) for p in staged.iterdir() if p.name not in elsewhere)
    workers = max(1, min(os.cpu_count() or 1, 8, len(tops)))
    shares = [tops[i::workers] for i in range(workers)]  # the top-level folders, dealt out: one interpreter each
    procs = [subprocess.Popen([python, "-I", "-c", _COMPILE, str(staged), site_packages, *share],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for share in shares if share]
    for proc in procs:
        said = proc.communicate()[0].strip().splitlines()
        # a module that does not compile (Python 2 code in a package) is left as source, as uv leaves it; a crash
        # of the interpreter is a failure
        if proc.returncode != 0 and any("Traceback" in line for line in said):
            raise DepimageError(f"compiling the image's bytecode with {python} failed: {' / '.join(said[-5:])}")
