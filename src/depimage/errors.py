"""The errors depimage reports to people: what went wrong, where, and what to do about it."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Callable

_OPTION = re.compile(r"\{opt:([a-z_]+)\}")


def opt(field: str) -> str:
    """A place in a message for the option or input a door calls `field` (image options' field names):
    the command line writes `--context`, the action `input context`."""
    return "{opt:%s}" % field


def cli_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def name_in(text: str, name_of: Callable[[str], str]) -> str:
    """text with every opt() place named as the door names it: for errors, and for the lines a door prints."""
    return _OPTION.sub(lambda m: name_of(m[1]), text)


class DepimageError(Exception):
    """A failure with a message meant for the user; exit code 2 for bad input, 1 for the rest."""

    exit_code = 1

    def __init__(self, message: str, *, file: Path | str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint

    def name_options(self, name_of: Callable[[str], str]) -> "DepimageError":
        """Put the door's own names for the options in the message and the hint."""
        self.message = name_in(self.message, name_of)
        self.hint = name_in(self.hint, name_of) if self.hint else self.hint
        return self

    def __str__(self) -> str:
        self.name_options(cli_name)  # where no door named them
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(DepimageError):
    """The project or the command line is not something depimage can work from (exit code 2)."""

    exit_code = 2


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line of the first occurrence of needle in text, for pointing users at it."""
    pos = text.find(needle)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else None


def toml_error_line(exc: Exception) -> int | None:
    """The line tomllib names in its error message, if any."""
    found = re.search(r"at line (\d+)", str(exc))
    return int(found.group(1)) if found else None


INTERRUPTED = "interrupted; nothing was tagged"  # what a door says on Ctrl-C: every tag is pushed last
_DISK = ("put TMPDIR (depimage's and uv's scratch files), XDG_CACHE_HOME (depimage's cache) and UV_CACHE_DIR "
         "(uv's cache) on a disk with room that this user can write")


def os_failure(exc: OSError) -> DepimageError:
    """A file the machine would not let depimage write or read: what, where, and what to do (exit 1)."""
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno is None:  # not the file system's (a library's own OSError)
        return DepimageError(str(exc) or type(exc).__name__)
    if exc.errno == errno.ENOSPC:
        return DepimageError(f"no space left on the device of{where or ' a scratch file'}", hint=f"free space, or {_DISK}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DepimageError(f"cannot write{where}: {exc.strerror}", hint=f"make it writable, or {_DISK}")
    return DepimageError(f"{exc.strerror or exc}{':' + where if where else ''}", hint=_DISK)


_UV_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def uv_os_failure(said: str) -> DepimageError | None:
    """uv stopped by the machine (a cache it cannot write, a full disk), not by the project: exit 1 and the
    fix for that, instead of blaming uv.lock. None when uv said something else."""
    found = _UV_OS_ERROR.search(said)
    if not found:
        return None
    code = int(found[1])
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    what = "no space left on the device" if code == errno.ENOSPC else "uv could not write its cache or scratch files"
    return DepimageError(f"{what}: {' / '.join(lines)[-600:]}", hint=_DISK)
