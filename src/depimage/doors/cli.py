"""The `depimage` command line, one door of two: its arguments become one typed request for the use cases the
action calls too; it reads the environment (passwords, DOCKER_CONFIG, CI variables) and hands it on."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from depimage import __version__
from depimage.doors.inputs import docker_config_dir, host_from, say, secret_from_spec
from depimage.doors.options import IMAGE_OPTIONS, RUNTIME_OPTIONS, add_flags, from_cli, image_options, runtime
from depimage.errors import INTERRUPTED, DepimageError, InputError, cli_name, name_in, os_failure
from depimage.fingerprint.hashing import TAG_PREFIX
from depimage.layout import LAYER_STORE_AUTO
from depimage.usecases.common import Host, ImageRequest, RegistryAccess
from depimage.usecases.hash import HashRequest, hash_project

if TYPE_CHECKING:
    from depimage.image.runconfig import Runtime

DESCRIPTION = """\
Never reinstall a uv project's third-party dependencies when they did not change.

depimage reduces pyproject.toml (root and every workspace member) and uv.lock to what decides which
packages get installed, masks the versions of the project's own packages, and hashes that with every
option that shapes the image. Same dependencies, same hash; any change to what gets installed, a new hash.
"""

EPILOG = """\
commands, in the order data flows:
  recipe   write the reduced files (the cargo-chef pattern: COPY them alone, then `uv sync`)
  hash     print the dependency-only hash and its tag form
  ensure   make sure REGISTRY/NAME:deps-<hash> exists: one registry check, build and push if missing
  plan     list the deployable targets of a repository with their hashes, as a CI matrix
  app      the application image: the dependency image plus one layer with the project, made on the
           registry (no Docker engine, no dependency layer downloaded)
  diff     what differs between two dependency images or project revisions, without building
  store    list the package layers the layer store shares between the registry's repositories

examples:
  depimage hash
  depimage recipe . --out /tmp/recipe
  depimage ensure --image ghcr.io/acme/api --no-dev
  depimage plan --output json
  depimage app --image ghcr.io/acme/api --tag 1.4.0 --no-dev --port 8000

