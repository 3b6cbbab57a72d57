"""What the layered path needs to know of the base image, read from the registry without running it: for each
platform, its manifest and config, where its Python is and which version, and which C library it has (the
manylinux level its glibc allows, or musl). The facts are read once from the layers' file lists and kept in
the cache folder by manifest digest, since a digest never changes what it names."""

from __future__ import annotations

import json
import platform as host_platform
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from zlib_ng import zlib_ng

from depimage.errors import DepimageError, InputError, opt
from depimage.fingerprint.pipeline import Fingerprint
from depimage.oci.client import NotFound, Registry
from depimage.oci.media import INDEXES
from depimage.oci.model import Platform
from depimage.sizes import human_size

FACTS_FORMAT = 1
_PYTHON = re.compile(r"^(usr/local/bin|usr/bin|opt/python/bin)/python3\.(\d+)$")
_MUSL = re.compile(r"^(?:usr/)?lib/ld-musl-[a-z0-9_]+\.so\.1$")
_GLIBC_FILE = re.compile(r"(?:^|/)libc-2\.(\d+)\.so$")
_DPKG_LIBC = re.compile(r"^Package: libc6\n(?:[^\n]+\n)*?Version: 2\.(\d+)", re.M)
_UV_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
MANYLINUX_RANGE = (17, 40)  # the manylinux_2_N levels uv names as a --python-platform


@dataclass(frozen=True)
class BaseFacts:
    python: str  # the interpreter, e.g. /usr/local/bin/python3.12
    python_version: str  # 3.12
    glibc_minor: int | None  # 36 for glibc 2.36; None on musl
    musl: bool


@dataclass(frozen=True)
class BasePlatform:
    platform: str  # linux/amd64
    manifest_digest: str
    manifest: dict
    config: dict
    facts: BaseFacts
    layer_facts: dict[str, dict]  # layer digest -> what it says of Python and libc: recorded, so a rebase reads
    # only the layers that are new in the base

    @property
    def python_platform(self) -> str:
        """uv's --python-platform for this base: the manylinux level its glibc allows, or musl."""
        arch = _UV_ARCH.get(self.platform.split("/")[1])
        if arch is None:
            raise InputError(f"the layered path does not know the platform {self.platform}",
                             hint=f"use {opt('builder')} docker for it")
        if self.facts.musl:
            return f"{arch}-unknown-linux-musl"
        level = min(self.facts.glibc_minor or 0, MANYLINUX_RANGE[1])
        return f"{arch}-manylinux_2_{level}"


def oci_architecture(machine: str) -> str:
    """The OCI architecture of a machine name as uname and uv's platforms give it: x86_64 -> amd64."""
    return {uv: oci for oci, uv in _UV_ARCH.items()}.get(machine, machine)


def default_platform() -> str:
    """The host's own platform, as a single-platform build would take it."""
    return "linux/" + oci_architecture(host_platform.machine().lower())


def inspect_base(registry: Registry, reference: str, platforms: tuple[str, ...], cache: Path | None,
                 on_status: Callable[[str], None] = lambda msg: None,
                 known: dict[str, dict] | None = None) -> tuple[str, list[BasePlatform]]:
    """The base image for each wanted platform (none given: the base's only platform, or the host's). Layers
    whose facts are known (from the cache, or `known`: recorded in an image made on an earlier base) are not
    read again. The digest the reference names comes first."""
    known = known or {}
    try:
        body, media_type, digest = registry.get_manifest(reference)
    except NotFound as exc:
        raise InputError(f"the base image {registry.image.ref(reference)} does not exist ({exc.message})",
                         hint=f"name an existing base image with {opt('base_image')}") from None
    document = json.loads(body)
    where = registry.image.ref(reference)
    if media_type in INDEXES or "manifests" in document:
        entries = {Platform.of(e.get("platform", {})).name: e for e in document["manifests"]
                   if e.get("platform", {}).get("os") not in (None, "unknown")}
        wanted = platforms or (default_platform(),)
        missing = [p for p in wanted if p not in entries]
        if missing:
            raise InputError(f"the base image {where} has no {', '.join(missing)} (it has {', '.join(sorted(entries))})",
                             hint=f"choose platforms the base image has with {opt('platforms')}")
        found = []
        for p in wanted:
            child, _, child_digest = registry.get_manifest(entries[p]["digest"])
            found.append(_one(registry, where, json.loads(child), child_digest, cache, on_status, known))
        return digest, found
    one = _one(registry, where, document, digest, cache, on_status, known)
    if platforms and tuple(platforms) != (one.platform,):
        raise InputError(f"the base image {where} is for {one.platform} only, not {', '.join(platforms)}",
                         hint="name a multi-platform base image, or leave out the other platforms")
    return digest, [one]


