"""The layered path of ensure: the dependency image assembled from the lock without a builder, when uv can
install every package from a wheel for the image's platform. One layer per heavy package, grouped layers for
the rest (image/layering.py), uv and the venv in layers of their own, all reproducible; layers an image of the
repository already records are reused by key, so only what changed is downloaded, installed, packed and
pushed. Several platforms give an index, on any host, with no emulator."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import tomllib
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, TypeVar

from depimage.errors import DepimageError, opt
from depimage.fingerprint.installed import Locked, locked_packages, stand_in_hashes
from depimage.fingerprint.pipeline import Fingerprint
from depimage.fingerprint.record import record_of
from depimage.image.base import BasePlatform, check_python, inspect_base
from depimage.image.bytecode import need_interpreter
from depimage.image.depsimage import DepLayer, Known, PlatformImage, Pushed, push_layered, recorded
from depimage.image.layer import Layer, build_layer
from depimage.image.layering import (BASE_ANNOTATION, HEAVY_BYTES, PlannedLayer, installed_for, layer_key,
                                     plan_layers)
from depimage.image.staging import NeedsBuilder, Target, install, only_packages
from depimage.image.sbom import Installed, attach_each, base_annotations
from depimage.image.store import Entry, LayerStore, store_name
from depimage.image.venv import uv_layer, venv_layer
from depimage.layout import APP_SITE, APP_SITE_LABEL, HASH_LABEL, LATEST, VENV, WORKDIR
from depimage.oci.client import Registry, RegistryUnavailable
from depimage.oci.reference import ImageName, parse_image_ref
from depimage.oci.write import Writer
from depimage.project.uv import clean_env
from depimage.sizes import human_size
from depimage.usecases.common import Host, ImageRequest, RegistryAccess

# What the generated Dockerfile sets, so the Dockerfile path (`FROM` it, `uv sync`) works the same on both.
IMAGE_ENV = {"UV_COMPILE_BYTECODE": "1", "UV_LINK_MODE": "copy", "UV_PYTHON_DOWNLOADS": "never",
             "UV_PROJECT_ENVIRONMENT": VENV, "VIRTUAL_ENV": VENV, "PATH": f"{VENV}/bin:$PATH"}
BASE_LAYERS_LABEL = "dev.depimage.base-layers"  # what each base layer says of Python and libc (image/base.py)
INSTALLS = 3  # uv installs at a time, per platform: downloads overlap the packing and pushing of layers done
T = TypeVar("T")


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
    base_name, base_ref = parse_image_ref(prepared.options.base_image, "base_image", default_tag="latest")
    return Registry(base_name, access.credentials_beside(base_name, image), insecure=access.insecure,
                    attempts=2), base_ref


def base_digest_now(prepared: Fingerprint, image: ImageName, access: RegistryAccess) -> str:
    """The digest the base tag names now, or "" when its registry cannot be reached (a local-only base)."""
    base, base_ref = base_registry(prepared, image, access)
    try:
        return base.manifest_digest(base_ref) or ""
    except RegistryUnavailable:
        return ""


@dataclass(frozen=True)
class Destination:
    """Where a dependency image goes, and with what: one miss's or rebase's context."""

    fingerprint: Fingerprint
    image: ImageName  # REGISTRY/NAME
    tag: str
    tag_prefix: str
    registry: Registry
    access: RegistryAccess
    request: ImageRequest  # the image options and the secrets
    host: Host
    on_status: Callable[[str], None]

    @property
    def ref(self) -> str:
        return self.image.ref(self.tag)


def ensure_layered(dest: Destination, reuse: tuple[str, ...] = ()) -> Pushed:
    """Assemble and push the dependency image for every platform; the tag last. Layers are reused from the
    newest image of the repository and from `reuse` (a rebase reuses the tag's own). NeedsBuilder (from
    staging) when uv finds it must build a package from source after all."""
    prepared, image, tag, tag_prefix, registry = dest.fingerprint, dest.image, dest.tag, dest.tag_prefix, dest.registry
    access, request_image, host, on_status = dest.access, dest.request, dest.host, dest.on_status
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
    based = base_annotations(base.image, base_ref, base_digest)  # the OCI image spec's: read by Scout, crane rebase
    labels = {HASH_LABEL: prepared.hash.hex, APP_SITE_LABEL: APP_SITE, **record_of(prepared, base_digest).labels(),
              **based}
    writer = Writer(registry, on_status)  # layers are pushed as they are made, the manifests at the end
    tally = _Made()
    store = _store(dest)
    with tempfile.TemporaryDirectory(prefix="depimage-layers-") as scratch:  # staged files and packed layers
        def platform_image(bp: BasePlatform) -> PlatformImage:
            facts = json.dumps(bp.layer_facts, sort_keys=True, separators=(",", ":"))
            work = Path(tempfile.mkdtemp(prefix="platform-", dir=scratch))
            image_env = {**IMAGE_ENV, "UV_COMPILE_BYTECODE": "0" if options.no_compile else "1"}
            return PlatformImage(bp, _layers(bp, prepared, locked, known, env, on_status, work, writer, store, tally),
                                 image_env, {**labels, BASE_LAYERS_LABEL: facts}, WORKDIR)

        with ThreadPoolExecutor(max_workers=len(bases)) as pool:  # one platform's download beside another's packing
            images = _all(pool, [lambda bp=bp: platform_image(bp) for bp in bases])
        pushed = push_layered(base, registry, tag, images, on_status, {BASE_ANNOTATION: base_digest, **based},
                              writer)
    listings = [[Installed(p.name, p.version, p.files, p.source)
                 for p in installed_for(locked, Target(bp.python_platform, bp.facts.python_version))] for bp in bases]
    if attach_each(registry, zip(pushed.manifests, listings), f"dependency image {tag}", on_status):
        on_status(f"attached an SBOM (CycloneDX) to {len(pushed.manifests)} manifest(s), as an OCI referrer")
    move_latest(registry, image, tag, tag_prefix, on_status)
    if store and tally.entries:
        recorded_count = store.record(tally.entries, registry)
        if recorded_count:
            on_status(f"recorded {recorded_count} layer(s) in the layer store {store.name}")
    pushed.downloaded, pushed.from_store = tally.downloaded, sorted(tally.from_store)
    return pushed


def _store(dest: Destination) -> LayerStore | None:
    """The layer store the request names (image/store.py), reached with the image's credentials; None when off."""
    name = store_name(dest.access.layer_store, dest.image)
    if name is None:
        dest.on_status(f"layer store: off ({opt('layer_store')} off); only this repository's layers are reused")
        return None
    return LayerStore(Registry(name, dest.access.credentials(dest.image), insecure=dest.access.insecure),
                      dest.on_status)


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


