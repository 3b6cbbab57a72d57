"""The GitHub Action's entry point: its inputs (INPUT_*) become a typed request for the same use cases the
command line calls; results go to $GITHUB_OUTPUT and the job summary, errors to annotations on the file
and line they are about. Runs inside the action's container."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, workflow
from .errors import DepimageError, InputError
from .hashing import TAG_PREFIX
from .usecases import (EnsureRequest, HashRequest, ImageRequest, PlanRequest, RegistryAccess, ensure_image,
                       hash_project, plan_targets)

if TYPE_CHECKING:
    from .runtime import Runtime

MODES = ("ensure", "hash", "plan", "app")


def image_request(env: dict[str, str], secret_ids: list[str]) -> ImageRequest:
    """The image options of the inputs. Secrets are named by id; their values stay in the environment."""
    get = lambda name: workflow.get_input(name, "", env)  # noqa: E731
    return ImageRequest(
        base_image=get("base-image"), uv_version=get("uv-version"), uv_image=get("uv-image"),
        no_dev=workflow.get_bool("no-dev", False, env), groups=tuple(workflow.get_list("groups", env)),
        extras=tuple(workflow.get_list("extras", env)), package=get("package") or None,
        platforms=tuple(workflow.get_list("platforms", env)), secrets=tuple(secret_ids))


def parse_secrets(text: str) -> dict[str, str]:
    """The secrets input: one ID=value a line (ID becomes the variable uv reads, e.g. UV_INDEX_X_PASSWORD)."""
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        sid, sep, value = line.strip().partition("=")
        if not sep or not sid:
            raise InputError(f"line {number} of input secrets is not ID=value",
                             hint="write one secret a line, e.g. UV_INDEX_PRIVATE_PASSWORD=<the token>")
        secrets[sid.strip()] = value
    return secrets


def run(env: dict[str, str]) -> int:
    started = time.monotonic()
    get = lambda name, default="": workflow.get_input(name, default, env)  # noqa: E731
    password = get("registry-password")
    secrets = parse_secrets(get("secrets"))
    for value in [password, *secrets.values()]:
        if value:
            workflow.mask(value)
    mode = get("mode", "ensure")
    if mode not in MODES:
        raise InputError(f"input mode is {mode!r}; it must be one of {', '.join(MODES)}")
    project_dir = get("project-dir", ".")
    print(f"depimage {__version__}: {mode} {project_dir}", flush=True)
    image = image_request(env, list(secrets))
    registry = RegistryAccess(get("registry-username"), password)
    tag_prefix = get("tag-prefix", TAG_PREFIX)
    os.environ.update(secrets)  # buildx reads them from here: --secret id=ID,env=ID

    if mode == "hash":
        prepared = hash_project(HashRequest(project_dir, image))
        tag = prepared.hash.tag(tag_prefix)
        name = get("image")
        outputs = {"hash": prepared.hash.hex, "tag": tag, "image": f"{name}:{tag}" if name else ""}
        summary = [("hash", prepared.hash.hex), ("tag", tag)]
    elif mode == "plan":
        from .plan import matrix

        targets = plan_targets(PlanRequest(project_dir, get("image") or None, image, registry, tag_prefix))
        result = matrix(targets)
        outputs = {"matrix": json.dumps(result["matrix"]), "has-missing": str(result["has-missing"]).lower(),
                   "targets": json.dumps(result["targets"])}
        summary = [(t.name, f"`{t.image}:{t.tag}` {'present' if t.present else 'missing'}") for t in targets]
        summary.append(("missing", f"{sum(not t.present for t in targets)} of {len(targets)}"))
    elif mode == "app":
        outputs, summary = run_app(env, project_dir, image, registry, tag_prefix)
    else:
        if not get("image"):
            raise InputError("input image is required for mode ensure",
                             hint="set `with: image:` to REGISTRY/NAME without a tag, e.g. ghcr.io/acme/api-deps")
        push = workflow.get_bool("push", True, env)
        request = EnsureRequest(project_dir, get("image"), image, registry, tag_prefix=tag_prefix, push=push,
                                network=get("build-network") or None)
        with workflow.folded(f"Build {request.image_name}") as builder_line:
            result = ensure_image(request, on_line=builder_line, on_status=_status)
        outputs = {"image": result.image, "tag": result.tag, "digest": result.digest, "hash": result.hash,
                   "cache-hit": str(result.cache_hit).lower(), "built": str(result.built).lower()}
        summary = [("image", f"`{result.image}`"), ("digest", f"`{result.digest}`"), ("hash", result.hash),
                   ("result", "cache hit: nothing built" if result.cache_hit else "built and pushed"
                    if push else "built (not pushed)")]
    for name, value in outputs.items():
        workflow.set_output(name, value, env)
    summary.append(("time", f"{time.monotonic() - started:.1f} s"))
    workflow.add_summary("### depimage\n\n| | |\n|---|---|\n"
                         + "".join(f"| {k} | {v} |\n" for k, v in summary), env)
    return 0


def _status(message: str) -> None:
    print(f"depimage: {message}", flush=True)


def runtime_inputs(env: dict[str, str]) -> "Runtime":
    """The image's runtime settings from the inputs (over [tool.depimage.app])."""
    from .runtime import Runtime, pairs, port, words

    get = lambda name: workflow.get_input(name, "", env)  # noqa: E731
    lines = lambda name: [line.strip() for line in get(name).splitlines() if line.strip()]  # noqa: E731
    return Runtime(command=words(get("command"), "input command") if get("command") else None,
                   entrypoint=words(get("entrypoint"), "input entrypoint") if get("entrypoint") else None,
                   workdir=get("workdir") or None, user=get("user") or None, env=pairs(lines("env"), "input env"),
                   ports=tuple(port(p) for p in workflow.get_list("ports", env)),
                   labels=pairs(lines("labels"), "input labels"), include=tuple(workflow.get_list("include", env)))