def _one(registry: Registry, where: str, manifest: dict, digest: str, cache: Path | None,
         on_status: Callable[[str], None], known: dict[str, dict]) -> BasePlatform:
    config = json.loads(registry.get_blob(manifest["config"]["digest"]))
    platform = Platform.of(config).name
    layers: dict[str, dict] = {}
    unread = []
    for layer in manifest["layers"]:
        found = known.get(layer["digest"]) or _cached(cache, layer["digest"])
        if found is None:
            unread.append(layer)
        else:
            layers[layer["digest"]] = found
    if unread:
        size = sum(layer.get("size", 0) for layer in unread)
        on_status(f"reading {len(unread)} layer(s) of the base image {where} ({platform}, {human_size(size)}) for "
                  "its Python and C library; kept by layer digest")
        for layer in unread:
            layers[layer["digest"]] = facts = _layer_facts(registry, layer["digest"])
            if cache:
                path = cache / "base-layers" / f"{layer['digest'].replace(':', '-')}.v{FACTS_FORMAT}.json"
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(facts))
                except OSError as exc:  # a cache is a saving, never a reason to fail
                    on_status(f"cannot keep what the base's layers say in {cache} ({exc.strerror}); they are read "
                              "again next time")
                    cache = None
    ordered = {layer["digest"]: layers[layer["digest"]] for layer in manifest["layers"]}
    return BasePlatform(platform, digest, manifest, config, _combine(where, list(ordered.values())), ordered)


def _cached(cache: Path | None, digest: str) -> dict | None:
    path = cache / "base-layers" / f"{digest.replace(':', '-')}.v{FACTS_FORMAT}.json" if cache else None
    try:
        return json.loads(path.read_text()) if path and path.is_file() else None
    except (OSError, ValueError):  # unreadable or cut short: read the layer again
        return None


def _layer_facts(registry: Registry, digest: str) -> dict:
    """What one layer says of Python and the C library: its interpreters, the glibc of a dpkg status it
    carries, the glibc of libc-2.N.so files, a musl loader."""
    pythons: dict[str, list[int]] = {}  # path -> [preference, minor]
    dpkg: int | None = None
    files: int | None = None
    musl = False
    for name, read in _members(registry, digest):
        found = _PYTHON.match(name)
        if found:
            pythons[name] = [0 if found[1] == "usr/local/bin" else 1, int(found[2])]
        elif _MUSL.match(name):
            musl = True
        elif name == "var/lib/dpkg/status":
            libc = _DPKG_LIBC.search(read().decode("utf-8", "replace"))
            dpkg = int(libc[1]) if libc else dpkg
        elif (old := _GLIBC_FILE.search(name)):
            files = max(files or 0, int(old[1]))
    return {"pythons": pythons, "dpkg": dpkg, "files": files, "musl": musl}


def _combine(where: str, layers: list[dict]) -> BaseFacts:
    """The base's facts from its layers' in order: a later dpkg status replaces an earlier one."""
    pythons: dict[str, list[int]] = {}
    glibc: int | None = None
    musl = False
    for layer in layers:
        pythons.update(layer["pythons"])
        glibc = layer["dpkg"] if layer["dpkg"] is not None else glibc
        if layer["files"] is not None:
            glibc = max(glibc or 0, layer["files"])
        musl = musl or layer["musl"]
    if not pythons:
        raise InputError(f"the base image {where} has no Python (looked for /usr/local/bin/python3.N and "
                         "/usr/bin/python3.N)", hint="use a Python base image, e.g. python:3.12-slim")
    if glibc is None and not musl:
        raise InputError(f"cannot tell which C library the base image {where} has (no libc6 in its dpkg status, "
                         "no musl loader)", hint=f"use {opt('builder')} docker, which installs inside the image")
    if glibc is not None and glibc < MANYLINUX_RANGE[0]:
        raise InputError(f"the base image {where} has glibc 2.{glibc}, older than any manylinux wheel uv installs",
                         hint=f"use a newer base image, or {opt('builder')} docker")
    python = min(pythons, key=lambda p: (pythons[p][0], -pythons[p][1]))
    return BaseFacts(python="/" + python, python_version=f"3.{pythons[python][1]}", glibc_minor=glibc, musl=musl)


