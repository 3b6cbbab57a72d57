"""The locked packages, installed by uv for the image's platform and Python (`uv pip install --target
--python-platform --python-version`, from uv's own pylock.toml export, so uv picks every file and checks every
hash), then laid out as the image's virtual environment: packages in /opt/venv/lib/pythonX.Y/site-packages,
console scripts in /opt/venv/bin started by /opt/venv/bin/python, data under /opt/venv. RECORD is rewritten to
match, so the installed distributions are those `uv sync` makes in the image (bytecode aside: none is compiled).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from depimage.errors import DepimageError, uv_os_failure
from depimage.image.bytecode import compile_staged
from depimage.layout import VENV
from depimage.project.names import normalize_name
from depimage.project.uv import run_uv

_PACKAGE_BLOCK = re.compile(r"^\[\[packages\]\]$", re.M)
_NAME = re.compile(r'^name = "([^"]+)"$', re.M)
# What uv says when --no-build stops it (a package with no wheel for the platform): the builder path's cue.
_NEEDS_BUILD = re.compile(r"marked as `--no-build` but has no binary distribution|building source distributions is "
                          r"disabled|no wheels? (?:with a matching|for)|has no usable wheels", re.I)
DATA_DIRS = ("share", "etc", "man")  # what a wheel's .data/data puts at the top of --target


class NeedsBuilder(DepimageError):
    """uv would have to build a package from source for this platform: the builder path is for that."""


@dataclass(frozen=True)
class Target:
    python_platform: str  # uv's name, e.g. aarch64-manylinux_2_36
    python_version: str  # 3.12
    bytecode: str = ""  # the interpreter that compiles it, e.g. cpython-3.12.7; "" for none

    @property
    def site_packages(self) -> str:
        return f"{VENV}/lib/python{self.python_version}/site-packages"

    def marker_env(self) -> dict[str, str]:
        """The environment markers of an image of this target (CPython on Linux; the patch version unknown, 0)."""
        machine = self.python_platform.split("-", 1)[0]
        return {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                "platform_machine": machine, "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "python_version": self.python_version,
                "python_full_version": f"{self.python_version}.0", "implementation_version": f"{self.python_version}.0",
                "platform_release": "", "platform_version": "", "extra": ""}


@dataclass
class Distribution:
    name: str  # normalized
    version: str
    info: str = ""  # the .dist-info folder's name without the suffix: numpy-2.1.0
    # image path (no leading /) -> (content, executable): bytes where depimage rewrote the file (RECORD, scripts),
    # else the staged file on disk, which the layer streams in
    files: dict[str, tuple[bytes | Path, bool]] = field(default_factory=dict)
    wheel_size: int = 0  # bytes of the wheel uv installed it from (what a cold cache downloads); 0 unknown

    @property
    def size(self) -> int:
        return sum(c.stat().st_size if isinstance(c, Path) else len(c) for c, _ in self.files.values())


def only_packages(pylock: str, names: set[str]) -> str:
    """uv's pylock.toml export with just the named packages (normalized names) left in."""
    starts = [m.start() for m in _PACKAGE_BLOCK.finditer(pylock)]
    head = pylock[: starts[0]] if starts else pylock
    blocks = [pylock[a:b] for a, b in zip(starts, starts[1:] + [len(pylock)])]
    kept = [b for b in blocks if (n := _NAME.search(b)) and normalize_name(n[1]) in names]
    return head + "".join(kept)


def install(pylock: str, target: Target, env: Mapping[str, str], into: Path, *, extra_args: tuple[str, ...] = (),
            python: str | None = None) -> list[Distribution]:
    """Install the pylock's packages (or, with extra_args, a requirement such as uv==X) for target into the
    folder `into` (which must outlive the distributions: their files stay there), and lay them out for the
    image. env: uv's environment (network on, the index credentials in it); python: the interpreter that
    compiles the bytecode (image/bytecode.py), None for none."""
    folder = Path(tempfile.mkdtemp(prefix="stage-", dir=into))
    args = ["pip", "install", "--target", str(folder / "t"), "--python-platform", target.python_platform,
            "--python-version", target.python_version, "--no-deps", "--no-build", "--link-mode", "copy",
            "--no-compile", "--quiet"]
    if extra_args:
        args += list(extra_args)
    else:
        (folder / "pylock.toml").write_text(pylock)
        args += ["--preview-features", "pylock", "-r", str(folder / "pylock.toml")]
    proc = run_uv(args, cwd=str(folder), env=dict(env))
    if proc.returncode != 0:
        said = proc.stderr.strip()
        if _NEEDS_BUILD.search(said):
            raise NeedsBuilder(f"uv would build from source for {target.python_platform}: {said[-1500:]}")
        machine = uv_os_failure(said)
        if machine is not None:
            raise machine
        raise DepimageError(f"uv could not install the locked packages for {target.python_platform}:\n"
                            f"{said[-3000:]}", hint="`uv sync` in the builder says the same; check the index "
                                                    "and its credentials")
    if python:
        compile_staged(folder / "t", target.site_packages, python, ("bin", "include", *DATA_DIRS))
    dists = relocate(folder / "t", target)
    sizes = _wheel_sizes(pylock) if pylock else {}
    for dist in dists:
        dist.wheel_size = sizes.get((dist.name, _tags(folder / "t" / f"{dist.info}.dist-info" / "WHEEL")), 0)
    return dists


