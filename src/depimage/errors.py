"""The errors depimage reports to people: what went wrong, where, and what to do about it."""

from __future__ import annotations

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
        self.message = _OPTION.sub(lambda m: name_of(m[1]), self.message)
        self.hint = _OPTION.sub(lambda m: name_of(m[1]), self.hint) if self.hint else self.hint
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
