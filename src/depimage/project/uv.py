"""The uv that depimage asks what gets installed: the one installed with depimage (the `uv` package from
PyPI is a runtime dependency), else the one on PATH. Run with the user's uv settings shut out, as the
image build runs it: only the project's own files and the chosen build args decide its answer."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from typing import Mapping

from depimage.errors import InputError, opt

# Variables that decide nothing about what gets installed, and that the host may need (cache, certificates).
_PASSED_UV_VARS = {"UV_CACHE_DIR", "UV_NATIVE_TLS", "UV_NO_PROGRESS"}


_FIND_LOCK = threading.Lock()


def uv_binary() -> str:
    """Path of the uv executable: the one depimage's install brought, else PATH's. (Threads call this:
    the first look-up is serialised, since sysconfig's first call is not thread-safe.)"""
    with _FIND_LOCK:
        return _find_uv()


@functools.cache
def _find_uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise InputError("no uv found: depimage asks uv what gets installed",
                     hint="reinstall depimage (`pip install depimage` brings uv), or put uv on PATH")


@functools.cache
def uv_version() -> str:
    """X.Y.Z of uv_binary(): the default uv of the image, so it installs with the uv that was asked."""
    out = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True, check=False).stdout
    found = re.match(r"uv (\d+\.\d+\.\d+)", out)
    if not found:
        raise InputError(f"could not read the uv version from {out.strip()!r}",
                         hint=f"name the image's uv with {opt('uv_version')} X.Y.Z")
    return found.group(1)


# A folder that cannot exist (/dev/null is a file): uv finds no user or system uv.toml under it, and nothing is
# left behind in TMPDIR, as an empty folder made for the purpose would be.
NO_CONFIG = "/dev/null/depimage-no-config"


def clean_env(host_env: Mapping[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The door's environment without UV_* settings and user or system uv.toml, offline, plus `extra` (the
    image's build args, which `uv sync` sees in the build too)."""
    env = {k: v for k, v in host_env.items() if not k.startswith("UV_") or k in _PASSED_UV_VARS}
    env.update(XDG_CONFIG_HOME=NO_CONFIG, XDG_CONFIG_DIRS=NO_CONFIG, UV_NO_PROGRESS="1", NO_COLOR="1",
               UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never")
    env.update(extra or {})
    return env


def run_uv(args: list[str], cwd: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """uv with args in cwd; the caller reads returncode, stdout and stderr."""
    return subprocess.run([uv_binary(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
