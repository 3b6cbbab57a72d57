"""Driving the builder: `docker buildx build` (BuildKit) of the generated Dockerfile with only the recipe
as context, pushed to the registry or loaded into the local engine."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from depimage.errors import DepimageError, InputError, opt
from depimage.fingerprint.pipeline import Fingerprint
from depimage.layout import FIXED_MTIME, VENV
from depimage.oci.credentials import Credentials, write_docker_config
from depimage.oci.reference import ImageName
from depimage.recipe.recipe import write_recipe

TAIL_LINES = 40


class BuildError(DepimageError):
    """The builder failed; the message carries its last lines. `transient_push` says the image was built
    and the push then failed in a way a second push can get past (a 5xx, a dropped connection, a blob the
    registry did not have yet): registries give those when two runs push the same image at once."""

    def __init__(self, message: str, *, transient_push: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.transient_push = transient_push


# uv in the image finding no Python the project allows: the base image is wrong for the project (bad input, as
# the layered path says before it installs anything).
_NO_PYTHON = re.compile(r"No interpreter found for Python [^\n]*|incompatible with the project's Python "
                        r"requirement[^\n]*|does not satisfy the project's Python requirement[^\n]*")
_PUSH_STEP = re.compile(r"^#\d+ (pushing|exporting to image)")
_TRANSIENT = re.compile(r"\b50[0234]\b|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout"
                        r"|connection reset|broken pipe|unexpected EOF|i/o timeout"
                        r"|blob unknown|blob upload (unknown|invalid)|digest invalid", re.IGNORECASE)


@dataclass(frozen=True)
class BuildRequest:
    fingerprint: Fingerprint
    image: ImageName
    tag: str
    push: bool
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (id, value): written to files for buildx
    network: str | None = None
    credentials: Credentials | None = None
    labels: dict[str, str] = field(default_factory=dict)  # DEPIMAGE_SOURCE, DEPIMAGE_REVISION
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # the environment docker runs with
    docker_config: Path | None = None  # the user's docker config folder: its plugins and builders are kept
    config_labels: dict[str, str] = field(default_factory=dict)  # the record (fingerprint/record.py), base annotations


def docker() -> str:
    found = shutil.which("docker")
    if not found:
        raise BuildError("no `docker` command on PATH", hint="install the Docker CLI with the buildx plugin")
    return found


def build(request: BuildRequest, on_line: Callable[[str], None]) -> None:
    """Build (and push, or load) request.image:request.tag; raise BuildError with the builder's last lines.
    BuildKit's own attestations are off: they would sit in the index as unknown/unknown entries, and depimage
    attaches its SBOM as a referrer instead (image/sbom.py)."""
    with tempfile.TemporaryDirectory(prefix="depimage-build-") as tmp:
        output = ["--tag", request.image.ref(request.tag), "--push" if request.push else "--load",
                  "--provenance=false", "--sbom=false"]
        _run(*_command(request, Path(tmp), request.fingerprint.dockerfile, output), on_line)


# A stage over the image just built that writes what it holds, from the cache: nothing is installed again.
INSTALLED_FILE = "depimage-installed.json"
_LIST = ("import importlib.metadata as m, json; "
         "print(json.dumps(sorted({(d.metadata['Name'], d.version) for d in m.distributions()})))")


def installed_in(request: BuildRequest, on_line: Callable[[str], None]) -> dict[str, list[tuple[str, str]]]:
    """The distributions (name, version) the image of request holds, by platform (os/arch[/variant]; "" for a
    build of one platform), asked of its own Python after the build: the stages come from the builder's cache,
    one more step lists them, and the list comes back as a local file (no image is written)."""
    stages = sum(1 for line in request.fingerprint.dockerfile.splitlines() if line.startswith("FROM "))
    dockerfile = (request.fingerprint.dockerfile
                  + f"RUN {VENV}/bin/python -I -c \"{_LIST}\" > /tmp/{INSTALLED_FILE}\n"
                  + f"FROM scratch\nCOPY --from={stages - 1} /tmp/{INSTALLED_FILE} /\n")
    with tempfile.TemporaryDirectory(prefix="depimage-installed-") as tmp:
        out = Path(tmp) / "out"
        _run(*_command(request, Path(tmp), dockerfile, ["--output", f"type=local,dest={out}"]), on_line)
        found = {"": out / INSTALLED_FILE} if (out / INSTALLED_FILE).is_file() else \
            {d.name.replace("_", "/"): d / INSTALLED_FILE for d in sorted(out.iterdir()) if d.is_dir()}
        return {platform: [(str(n), str(v)) for n, v in json.loads(path.read_text())]
                for platform, path in found.items() if path.is_file()}


def _command(request: BuildRequest, tmp: Path, dockerfile: str, output: list[str]) -> tuple[list[str], dict[str, str]]:
    """The buildx command and its environment for dockerfile over the recipe, with the request's platforms,
    network, build arguments, labels, secrets (files under tmp) and credentials (a docker config under tmp)."""
    prepared = request.fingerprint
    context = tmp / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    write_recipe(prepared.recipe, context / "recipe", prepared.project.root)
    _stamp_by_content(context)
    cmd = [docker(), "buildx", "build", "--progress=plain", "--file", str(context / "Dockerfile"), *output]
    if prepared.options.platforms:
        cmd += ["--platform", ",".join(prepared.options.platforms)]
    if request.network:
        cmd += ["--network", request.network]
    for name, value in prepared.options.build_args:
        cmd += ["--build-arg", f"{name}={value}"]
    labels = {"DEPIMAGE_HASH": prepared.hash.hex, **request.labels}
    for name, value in labels.items():
        cmd += ["--build-arg", f"{name}={value}"]
    for name, value in request.config_labels.items():  # labels outside the Dockerfile: its text is in the hash
        cmd += ["--label", f"{name}={value}"]
    secrets = tmp / "secrets"
    secrets.mkdir(mode=0o700)
    for number, (sid, value) in enumerate(request.secrets):  # files only this user reads, gone after the build
        fd = os.open(secrets / str(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        cmd += ["--secret", f"id={sid},src={secrets / str(number)}"]
    cmd.append(str(context))
    env = dict(request.env)
    if request.credentials:
        env["DOCKER_CONFIG"] = str(write_docker_config(tmp / "docker-config", request.image, request.credentials,
                                                       request.docker_config))
    return cmd, env


def _stamp_by_content(context: Path) -> None:
    """Give every file of the context a modification time that follows its content. BuildKit sends a local
    context incrementally and takes a file whose size and time it saw before as unchanged: the recipe's files
    all carry one fixed time, so a lock edited without changing its size (a hash digit, 1.2.3 -> 1.2.4) would be
    mounted as the earlier build's. Same content, same time: the builder's cache still serves a retry."""
    for path in sorted(context.rglob("*")):
        if path.is_file():
            stamp = FIXED_MTIME + int(hashlib.sha256(path.read_bytes()).hexdigest()[:8], 16) % (1 << 30)
            os.utime(path, (stamp, stamp))


def _run(cmd: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> None:
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                errors="replace")
    except OSError as exc:
        raise BuildError(f"cannot start docker: {exc}") from exc
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        tail.append(line)
        on_line(line)
    code = proc.wait()
    if code != 0:
        last = "\n".join(f"    {t}" for t in tail)
        said = next((found[0] for t in tail if (found := _NO_PYTHON.search(t))), None)
        if said:
            raise InputError(f"the base image has no Python the project allows; uv in it said: {said}",
                             hint=f"name a base image with a Python that .python-version and requires-python allow "
                                  f"with {opt('base_image')}; nothing was tagged")
        transient = "--push" in cmd and transient_push_failure(list(tail))
        raise BuildError(f"docker buildx build failed (exit code {code}); its last lines:\n{last}",
                         hint="no tag was pushed; fix the cause above and run again", transient_push=transient)


def transient_push_failure(lines: list[str]) -> bool:
    """Whether the builder's last lines show the push step failing only with errors a second push can get
    past. Failures before the push, and refusals such as 401, 403 or 405, are for the user to fix."""
    starts = [i for i, line in enumerate(lines) if _PUSH_STEP.match(line)]
    errors = push_errors(lines[starts[0]:]) if starts else []
    return bool(errors) and all(_TRANSIENT.search(error) for error in errors)


def push_errors(lines: list[str]) -> list[str]:
    """The error messages in the builder's lines. The docker driver prints a registry's error list as
    `ERROR: errors:` with one message a line after it, up to a blank line or a `------` rule."""
    errors: list[str] = []
    listing = False
    for line in lines:
        if "ERROR:" in line:
            message = line.split("ERROR:", 1)[1].strip()
            listing = message.endswith(":") or not message
            if not listing:
                errors.append(message)
        elif listing and line.strip() and not line.startswith("------"):
            errors.append(line.strip())
        else:
            listing = False
    return errors


def local_image_id(ref: str) -> str | None:
    """The ID of ref in the local engine, or None."""
    proc = subprocess.run([docker(), "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None
