"""The code's architecture, held by import-linter's contracts in pyproject.toml: imports run down the flow
(doors, use cases, builder and images, fingerprint, recipe, project), the registry client is generic, no folder
is hidden from git, and every folder is a package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

SRC = REPO / "src"


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    """`lint-imports` (import-linter's command) on the package under src, with this repository's contracts."""
    run = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", run, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})


def test_the_contracts_hold():
    proc = lint_imports(SRC)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_an_import_up_the_flow_or_out_of_oci_breaks_a_contract(tmp_path):
    """The contracts can fail: a copy of the code with an import that runs up (project -> doors), and one that
    ties oci to depimage (oci -> image)."""
    for file, line in (("project/names.py", "import depimage.doors.cli\n"),
                       ("oci/digest.py", "import depimage.image.layer\n")):
        copy = tmp_path / file.replace("/", "-")
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        with (copy / "depimage" / file).open("a") as fh:
            fh.write(line)
        proc = lint_imports(copy)
        assert proc.returncode != 0 and "BROKEN" in proc.stdout, (file, proc.stdout[-2000:])


def test_no_source_file_is_ignored_and_every_folder_is_a_package():
    for folder in sorted(p for p in (SRC / "depimage").rglob("*") if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "__init__.py").is_file(), f"{folder} has no __init__.py"
        probe = folder.relative_to(REPO) / "new_module.py"
        ignored = subprocess.run(["git", "check-ignore", "--no-index", "-q", str(probe)], cwd=REPO)
        assert ignored.returncode == 1, f"git ignores {probe}: a new file there would never be committed"