def _tags(wheel_file: Path) -> frozenset[str]:
    """The tags a staged distribution's WHEEL file names (its wheel's, expanded)."""
    try:
        text = wheel_file.read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    return frozenset(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:"))


def _wheel_sizes(pylock: str) -> dict[tuple[str, frozenset[str]], int]:
    """(name, the wheel's expanded tags) -> its size, for every wheel of the pylock: which one uv took is told
    by the installed WHEEL file's tags."""
    sizes = {}
    for pkg in tomllib.loads(pylock).get("packages", []):
        for wheel in pkg.get("wheels", []):
            stem = wheel.get("url", wheel.get("path", "")).rsplit("/", 1)[-1].removesuffix(".whl")
            parts = stem.split("-")
            if len(parts) >= 5:
                pys, abis, plats = (part.split(".") for part in parts[-3:])
                tags = frozenset(f"{py}-{abi}-{plat}" for py in pys for abi in abis for plat in plats)
                sizes[(normalize_name(pkg["name"]), tags)] = int(wheel.get("size", 0) or 0)
    return sizes


def relocate(staged: Path, target: Target) -> list[Distribution]:
    """The distributions in a --target folder, each with its files at their image paths, RECORD rewritten."""
    site = target.site_packages.lstrip("/")
    venv = VENV.lstrip("/")
    cache_tag = "cpython-" + target.python_version.replace(".", "")
    out = []
    for record in sorted(staged.glob("*.dist-info/RECORD")):
        info = record.parent.name[: -len(".dist-info")]
        name, _, version = info.partition("-")
        dist = Distribution(normalize_name(name), version, info=info)
        rows = []
        for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))):
            if not row:
                continue
            rel = row[0]
            source = staged / rel
            if rel.endswith(".dist-info/RECORD"):
                continue
            if not source.is_file():
                rows.append(row)
                continue
            content: bytes | Path = source
            executable = bool(source.stat().st_mode & 0o111)
            top = rel.split("/", 1)[0]
            if top == "bin":
                image_path = f"{venv}/{rel}"
                content = _shebang(source.read_bytes())
            elif top in DATA_DIRS:
                image_path = f"{venv}/{rel}"
            elif top == "include":
                image_path = f"{venv}/include/site/python{target.python_version}/{rel.split('/', 1)[1]}"
            else:
                image_path = f"{site}/{rel}"
            dist.files[image_path] = (content, executable)
            compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
            if image_path.startswith(site + "/") and rel.endswith(".py") and compiled.is_file():
                dist.files[f"{image_path.rsplit('/', 1)[0]}/__pycache__/{compiled.name}"] = (compiled, False)
            relative = os.path.relpath("/" + image_path, "/" + site)
            rows.append([relative, *_record_entry(content, row)])
        rows.append([f"{info}.dist-info/RECORD", "", ""])
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        dist.files[f"{site}/{info}.dist-info/RECORD"] = (text.getvalue().encode(), False)
        out.append(dist)
    return out


def _shebang(content: bytes) -> bytes:
    """A console script as uv writes it in a venv: started by the venv's own python."""
    if content.startswith(b"#!") and b"python" in content.split(b"\n", 1)[0]:
        return b"#!" + f"{VENV}/bin/python".encode() + b"\n" + content.split(b"\n", 1)[1]
    return content


def _record_entry(content: bytes | Path, row: list[str]) -> list[str]:
    """RECORD's hash and size of a file: uv's own row for a file as it staged it, computed for one rewritten."""
    if isinstance(content, Path) and len(row) >= 3 and row[1].startswith("sha256=") and row[2].isdigit():
        return [row[1], row[2]]
    data = content.read_bytes() if isinstance(content, Path) else content
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [f"sha256={digest}", str(len(data))]
