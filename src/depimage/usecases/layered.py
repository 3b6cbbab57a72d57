"""The layered path of ensure: the dependency image assembled from the lock without a builder, when uv can
install every package from a wheel for the image's platform. One layer per heavy package, grouped layers for
the rest (image/layering.py), uv and the venv in layers of their own, all reproducible; layers an image of the
repository already records are reused by key, so only what changed is downloaded, installed, packed and
pushed. Several platforms give an index, on any host, with no emulator."""

from __future__ import annotations

import json
import os
import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from depimage.errors import DepimageError, InputError, opt
from depimage.fingerprint.installed import stand_in_hashes
from depimage.fingerprint.pipeline import Fingerprint
from depimage.fingerprint.record import record_of
from depimage.image.base import BasePlatform, inspect_base
from depimage.image.layer import Layer, build_layer
from depimage.image.layering import (
    BASE_ANNOTATION,
    Locked,
    installed_for,
    layer_key,
    locked_packages,
    plan_layers,
)
from depimage.image.layout import APP_SITE, APP_SITE_LABEL, APP_SITE_PTH, HASH_LABEL, LATEST, VENV, WORKDIR
from depimage.image.staging import Distribution, NeedsBuilder, Target, install, only_packages
from depimage.oci.client import Registry, RegistryUnavailable
from depimage.oci.layered import DepLayer, Known, PlatformImage, Pushed, push_layered, recorded
from depimage.oci.reference import ImageName, parse_image_name
from depimage.project.uv import clean_env
from depimage.usecases.common import Host, ImageRequest, RegistryAccess

# What the generated Dockerfile sets, so the Dockerfile path (`FROM` it, `uv sync`) works the same on both.
IMAGE_ENV = {"UV_COMPILE_BYTECODE": "1", "UV_LINK_MODE": "copy", "UV_PYTHON_DOWNLOADS": "never",
             "UV_PROJECT_ENVIRONMENT": VENV, "VIRTUAL_ENV": VENV, "PATH": f"{VENV}/bin:$PATH"}
BASE_LAYERS_LABEL = "dev.depimage.base-layers"  # what each base layer says of Python and libc (image/base.py)


@dataclass(frozen=True)
class Route:
    layered: bool
    reason: str  # the one line that says which path and why


def route(prepared: Fingerprint, push: bool) -> Route:
    """Which path, decided from the inputs alone: the builder when asked for, without a registry, or when the
    lock itself shows a package uv cannot install from a wheel."""
    options = prepared.options
    if options.builder == "docker":
        return Route(False, f"builder path: {opt('builder')} docker")
    if not push:
        return Route(False, "builder path: the image goes to the local engine, not a registry to assemble it on")
    if stand_in_hashes(prepared.project.lock.text) is not None:
        return Route(False, "builder path: uv.lock has files without a hash, and the layered path installs only "
                            "files it can check")
    sdist_only = [p.name for p in locked_packages(prepared.installed.data) if not p.has_wheel]
    if sdist_only:
        return Route(False, f"builder path: no wheel for {', '.join(sorted(sdist_only))} in uv.lock (built from "
                            "source in the image)")
    return Route(True, "layered path: every package from a wheel, assembled on the registry without a builder")


def base_registry(prepared: Fingerprint, image: ImageName, access: RegistryAccess) -> tuple[Registry, str]:
    """The base image's registry client (the target's credentials on the same host, else docker login's) and
    its reference."""
    base_name, base_ref = _base_reference(prepared.options.base_image)
    return Registry(base_name, access.credentials_beside(base_name, image), insecure=access.insecure,
                    attempts=2), base_ref


def base_digest_now(prepared: Fingerprint, image: ImageName, access: RegistryAccess) -> str:
    """The digest the base tag names now, or "" when its registry cannot be reached (a local-only base)."""
    base, base_ref = base_registry(prepared, image, access)
    try:
        return base.manifest_digest(base_ref) or ""
    except RegistryUnavailable:
        return ""


