"""The use cases behind both doors, the command line (cli.py) and the GitHub Action (action.py): each door
turns what the user gave into one of these typed requests, and neither writes a command line for the other.

    hash_project(HashRequest)      -> Prepared       the dependency-only hash of a project
    ensure_image(EnsureRequest)    -> EnsureResult   the dependency image exists afterwards
    plan_targets(PlanRequest)      -> list[Target]   a repository's targets, hashed and checked
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .errors import InputError
from .hashing import TAG_PREFIX
from .options import ImageOptions, default_base_image, installed_uv_version
from .prepare import Prepared, prepare
from .project import read_project

if TYPE_CHECKING:
    from .ensure import EnsureResult
    from .plan import Target
    from .registry import Credentials, ImageName
    from .runtime import Runtime

@dataclass(frozen=True)
class ImageRequest:
    """What the user chose about the image. Empty base_image and uv_version get the documented defaults."""

    base_image: str = ""
    uv_version: str = ""
    uv_image: str = ""
    no_dev: bool = False
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    all_groups: bool = False
    no_default_groups: bool = False
    package: str | None = None
    platforms: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()  # ID[=ENV_OR_FILE] or buildx's id=..,env=..: where a value is, never the value


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach the registry. Without a username, what `docker login` stored is used."""

    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False


@dataclass(frozen=True)
class HashRequest:
    project_dir: str
    image: ImageRequest = ImageRequest()
    context: str | None = None


@dataclass(frozen=True)
class EnsureRequest:
    project_dir: str
    image_name: str  # REGISTRY/NAME, without a tag
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    tag_prefix: str = TAG_PREFIX
    push: bool = True
    network: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class PlanRequest:
    repo_dir: str
    image_template: str | None = None
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    tag_prefix: str = TAG_PREFIX
    check: bool = True
    context: str | None = None


def image_options(request: ImageRequest, project_root: Path, requires_python: str | None) -> ImageOptions:
    """ImageOptions with the documented defaults filled in."""
    return ImageOptions(
        base_image=request.base_image or default_base_image(project_root, requires_python),
        uv_version=request.uv_version or installed_uv_version(), uv_image=request.uv_image,
        no_dev=request.no_dev, groups=request.groups, extras=request.extras, all_extras=request.all_extras,
        all_groups=request.all_groups, no_default_groups=request.no_default_groups, package=request.package or None,
        platforms=request.platforms, build_args=request.build_args,
        secret_ids=tuple(secret_id(s) for s in request.secrets))


def hash_project(request: HashRequest) -> Prepared:
    """Read the project, reduce it to its recipe, ask uv what gets installed, and hash."""
    project = read_project(request.project_dir, request.context)
    requires_python = project.pyprojects[0].data.get("project", {}).get("requires-python")
    options = image_options(request.image, project.root, requires_python)
    return prepare(request.project_dir, options, project=project)


def ensure_image(request: EnsureRequest, on_line: Callable[[str], None] = lambda line: None,
                 on_status: Callable[[str], None] = lambda msg: None) -> "EnsureResult":
    """The dependency image for this project exists afterwards: one registry check, a build on a miss.
    The registry client (requests) loads only here and in plan: `hash` and `recipe` never need it."""
    prepared = hash_project(HashRequest(request.project_dir, request.image, request.context))
    return _ensure(request, prepared, on_line, on_status)


def _ensure(request: EnsureRequest, prepared: Prepared, on_line: Callable[[str], None],
            on_status: Callable[[str], None]) -> "EnsureResult":
    from .ensure import ensure
    from .registry import parse_image_name

    image = parse_image_name(request.image_name)
    secrets = tuple(parse_secret(s)[1] for s in request.image.secrets)
    creds = credentials(request.registry, image)
    on_status(f"dependency hash {prepared.hash.hex[:24]}")
    network = request.network or os.environ.get("DEPIMAGE_BUILD_NETWORK") or None
    return ensure(prepared, image, tag_prefix=request.tag_prefix, push=request.push, credentials=creds,
                  insecure=request.registry.insecure, secrets=secrets, network=network,
                  on_line=on_line, on_status=on_status)


def plan_targets(request: PlanRequest) -> list["Target"]:
    """Every target of the repository with its hash, and (with check) whether the registry has it."""
    from .plan import plan

    base = image_options(request.image, Path(request.repo_dir), None)
    if not request.image.base_image:  # the default depends on each project: plan.targets_of fills it in
        base = dataclasses.replace(base, base_image="")
    cache: dict = {}

    def credentials_for(image: "ImageName") -> "Credentials | None":
        if image.host not in cache:
            cache[image.host] = credentials(request.registry, image)
        return cache[image.host]

    return plan(request.repo_dir, base, image_template=request.image_template, tag_prefix=request.tag_prefix,
                check=request.check, credentials_for=credentials_for, insecure=request.registry.insecure,
                context=request.context)


def credentials(access: RegistryAccess, image: "ImageName") -> "Credentials | None":
    """Explicit credentials, else what `docker login` stored for the registry."""
    from .registry import Credentials, docker_config_credentials

    if access.username:
        if not access.password:
            raise InputError(f"registry username {access.username!r} given without a password",
                             hint="give the password too (never on the command line: $DEPIMAGE_REGISTRY_PASSWORD "
                                  "or --registry-password-stdin; in the action, registry-password)")
        return Credentials(access.username, access.password)
    if access.password:
        raise InputError("a registry password was given without a registry username")
    return docker_config_credentials(image)


