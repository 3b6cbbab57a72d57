"""ensure: the dependency image for this hash exists afterwards. One registry check; a build and push only
when it is missing. Runs for the same hash may overlap: a push that collides uses the image that landed, or
pushes again."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from depimage.build.buildx import local_image_id
from depimage.errors import DepimageError
from depimage.fingerprint.hashing import TAG_PREFIX
from depimage.fingerprint.pipeline import Fingerprint
from depimage.fingerprint.record import compare, record_of
from depimage.image.depsimage import image_facts
from depimage.image.layering import BASE_ANNOTATION
from depimage.image.staging import NeedsBuilder
from depimage.layout import LATEST
from depimage.oci.client import Registry
from depimage.oci.reference import ImageName, parse_image_name, without_tag
from depimage.sizes import human_size
from depimage.usecases.builder import build_image
from depimage.usecases.common import Host, ImageRequest, RegistryAccess
from depimage.usecases.hash import HashRequest, hash_project
from depimage.usecases.layered import Destination, base_digest_now, ensure_layered, move_latest, route
from depimage.usecases.records import latest_record, record_at


@dataclass(frozen=True)
class EnsureRequest:
    project_dir: str
    image_name: str  # REGISTRY/NAME, without a tag
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    tag_prefix: str = TAG_PREFIX
    push: bool = True
    network: str | None = None  # of RUN steps in the build; default: the host's build_network
    context: str | None = None


@dataclass(frozen=True)
class EnsureResult:
    """What the caller needs next: the reference to build FROM, and what happened."""

    image: str
    tag: str
    digest: str
    hash: str
    cache_hit: bool
    built: bool
    seconds: float
    path: str = ""  # layers or docker: how the image was made ("" on a cache hit)
    uploaded: int | None = 0  # bytes this run sent to the registry; None where the builder pushed (not counted)
    rebased: bool = False  # the tag's image was put on the base tag's new digest, no package reinstalled
    changes: dict | None = None  # what moved since the newest image of the repository (a miss, or a rebase)
    from_store: list[str] = field(default_factory=list)  # layers mounted from the layer store, not made here

    def as_dict(self) -> dict:
        return asdict(self)

    def outputs(self) -> dict[str, str]:
        """The action's outputs."""
        return {"image": self.image, "name": without_tag(self.image), "tag": self.tag, "digest": self.digest,
                "hash": self.hash,
                "cache-hit": str(self.cache_hit).lower(), "built": str(self.built).lower(), "path": self.path,
                "rebased": str(self.rebased).lower(), "changes": json.dumps(self.changes) if self.changes else ""}


def ensure_image(request: EnsureRequest, host: Host, on_line: Callable[[str], None] = lambda line: None,
                 on_status: Callable[[str], None] = lambda msg: None) -> EnsureResult:
    """The dependency image for this project exists afterwards: one registry check, a build on a miss."""
    prepared = hash_project(HashRequest(request.project_dir, request.image, request.context), host)
    return ensure_fingerprint(request, prepared, host, on_line, on_status)


def ensure_fingerprint(request: EnsureRequest, prepared: Fingerprint, host: Host,
                       on_line: Callable[[str], None] = lambda line: None,
                       on_status: Callable[[str], None] = lambda msg: None) -> EnsureResult:
    """Check, and build only on a miss: a hit (or a rebase onto the base's new digest), else the layered path,
    else the builder. With push=False the local engine stands in for the registry."""
    started = time.monotonic()
    image = parse_image_name(request.image_name)
    tag = prepared.hash.tag(request.tag_prefix)
    registry = Registry(image, request.registry.credentials(image), insecure=request.registry.insecure) \
        if request.push else None
    on_status(f"dependency hash {prepared.hash.hex[:24]}")

    def result(digest: str, **fields) -> EnsureResult:
        return EnsureResult(image.ref(tag), tag, digest, prepared.hash.hex, seconds=time.monotonic() - started,
                            **fields)

    found = registry.manifest_digest(tag) if registry else local_image_id(image.ref(tag))
    if not found:
        return _miss(request, prepared, host, image, tag, registry, on_line, on_status, result)
    dest = Destination(prepared, image, tag, request.tag_prefix, registry, request.registry, request.image, host,
                       on_status) if registry else None
    moved = _base_moved_under(dest) if dest and prepared.options.base_digest == "follow" else None
    if moved and moved[2]:
        return _rebase(dest, moved, result)
    if moved:
        on_status(f"the base image {prepared.options.base_image} moved ({moved[0][:19]} -> {moved[1][:19]}) "
                  "under an image of the builder path: rebuilding it with the builder")
        return _miss(request, prepared, host, image, tag, registry, on_line, on_status, result, rebuild=True)
    on_status(f"{image.ref(tag)} exists: cache hit, nothing to build")
    return result(found, cache_hit=True, built=False)


