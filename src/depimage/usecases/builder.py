"""The builder path of ensure: docker buildx builds the generated Dockerfile and pushes (or loads) the image. On a
registry depimage then finishes it as it finishes its own: the base annotations on every manifest (OCI types, the
tag put again), and an SBOM per platform listing what the image's own Python finds installed."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable

from packaging.version import InvalidVersion, Version

from depimage.build.buildx import BuildError, BuildRequest, build, installed_in, local_image_id
from depimage.errors import DepimageError
from depimage.fingerprint.installed import Locked, locked_packages
from depimage.fingerprint.pipeline import Fingerprint
from depimage.fingerprint.record import record_of
from depimage.image.sbom import Installed, attach_each, base_annotations
from depimage.oci.client import Registry
from depimage.oci.model import Descriptor
from depimage.oci.reference import ImageName, parse_image_ref
from depimage.oci.write import annotate
from depimage.project.names import normalize_name
from depimage.usecases.common import Host, ImageRequest, RegistryAccess, source_labels
from depimage.usecases.layered import base_digest_now

PUSH_ATTEMPTS = 3  # registries answer 5xx when two runs push the same blobs at once; the next push gets by
RETRY_PAUSE = 2.0  # seconds, times the attempt number, give or take half


@dataclass(frozen=True)
class Built:
    digest: str
    collided: bool  # another run for the same hash pushed it meanwhile: its image is used


def build_image(prepared: Fingerprint, image: ImageName, tag: str, registry: Registry | None, request: ImageRequest,
                access: RegistryAccess, host: Host, network: str | None, on_line: Callable[[str], None],
                on_status: Callable[[str], None]) -> Built:
    """Build and push (registry given) or load (None); a push that collides with another run's uses the image
    that landed, or pushes again."""
    ref = image.ref(tag)
    on_status(f"{ref} is missing: building{' and pushing' if registry else ''}")
    base_digest = base_digest_now(prepared, image, access) if registry else ""
    base_name, base_ref = parse_image_ref(prepared.options.base_image, "base_image", default_tag="latest")
    based = base_annotations(base_name, base_ref, base_digest)  # as labels too: the application image reads them
    build_request = BuildRequest(prepared, image, tag, registry is not None,
                                 tuple((s.id, s.value) for s in request.secrets),
                                 network or host.build_network or None, access.credentials(image),
                                 source_labels(prepared.project.root, host), host.env, access.docker_config,
                                 {**record_of(prepared, base_digest).labels(), **based})
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            build(build_request, on_line)
            break
        except BuildError as exc:
            if registry is None:
                raise
            # Another run for the same hash may have pushed while we built, and made our push collide.
            try:
                found = registry.manifest_digest(tag)
            except DepimageError:
                raise exc from None  # the builder's failure is the one to report
            if found:
                on_status(f"{ref} was pushed meanwhile by another run for the same hash: using it")
                return Built(found, collided=True)
            if not exc.transient_push or attempt == PUSH_ATTEMPTS:
                raise
            on_status(f"the push failed with an error worth retrying; pushing again ({attempt + 1} of "
                      f"{PUSH_ATTEMPTS}); the build itself is cached")
            time.sleep(RETRY_PAUSE * attempt * random.uniform(0.5, 1.5))  # two racers must not meet again
    if registry is None:
        digest = local_image_id(ref)
        if not digest:
            raise DepimageError(f"the build reported success but {ref} is not in the local engine")
        return Built(digest, collided=False)
    if not registry.manifest_digest(tag):
        raise DepimageError(f"the build reported success but {ref} is not there")
    digest = _finish(registry, tag, build_request, based, on_line, on_status)
    return Built(digest, collided=False)


def _finish(registry: Registry, tag: str, build_request: BuildRequest, based: dict[str, str],
            on_line: Callable[[str], None], on_status: Callable[[str], None]) -> str:
    """The base annotations on the pushed image's manifests, then an SBOM for each; the tag's digest after. The
    image is whole without either: a failure is said in one line."""
    try:
        written = annotate(registry, tag, based)
    except DepimageError as exc:
        on_status(f"could not put the base annotations on {registry.image.ref(tag)} ({exc.message.splitlines()[0]}); "
                  "the image is complete without them, and gets no SBOM")
        return registry.manifest_digest(tag) or ""
    on_status("listing what the image holds, for its SBOM (one more step over the builder's cache)")
    try:
        found = installed_in(build_request, on_line)
    except DepimageError as exc:
        on_status(f"could not list what the image holds ({exc.message.splitlines()[0]}); it gets no SBOM")
        return written.digest
    locked = {p.name: p for p in locked_packages(build_request.fingerprint.installed.data)}
    listings = [(m, sbom_listing(found[key], locked)) for m in written.manifests
                if (key := _platform_of(m, found)) is not None]
    if len(listings) < len(written.manifests):
        on_status(f"the builder listed the packages of {len(found)} platform(s), the image has "
                  f"{len(written.manifests)}: those without a list get no SBOM")
    if attach_each(registry, listings, f"dependency image {tag}", on_status):
        on_status(f"attached an SBOM (CycloneDX) to {len(listings)} manifest(s), as an OCI referrer")
    return written.digest


def _platform_of(manifest: Descriptor, found: dict[str, list[tuple[str, str]]]) -> str | None:
    """Which of the builder's lists is this manifest's: the only one, or the one of its platform (arm64 with or
    without its default variant v8)."""
    if "" in found:
        return ""
    if manifest.platform is None:
        return None

    def plain(name: str) -> str:
        return name.removesuffix("/v8") if name.startswith("linux/arm64/") else name
    return next((key for key in found if plain(key) == plain(manifest.platform.name)), None)


def sbom_listing(found: list[tuple[str, str]], locked: dict[str, Locked]) -> list[Installed]:
    """What the image holds, each with the lock's hashes and source where the lock has that version."""
    out = []
    for name, version in found:
        entry = locked.get(normalize_name(name))
        same = entry is not None and _same_version(entry.version, version)
        out.append(Installed(name, version, entry.files if same else (), entry.source if same else ""))
    return out


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
