"""The GitHub Action, one door of two: its inputs (INPUT_*) become one typed object (ActionInputs), then a request
for the same use cases the command line calls; results go to $GITHUB_OUTPUT and the job summary, errors to
annotations on the file and line they are about. Runs inside the action's container."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from depimage import __version__
from depimage.doors import actions_protocol as workflow
from depimage.doors.inputs import docker_config_dir, host_from, say
from depimage.doors.options import IMAGE_OPTIONS, RUNTIME_OPTIONS, from_action, image_options
from depimage.doors.options import runtime as runtime_of
from depimage.errors import INTERRUPTED, DepimageError, InputError, name_in, os_failure
from depimage.fingerprint.hashing import TAG_PREFIX
from depimage.layout import LAYER_STORE_AUTO
from depimage.image.runconfig import Runtime
from depimage.usecases.common import Host, ImageRequest, RegistryAccess, Secret

MODES = ("ensure", "hash", "plan", "app")


@dataclass(frozen=True)
class ActionInputs:
    """Every input of action.yml, given its meaning: what the step's `with:` says, typed."""

    mode: str
    project_dir: str
    context: str | None
    image_name: str
    image: ImageRequest
    registry: RegistryAccess
    tag_prefix: str
    push: bool
    check: bool
    network: str | None
    tag: str
    deps_image: str
    deps_repository: str
    runtime: Runtime
    secret_values: tuple[str, ...] = field(default=(), repr=False)  # to mask in the log


def read_inputs(env: Mapping[str, str]) -> ActionInputs:
    """The inputs as the runner passes them. A malformed one is an InputError that names the input."""
    def get(name: str, default: str = "") -> str:
        return workflow.get_input(name, default, env)

    def flag(name: str, default: bool) -> bool:
        try:
            return workflow.get_bool(name, default, env)
        except ValueError as exc:
            raise InputError(str(exc), hint="write true or false") from None

    def lines(name: str) -> list[str]:
        return [line.strip() for line in get(name).splitlines() if line.strip()]

    def listed(name: str) -> list[str]:
        return workflow.get_list(name, env)

    mode = get("mode", "ensure")
    if mode not in MODES:
        raise InputError(f"input mode is {mode!r}; it must be one of {', '.join(MODES)}")
    secrets = parse_secrets(get("secrets"))
    image = ImageRequest(image_options(from_action(get, flag, listed, lines, IMAGE_OPTIONS)),
                         secrets=tuple(Secret(sid, value) for sid, value in secrets.items()))
    registry = RegistryAccess(get("registry-username"), get("registry-password"),
                              flag("insecure-registry", False), docker_config_dir(env),
                              layer_store=get("layer-store", LAYER_STORE_AUTO) or LAYER_STORE_AUTO)
    runtime = runtime_of(from_action(get, flag, listed, lines, RUNTIME_OPTIONS))
    return ActionInputs(
        mode=mode, project_dir=get("project-dir", "."), context=get("context") or None, image_name=get("image"),
        image=image, registry=registry, tag_prefix=get("tag-prefix", TAG_PREFIX), push=flag("push", True),
        check=flag("check", True), network=get("build-network") or None, tag=get("tag"),
        deps_image=get("deps-image"), deps_repository=get("deps-repository"), runtime=runtime,
        secret_values=tuple(v for v in [get("registry-password"), *secrets.values()] if v))


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


Summary = list[tuple[str, str]]


def run_hash(inputs: ActionInputs, host: Host) -> tuple[dict[str, str], Summary]:
    from depimage.usecases.hash import HashRequest, hash_project

    done = hash_project(HashRequest(inputs.project_dir, inputs.image, inputs.context), host)
    tag = done.hash.tag(inputs.tag_prefix)
    report = done.report(inputs.tag_prefix)
    outputs = {"hash": done.hash.hex, "tag": tag, "image": f"{inputs.image_name}:{tag}" if inputs.image_name else "",
               "installed": json.dumps(report["installed"])}
    return outputs, [("hash", done.hash.hex), ("tag", tag), ("packages", str(len(report["installed"])))]


def run_plan(inputs: ActionInputs, host: Host) -> tuple[dict[str, str], Summary]:
    from depimage.usecases.plan import PlanRequest, plan_targets

    done = plan_targets(PlanRequest(inputs.project_dir, inputs.image_name or None, inputs.image, inputs.registry,
                                    inputs.tag_prefix, check=inputs.check, context=inputs.context), host)
    state = {None: "not checked", True: "present", False: "missing"}
    summary = [(t.name, f"`{t.image}:{t.tag}` {state[t.present]}") for t in done.targets]
    summary.append(("missing", f"{sum(t.present is False for t in done.targets)} of {len(done.targets)}"))
    return done.outputs(), summary