@dataclass
class _Made:
    """What the platforms' pipelines made and found, for the last line and the store."""

    downloaded: int = 0  # bytes of the wheels installed
    entries: list[Entry] = field(default_factory=list)  # layers made here: recorded in the store
    from_store: list[str] = field(default_factory=list)  # titles of layers the store had
    lock: threading.Lock = field(default_factory=threading.Lock)


def _layers(bp: BasePlatform, prepared: Fingerprint, locked: list[Locked], known: dict[str, Known],
            env: dict[str, str], on_status: Callable[[str], None], work: Path, writer: Writer,
            store: LayerStore | None, tally: _Made) -> list[DepLayer]:
    """uv, the venv, then the planned package layers: known ones by key, the rest installed, packed and pushed
    as a pipeline: each heavy package by a uv of its own (the small ones together), INSTALLS at a time, largest
    first, each layer packed and sent as soon as its packages are in, while the others still download. Staged
    and packed on disk in the folder `work`, each batch's staging removed once packed (memory stays flat however
    large the packages). Layers the store holds by key are mounted from it instead. tally: what was made, found and
    downloaded, added to."""
    plain = Target(bp.python_platform, bp.facts.python_version)
    check_python(prepared, bp)
    python, bytecode = (None, "") if prepared.options.no_compile else need_interpreter(plain.python_version, env)
    target = replace(plain, bytecode=bytecode)  # the package layers' keys name the interpreter that compiled them
    uv_version = prepared.options.uv_version
    plan = plan_layers(installed_for(locked, target), target)
    uv_key = layer_key("uv", uv_version, plain)
    venv_key = layer_key("venv", [bp.facts.python, uv_version], plain)
    titles = {uv_key: f"uv {uv_version}", venv_key: "the virtual environment",
              **{layer.key: layer.title for layer in plan}}
    stored = store.lookup([key for key in titles if key not in known]) if store else {}
    known = {**known, **{key: entry.known for key, entry in stored.items()}}
    needed = [layer for layer in plan if layer.key not in known]
    names = {p.name for layer in needed for p in layer.packages}
    compiled = f", bytecode compiled by {bytecode} ({python})" if python and names else ""
    prefix = f"{bp.platform}: "
    if stored:
        on_status(f"{prefix}{len(stored)} layer(s) from the layer store {store.name}: "  # type: ignore[union-attr]
                  + ", ".join(titles[key] for key in titles if key in stored))
    on_status(f"{prefix}{len(plan)} package layers, {len(plan) - len(needed)} already in the registry; "
              f"installing {len(names)} package(s) for {target.python_platform}, Python {target.python_version}"
              + compiled)

    def made_here(key: str, layer: Layer, packages: str, wheels: int = 0) -> None:
        """A layer this run made: counted, and an entry for the store."""
        with tally.lock:
            tally.downloaded += wheels
            tally.entries.append(Entry(key, Known(layer.digest, layer.size, layer.diff_id), titles[key],
                                       target.python_version, target.python_platform, packages))

    def done(key: str, layer: Layer, wheels: int, packages: str) -> None:
        came = f"{human_size(wheels)} of wheels, " if wheels else ""
        on_status(f"{prefix}packed {titles[key]} ({came}{human_size(layer.size)} packed)")
        made_here(key, layer, packages, wheels)
        pushes.append(pushing.submit(writer.push_layer, layer.blob, layer.digest, layer.size, titles[key], prefix))

    def mount(key: str) -> dict[str, Layer]:
        entry = stored[key]
        writer.have_blob(store.registry, entry.known.digest, entry.known.size)  # type: ignore[union-attr]
        with tally.lock:
            tally.from_store.append(titles[key])
        return {}

    def batch(layers: tuple[PlannedLayer, ...]) -> dict[str, Layer]:
        folder = Path(tempfile.mkdtemp(prefix="batch-", dir=work))
        wanted = {p.name for layer in layers for p in layer.packages}
        installed = {d.name: d for d in install(only_packages(prepared.installed.text, wanted), target, env, folder,
                                                python=python)}
        made = {}
        for layer in layers:
            got = [installed[p.name] for p in layer.packages if p.name in installed]
            files = {path: f for d in got for path, f in d.files.items()}
            made[layer.key] = build_layer(files, into=work / f"{layer.key}.tar.gz")
            done(layer.key, made[layer.key], sum(d.wheel_size for d in got),
                 " ".join(f"{p.name}=={p.version}" for p in layer.packages))
        shutil.rmtree(folder, ignore_errors=True)  # packed: the staged files are not needed any more
        return made

    def uv_job() -> dict[str, Layer]:  # uv from the default index only: no private index may stand in for it
        layer = uv_layer(uv_version, plain, {k: v for k, v in env.items() if k != "UV_INDEX"}, work)
        done(uv_key, layer, 0, f"uv=={uv_version}")
        return {uv_key: layer}

    heavy = [layer for layer in needed if sum(p.wheel_size for p in layer.packages) >= HEAVY_BYTES]
    light = tuple(layer for layer in needed if layer not in heavy)
    jobs: list[Callable[[], dict[str, Layer]]] = [lambda key=key: mount(key) for key in titles if key in stored]
    jobs += [lambda: batch(light)] if light else []
    if uv_key not in known:
        jobs.append(uv_job)
    jobs += [lambda layer=layer: batch((layer,)) for layer in heavy]  # the plan has them largest first
    made: dict[str, Layer] = {}
    pushes: list[Future] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="push") as pushing:
        with ThreadPoolExecutor(max_workers=INSTALLS, thread_name_prefix="install") as installs:
            for part in _all(installs, jobs):
                made.update(part)
        _all_done(pushes)
    if venv_key not in known:  # tiny, made in memory: pushed with the manifest, and recorded
        made[venv_key] = venv_layer(bp, uv_version)
        made_here(venv_key, made[venv_key], f"venv on {bp.facts.python}")
    out = []
    for key in [uv_key, venv_key] + [p.key for p in plan]:
        title = titles[key]
        if key in made:
            layer = made[key]
            out.append(DepLayer(key, title, Known(layer.digest, layer.size, layer.diff_id), layer))
        else:
            out.append(DepLayer(key, title, known[key]))
    return out


def _all(pool: ThreadPoolExecutor, jobs: list[Callable[[], T]]) -> list[T]:
    """Every job's result, in order; on the first failure the jobs not started are dropped and it is raised."""
    futures = [pool.submit(job) for job in jobs]
    try:
        _all_done(futures)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [future.result() for future in futures]


def _all_done(futures: list[Future]) -> None:
    """Wait for all; the first failure raised (the others finish or were cancelled)."""
    finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
    for future in finished:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    wait(futures)


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
