"""Bytecode in the layered image, as UV_COMPILE_BYTECODE=1 gives the builder's: numpy, pandas, scipy and
scikit-learn start from their .pyc files (no module is compiled at import, on a read-only file system), the
same inputs give the same digest from fresh homes, and without an interpreter of the base's Python the run says
so and names --no-compile."""

from __future__ import annotations

import pytest

from e2e import DEBIAN_LIBC, docker, fresh, layered, registry_tags, synthetic_image
from helpers import copy

pytestmark = pytest.mark.e2e

# Counts the modules Python compiles from source while importing (none when every .pyc is there and valid).
COMPILED_AT_IMPORT = r'''
import importlib._bootstrap_external as external
compiled = []
original = external.SourceLoader.source_to_code
def spy(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = spy
import numpy, pandas, scipy.stats, sklearn.ensemble
print(len([p for p in compiled if p.startswith("/opt/venv/")]), len(compiled))
'''


def test_the_heavy_set_starts_from_valid_bytecode_and_twice_gives_one_digest(heavy_template, sandbox, registry_base,
                                                                              tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    first_dir, second_dir = copy(heavy_template, tmp_path / "one" / "heavy"), copy(heavy_template, tmp_path / "two" / "h")
    first, proc = layered(first_dir, registry_base, f"{registry}/e2e/bytecode-{run_id}", env=fresh(tmp_path, "a"))
    assert first and first["path"] == "layers", proc.stderr
    assert "bytecode compiled by cpython-3.11." in proc.stderr, proc.stderr
    script = tmp_path / "compiled.py"
    script.write_text(COMPILED_AT_IMPORT)
    docker("pull", "-q", first["image"])
    out = docker("run", "--rm", "--read-only", "--network", "none", "-v", f"{script}:/c.py:ro", first["image"],
                 "python", "/c.py").stdout.split()
    assert out[0] == "0", f"{out[0]} modules of the image compiled at import (of {out[1]} in all)"
    again, proc = layered(second_dir, registry_base, f"{registry}/e2e/bytecode2-{run_id}", env=fresh(tmp_path, "b"))
    assert again and again["digest"] == first["digest"], proc.stderr


def test_without_an_interpreter_of_the_base_python_it_says_so_and_names_no_compile(app, sandbox, tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    synthetic_image(registry, f"e2e/py399-{run_id}", "base",
                    {"usr/bin/python3.99": b"#!/bin/sh\n", "var/lib/dpkg/status": DEBIAN_LIBC}, "amd64")
    app_copy = app
    (app_copy / ".python-version").unlink()  # 3.99 satisfies requires-python (>=3.11); .python-version would not
    done, proc = layered(app_copy, f"{registry}/e2e/py399-{run_id}:base", f"{registry}/e2e/nopy-{run_id}",
                         env=fresh(tmp_path, "n"), check=False)
    assert proc.returncode == 1 and done is None, proc.stderr
    assert "no Python 3.99 on this machine" in proc.stderr and "--no-compile" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and registry_tags(registry, f"e2e/nopy-{run_id}") == []
