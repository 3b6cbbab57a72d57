"""A dependency image put together on the registry, as Jib and ko do: for each platform, the base image with the
dependency layers appended, each layer's descriptor recording its key (what it holds, for which Python and
platform), written with the one writer (oci/write.py): the base's layers referenced, new layers pushed where the
registry lacks them, one OCI manifest a platform and an index over them, the tag last. A failure leaves no tag.
And what images in the registry already record, for the next miss or rebase to reuse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from depimage.image.base import BasePlatform
from depimage.image.layer import Layer
from depimage.image.layering import KEY_ANNOTATION
from depimage.oci.media import OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from depimage.oci.model import Config, Descriptor, Index, Manifest, Platform, dumps, parse_document
from depimage.oci.read import Image, Repository, read_image
from depimage.oci.write import Addition, Writer, append

CREATED = "1980-01-01T00:00:00Z"  # the image's time: fixed, so the same inputs give the same digest


@dataclass(frozen=True)
class Known:
    """A layer an image in the registry already has: enough to list it again without its bytes."""

    digest: str
    size: int
    diff_id: str


@dataclass(frozen=True)
class DepLayer:
    key: str
    title: str  # what the history says it holds: "numpy 2.1.0"
    known: Known
    layer: Layer | None = None  # the bytes, when this run made the layer


@dataclass(frozen=True)
class PlatformImage:
    base: BasePlatform
    layers: list[DepLayer]
    env: dict[str, str]  # set over the base's
    labels: dict[str, str]
    workdir: str


@dataclass
class Pushed:
    digest: str = ""
    uploaded: int = 0  # bytes sent to the registry
    layers_pushed: list[str] = field(default_factory=list)  # titles of the dependency layers that were sent
    downloaded: int = 0  # bytes of the wheels the new layers were installed from
    from_store: list[str] = field(default_factory=list)  # titles of the layers mounted from the layer store
    manifests: list[Descriptor] = field(default_factory=list)  # each platform's manifest, as the images were given


def recorded(registry: Repository, references: tuple[str, ...]) -> tuple[dict[str, Known], list[dict[str, str]]]:
    """What images in the registry already hold, for a miss or a rebase to reuse: key -> layer for every dependency
    layer, and the labels of every platform's config, of the images at references (each manifest read once,
    missing ones skipped)."""
    found: dict[str, Known] = {}
    labels: list[dict[str, str]] = []
    seen: set[str] = set()
    for reference in references:
        if registry.manifest_digest(reference) is None:
            continue
        for image in read_image(registry, reference).images:
            if image.digest in seen:
                continue
            seen.add(image.digest)
            labels.append(image.config.labels)
            for layer, diff_id in zip(image.manifest.layers, image.config.diff_ids):
                key = layer.annotations.get(KEY_ANNOTATION)
                if key:
                    found[key] = Known(layer.digest, layer.size, diff_id)
    return found, labels


def image_facts(registry: Repository, reference: str, *, labels: bool = True) -> tuple[dict, dict[str, str]]:
    """(annotations of the manifest or index, labels of the first platform's config) of the image at reference;
    without labels, the manifest alone is read."""
    body, media_type, _ = registry.get_manifest(reference)
    document = parse_document(body, media_type)
    if not labels:
        return dict(document.annotations), {}
    manifest = document
    if isinstance(document, Index):
        child, child_type, _ = registry.get_manifest(document.manifests[0].digest)
        manifest = parse_document(child, child_type)
    assert isinstance(manifest, Manifest)
    return dict(document.annotations), Config.from_bytes(registry.get_blob(manifest.config.digest)).labels


def push_layered(base: Repository, target: Repository, tag: str, images: list[PlatformImage],
                 on_status: Callable[[str], None] = lambda msg: None,
                 annotations: dict[str, str] | None = None, writer: Writer | None = None) -> Pushed:
    """Every platform's image, then the tag: on the manifest for one platform, on an index for several.
    annotations go on each manifest and on the index (the base's digest, read back on a cache hit). writer: the
    one that already pushed layers as they were made (Writer.push_layer), so its count covers them."""
    appended = [append(_base_image(image.base), [_addition(d) for d in image.layers], _config(image),
                       media_type=OCI_MANIFEST, annotations=annotations) for image in images]
    several = len(images) > 1
    done = (writer or Writer(target, on_status)).write(tag, appended, base, index_type=OCI_INDEX if several else "",
                                           annotations=annotations if several else None, label_platforms=True)
    return Pushed(done.digest, done.uploaded, done.pushed, manifests=done.manifests)


def _base_image(bp: BasePlatform) -> Image:
    manifest = parse_document(dumps(bp.manifest), bp.manifest.get("mediaType", ""))
    assert isinstance(manifest, Manifest)
    return Image(bp.manifest_digest, manifest, Config(bp.config), Platform.parse(bp.platform))


def _addition(dep: DepLayer) -> Addition:
    return Addition(Descriptor(OCI_LAYER, dep.known.digest, dep.known.size, {KEY_ANNOTATION: dep.key}),
                    dep.known.diff_id, {"created": CREATED, "created_by": f"depimage: {dep.title}"}, dep.title,
                    dep.layer.blob if dep.layer else None)


def _config(image: PlatformImage) -> Config:
    """The base's config with the image's env (over the base's, `$PATH` expanded), workdir and labels, the fixed
    time, and the dependency layers."""
    base = Config(image.base.config)
    settings = base.settings
    env = dict(item.split("=", 1) for item in settings.get("Env") or [] if "=" in item)
    env.update({k: v.replace("$PATH", env.get("PATH", "")) for k, v in image.env.items()})
    settings.update(Env=[f"{k}={v}" for k, v in env.items()], WorkingDir=image.workdir,
                    Labels={**(settings.get("Labels") or {}), **image.labels})
    history = [{"created": CREATED, "created_by": f"depimage: {d.title}"} for d in image.layers]
    return base.appended([d.known.diff_id for d in image.layers], history, settings, created=CREATED)