def ensure_layered(prepared: Fingerprint, image: ImageName, tag: str, tag_prefix: str, registry: Registry,
                   access: RegistryAccess, request_image: ImageRequest, host: Host,
                   on_status: Callable[[str], None], reuse: tuple[str, ...] = ()) -> Pushed:
    """Assemble and push the dependency image for every platform; the tag last. Layers are reused from the
    newest image of the repository and from `reuse` (a rebase reuses the tag's own). NeedsBuilder (from
    staging) when uv finds it must build a package from source after all."""
    options = prepared.options
    base, base_ref = base_registry(prepared, image, access)
    known, earlier = recorded(registry, (tag_prefix + LATEST, *reuse))
    known = {key: k for key, k in known.items() if registry.has_blob(k.digest)}
    base_layers: dict[str, dict] = {}  # what those images recorded of their base's layers
    for labels in earlier:
        try:
            base_layers.update(json.loads(labels.get(BASE_LAYERS_LABEL, "{}")))
        except ValueError:
            pass
    try:
        base_digest, bases = inspect_base(base, base_ref, options.platforms, host.cache_dir, on_status, base_layers)
    except RegistryUnavailable as exc:  # e.g. a base only in the local engine, or a registry out of reach
        raise NeedsBuilder(f"the base image's registry cannot be reached ({exc.message}); the builder pulls "
                           "it as the engine is set up to") from exc
    locked = locked_packages(prepared.installed.data)
    env = _uv_env(prepared, request_image, host)
    labels = {HASH_LABEL: prepared.hash.hex, APP_SITE_LABEL: APP_SITE, **record_of(prepared, base_digest).labels()}
    def platform_image(bp: BasePlatform) -> PlatformImage:
        facts = json.dumps(bp.layer_facts, sort_keys=True, separators=(",", ":"))
        return PlatformImage(bp, _layers(bp, prepared, locked, known, env, on_status), IMAGE_ENV,
                             {**labels, BASE_LAYERS_LABEL: facts}, WORKDIR)

    with ThreadPoolExecutor(max_workers=len(bases)) as pool:  # one platform's download beside another's packing
        images = list(pool.map(platform_image, bases))
    pushed = push_layered(base, registry, tag, images, on_status, {BASE_ANNOTATION: base_digest})
    move_latest(registry, image, tag, tag_prefix, on_status)
    return pushed


def move_latest(registry: Registry, image: ImageName, tag: str, tag_prefix: str,
                on_status: Callable[[str], None]) -> None:
    """<prefix>latest onto the image just pushed: the next miss compares with it and reuses its layers. The tag
    itself is what counts, so a failure here is said and not fatal."""
    try:
        body, media_type, _ = registry.get_manifest(tag)
        registry.put_manifest(tag_prefix + LATEST, body, media_type)
    except DepimageError as exc:
        on_status(f"could not move {image.ref(tag_prefix + LATEST)} ({exc.message}); the next miss cannot say "
                  "what changed, and installs every package again")


