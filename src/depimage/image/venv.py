"""The two layers every layered dependency image has besides its packages: the virtual environment on the base's
interpreter, and uv (for the Dockerfile path's `uv sync` over the image), both as the builder path makes them."""

from __future__ import annotations

import os
from pathlib import Path

from depimage.errors import DepimageError
from depimage.image.base import BasePlatform
from depimage.image.layer import Layer, build_layer
from depimage.image.staging import Target, install
from depimage.layout import APP_SITE, APP_SITE_PTH, VENV, WORKDIR


def venv_layer(bp: BasePlatform, uv_version: str) -> Layer:
    """/opt/venv on the base's interpreter, with the .pth that puts `depimage app`'s layer on sys.path."""
    python, version = bp.facts.python, bp.facts.python_version
    venv = VENV.lstrip("/")
    cfg = (f"home = {os.path.dirname(python)}\nimplementation = CPython\nuv = {uv_version}\n"
           "include-system-site-packages = false\n")
    site = f"{venv}/lib/python{version}/site-packages"
    return build_layer({f"{venv}/pyvenv.cfg": (cfg.encode(), False),
                        f"{site}/{APP_SITE_PTH}": (f"{APP_SITE}\n".encode(), False)},
                       symlinks={f"{venv}/bin/python": python, f"{venv}/bin/python3": "python",
                                 f"{venv}/bin/python{version}": "python", f"{venv}/lib64": "lib"},
                       folders=(WORKDIR.lstrip("/"),))


def uv_layer(uv_version: str, target: Target, env: dict[str, str], into: Path) -> Layer:
    """uv and uvx in /usr/local/bin, from the uv wheel for the image's platform, as the builder path copies them;
    staged and packed in the folder `into`."""
    dist = install("", target, env, into, extra_args=(f"uv=={uv_version}",))
    binaries = {path.rsplit("/", 1)[1]: content for d in dist for path, (content, _) in d.files.items()
                if path.startswith(f"{VENV.lstrip('/')}/bin/")}
    missing = {"uv", "uvx"} - set(binaries)
    if missing:
        raise DepimageError(f"the uv {uv_version} wheel for {target.python_platform} has no {', '.join(missing)}")
    return build_layer({f"usr/local/bin/{name}": (binaries[name], True) for name in ("uv", "uvx")},
                       into=into / f"uv-{target.python_platform}.tar.gz")
