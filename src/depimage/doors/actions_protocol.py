"""GitHub Actions' workflow commands and files: inputs, outputs, job summary, masks, groups, annotations.

The whole protocol is environment variables, two files and `::command::` lines on stdout, documented at
https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions. These few functions
replace the actions-toolkit package, whose last release is from 2022; see the README.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator, TextIO


def get_input(name: str, default: str = "", env: dict[str, str] | None = None) -> str:
    """An input as the runner passes it: INPUT_<NAME>, upper case, spaces as _; hyphens are kept as they are."""
    env = os.environ if env is None else env
    key = "INPUT_" + name.replace(" ", "_").upper()
    value = env.get(key)
    if value is None:
        value = env.get(key.replace("-", "_"))
    return value.strip() if value and value.strip() else default


def get_bool(name: str, default: bool, env: dict[str, str] | None = None) -> bool:
    value = get_input(name, "", env).lower()
    if not value:
        return default
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"input {name!r} must be true or false, not {value!r}")


def get_list(name: str, env: dict[str, str] | None = None) -> list[str]:
    """A list input: one item a line, or comma-separated."""
    raw = get_input(name, "", env)
    return [item.strip() for line in raw.splitlines() for item in line.split(",") if item.strip()]


@contextlib.contextmanager
def folded(title: str) -> Iterator[Callable[[str], None]]:
    """A printer for long output (the builder's), folded in the log under title; the group opens with the
    first line, so nothing is shown when nothing is printed."""
    opened: list[bool] = []

    def line(text: str) -> None:
        if not opened:
            print(f"::group::{title}", flush=True)
            opened.append(True)
        print(text, flush=True)

    try:
        yield line
    finally:
        if opened:
            print("::endgroup::", flush=True)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", out: TextIO | None = None, **props: str | int | None) -> None:
    """Print one workflow command, e.g. command("error", "bad", file="pyproject.toml", line=3)."""
    out = out or sys.stdout
    given = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props.items() if v is not None)
    out.write(f"::{name}{' ' + given if given else ''}::{_escape_data(message)}\n")
    out.flush()


def mask(secret: str) -> None:
    """Have the runner replace the secret with *** in all later log output."""
    for line in secret.splitlines():
        if line.strip():
            command("add-mask", line)


def _append(env_name: str, text: str, env: dict[str, str] | None = None) -> bool:
    path = (os.environ if env is None else env).get(env_name)
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
    return True


def set_output(name: str, value: str, env: dict[str, str] | None = None) -> None:
    """Append name=value to $GITHUB_OUTPUT, in the heredoc form so that any value is safe."""
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    if not _append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n", env):
        print(f"{name}={value}")


def add_summary(markdown: str, env: dict[str, str] | None = None) -> None:
    """Append Markdown to the job summary ($GITHUB_STEP_SUMMARY)."""
    _append("GITHUB_STEP_SUMMARY", markdown if markdown.endswith("\n") else markdown + "\n", env)


def step_location(env: dict[str, str], workspace: Path) -> tuple[str | None, int | None]:
    """The workflow file (relative to the workspace) and the line of the running step: where an annotation
    about the step's inputs belongs. GitHub names the file in GITHUB_WORKFLOW_REF; act does not, so
    otherwise the workflow whose `name:` is GITHUB_WORKFLOW is used."""
    folder = workspace / ".github" / "workflows"
    ref = env.get("GITHUB_WORKFLOW_REF", "").split("@")[0]
    if ref.count("/") >= 2:
        candidates = [workspace / ref.split("/", 2)[2]]
    else:
        name = re.compile(rf"^name:\s*['\"]?{re.escape(env.get('GITHUB_WORKFLOW', ''))}['\"]?\s*$", re.M)
        candidates = [f for f in sorted(folder.glob("*.y*ml")) if name.search(_read(f))]
    job, step = re.escape(env.get("GITHUB_JOB", "")), re.escape(env.get("GITHUB_ACTION", ""))
    for path in candidates:
        text = _read(path)
        in_job = re.search(rf"^  {job}:\s*$", text, re.M) if job else None
        start = in_job.end() if in_job else 0  # step ids repeat across jobs
        by_id = re.compile(rf"^\s*(?:-\s+)?id:\s*['\"]?{step}['\"]?\s*$", re.M).search(text, start) if step else None
        found = by_id or re.compile(r"^\s*(?:-\s+)?uses:.*depimage", re.M).search(text, start)
        if found:
            return path.relative_to(workspace).as_posix(), text.count("\n", 0, found.start()) + 1
    return None, None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