def _base_moved_under(dest: Destination) -> tuple[str, str, bool] | None:
    """Whether the base tag moved under the image at dest; a record that cannot be read does not undo a hit."""
    try:
        return _base_moved(dest.registry, dest.tag, dest.fingerprint, dest.image, dest.access)
    except DepimageError as exc:
        dest.on_status(f"could not check the base image of {dest.ref} ({exc.message}); keeping it as it is")
        return None


def _rebase(dest: Destination, moved: tuple[str, str, bool], result: Callable[..., EnsureResult]) -> EnsureResult:
    """The dependency layers onto the base's new digest, under the same tag."""
    dest.on_status(f"the base image {dest.fingerprint.options.base_image} moved ({moved[0][:19]} -> "
                   f"{moved[1][:19]}): rebasing, the dependency layers on the new base")
    pushed = ensure_layered(dest, reuse=(dest.tag,))
    if pushed.layers_pushed:
        dest.on_status(f"the new base has another Python or C library: {len(pushed.layers_pushed)} dependency "
                       "layer(s) made again for it")
    dest.on_status(f"rebased {dest.ref}: {len(pushed.layers_pushed)} dependency layer(s) pushed, "
                   f"{human_size(pushed.uploaded)} sent")
    return result(pushed.digest, cache_hit=False, built=bool(pushed.layers_pushed), path="layers",
                  uploaded=pushed.uploaded, rebased=not pushed.layers_pushed,
                  changes={"base": {"old": moved[0], "new": moved[1]}})


def _miss(request: EnsureRequest, prepared: Fingerprint, host: Host, image: ImageName, tag: str,
          registry: Registry | None, on_line: Callable[[str], None], on_status: Callable[[str], None],
          result: Callable[..., EnsureResult], rebuild: bool = False) -> EnsureResult:
    """Say what changed (not for a rebuild under a moved base), then the layered path where it can serve, else
    the builder."""
    changes = _changes_since_latest(registry, image, request.tag_prefix, prepared, request.registry, on_status) \
        if registry and not rebuild else None
    chosen = route(prepared, request.push)
    on_status(chosen.reason)
    if chosen.layered and registry:
        try:
            pushed = ensure_layered(Destination(prepared, image, tag, request.tag_prefix, registry, request.registry,
                                                request.image, host, on_status))
            done = result(pushed.digest, cache_hit=False, built=True, path="layers", uploaded=pushed.uploaded,
                          changes=changes, from_store=pushed.from_store)
            wheels = f"installed from {human_size(pushed.downloaded)} of wheels, " if pushed.downloaded else ""
            stored = f"{len(pushed.from_store)} from the layer store, " if pushed.from_store else ""
            on_status(f"pushed {image.ref(tag)}: {len(pushed.layers_pushed)} new dependency layer(s), {stored}"
                      f"{wheels}{human_size(pushed.uploaded)} sent, in {done.seconds:.1f} s")
            return done
        except NeedsBuilder as exc:
            on_status(f"builder path after all: {exc.message.splitlines()[0]}")
    built = build_image(prepared, image, tag, registry, request.image, request.registry, host, request.network,
                        on_line, on_status)
    if built.collided:
        return result(built.digest, cache_hit=True, built=False, path="docker", uploaded=None)
    if registry:
        move_latest(registry, image, tag, request.tag_prefix, on_status)
    return result(built.digest, cache_hit=False, built=True, path="docker", uploaded=None, changes=changes)


def _base_moved(registry: Registry, tag: str, prepared: Fingerprint, image: ImageName,
                access: RegistryAccess) -> tuple[str, str, bool] | None:
    """(recorded digest, digest now, made by the layered path) when the base tag names another digest than the
    image was made on; None when it does not, or either is not known (no record, a local-only base)."""
    annotations, _ = image_facts(registry, tag, labels=False)
    recorded = annotations.get(BASE_ANNOTATION, "")
    if BASE_ANNOTATION not in annotations:  # an image of the builder path: its record is in the config
        record = record_at(registry, tag)
        recorded = record.inputs.get("base-digest", "") if record else ""
    if not recorded:
        return None
    now = base_digest_now(prepared, image, access)
    if not now or now == recorded:
        return None
    return recorded, now, BASE_ANNOTATION in annotations


def _changes_since_latest(registry: Registry, image: ImageName, tag_prefix: str, prepared: Fingerprint,
                          access: RegistryAccess, on_status: Callable[[str], None]) -> dict | None:
    """What moved since the newest image of the repository, said a line each; None when there is none to
    compare with (the first image, or one made before records)."""
    latest = tag_prefix + LATEST
    old = latest_record(registry, tag_prefix)
    if old is None:
        return None
    new = record_of(prepared, base_digest_now(prepared, image, access) if old.inputs.get("base-digest") else "")
    changes = compare(old, new)
    if not changes:
        on_status(f"nothing that gets installed differs from {image.ref(latest)}")
        return None
    on_status(f"what changed since {image.ref(latest)}:")
    for line in changes.lines():
        on_status(f"  {line}")
    return changes.as_dict()
