"""Static checks of what users copy and what GitHub runs: the workflows and examples are clean under
actionlint and zizmor, and action.yml is loadable as the runner reads it and points at the image of this
same version (the release workflow publishes it; see "Releasing" in the README)."""

from __future__ import annotations

import re
import shutil
import subprocess

from depimage import __version__
from helpers import REPO

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml")) + sorted((REPO / "examples").glob("*.yml"))


def run(*cmd: str) -> subprocess.CompletedProcess:
    assert shutil.which(cmd[0]), f"{cmd[0]} is missing: tests/run installs it with the test extras"
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_actionlint_is_clean():
    proc = run("actionlint", "-no-color", *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_is_clean():
    proc = run("zizmor", "--offline", "--no-progress", "--config", ".github/zizmor.yml", *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_third_party_actions_are_pinned_to_commits():
    for path in WORKFLOWS:
        for ref in re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", path.read_text(), re.M):
            if ref.startswith(("./", "depimage/depimage@")):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned to a commit"


def test_action_yml_loads_as_the_runner_reads_it():
    text = (REPO / "action.yml").read_text()
    assert "${{" not in text, "the runner evaluates expressions in action.yml descriptions and fails"
    image = re.search(r"^  image: (\S+)$", text, re.M)[1]
    assert image == f"docker://ghcr.io/depimage/depimage:{__version__}", \
        "runs.image must be the prebuilt image of this same version (bump both together)"
