"""A dependency image put together on the registry, as Jib and ko do: the base image's layers referenced (already
there, mounted from its repository, or copied from another registry), the dependency layers pushed where the
registry lacks them, then a config and an OCI manifest whose layer descriptors record what each layer holds
(its key), one manifest a platform and an index over them, the tag last. A failure leaves no tag behind."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from depimage.sizes import human_size
from depimage.errors import DepimageError
from depimage.image.base import BasePlatform
from depimage.image.layer import Layer
from depimage.image.layering import KEY_ANNOTATION
from depimage.oci.assemble import dumps, have_blob, put_last
from depimage.oci.client import Registry
from depimage.oci.digest import sha256_digest
from depimage.oci.media import INDEXES, LAYER_TYPE, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, platform_fields

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


def recorded(registry: Registry, references: tuple[str, ...]) -> tuple[dict[str, Known], list[dict[str, str]]]:
    """What images in the registry already hold, for a miss or a rebase to reuse: key -> layer for every dependency
    layer, and the labels of every platform's config, of the images at references (each manifest read once,
    missing ones skipped)."""
    found: dict[str, Known] = {}
    labels: list[dict[str, str]] = []
    seen: set[str] = set()
    for reference in references:
        if registry.manifest_digest(reference) is None:
            continue
        body, media_type, digest = registry.get_manifest(reference)
        document = json.loads(body)
        manifests = [(digest, document)]
        if media_type in INDEXES or "manifests" in document:
            manifests = [(e["digest"], json.loads(registry.get_manifest(e["digest"])[0])) for e in document["manifests"]]
        for digest, manifest in manifests:
            if digest in seen:
                continue
            seen.add(digest)
            config = json.loads(registry.get_blob(manifest["config"]["digest"]))
            labels.append((config.get("config") or {}).get("Labels") or {})
            for layer, diff_id in zip(manifest.get("layers", []), config["rootfs"]["diff_ids"]):
                key = (layer.get("annotations") or {}).get(KEY_ANNOTATION)
                if key:
                    found[key] = Known(layer["digest"], layer["size"], diff_id)
    return found, labels


def image_facts(registry: Registry, reference: str, *, labels: bool = True) -> tuple[dict, dict[str, str]]:
    """(annotations of the manifest or index, labels of the first platform's config) of the image at reference;
    without labels, the manifest alone is read."""
    body, media_type, _ = registry.get_manifest(reference)
    document = json.loads(body)
    annotations = document.get("annotations") or {}
    if not labels:
        return annotations, {}
    manifest = document
    if media_type in INDEXES or "manifests" in document:
        manifest = json.loads(registry.get_manifest(document["manifests"][0]["digest"])[0])
    config = json.loads(registry.get_blob(manifest["config"]["digest"]))
    return annotations, (config.get("config") or {}).get("Labels") or {}


def push_layered(base: Registry, target: Registry, tag: str, images: list[PlatformImage],
                 on_status: Callable[[str], None] = lambda msg: None,
                 annotations: dict[str, str] | None = None) -> Pushed:
    """Every platform's image, then the tag: on the manifest for one platform, on an index for several.
    annotations go on each manifest and on the index (the base's digest, read back on a cache hit)."""
    pushed = Pushed()
    uploaded = [0]
    descriptors = []
    for image in images:
        manifest, media_type = _platform_manifest(base, target, image, pushed, uploaded, on_status)
        if annotations:
            manifest["annotations"] = dict(annotations)
        body = dumps(manifest)
        if len(images) == 1:
            pushed.digest = put_last(target, tag, body, media_type, uploaded)
            pushed.uploaded = uploaded[0]
            return pushed
        digest = sha256_digest(body)
        if target.manifest_digest(digest) is None:
            target.put_manifest(digest, body, media_type)
            uploaded[0] += len(body)
        descriptors.append({"mediaType": media_type, "digest": digest, "size": len(body),
                            "platform": platform_fields(image.base.platform)})
    index = dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors,
                   **({"annotations": dict(annotations)} if annotations else {})})
    pushed.digest = put_last(target, tag, index, OCI_INDEX, uploaded)
    pushed.uploaded = uploaded[0]
    return pushed


def _platform_manifest(base: Registry, target: Registry, image: PlatformImage, pushed: Pushed,
                       uploaded: list[int], on_status: Callable[[str], None]) -> tuple[dict, str]:
    for layer in image.base.manifest["layers"]:
        have_blob(target, base, layer["digest"], layer.get("size", 0), uploaded, on_status)
    for dep in image.layers:
        if not target.has_blob(dep.known.digest):
            if dep.layer is None:  # the use case reuses only layers whose blob it found here
                raise DepimageError(f"the layer of {dep.title} ({dep.known.digest}) left {target.image.name}")
            on_status(f"{image.base.platform}: pushing the layer of {dep.title} ({human_size(dep.known.size)})")
            target.push_blob(dep.layer.blob, dep.known.digest)
            uploaded[0] += dep.known.size
            pushed.layers_pushed.append(dep.title)
    config = json.loads(json.dumps(image.base.config))
    settings = dict(config.get("config") or {})
    env = dict(item.split("=", 1) for item in settings.get("Env") or [] if "=" in item)
    env.update({k: v.replace("$PATH", env.get("PATH", "")) for k, v in image.env.items()})
    settings.update(Env=[f"{k}={v}" for k, v in env.items()], WorkingDir=image.workdir,
                    Labels={**(settings.get("Labels") or {}), **image.labels})
    config.update(config=settings, created=CREATED)
    config["rootfs"] = {"type": "layers",
                        "diff_ids": list(config["rootfs"]["diff_ids"]) + [d.known.diff_id for d in image.layers]}
    config["history"] = list(config.get("history") or []) + [
        {"created": CREATED, "created_by": f"depimage: {d.title}"} for d in image.layers]
    config_bytes = dumps(config)
    config_digest = sha256_digest(config_bytes)
    if not target.has_blob(config_digest):
        target.push_blob(config_bytes, config_digest)
        uploaded[0] += len(config_bytes)
    base_layers = [{**layer, "mediaType": OCI_LAYER if layer["mediaType"] in LAYER_TYPE.values() else layer["mediaType"]}
                   for layer in image.base.manifest["layers"]]
    ours = [{"mediaType": OCI_LAYER, "digest": d.known.digest, "size": d.known.size,
             "annotations": {KEY_ANNOTATION: d.key}} for d in image.layers]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                "layers": base_layers + ours}
    return manifest, OCI_MANIFEST