def run_app(env: dict[str, str], project_dir: str, image: ImageRequest, registry: RegistryAccess,
            tag_prefix: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    from .usecases import AppRequest, app_image

    get = lambda name: workflow.get_input(name, "", env)  # noqa: E731
    if not get("image") or not get("tag"):
        raise InputError("inputs image and tag are required for mode app",
                         hint="set `with: image:` to REGISTRY/NAME and `tag:` to the application's tag")
    request = AppRequest(project_dir, get("image"), get("tag"), image, registry, deps_image=get("deps-image"),
                         deps_repository=get("deps-repository"), runtime=runtime_inputs(env), tag_prefix=tag_prefix,
                         network=get("build-network") or None)
    with workflow.folded(f"Build the dependency image of {request.image_name}") as builder_line:
        result = app_image(request, on_line=builder_line, on_status=_status)
    outputs = {"image": result.image, "digest": result.digest, "deps-image": result.deps_image,
               "tag": get("tag")}
    summary = [("image", f"`{result.image}`"), ("digest", f"`{result.digest}`"), ("on", f"`{result.deps_image}`"),
               ("uploaded", f"{result.uploaded} bytes")]
    return outputs, summary


def annotate(exc: DepimageError, env: dict[str, str]) -> None:
    """The error as an annotation on the file and line it is about, relative to the repository root; an
    error about the inputs or the registry points at this step in the workflow file."""
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    file, line = exc.file, exc.line
    if file:
        try:
            file = str(Path(file).resolve().relative_to(workspace.resolve()))
        except ValueError:
            pass
    else:
        file, line = workflow.step_location(env, workspace)
    message = exc.message + (f"\n{exc.hint}" if exc.hint else "")
    workflow.command("error", message, title="depimage", file=file, line=line)
    workflow.add_summary(f"### depimage failed\n\n```\n{exc}\n```\n", env)


def main() -> int:
    env = dict(os.environ)
    try:
        return run(env)
    except DepimageError as exc:
        annotate(exc, env)
        print(f"depimage: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # a malformed boolean input
        annotate(InputError(str(exc)), env)
        return 2


if __name__ == "__main__":
    sys.exit(main())
