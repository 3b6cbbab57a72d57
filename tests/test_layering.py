"""Which packages get layers: what uv installs for the image's platform and Python, markers evaluated, as uv
exports them for a real lock."""

from __future__ import annotations

import os

from depimage.fingerprint.installed import locked_packages
from depimage.fingerprint.options import ImageOptions
from depimage.fingerprint.pipeline import fingerprint
from depimage.image.layering import installed_for, plan_layers
from depimage.image.staging import Target
from depimage.project.reader import read_project
from helpers import uv


def test_a_windows_only_package_gets_no_layer_on_linux(tmp_path):
    project = tmp_path / "winapp"
    project.mkdir()
    uv("init", "-q", "--app", "--name", "winapp", ".", cwd=project)
    uv("add", "-q", "--no-sync", "pywin32; sys_platform == 'win32'", "six", "tomli; python_version < '3.12'",
       "idna; sys_platform == 'linux'", cwd=project)
    prepared = fingerprint(read_project(project), ImageOptions("python:3.11-slim", "0.13.9"), os.environ)
    locked = locked_packages(prepared.installed.data)
    assert {"pywin32", "six", "tomli", "idna"} <= {p.name for p in locked}  # uv's export lists them all
    for machine, python, expected in (("x86_64", "3.11", {"six", "idna", "tomli"}), ("aarch64", "3.12", {"six", "idna"})):
        target = Target(f"{machine}-manylinux_2_36", python)
        assert {p.name for p in installed_for(locked, target)} == expected
        planned = {p.name for layer in plan_layers(installed_for(locked, target), target) for p in layer.packages}
        assert planned == expected
