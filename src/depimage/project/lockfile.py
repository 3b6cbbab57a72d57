"""Reading uv.lock fast: find the local packages, mask their versions, leave every other byte alone.

A large lock is megabytes of third-party entries that depimage never needs to understand; parsing it
all with tomllib costs several times what `uv export` takes. uv writes the lock in one fixed layout,
so the package headers are found with one regular expression and only the few local packages'
entries are parsed as TOML.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from depimage import MASKED_VERSION
from depimage.errors import InputError, toml_error_line

KNOWN_LOCK_VERSIONS = {1}
LOCAL_SOURCES = ("editable", "virtual", "directory", "path")
# The project's own source trees: their versions move at each release, so they are masked. A local archive
# (`path`: a wheel or sdist kept in the repository) keeps its version, which its file name carries and uv
# checks against the lock; it changes only with the file.
SOURCE_TREES = ("editable", "virtual", "directory")

_HEADER = re.compile(
    r'^\[\[package\]\]\nname = "(?P<name>[^"]+)"\n'
    r'(?:version = "(?P<version>[^"]*)"\n)?'
    r'source = \{ (?P<kind>[a-z]+) = "(?P<where>[^"]*)"',
    re.M,
)
_PACKAGE_LINE = re.compile(r"^\[\[package\]\]$", re.M)
_HEAD_VERSION = re.compile(r"^version = (\d+)$", re.M)
# What a newer uv rewrites without changing what gets installed: the format revision, and upload times.
_REVISION = re.compile(r"^revision = \d+\n", re.M)
_UPLOAD_TIME = re.compile(r', upload-time = "?[0-9][0-9T:.+Z-]*"?')


def format_neutral(text: str) -> str:
    """uv.lock (or uv's pylock.toml export) without what one uv release writes and another does not while
    installing the same files: `revision = N` before the first package, and every file's upload time."""
    first = _PACKAGE_LINE.search(text)
    cut = first.start() if first else len(text)
    return _REVISION.sub("", text[:cut], count=1) + _UPLOAD_TIME.sub("", text[cut:])


@dataclass
class LocalPackage:
    """A package uv builds from the project's own files: the root, a workspace member, a path dependency."""

    name: str
    kind: str  # editable, virtual, directory or path
    path: str  # as written in the lock, relative to the workspace root
    version: str | None = None  # as locked (before masking)
    requires_dist: list[dict] = field(default_factory=list)
    requires_dev: dict[str, list[dict]] = field(default_factory=dict)
    provides_extras: list[str] | None = None

    @property
    def masked(self) -> bool:
        """Whether its version (and exact pins on it) are masked: a source tree's are, an archive's are not."""
        return self.kind in SOURCE_TREES


@dataclass
class Lock:
    """uv.lock as text, with what depimage needs to know about its local packages."""

    path: Path
    text: str
    version: int
    head: dict  # the TOML before the first [[package]]: format, requires-python, markers, options, manifest
    local: dict[str, LocalPackage]
    masked: str

    @classmethod
    def read(cls, path: Path) -> "Lock":
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("uv.lock is not UTF-8 text", file=path, hint="run `uv lock` to rewrite it") from exc
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> "Lock":
        first = _PACKAGE_LINE.search(text)
        head_text = text[: first.start()] if first else text
        try:
            head = tomllib.loads(head_text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"uv.lock is not valid TOML: {exc}", file=path, line=toml_error_line(exc),
                             hint="run `uv lock` to regenerate it") from exc
        version = head.get("version")
        if not isinstance(version, int):
            raise InputError("uv.lock has no lock format `version`", file=path, line=1,
                             hint="run `uv lock` to regenerate it")
        if version not in KNOWN_LOCK_VERSIONS:
            raise InputError(
                f"uv.lock has lock format version {version}; this depimage knows version(s) "
                f"{', '.join(map(str, sorted(KNOWN_LOCK_VERSIONS)))}",
                file=path, line=_line(text, found.start()) if (found := _HEAD_VERSION.search(head_text)) else 1,
                hint="upgrade depimage, or lock with the uv version your team used before",
            )

        starts = [m.start() for m in _PACKAGE_LINE.finditer(text)]
        headers = list(_HEADER.finditer(text))
        if len(headers) != len(starts):
            seen = {m.start() for m in headers}
            odd = next(s for s in starts if s not in seen)
            raise InputError("uv.lock is not in the layout uv writes (a [[package]] without name and source lines)",
                             file=path, line=_line(text, odd), hint="run `uv lock` to rewrite it")

        local: dict[str, LocalPackage] = {}
        pieces: list[str] = []
        done = 0
        ends = starts[1:] + [len(text)]
        for header, end in zip(headers, ends):
            if header["kind"] not in LOCAL_SOURCES:
                continue
            block = text[header.start():end]
            try:
                entry = tomllib.loads(block)["package"][0]
            except tomllib.TOMLDecodeError as exc:
                raise InputError(f"uv.lock is not valid TOML: {exc}", file=path,
                                 line=_line(text, header.start()) + (toml_error_line(exc) or 1) - 1,
                                 hint="run `uv lock` to regenerate it") from exc
            meta = entry.get("metadata", {})
            pkg = local[header["name"]] = LocalPackage(
                name=header["name"], kind=header["kind"], path=header["where"], version=header["version"],
                requires_dist=meta.get("requires-dist", []),
                requires_dev=meta.get("requires-dev", {}),
                provides_extras=meta.get("provides-extras"),
            )
            if header["version"] is not None and pkg.masked:
                a, b = header.span("version")
                pieces += [text[done:a], MASKED_VERSION]
                done = b
        pieces.append(text[done:])
        masked = _mask_local_specifiers("".join(pieces), [n for n, p in local.items() if p.masked])
        return cls(path=path, text=text, version=version, head=head, local=local, masked=masked)


def _mask_local_specifiers(text: str, names: list[str]) -> str:
    """A specifier on one of the project's own packages, as a path dependency records it (`{ name = "core",
    specifier = ">=1.2" }`), moves with each release as the pyproject's does (recipe/masking.py): masked too."""
    if not names:
        return text
    entry = re.compile(r'(\{ name = "(?:%s)"(?:, extras = \[[^\]]*\])?(?:, marker = "[^"]*")?, specifier = ")[^"]*"'
                       % "|".join(re.escape(n) for n in names))
    return entry.sub(lambda m: f'{m[1]}=={MASKED_VERSION}"', text)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1