def _layers(bp: BasePlatform, prepared: Fingerprint, locked: list[Locked], known: dict[str, Known],
            env: dict[str, str], on_status: Callable[[str], None]) -> list[DepLayer]:
    """uv, the venv, then the planned package layers: known ones by key, the rest installed and packed."""
    target = Target(bp.python_platform, bp.facts.python_version)
    _check_python(prepared, bp)
    uv_version = prepared.options.uv_version
    plan = plan_layers(installed_for(locked, target), target)
    needed = [layer for layer in plan if layer.key not in known]
    uv_key = layer_key("uv", uv_version, target)
    names = {p.name for layer in needed for p in layer.packages}
    on_status(f"{bp.platform}: {len(plan)} package layers, {len(plan) - len(needed)} already in the registry; "
              f"installing {len(names)} package(s) for {target.python_platform}, Python {target.python_version}")
    installed: dict[str, Distribution] = {}
    if names:
        installed = {d.name: d for d in install(only_packages(prepared.installed.text, names), target, env)}
    work: list[tuple[str, Callable[[], Layer]]] = []
    if uv_key not in known:  # uv from the default index only: no private index may stand in for it
        uv_env = {k: v for k, v in env.items() if k != "UV_INDEX"}
        work.append((uv_key, lambda: _uv_layer(uv_version, target, uv_env)))
    for layer in needed:
        files = {path: f for p in layer.packages if p.name in installed for path, f in installed[p.name].files.items()}
        work.append((layer.key, lambda files=files: build_layer(files)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # zlib packs outside the GIL
        made = dict(zip((key for key, _ in work), pool.map(lambda w: w[1](), work)))
    venv = _venv_layer(bp, uv_version)
    order = [(uv_key, f"uv {uv_version}"), ("", "the virtual environment")] + [(p.key, p.title) for p in plan]
    out = []
    for key, title in order:
        if not key:
            out.append(DepLayer(layer_key("venv", [bp.facts.python, uv_version], target), title,
                                Known(venv.digest, venv.size, venv.diff_id), venv))
        elif key in made:
            layer = made[key]
            out.append(DepLayer(key, title, Known(layer.digest, layer.size, layer.diff_id), layer))
        else:
            out.append(DepLayer(key, title, known[key]))
    return out


def _check_python(prepared: Fingerprint, bp: BasePlatform) -> None:
    """The base's Python against .python-version and the lock's requires-python, as the builder's `uv sync`
    checks them, before anything is downloaded (X.Y bounds: the base's patch version is not read)."""
    spec = prepared.installed.data.get("requires-python", "")
    have = tuple(int(x) for x in bp.facts.python_version.split("."))
    where = f"{bp.facts.python_version} ({bp.facts.python}, {bp.platform})"
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        found = re.match(r"^(>=|<=|>|<|==|~=)\s*(\d+)\.(\d+)", clause)
        if not found:
            continue
        op, bound = found[1], (int(found[2]), int(found[3]))
        ok = {">=": have >= bound, "~=": have >= bound, ">": have > bound or clause.count(".") > 1,
              "<=": have <= bound, "<": have < bound, "==": have == bound}[op]
        if not ok:
            raise InputError(f"the base image's Python {where} is not one the project allows: requires-python {spec}",
                             file=prepared.project.lock.path,
                             hint=f"name a base image with a Python the project allows with {opt('base_image')}, "
                                  f"e.g. python:{'.'.join(map(str, bound))}-slim")
    pinned = prepared.project.extra_files.get(prepared.project.at_root(".python-version"), b"").decode()
    request = pinned.splitlines()[0] if pinned else ""
    wanted = python_request(request)
    if wanted is not None and not _matches(wanted, have):
        raise InputError(f"the base image's Python {where} is not the {request!r} that .python-version asks for; "
                         "`uv sync` in that image finds no interpreter for it", file=prepared.project.root /
                         ".python-version", line=1,
                         hint=f"name a base image with Python {request} with {opt('base_image')} (the default base "
                              "follows .python-version), or change .python-version")


def python_request(request: str) -> tuple[int, ...] | str | None:
    """What a .python-version line asks of a CPython: (X,) or (X, Y), "other" for another implementation, or
    None where it asks nothing depimage can judge (a range, a path, an unknown form)."""
    text = request.strip().lower()
    implementation = re.match(r"^(cpython|cp|python|pypy|pp|graalpy|gp)[@-]?(?=\d|$)", text)
    if implementation:
        if implementation[1] not in ("cpython", "cp", "python"):
            return "other"
        text = text[implementation.end():]
    found = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)?(?:[a-z]+\d*)?", text)
    if not found:
        return None
    return (int(found[1]),) if found[2] is None else (int(found[1]), int(found[2]))


def _matches(wanted: tuple[int, ...] | str, have: tuple[int, ...]) -> bool:
    return wanted != "other" and have[:len(wanted)] == wanted


def _venv_layer(bp: BasePlatform, uv_version: str) -> Layer:
    """/opt/venv on the base's interpreter, with the .pth that puts `depimage app`'s layer on sys.path."""
    python, version = bp.facts.python, bp.facts.python_version
    venv = VENV.lstrip("/")
    cfg = (f"home = {os.path.dirname(python)}\nimplementation = CPython\nuv = {uv_version}\n"
           "include-system-site-packages = false\n")
    site = f"{venv}/lib/python{version}/site-packages"
    return build_layer({f"{venv}/pyvenv.cfg": (cfg.encode(), False),
                        f"{site}/{APP_SITE_PTH}": (f"{APP_SITE}\n".encode(), False)},
                       symlinks={f"{venv}/bin/python": python, f"{venv}/bin/python3": "python",
                                 f"{venv}/bin/python{version}": "python", f"{venv}/lib64": "lib"},
                       folders=(WORKDIR.lstrip("/"),))


def _uv_layer(uv_version: str, target: Target, env: dict[str, str]) -> Layer:
    """uv and uvx in /usr/local/bin, from the uv wheel for the image's platform, as the builder path copies them."""
    dist = install("", target, env, extra_args=(f"uv=={uv_version}",))
    binaries = {path.rsplit("/", 1)[1]: content for d in dist for path, (content, _) in d.files.items()
                if path.startswith(f"{VENV.lstrip('/')}/bin/")}
    missing = {"uv", "uvx"} - set(binaries)
    if missing:
        raise DepimageError(f"the uv {uv_version} wheel for {target.python_platform} has no {', '.join(missing)}")
    return build_layer({f"usr/local/bin/{name}": (binaries[name], True) for name in ("uv", "uvx")})


def _base_reference(base_image: str) -> tuple[ImageName, str]:
    """REGISTRY/NAME[:TAG|@DIGEST] of the base, a missing tag read as latest, as docker reads it."""
    if "@" in base_image:
        name, _, reference = base_image.partition("@")
    else:
        slash, colon = base_image.rfind("/"), base_image.rfind(":")
        name, reference = (base_image[:colon], base_image[colon + 1:]) if colon > slash else (base_image, "latest")
    return parse_image_name(name, "base_image"), reference


def _uv_env(prepared: Fingerprint, request_image: ImageRequest, host: Host) -> dict[str, str]:
    """What uv installs with: the host's environment without the user's uv settings (as the builder path), the
    network on, the build args and the secrets as the variables they name, and the project's named indexes,
    so that their credentials (UV_INDEX_<NAME>_PASSWORD) reach the files they serve."""
    env = clean_env(host.env, dict(prepared.options.build_args))
    env.pop("UV_OFFLINE", None)
    env.update({s.id: s.value for s in request_image.secrets})
    indexes = []
    for settings in (prepared.project.pyprojects[0].data.get("tool", {}).get("uv", {}), _uv_toml(prepared)):
        for entry in settings.get("index", []) or []:
            if isinstance(entry, dict) and entry.get("name") and entry.get("url"):
                indexes.append(f"{entry['name']}={entry['url']}")
    if indexes:
        env["UV_INDEX"] = " ".join(indexes)
    return env


def _uv_toml(prepared: Fingerprint) -> dict:
    text = prepared.project.extra_files.get(prepared.project.at_root("uv.toml"))
    return tomllib.loads(text.decode()) if text else {}