def run_ensure(inputs: ActionInputs, host: Host) -> tuple[dict[str, str], Summary]:
    from depimage.usecases.ensure import EnsureRequest, ensure_image

    if not inputs.image_name:
        raise InputError("input image is required for mode ensure",
                         hint="set `with: image:` to REGISTRY/NAME without a tag, e.g. ghcr.io/acme/api-deps")
    request = EnsureRequest(inputs.project_dir, inputs.image_name, inputs.image, inputs.registry,
                            tag_prefix=inputs.tag_prefix, push=inputs.push, network=inputs.network,
                            context=inputs.context)
    with workflow.folded(f"Build {request.image_name}") as builder_line:
        result = ensure_image(request, host, on_line=builder_line, on_status=_status)
    what = ("cache hit: nothing built" if result.cache_hit else "rebased onto the new base image" if result.rebased
            else "built and pushed" if inputs.push else "built (not pushed)")
    if result.changes:
        from depimage.fingerprint.record import changes_from_dict

        workflow.add_summary("### depimage: what changed\n\n" + changes_from_dict(result.changes).table(),
                             dict(host.env))
    return result.outputs(), [("image", f"`{result.image}`"), ("digest", f"`{result.digest}`"),
                              ("hash", result.hash), ("result", what)]


def run_app(inputs: ActionInputs, host: Host) -> tuple[dict[str, str], Summary]:
    from depimage.usecases.app import AppRequest, app_image

    if not inputs.image_name or not inputs.tag:
        raise InputError("inputs image and tag are required for mode app",
                         hint="set `with: image:` to REGISTRY/NAME and `tag:` to the application's tag")
    request = AppRequest(inputs.project_dir, inputs.image_name, inputs.tag, inputs.image, inputs.registry,
                         deps_image=inputs.deps_image, deps_repository=inputs.deps_repository,
                         runtime=inputs.runtime, tag_prefix=inputs.tag_prefix, network=inputs.network,
                         context=inputs.context)
    with workflow.folded(f"Build the dependency image of {request.image_name}") as builder_line:
        result = app_image(request, host, on_line=builder_line, on_status=_status)
    return result.outputs(), [("image", f"`{result.image}`"), ("digest", f"`{result.digest}`"),
                              ("on", f"`{result.deps_image}`"), ("uploaded", f"{result.uploaded} bytes")]


RUNS: dict[str, Callable[[ActionInputs, Host], tuple[dict[str, str], Summary]]] = {
    "hash": run_hash, "plan": run_plan, "ensure": run_ensure, "app": run_app}


def run(env: dict[str, str]) -> int:
    started = time.monotonic()
    for value in [workflow.get_input("registry-password", "", env),
                  *parse_secrets(workflow.get_input("secrets", "", env)).values()]:
        if value:  # masked before anything else can print them
            workflow.mask(value)
    inputs = read_inputs(env)
    print(f"depimage {__version__}: {inputs.mode} {inputs.project_dir}", flush=True)
    outputs, summary = RUNS[inputs.mode](inputs, host_from(env))
    for name, value in outputs.items():
        workflow.set_output(name, value, env)
    summary.append(("time", f"{time.monotonic() - started:.1f} s"))
    workflow.add_summary("### depimage\n\n| | |\n|---|---|\n"
                         + "".join(f"| {k} | {v} |\n" for k, v in summary), env)
    return 0


def _status(message: str) -> None:
    say(f"depimage: {name_in(message, input_name)}", sys.stdout)


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


def input_name(field: str) -> str:
    """How an error names an input (errors.opt): `input build-network`."""
    inputs = {"network": "build-network", **{o.field: o.input for o in IMAGE_OPTIONS + RUNTIME_OPTIONS}}
    return "input " + inputs.get(field, field.replace("_", "-"))


def main() -> int:
    env = dict(os.environ)
    try:
        try:
            return run(env)
        except OSError as exc:  # the machine's refusal (a full disk, a folder it may not write): not a traceback
            raise os_failure(exc) from exc
    except KeyboardInterrupt:
        print(f"depimage: {INTERRUPTED}", file=sys.stderr, flush=True)
        return 130
    except DepimageError as exc:
        exc.name_options(input_name)
        annotate(exc, env)
        print(f"depimage: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