def _members(registry: Registry, digest: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(path, reader) of each regular file or link in a layer, streamed from the registry."""
    stream = _Gunzip(registry.stream_blob(digest))
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if member.isfile() or member.issym() or member.islnk():
                    yield name, (lambda m=member: tar.extractfile(m).read() if m.isfile() else b"")
    except (tarfile.TarError, zlib_ng.error, OSError) as exc:
        raise DepimageError(f"cannot read layer {digest} of the base image: {exc}",
                            hint=f"a layer that is not gzip (zstd) needs {opt('builder')} docker") from exc


class _Gunzip:
    """A file-like gzip reader over an iterator of compressed chunks (a layer streamed from the registry)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._inflate = zlib_ng.decompressobj(16 + zlib_ng.MAX_WBITS)
        self._buffer, self._at = b"", 0  # what is inflated, and how much of it was read

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) - self._at < size:
            chunk = next(self._chunks, None)
            rest = self._buffer[self._at:]
            if chunk is None:
                self._buffer, self._at = rest + self._inflate.flush(), 0
                break
            self._buffer, self._at = rest + self._inflate.decompress(chunk), 0
        end = len(self._buffer) if size < 0 else min(len(self._buffer), self._at + size)
        out, self._at = self._buffer[self._at:end], end
        return out


def check_python(prepared: Fingerprint, bp: BasePlatform) -> None:
    """The base's Python against .python-version and the lock's requires-python, as the builder's `uv sync`
    checks them, before anything is downloaded (X.Y bounds: the base's patch version is not read)."""
    spec = prepared.installed.data.get("requires-python", "")
    have = tuple(int(x) for x in bp.facts.python_version.split("."))
    where = f"{bp.facts.python_version} ({bp.facts.python}, {bp.platform})"
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        found = re.match(r"^(>=|<=|>|<|==|~=)\s*(\d+)\.(\d+)", clause)
        if not found:
            continue
        op, bound = found[1], (int(found[2]), int(found[3]))
        ok = {">=": have >= bound, "~=": have >= bound, ">": have > bound or clause.count(".") > 1,
              "<=": have <= bound, "<": have < bound, "==": have == bound}[op]
        if not ok:
            raise InputError(f"the base image's Python {where} is not one the project allows: requires-python {spec}",
                             file=prepared.project.lock.path,
                             hint=f"name a base image with a Python the project allows with {opt('base_image')}, "
                                  f"e.g. python:{'.'.join(map(str, bound))}-slim")
    pinned = prepared.project.extra_files.get(prepared.project.at_root(".python-version"), b"").decode()
    request = pinned.splitlines()[0] if pinned else ""
    wanted = python_request(request)
    if wanted is not None and not _matches(wanted, have):
        raise InputError(f"the base image's Python {where} is not the {request!r} that .python-version asks for; "
                         "`uv sync` in that image finds no interpreter for it", file=prepared.project.root /
                         ".python-version", line=1,
                         hint=f"name a base image with Python {request} with {opt('base_image')} (the default base "
                              "follows .python-version), or change .python-version")


def python_request(request: str) -> tuple[int, ...] | str | None:
    """What a .python-version line asks of a CPython: (X,) or (X, Y), "other" for another implementation, or
    None where it asks nothing depimage can judge (a range, a path, an unknown form)."""
    text = request.strip().lower()
    implementation = re.match(r"^(cpython|cp|python|pypy|pp|graalpy|gp)[@-]?(?=\d|$)", text)
    if implementation:
        if implementation[1] not in ("cpython", "cp", "python"):
            return "other"
        text = text[implementation.end():]
    found = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)?(?:[a-z]+\d*)?", text)
    if not found:
        return None
    return (int(found[1]),) if found[2] is None else (int(found[1]), int(found[2]))


def _matches(wanted: tuple[int, ...] | str, have: tuple[int, ...]) -> bool:
    return wanted != "other" and have[:len(wanted)] == wanted
