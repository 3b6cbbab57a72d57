"""Which files of a folder go into an image, by .dockerignore rules, as `docker build` reads them: one pattern a
line, `#` comments, Go's filepath.Match wildcards (`*`, `?`, `[...]`) plus `**` for any number of folders, a
leading `!` to take a match back, the last matching line winning, and a folder's exclusion covering all below."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

ALWAYS_LEFT_OUT = (".git", ".venv", "__pycache__")  # never wanted in an image, whatever the file says


def read_patterns(folder: Path) -> list[str]:
    """The lines of folder/.dockerignore that are patterns, cleaned as docker cleans them."""
    path = folder / ".dockerignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        patterns.append(("!" if negate else "") + PurePosixPath(body).as_posix())
    return patterns


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif c == "*":
            out, i = out + "[^/]*", i + 1
        elif c == "?":
            out, i = out + "[^/]", i + 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out, i = out + re.escape(c), i + 1
            else:
                body = pattern[i + 1:end]
                out, i = out + "[" + ("^" + body[1:] if body.startswith("^") else body) + "]", end + 1
        else:
            out, i = out + re.escape(c), i + 1
    return re.compile(out + r"\Z")


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether path (POSIX, relative) is left out: the last pattern that matches it or a folder above it."""
    parts = PurePosixPath(path).parts
    if any(part in ALWAYS_LEFT_OUT for part in parts):
        return True
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _regex(pattern[1:] if negate else pattern)
        if any(regex.match(c) for c in candidates):
            result = not negate
    return result


def files_of(folder: Path, patterns: list[str], only: list[str] | None = None) -> list[str]:
    """Regular files below folder (POSIX, relative, sorted) that the patterns keep; with only, just those
    that also match one of its patterns. Symlinks are not followed."""
    wanted = [_regex(p) for p in only] if only is not None else None
    found = []
    for here, dirs, names in os.walk(folder):
        rel_dir = PurePosixPath(Path(here).relative_to(folder).as_posix())
        dirs[:] = sorted(d for d in dirs if not excluded(str(rel_dir / d) if str(rel_dir) != "." else d, patterns))
        for name in sorted(names):
            rel = str(rel_dir / name) if str(rel_dir) != "." else name
            full = Path(here) / name
            if full.is_symlink() or not full.is_file() or excluded(rel, patterns):
                continue
            if wanted is None or any(r.match(rel) for r in wanted):
                found.append(rel)
    return sorted(found)
