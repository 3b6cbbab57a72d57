"""The GitHub Action's entry point: inputs (INPUT_*) to a depimage command line, its results to
$GITHUB_OUTPUT and the job summary, its errors to annotations. Runs inside the action's container."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from . import workflow
from .cli import build_parser, plan_from_args, prepared_from_args, run_ensure
from .errors import DepimageError, InputError
from .plan import matrix

MODES = ("ensure", "hash", "plan")


def argv_from_inputs(env: dict[str, str]) -> list[str]:
    """The depimage command line the inputs mean. Secret values stay in the environment, never here."""
    get = lambda name, default="": workflow.get_input(name, default, env)  # noqa: E731
    mode = get("mode", "ensure")
    if mode not in MODES:
        raise InputError(f"input mode is {mode!r}; it must be one of {', '.join(MODES)}")
    image = get("image")
    if mode == "ensure" and not image:
        raise InputError("input image is required, e.g. image: ghcr.io/${{ github.repository }}-deps",
                         hint="set `with: image:` to REGISTRY/NAME, without a tag")
    argv = [mode, get("project-dir", ".")]
    for name in ("base-image", "uv-version", "uv-image", "package", "tag-prefix"):
        argv += _flag(get(name), f"--{name}")
    for name, flag in (("groups", "--group"), ("extras", "--extra"), ("platforms", "--platform")):
        for item in workflow.get_list(name, env):
            argv += [flag, item]
    if workflow.get_bool("no-dev", False, env):
        argv.append("--no-dev")
    for secret_id in parse_secrets(get("secrets")):
        argv += ["--secret", secret_id]
    if mode == "hash":
        return argv
    argv += _flag(image, "--image") + _flag(get("registry-username"), "--registry-username")
    if mode == "plan":
        return argv + ["--output", "json"]
    argv += _flag(get("build-network"), "--network")
    if not workflow.get_bool("push", True, env):
        argv.append("--no-push")
    return argv


def _flag(value: str, flag: str) -> list[str]:
    return [flag, value] if value else []


def parse_secrets(text: str) -> dict[str, str]:
    """The secrets input: one ID=value a line (ID becomes the variable uv reads, e.g. UV_INDEX_X_PASSWORD)."""
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        sid, sep, value = line.strip().partition("=")
        if not sep or not sid:
            raise InputError(f"line {number} of input secrets is not ID=value",
                             hint="write one secret a line, e.g. UV_INDEX_PRIVATE_PASSWORD=${{ secrets.INDEX_TOKEN }}")
        secrets[sid.strip()] = value
    return secrets


def run(env: dict[str, str]) -> int:
    started = time.monotonic()
    password = workflow.get_input("registry-password", "", env)
    secrets = parse_secrets(workflow.get_input("secrets", "", env))
    for value in [password, *secrets.values()]:
        if value:
            workflow.mask(value)
    argv = argv_from_inputs(env)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        raise InputError(f"the inputs make an invalid command line: depimage {' '.join(argv)}") from None
    os.environ.update(secrets)  # buildx reads them from here: --secret id=ID,env=ID
    if password:
        os.environ["DEPIMAGE_REGISTRY_PASSWORD"] = password

    if args.command == "hash":
        prepared = prepared_from_args(args)
        tag = prepared.hash.tag(args.tag_prefix)
        image = workflow.get_input("image", "", env)
        outputs = {"hash": prepared.hash.hex, "tag": tag, "image": f"{image}:{tag}" if image else ""}
        summary = [("hash", prepared.hash.hex), ("tag", tag)]
    elif args.command == "plan":
        targets = plan_from_args(args)
        result = matrix(targets)
        outputs = {"matrix": json.dumps(result["matrix"]), "has-missing": str(result["has-missing"]).lower(),
                   "targets": json.dumps(result["targets"])}
        summary = [(t.name, f"`{t.image}:{t.tag}` {'present' if t.present else 'missing'}") for t in targets]
        summary.append(("missing", f"{sum(not t.present for t in targets)} of {len(targets)}"))
    else:
        grouped = []

        def builder_line(line: str) -> None:  # the builder's output, folded in the log
            if not grouped:
                print(f"::group::Build {args.image}", flush=True)
                grouped.append(True)
            print(line, flush=True)

        try:
            result = run_ensure(args, on_line=builder_line, on_status=lambda m: print(f"depimage: {m}", flush=True))
        finally:
            if grouped:
                print("::endgroup::", flush=True)
        outputs = {"image": result.image, "tag": result.tag, "digest": result.digest, "hash": result.hash,
                   "cache-hit": str(result.cache_hit).lower(), "built": str(result.built).lower()}
        summary = [("image", f"`{result.image}`"), ("digest", f"`{result.digest}`"), ("hash", result.hash),
                   ("result", "cache hit: nothing built" if result.cache_hit else "built and pushed"
                    if not args.no_push else "built (not pushed)")]
    for name, value in outputs.items():
        workflow.set_output(name, value, env)
    summary.append(("time", f"{time.monotonic() - started:.1f} s"))
    workflow.add_summary("### depimage\n\n| | |\n|---|---|\n"
                         + "".join(f"| {k} | {v} |\n" for k, v in summary), env)
    return 0


def annotate(exc: DepimageError, env: dict[str, str]) -> None:
    """The error as an annotation on the file and line it is about, relative to the repository root."""
    file = exc.file
    if file:
        workspace = env.get("GITHUB_WORKSPACE") or os.getcwd()
        try:
            file = str(Path(file).resolve().relative_to(Path(workspace).resolve()))
        except ValueError:
            pass
    message = exc.message + (f"\n{exc.hint}" if exc.hint else "")
    workflow.command("error", message, title="depimage", file=file, line=exc.line)
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
