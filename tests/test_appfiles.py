"""The pieces of `depimage app` that need no registry: .dockerignore rules, reproducible layers, runtime
settings and their errors, the wheel checks."""

from __future__ import annotations

import os

import gzip
import io
import tarfile

import pytest

from depimage.errors import InputError
from depimage.image.dockerignore import excluded, files_of, read_patterns
from depimage.image.layer import build_layer
from depimage.image.runconfig import Runtime, from_pyproject, port
from depimage.project.reader import read_project
from helpers import cli, make_compiled


def test_dockerignore_rules_as_docker_reads_them(tmp_path):
    (tmp_path / ".dockerignore").write_text("# comment\n*.md\n!README.md\n/build\n**/*.pyc\ndocs/**/draft?.txt\n")
    patterns = read_patterns(tmp_path)
    assert patterns == ["*.md", "!README.md", "build", "**/*.pyc", "docs/**/draft?.txt"]
    cases = {"a.md": True, "README.md": False, "sub/a.md": False, "build/x/y.py": True, "src/m/x.pyc": True,
             "docs/a/b/draft1.txt": True, "docs/final.txt": False, ".git/HEAD": True, ".venv/bin/python": True,
             "src/app.py": False}
    assert {path: excluded(path, patterns) for path in cases} == cases


def test_files_of_keeps_only_what_the_rules_and_the_includes_allow(tmp_path):
    for rel in ("conf/a.yaml", "conf/b.env", "src/x.py", ".git/config"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "conf/a.yaml")
    assert files_of(tmp_path, ["conf/*.env"]) == ["conf/a.yaml", "src/x.py"]
    assert files_of(tmp_path, [], only=["conf/*", "*.yaml"]) == ["conf/a.yaml", "conf/b.env"]


def test_layers_are_reproducible():
    a = build_layer({"opt/venv/bin/tool": (b"#!/opt/venv/bin/python\n", True), "app/x.txt": (b"x", False)})
    b = build_layer({"app/x.txt": (b"x", False), "opt/venv/bin/tool": (b"#!/opt/venv/bin/python\n", True)})
    assert (a.digest, a.diff_id, a.blob) == (b.digest, b.diff_id, b.blob)
    members = tarfile.open(fileobj=io.BytesIO(gzip.decompress(a.blob))).getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in members} == {(0, 0, "", 315532800)}
    assert {m.name: oct(m.mode) for m in members if m.isfile()} == {"app/x.txt": "0o644", "opt/venv/bin/tool": "0o755"}
    assert build_layer({"app/x.txt": (b"y", False)}).digest != a.digest


def test_runtime_settings_from_the_project_and_options(app):
    with (app / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.depimage.app]\ncommand = "shop --port 8000"\nenv = { A = "1" }\nports = [8000, "53/udp"]\n'
                 'labels = { team = "x" }\n')
    runtime = from_pyproject(read_project(app).pyprojects[0]).merged(Runtime(env=(("B", "2"),), ports=("9000/tcp",)))
    config = runtime.apply({"Env": ["PATH=/opt/venv/bin:/usr/bin", "A=0"], "Cmd": ["python3"]}, ["shop"])
    assert config["Cmd"] == ["shop", "--port", "8000"]
    assert config["Env"] == ["PATH=/opt/venv/bin:/usr/bin", "A=1", "B=2"]
    assert set(config["ExposedPorts"]) == {"8000/tcp", "53/udp", "9000/tcp"} and config["Labels"] == {"team": "x"}
    assert Runtime().apply({"Cmd": ["python3"]}, ["shop"])["Cmd"] == ["shop"]  # the one console script
    assert Runtime().apply({"Cmd": ["python3"]}, None)["Cmd"] == ["python3"]


def test_runtime_errors_name_the_file_and_line(app):
    text = (app / "pyproject.toml").read_text() + '\n[tool.depimage.app]\nports = ["http"]\n'
    (app / "pyproject.toml").write_text(text)
    with pytest.raises(InputError) as err:
        from_pyproject(read_project(app).pyprojects[0])
    assert err.value.line == text[: text.index("[tool.depimage.app]")].count("\n") + 1
    assert "is not a port" in str(err.value) and str(app / "pyproject.toml") in str(err.value)
    with pytest.raises(InputError):
        port("70000")
    code, _, err_text = cli("app", str(app), "--image", "r.invalid/a", "--tag", "1", "--uv-version", "0.13.9",
                            "--env", "NOEQUALS")
    assert code == 2 and "is not NAME=VALUE" in err_text


def test_a_compiled_wheel_is_refused(tmp_path):
    from depimage.image.appfiles import collect
    from depimage.fingerprint.options import ImageOptions

    project = make_compiled(tmp_path / "fastcore")
    with pytest.raises(InputError, match="is not pure Python") as err:
        collect(read_project(project), ImageOptions("python:3.11-slim", "0.13.9"), [], os.environ)
    assert "Dockerfile path" in (err.value.hint or "")


def test_a_vendored_wheel_goes_into_the_layer_as_it_is(app, tmp_path):
    """A wheel kept in the repository is one of the project's own packages: the dependency image skips it
    (--no-install-local), so the application layer installs it, without building anything from it."""
    import shutil

    from depimage.image.appfiles import collect
    from depimage.layout import APP_SITE
    from depimage.fingerprint.options import ImageOptions
    from helpers import uv
    from pyindex import build_wheel

    wheel = build_wheel(tmp_path / "build")
    (app / "wheels").mkdir()
    shutil.copy(wheel, app / "wheels" / wheel.name)
    uv("add", "-q", "--no-sync", f"./wheels/{wheel.name}", cwd=app)
    files = collect(read_project(app), ImageOptions("python:3.11-slim", "0.13.9"), [], os.environ)
    assert sorted(files.installed) == ["privpkg==1.0.0", "shop==0.1.0"]
    assert files.files[f"{APP_SITE}/privpkg/__init__.py".lstrip("/")][0] == b'ORIGIN = "private index"\n'