exit codes: 0 success, 1 failure (registry, builder), 2 bad input (project files, options).
"""


def _registry_options(parser: argparse.ArgumentParser) -> None:
    """How ensure and plan reach the registry; read by registry_access."""
    parser.add_argument("--registry-username", default=os.environ.get("DEPIMAGE_REGISTRY_USERNAME"), metavar="USER",
                        help="default: $DEPIMAGE_REGISTRY_USERNAME")
    parser.add_argument("--registry-password-stdin", action="store_true",
                        help="read the registry password from standard input (else $DEPIMAGE_REGISTRY_PASSWORD)")
    parser.add_argument("--insecure-registry", action="store_true",
                        help="plain http to the registry (always so for localhost and 127.0.0.1)")
    parser.add_argument("--layer-store", default=LAYER_STORE_AUTO, metavar="REGISTRY/NAME|auto|off",
                        help="the repository where package layers are shared between repositories, so a project "
                             "in a new repository mounts the layers others made instead of installing them: auto "
                             "(default) is depimage-layers under the image's owner (ghcr.io/acme/api -> "
                             "ghcr.io/acme/depimage-layers); off: only the image's own repository is reused")


def _shared_tail(parser: argparse.ArgumentParser, *, tag_prefix_help: str = f"default: {TAG_PREFIX}") -> None:
    """What ensure, plan and app all take: the tag prefix, the registry, the report's form, the context and the
    image options."""
    parser.add_argument("--tag-prefix", default=TAG_PREFIX, help=tag_prefix_help)
    _registry_options(parser)
    parser.add_argument("--output", choices=["text", "json"], default="text", help="default: text")
    _context_option(parser)
    _image_options(parser)


def _context_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", metavar="DIR", type=Path,
                        help="the folder local packages may be read from (path dependencies such as "
                             "`../common`); default: the git repository the project is in, else the project")


def _image_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("what shapes the image (all part of the hash)")
    add_flags(g, IMAGE_OPTIONS)
    g.add_argument("--secret", action="append", default=[], metavar="ID[=ENV_OR_FILE]",
                   help="a BuildKit secret exported to `uv sync` as variable ID, e.g. "
                        "UV_INDEX_PRIVATE_PASSWORD; its value comes from the environment variable or file "
                        "named after =, or from the variable ID itself; never stored in the image")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="depimage", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"depimage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("recipe", help="write the dependency recipe", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Write the reduced pyproject.toml files and the masked uv.lock into --out,\n"
                                   "laid out as in the project, so that `uv sync --frozen --no-install-local` there\n"
                                   "installs exactly the project's third-party packages.",
                       epilog="example (a planner stage of a Dockerfile):\n"
                              "  RUN depimage recipe /src --out /recipe\n"
                              "then, in the dependency stage:\n"
                              "  COPY --from=planner /recipe /app\n"
                              "  RUN uv sync --frozen --no-install-local --no-dev")
    p.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR", help="default: .")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="new or empty folder to write to")
    p.add_argument("--force", action="store_true", help="replace the contents of a non-empty --out")
    _context_option(p)

    p = sub.add_parser("hash", help="print the dependency-only hash",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Print the dependency-only hash (sha256) and its tag form.",
                       epilog="example:\n  depimage hash --no-dev --json")
    p.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR", help="default: .")
    p.add_argument("--tag-prefix", default=TAG_PREFIX, help=f"default: {TAG_PREFIX}")
    p.add_argument("--json", action="store_true",
                   help="print the hash, the tag, the options, the recipe's files and the installed set "
                        "(name, version, source of every package `uv sync` installs), to compare two revisions")
    _context_option(p)
    _image_options(p)
    p = sub.add_parser("ensure", help="make sure the dependency image exists: check, build and push if missing",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Compute the hash, ask the registry for REGISTRY/NAME:<prefix><hash> with one request,\n"
                                   "and only when it is missing make the dependency image and push it. Where every package\n"
                                   "has a wheel for the platform, it is assembled on the registry without a builder: uv\n"
                                   "installs the locked set for the base image's platform and Python, one layer per heavy\n"
                                   "package and grouped layers for the rest, reproducible, only what changed pushed, any\n"
                                   "layer another repository of the owner already made mounted from the layer store, any\n"
                                   "--platform from any host. Else (or with --builder docker) docker buildx builds it.\n"
                                   "One line says which path and why. Prints the reference to build FROM. Runs for the\n"
                                   "same hash may overlap: a push that collides uses the image that landed, or pushes again.\n"
                                   "Either way each pushed manifest carries the OCI base annotations (base.name, base.digest)\n"
                                   "and gets a CycloneDX SBOM of what is installed, attached as an OCI referrer.",
                       epilog="credentials:\n"
                              "  --registry-username U, and the password in $DEPIMAGE_REGISTRY_PASSWORD or on stdin\n"
                              "  (--registry-password-stdin); without them, what `docker login` stored is used.\n"
                              "\nexamples:\n"
                              "  depimage ensure --image ghcr.io/acme/api --no-dev\n"
                              "  echo \"$TOKEN\" | depimage ensure --image ghcr.io/acme/api --registry-username bot \\\n"
                              "      --registry-password-stdin --secret UV_INDEX_PRIVATE_PASSWORD --output json\n"
                              "  depimage ensure --image local/api --no-push      # local engine only, no registry")
    p.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR", help="default: .")
    p.add_argument("--image", required=True, metavar="REGISTRY/NAME", help="where the image lives, without a tag")
    p.add_argument("--no-push", action="store_true", help="check and build in the local engine only")
    p.add_argument("--network", metavar="MODE",
                   help="network for RUN steps in the build, e.g. host (default: $DEPIMAGE_BUILD_NETWORK, else "
                        "the builder's own)")
    _shared_tail(p)

    p = sub.add_parser("plan", help="list a repository's deployable targets with their hashes, as a CI matrix",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Find every uv project under REPO_DIR and its deployable targets ([tool.depimage]\n"
                                   "targets, else workspace members with [project.scripts], else the lone project),\n"
                                   "hash each on what `uv sync --package <member>` installs, and ask the registry\n"
                                   "about all of them at once.",
                       epilog="configuration, in the workspace root's pyproject.toml:\n"
                              "  [tool.depimage]\n"
                              '  image = "ghcr.io/acme/{name}-deps"\n'
                              "  no-dev = true\n"
                              "  [tool.depimage.targets.api]\n"
                              '  package = "api"\n'
                              "\nexamples:\n"
                              "  depimage plan --image 'ghcr.io/acme/{name}' --output json\n"
                              "  depimage plan --no-check            # hashes only, no registry")
    p.add_argument("project_dir", nargs="?", default=".", metavar="REPO_DIR", help="default: .")
    p.add_argument("--image", metavar="TEMPLATE", help="image name for targets without one; {name} is replaced")
    p.add_argument("--no-check", action="store_true", help="do not ask the registry")
    _shared_tail(p)

    p = sub.add_parser("app", help="the application image, assembled on the registry over the dependency image",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Make REGISTRY/NAME:TAG = the dependency image + one layer with the project: the\n"
                                   "project (and the local packages it uses) built into wheels by uv and installed in\n"
                                   "the image's layout, console scripts on /opt/venv/bin; for a project without a build\n"
                                   "system, its files under /app. The layer, a config and the manifest are pushed to\n"
                                   "the registry; the dependency image's layers are referenced (mounted across\n"
                                   "repositories), never downloaded. Same inputs, same digest. The dependency image is\n"
                                   "ensured first as `ensure` does (made only when it is missing, on the registry from\n"
                                   "the lock's wheels, or by the builder where wheels cannot give it), or taken as\n"
                                   "--deps-image names it. Its SBOM (CycloneDX, an OCI referrer) is the dependency\n"
                                   "image's plus the project; its base annotations are the dependency image's base.",
                       epilog="the image's runtime settings, in the project's pyproject.toml (options add to them):\n"
                              "  [tool.depimage.app]\n"
                              '  command = ["api", "--port", "8000"]   # default: the one console script\n'
                              '  env = { LOG_LEVEL = "info" }\n'
                              "  ports = [8000]\n"
                              '  include = ["config/*.yaml"]           # .dockerignore syntax, copied under /app\n'
                              "\nexit codes: 0 done, 1 registry or builder failure, 2 bad input (a compiled project,\n"
                              "a --deps-image not made by depimage, bad options). The manifest is pushed last: a\n"
                              "failure leaves no tag behind.\n"
                              "\nexamples:\n"
                              "  depimage app --image ghcr.io/acme/api --tag 1.4.0 --no-dev --output json\n"
                              "  depimage app --image ghcr.io/acme/api --tag \"$GITHUB_SHA\" \\\n"
                              "      --deps-image ghcr.io/acme/api-deps:deps-0123abcd --env LOG_LEVEL=debug")
    p.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR", help="default: .")
    p.add_argument("--image", required=True, metavar="REGISTRY/NAME", help="the application image, without a tag")
    p.add_argument("--tag", required=True, help="its tag, e.g. the version or the commit")
    deps = p.add_mutually_exclusive_group()
    deps.add_argument("--deps-image", metavar="REF", help="use this dependency image (REGISTRY/NAME:TAG or @DIGEST), "
                                                          "made by `depimage ensure`; nothing is ensured")
    deps.add_argument("--deps-repository", metavar="REGISTRY/NAME",
                      help="where to ensure the dependency image (default: --image itself, tagged deps-<hash>)")
    g = p.add_argument_group("the image's runtime settings (over [tool.depimage.app])")
    add_flags(g, RUNTIME_OPTIONS)
    p.add_argument("--network", metavar="MODE", help="network for RUN steps if the dependency image is built")
    _shared_tail(p, tag_prefix_help=f"of the dependency image's tag (default: {TAG_PREFIX})")
    p = sub.add_parser("diff", help="what differs between two dependency images or project revisions",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Compare what two dependency images install (from the record each carries), or\n"
                                   "two project folders (hashed as `hash` does), or one of each: packages added,\n"
                                   "removed and changed (old -> new version, or the same version with other files),\n"
                                   "options, and the base image's digest. Nothing is built.",
                       epilog="examples:\n"
                              "  depimage diff ghcr.io/acme/api:deps-0123abcd .\n"
                              "  depimage diff ../api-v1.3 ../api-v1.4 --no-dev --output json")
    p.add_argument("old", metavar="OLD", help="a project folder, or REGISTRY/NAME:TAG or @DIGEST")
    p.add_argument("new", metavar="NEW", help="likewise")
    _registry_options(p)
    p.add_argument("--output", choices=["text", "json"], default="text", help="default: text")
    _context_option(p)
    _image_options(p)
    p = sub.add_parser("store", help="list the package layers the layer store shares between repositories",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="List what the layer store holds: every package layer an ensure made in any\n"
                                   "repository of the registry, by what it holds (packages, Python, platform) and its\n"
                                   "size. An ensure in another repository mounts these instead of installing them.",
                       epilog="examples:\n"
                              "  depimage store --image ghcr.io/acme/api     (the store auto picks: ghcr.io/acme/depimage-layers)\n"
                              "  depimage store --image ghcr.io/acme/api --layer-store ghcr.io/acme/shared-layers --output json")
    p.add_argument("--image", required=True, metavar="REGISTRY/NAME", help="an image repository the store serves")
    _registry_options(p)
    p.add_argument("--output", choices=["text", "json"], default="text", help="default: text")
    return parser


def image_request(args: argparse.Namespace, env: dict[str, str] | None = None) -> ImageRequest:
    """The image options as given on the command line; the use case fills in the defaults. Secret values are
    looked up (env) only where something is built: `hash` needs their ids alone."""
    need = env is not None and args.command != "hash"
    return ImageRequest(image_options(from_cli(args, IMAGE_OPTIONS)),
                        secrets=tuple(secret_from_spec(s, env or {}, need_value=need, what="--secret") for s in args.secret))


def registry_access(args: argparse.Namespace, env: dict[str, str]) -> RegistryAccess:
    """Username from the option or $DEPIMAGE_REGISTRY_USERNAME; the password never from argv."""
    password = getattr(args, "registry_password", None) or env.get("DEPIMAGE_REGISTRY_PASSWORD", "")
    if args.registry_username and not password:
        raise InputError(f"--registry-username {args.registry_username!r} given without a password",
                         hint="give the password in $DEPIMAGE_REGISTRY_PASSWORD or on stdin with "
                              "--registry-password-stdin (never on the command line)")
    return RegistryAccess(args.registry_username or "", password, args.insecure_registry, docker_config_dir(env),
                          layer_store=args.layer_store)


def _context(args: argparse.Namespace) -> str | None:
    return str(args.context) if args.context else None


def cmd_recipe(args: argparse.Namespace, host: Host) -> int:
    from depimage.usecases.recipe import RecipeRequest, write_project_recipe

    done = write_project_recipe(RecipeRequest(args.project_dir, args.out, args.force, _context(args)))
    where = f"; the project is at {Path(args.out) / done.project_subdir}" if done.project_subdir else ""
    print(f"wrote {done.files} files to {args.out}{where}", file=sys.stderr)
    return 0


def cmd_hash(args: argparse.Namespace, host: Host) -> int:
    done = hash_project(HashRequest(args.project_dir, image_request(args), _context(args)), host)
    if args.json:
        print(json.dumps(done.report(args.tag_prefix), indent=2))
    else:
        print(done.hash.hex)
        print(done.hash.tag(args.tag_prefix))
    return 0


def cmd_ensure(args: argparse.Namespace, host: Host) -> int:
    from depimage.usecases.ensure import EnsureRequest, ensure_image

    request = EnsureRequest(args.project_dir, args.image, image_request(args, dict(host.env)),
                            registry_access(args, dict(host.env)), tag_prefix=args.tag_prefix, push=not args.no_push,
                            network=args.network, context=_context(args))
    result = ensure_image(request, host, on_line=_builder_line, on_status=_status)
    _report(args, result.as_dict(), ("image", "digest", "hash", "cache_hit", "built", "rebased", "path"))
    return 0


def _builder_line(line: str) -> None:
    say(f"  | {line}", sys.stderr)


def _status(message: str) -> None:
    say(f"depimage: {name_in(message, option_name)}", sys.stderr)


def option_name(field: str) -> str:
    """How the command line names an option in a message (errors.opt): `--build-arg`."""
    return OPTION_NAMES.get(field) or cli_name(field)


def _report(args: argparse.Namespace, result: dict, keys: tuple[str, ...]) -> None:
    """The result on stdout: all of it as JSON, or the keys named, one `name: value` a line."""
    if args.output == "json":
        print(json.dumps(result, indent=2))
        return
    for key in keys:
        value = result[key]
        print(f"{key.replace('_', '-')}: {str(value).lower() if isinstance(value, bool) else value}")


def cmd_plan(args: argparse.Namespace, host: Host) -> int:
    from depimage.usecases.plan import PlanRequest, plan_targets

    done = plan_targets(PlanRequest(args.project_dir, args.image, image_request(args, dict(host.env)),
                                    registry_access(args, dict(host.env)), tag_prefix=args.tag_prefix,
                                    check=not args.no_check, context=_context(args)), host)
    if args.output == "json":
        print(json.dumps(done.as_dict(), indent=2))
    else:
        from depimage.fingerprint.record import changes_from_dict

        for t in done.targets:
            state = "not checked" if t.present is None else "present" if t.present else "missing"
            print(f"{t.name:24} {t.image}:{t.tag}  {state}")
            for line in changes_from_dict(t.changes).lines() if t.changes else []:
                print(f"{'':24}   {line}")
    return 0


def runtime_options(args: argparse.Namespace) -> "Runtime":
    """The runtime settings given on the command line."""
    return runtime(from_cli(args, RUNTIME_OPTIONS))


def cmd_app(args: argparse.Namespace, host: Host) -> int:
    from depimage.usecases.app import AppRequest, app_image

    request = AppRequest(args.project_dir, args.image, args.tag, image_request(args, dict(host.env)),
                         registry_access(args, dict(host.env)),
                         deps_image=args.deps_image or "", deps_repository=args.deps_repository or "",
                         runtime=runtime_options(args), tag_prefix=args.tag_prefix, network=args.network,
                         context=_context(args))
    result = app_image(request, host, on_line=_builder_line, on_status=_status)
    _report(args, result.as_dict(), ("image", "digest", "deps_image", "uploaded"))
    return 0


# How a message names an option (errors.opt): the table's flag, else --field-with-dashes.
OPTION_NAMES = {"secrets": "--secret", **{o.field: o.cli for o in IMAGE_OPTIONS + RUNTIME_OPTIONS}}


def cmd_diff(args: argparse.Namespace, host: Host) -> int:
    from depimage.usecases.diff import DiffRequest, diff

    done = diff(DiffRequest(args.old, args.new, image_request(args), registry_access(args, dict(host.env)),
                            _context(args)), host)
    if args.output == "json":
        print(json.dumps(done.as_dict(), indent=2))
    else:
        print("\n".join(done.lines()) if done else "no difference in what gets installed")
    return 0


def cmd_store(args: argparse.Namespace, host: Host) -> int:
    from depimage.image.store import describe
    from depimage.usecases.store import list_store

    done = list_store(args.image, registry_access(args, dict(host.env)))
    if args.output == "json":
        print(json.dumps(done.as_dict(), indent=2))
        return 0
    print(f"{done.store}: {len(done.entries)} layer(s)")
    for entry in done.entries:
        print(describe(entry))
    return 0


COMMANDS = {"store": cmd_store, "diff": cmd_diff, "recipe": cmd_recipe, "hash": cmd_hash, "ensure": cmd_ensure, "plan": cmd_plan, "app": cmd_app}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "registry_password_stdin", False):  # read once, however many registries are asked
        args.registry_password = sys.stdin.readline().rstrip("\n")
    try:
        return COMMANDS[args.command](args, host_from(os.environ))
    except BrokenPipeError:  # `depimage hash --json | head`: the reader stopped; end as a tool killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except OSError as exc:  # the machine's refusal (a full disk, a folder it may not write): not a traceback
        return _failed(os_failure(exc))
    except DepimageError as exc:
        return _failed(exc)
    except KeyboardInterrupt:
        print(f"depimage: {INTERRUPTED}", file=sys.stderr, flush=True)
        return 130


def _failed(exc: DepimageError) -> int:
    exc.name_options(option_name)
    print(f"depimage: error: {exc}", file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
