"""Every message a user met that misled them, as they met it, against the real registry and engine: the exit code
(2 for bad input, 1 for a failure, 130 for Ctrl-C), the words that matter, no traceback, no raw placeholder, and
nothing tagged where nothing was made. Then: both paths refuse a base whose Python the project does not allow
with the same exit code, and no command leaves anything in TMPDIR."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from e2e import UV_VERSION, multiplatform_base, registry_tags
from helpers import REPO, depimage, edit

pytestmark = pytest.mark.e2e

SIZE = re.compile(r"\((\d+(?:\.\d+)?) (B|kB|MB|GB)\)|(\d+(?:\.\d+)?) (B|kB|MB|GB) (?:sent|layer)")


@dataclass
class Case:
    name: str
    run: Callable[..., subprocess.CompletedProcess]
    code: int
    said: tuple[str, ...]
    not_said: tuple[str, ...] = ()
    untagged: str = ""  # a repository that must hold no tag afterwards
    check: Callable[[subprocess.CompletedProcess], None] | None = field(default=None)


@pytest.fixture(scope="module")
def mounts(tmp_path_factory):
    """A read-only folder and a full one: what a locked-down runner or a full disk gives (root mounts them)."""
    where = tmp_path_factory.mktemp("mounts")
    readonly, full = where / "readonly", where / "full"
    readonly.mkdir(), full.mkdir()
    for target, options in ((readonly, "ro,size=1m"), (full, "size=1m")):
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, f"the message tests need root to mount a tmpfs: {proc.stderr}"
    # Nearly full: Python still finds it usable as TMPDIR (it tries a small file), then the staging runs out.
    subprocess.run(["dd", "if=/dev/zero", f"of={full}/filler", "bs=64k", "count=12"], capture_output=True, check=True)
    yield readonly, full
    for target in (readonly, full):
        subprocess.run(["umount", str(target)], capture_output=True)


def _layered(project: Path, base: str, image: str, *extra: str, env: dict | None = None):
    """Each case cold, without the layer store: what one case recorded would spare the next its work."""
    return depimage("ensure", str(project), "--image", image, "--base-image", base, "--uv-version", UV_VERSION,
                    "--no-dev", "--layer-store", "off", *extra, env=env, check=False)


def _interrupted_push(project: Path, base: str, image: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Ctrl-C (SIGINT, as a terminal sends it) when the first layer upload begins."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "UV_CACHE_DIR": str(tmp_path / "uv-cache-int"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg-int")}
    args = [sys.executable, "-m", "depimage", "ensure", str(project), "--image", image, "--base-image", base,
            "--uv-version", UV_VERSION, "--no-dev", "--layer-store", "off"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "pushing the layer" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest_out, rest_err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, rest_out, "".join(seen) + rest_err)


def _sizes_read_well(proc: subprocess.CompletedProcess) -> None:
    sizes = SIZE.findall(proc.stderr)
    assert sizes, proc.stderr
    for number, unit, number2, unit2 in sizes:
        value = float(number or number2)
        assert 0 < value < 1000 or (unit or unit2) == "B", f"{value} {unit or unit2} reads badly:\n{proc.stderr}"


def _platform_on_each_push(proc: subprocess.CompletedProcess) -> None:
    pushes = [line for line in proc.stderr.splitlines() if "pushing the layer" in line]
    assert pushes, proc.stderr
    assert all(re.match(r"^depimage: linux/(amd64|arm64): pushing", line) for line in pushes), pushes
    assert any("linux/arm64" in line for line in pushes), pushes


def _builder_counts_nothing(proc: subprocess.CompletedProcess) -> None:
    assert json.loads(proc.stdout)["uploaded"] is None, proc.stdout


def test_every_message_says_what_happened(sandbox, app, registry_base, uv_image, mounts, tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    readonly, full = mounts
    repo = lambda name: f"messages-{run_id}/{name}"  # noqa: E731
    image = lambda name: f"{registry}/{repo(name)}"  # noqa: E731
    fresh = lambda name: {"UV_CACHE_DIR": str(tmp_path / name / "uv"), "XDG_CACHE_HOME": str(tmp_path / name / "xdg")}  # noqa: E731
    stale = tmp_path / "stale"
    subprocess.run(["cp", "-a", str(app), str(stale)], check=True)
    edit(stale / "pyproject.toml", '"idna>=', '"idna>=99,>=')  # a specifier tightened, `uv lock` not run
    multi = multiplatform_base(registry, f"messages-{run_id}/base")

    cases = [
        Case("--builder docker names its flag", lambda: depimage(
            "ensure", str(app), "--image", image("builder"), "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"],
            "--uv-version", UV_VERSION, "--uv-image", uv_image, "--network", "host", "--builder", "docker",
            "--output", "json", check=False), 0, ("builder path: --builder docker",), ("{opt:",),
            check=_builder_counts_nothing),
        Case("a base image that does not exist is bad input", lambda: _layered(
            app, f"{registry}/base/no-such-python:3.99", image("nobase"), env=fresh("nobase")), 2,
            ("the base image", "does not exist", "--base-image"), ("did not accept", "nothing was tagged"),
            untagged=repo("nobase")),
        Case("diff of an image that does not exist", lambda: depimage(
            "diff", f"{registry}/{repo('nothing')}:deps-1", str(app), check=False), 2,
            ("does not exist",), ("did not accept", "nothing was tagged")),
        Case("diff of a folder that does not exist", lambda: depimage(
            "diff", str(tmp_path / "no-such-folder"), str(app), check=False), 2,
            ("neither a project folder",), ("--image",)),
        Case("--platform that is not OS/ARCH", lambda: _layered(
            app, registry_base, image("platform"), "--platform", "foo"), 2, ("--platform 'foo'", "OS/ARCH"),
            untagged=repo("platform")),
        Case("a read-only XDG_CACHE_HOME is no failure", lambda: _layered(
            app, registry_base, image("xdgro"), env={"UV_CACHE_DIR": str(tmp_path / "xdgro-uv"),
                                                      "XDG_CACHE_HOME": str(readonly)}), 0,
            ("cannot keep what the base's layers say",), check=_sizes_read_well),
        Case("a read-only UV_CACHE_DIR is the machine's, not uv.lock's", lambda: depimage(
            "hash", str(app), "--uv-version", UV_VERSION, env={"UV_CACHE_DIR": str(readonly / "uv")}, check=False),
            1, ("uv could not write its cache", "UV_CACHE_DIR"), ("uv lock", "uv.lock:")),
        Case("a full TMPDIR says so", lambda: _layered(
            app, registry_base, image("full"), env={**fresh("full"), "TMPDIR": str(full)}), 1,
            ("no space left",), ("credentials", "uv lock"), untagged=repo("full")),
        Case("Ctrl-C during the push", lambda: _interrupted_push(app, registry_base, image("int"), tmp_path), 130,
             ("interrupted; nothing was tagged",), untagged=repo("int")),
        Case("multi-platform push lines name their platform", lambda: _layered(
            app, multi, image("multi"), "--platform", "linux/amd64,linux/arm64", env=fresh("multi")), 0,
            ("linux/arm64: pushing the layer",), check=_platform_on_each_push),
        Case("a stale lock is refused before anything is pushed", lambda: _layered(
            stale, registry_base, image("stale"), env=fresh("stale")), 2,
            ("uv.lock is stale", "idna", "run `uv lock`", "pyproject.toml:"), untagged=repo("stale")),
        Case("app --help tells the truth", lambda: depimage("app", "--help", check=False), 0,
             ("on the registry from",), ("needs the\n", "that needs the builder")),
    ]
    failures = []
    for case in cases:
        proc = case.run()
        text = proc.stdout + proc.stderr
        problems = []
        if proc.returncode != case.code:
            problems.append(f"exit {proc.returncode}, not {case.code}")
        problems += [f"does not say {w!r}" for w in case.said if w not in text]
        problems += [f"says {w!r}" for w in case.not_said + ("Traceback",) if w in text]
        if case.untagged and registry_tags(registry, case.untagged):
            problems.append(f"tagged {registry_tags(registry, case.untagged)} in {case.untagged}")
        if case.check and not problems:
            try:
                case.check(proc)
            except AssertionError as exc:
                problems.append(str(exc))
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)}\n{text[-2500:]}")
    assert not failures, "\n\n".join(failures)


def test_both_paths_refuse_a_base_python_the_project_does_not_ask_for(sandbox, app, registry_base, uv_image,
                                                                       tmp_path, run_id):
    """.python-version asks for 3.12, the base has 3.11: `uv sync` in the builder finds no interpreter; the layered
    path says so before it installs anything. One input, one answer: exit 2 from both, nothing tagged."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]

    def builder_ensure(name: str) -> subprocess.CompletedProcess:
        return depimage("ensure", str(app), "--image", f"{registry}/pyver-{run_id}/{name}", "--base-image",
                        sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "--uv-version", UV_VERSION, "--uv-image", uv_image,
                        "--network", "host", "--builder", "docker", "--no-dev", check=False)

    # First the builder makes the image for 3.11, as .python-version says: the same recipe but for one byte
    # then follows, and BuildKit must not mount the earlier one (same sizes, same times) in its place.
    assert (app / ".python-version").read_text() == "3.11\n"
    assert builder_ensure("first").returncode == 0
    (app / ".python-version").write_text("3.12\n")
    layered = _layered(app, registry_base, f"{registry}/pyver-{run_id}/layered",
                       env={"UV_CACHE_DIR": str(tmp_path / "uv"), "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    builder = builder_ensure("builder")
    assert (layered.returncode, builder.returncode) == (2, 2), (layered.stderr[-2000:], builder.stderr[-2000:])
    assert ".python-version" in layered.stderr and "3.11" in layered.stderr, layered.stderr
    assert "no Python the project allows" in builder.stderr and "--base-image" in builder.stderr, builder.stderr
    for proc in (layered, builder):
        assert "Traceback" not in proc.stderr
    for path in ("layered", "builder"):
        assert registry_tags(registry, f"pyver-{run_id}/{path}") == []


def test_no_command_leaves_anything_in_tmpdir(sandbox, app, registry_base, tmp_path, run_id):
    """hash, recipe, ensure (layered), app, plan and diff, each with a TMPDIR of its own: empty afterwards."""
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "UV_CACHE_DIR": str(tmp_path / "uv"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    image = f"{registry}/tmpdir-{run_id}/app"
    runs = [("hash", str(app), "--uv-version", UV_VERSION),
            ("recipe", str(app), "--out", str(tmp_path / "recipe")),
            ("ensure", str(app), "--image", image, "--base-image", registry_base, "--uv-version", UV_VERSION),
            ("app", str(app), "--image", image, "--tag", "1", "--base-image", registry_base, "--uv-version",
             UV_VERSION),
            ("plan", str(app), "--image", image, "--base-image", registry_base, "--uv-version", UV_VERSION),
            ("diff", str(app), str(app))]
    for args in runs:
        proc = depimage(*args, env=env, check=False)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        assert sorted(p.name for p in tmp.iterdir()) == [], (args[0], sorted(p.name for p in tmp.iterdir()))