def secret_id(spec: str) -> str:
    """The id of a secret spec: all the hash needs, so `hash` works without the secret's value."""
    if spec.startswith("id="):
        return spec.split(",")[0][3:]
    return spec.partition("=")[0]


def parse_secret(spec: str) -> tuple[str, str]:
    """ID[=ENV_OR_FILE] or buildx's id=ID,env=VAR / id=ID,src=FILE -> (id, buildx --secret value)."""
    if spec.startswith("id="):
        fields = dict(part.partition("=")[::2] for part in spec.split(","))
        sid = fields.get("id", "")
        if "env" in fields:
            return sid, f"id={sid},env={fields['env']}"
        if "src" in fields or "source" in fields:
            return sid, f"id={sid},src={fields.get('src') or fields['source']}"
        return sid, f"id={sid},env={sid}"
    sid, _, source = spec.partition("=")
    source = source or sid
    if os.environ.get(source) is not None:
        return sid, f"id={sid},env={source}"
    if Path(source).is_file():
        return sid, f"id={sid},src={source}"
    raise InputError(f"secret {sid!r}: no environment variable or file named {source!r}",
                     hint="set the variable (e.g. from your CI's secret store) or name a file that holds the value")


@dataclass(frozen=True)
class AppRequest:
    """The application image: the dependency image (ensured from `image`, or `deps_image` as given) plus one
    layer with the project, assembled on the registry."""

    project_dir: str
    image_name: str  # REGISTRY/NAME of the application image
    tag: str
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    deps_image: str = ""  # REGISTRY/NAME:TAG or @DIGEST: used as it is, nothing ensured
    deps_repository: str = ""  # where to ensure the dependency image; default: image_name itself
    runtime: "Runtime | None" = None  # on top of [tool.depimage.app]
    tag_prefix: str = TAG_PREFIX
    network: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class AppResult:
    image: str  # REGISTRY/NAME:TAG
    digest: str  # of the manifest (or index): same inputs, same digest
    deps_image: str  # the dependency image it stands on, by digest
    platforms: list[str]
    layer_size: int  # compressed bytes of the application layer
    uploaded: int  # bytes this run sent to the registry: 0 when it had everything
    installed: list[str]  # the project's own packages in the layer, name==version

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def app_image(request: AppRequest, on_line: Callable[[str], None] = lambda line: None,
              on_status: Callable[[str], None] = lambda msg: None) -> AppResult:
    """Ensure (or take) the dependency image, build the project's layer, assemble the image on the registry.
    The builder is needed only when the dependency image is missing."""
    from .appfiles import collect
    from .assemble import Assembly, assemble
    from .ensure import source_labels
    from .layer import build_layer
    from .registry import Registry, parse_image_name, parse_image_ref
    from .runtime import Runtime, from_pyproject

    app = parse_image_name(request.image_name)
    if not request.tag or "/" in request.tag or ":" in request.tag or "@" in request.tag:
        raise InputError(f"tag {request.tag!r} is not a tag", hint="give --tag TAG, e.g. --tag 1.4.0 or the commit")
    prepared = hash_project(HashRequest(request.project_dir, request.image, request.context))
    project = prepared.project
    runtime = from_pyproject(project.pyprojects[0]).merged(request.runtime or Runtime())
    if request.deps_image:
        deps, reference = parse_image_ref(request.deps_image)
    else:
        ensured = _ensure(EnsureRequest(request.project_dir, request.deps_repository or request.image_name,
                                        request.image, request.registry, request.tag_prefix,
                                        network=request.network, context=request.context),
                          prepared, on_line, on_status)
        deps, reference = parse_image_name(request.deps_repository or request.image_name), ensured.digest
    files = collect(project, prepared.options, list(runtime.include), on_status)
    layer = build_layer(files.files)
    source = source_labels(project.root, dict(os.environ))
    deps_ref = f"{deps.name}@{reference}" if reference.startswith("sha256:") else deps.ref(reference)
    labels = {"org.opencontainers.image.source": source["DEPIMAGE_SOURCE"],
              "org.opencontainers.image.revision": source["DEPIMAGE_REVISION"], "dev.depimage.deps-image": deps_ref}
    labels = {k: v for k, v in labels.items() if v}
    what = Assembly(layer, runtime, files.scripts[:1] if len(files.scripts) == 1 else None, labels,
                    f"depimage app: {' '.join(files.installed) or 'the project files'}")
    on_status(f"assembling {app.ref(request.tag)} on the registry: {len(files.files)} files in a "
              f"{layer.size / 1e3:.1f} kB layer over {deps_ref}")
    app_creds = credentials(request.registry, app)
    deps_creds = app_creds if deps.host == app.host else credentials(RegistryAccess(), deps)
    insecure = request.registry.insecure
    done = assemble(Registry(deps, deps_creds, insecure=insecure), reference, Registry(app, app_creds, insecure=insecure),
                    request.tag, what, on_status)
    return AppResult(image=app.ref(request.tag), digest=done.digest, deps_image=deps_ref, platforms=done.platforms,
                     layer_size=layer.size, uploaded=done.uploaded, installed=files.installed)
