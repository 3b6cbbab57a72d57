"""Staging with real uv, offline: a package with wheels for other platforms only is the builder path's, said as uv
says it; a --target install is laid out as the image's venv, RECORD rewritten."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from depimage.image.staging import NeedsBuilder, Target, install, relocate

PYLOCK = '''lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "markupsafe"
version = "3.0.4"
index = "https://pypi.org/simple"
sdist = { url = "https://files.example/markupsafe-3.0.4.tar.gz", size = 153777, hashes = { sha256 = "%s" } }
wheels = [{ url = "https://files.example/markupsafe-3.0.4-cp312-cp312-win_amd64.whl", size = 14328, hashes = { sha256 = "%s" } }]
''' % ("a" * 64, "b" * 64)


def test_no_wheel_for_the_platform_is_the_builder_paths(tmp_path):
    env = {**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(NeedsBuilder, match="markupsafe"):
        install(PYLOCK, Target("x86_64-manylinux_2_36", "3.12"), env, tmp_path)


def test_relocation_into_the_venv(tmp_path):
    staged = tmp_path / "t"
    (staged / "tool-1.0.dist-info").mkdir(parents=True)
    (staged / "bin").mkdir()
    (staged / "tool").mkdir()
    (staged / "tool" / "__init__.py").write_text("X = 1\n")
    (staged / "bin" / "tool").write_text("#!/host/python3\nimport tool\n")
    os.chmod(staged / "bin" / "tool", 0o755)
    (staged / "share").mkdir()
    (staged / "share" / "tool.1").write_text("man\n")
    (staged / "tool-1.0.dist-info" / "RECORD").write_text(
        "tool/__init__.py,sha256=x,6\nbin/tool,sha256=y,27\nshare/tool.1,,\ntool-1.0.dist-info/RECORD,,\n")
    [dist] = relocate(staged, Target("aarch64-manylinux_2_36", "3.12"))
    site = "opt/venv/lib/python3.12/site-packages"
    script, executable = dist.files["opt/venv/bin/tool"]
    assert script == b"#!/opt/venv/bin/python\nimport tool\n" and executable
    assert f"{site}/tool/__init__.py" in dist.files and "opt/venv/share/tool.1" in dist.files
    record = dist.files[f"{site}/tool-1.0.dist-info/RECORD"][0].decode().splitlines()
    digest = base64.urlsafe_b64encode(hashlib.sha256(script).digest()).rstrip(b"=").decode()
    assert f"../../../bin/tool,sha256={digest},{len(script)}" in record
    assert "../../../share/tool.1" in record[2] and record[-1] == "tool-1.0.dist-info/RECORD,,"
