"""The application image, assembled on the registry as Jib and ko do: the dependency image's manifest and
config are read, one layer and a new config are pushed, and a manifest that lists the dependency image's
layers (never downloaded: they are already in the repository, or mounted into it from the dependency image's
repository) plus the new one is pushed last, so a failure leaves no tag on a half-made image. For a
multi-platform dependency image, one manifest a platform and an index over them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from depimage.sizes import human_size
from depimage.image.layout import APP_SITE_LABEL
from depimage.errors import InputError, opt
from depimage.image.layer import Layer
from depimage.oci.digest import sha256_digest
from depimage.oci.media import DOCKER_LIST, LAYER_TYPE, OCI_INDEX, OCI_MANIFEST, platform_name
from depimage.oci.client import Registry
from depimage.image.runconfig import Runtime



@dataclass(frozen=True)
class Assembly:
    """What goes on top of the dependency image."""

    layer: Layer
    runtime: Runtime
    default_command: list[str] | None
    labels: dict[str, str]
    history: str  # created_by of the new layer, e.g. "depimage app: shop 1.2.0"


@dataclass(frozen=True)
class Assembled:
    digest: str  # of the manifest, or of the index for several platforms
    platforms: list[str]
    uploaded: int  # bytes uploaded: 0 when the registry had everything already


def assemble(deps: Registry, deps_reference: str, app: Registry, tag: str, what: Assembly,
             on_status: Callable[[str], None] = lambda msg: None) -> Assembled:
    body, media_type, _ = deps.get_manifest(deps_reference)
    document = json.loads(body)
    uploaded = [0]
    if media_type in (DOCKER_LIST, OCI_INDEX) or "manifests" in document:
        entries, platforms = [], []
        for entry in document["manifests"]:
            platform = entry.get("platform", {})
            if platform.get("os") == "unknown":  # a build attestation, not an image
                continue
            platforms.append(platform_name(platform))
            child = _one(deps, entry["digest"], app, None, what, uploaded, on_status)
            entries.append({**child, "platform": platform})
        index = dumps({"schemaVersion": 2, "mediaType": media_type or OCI_INDEX, "manifests": entries})
        digest = put_last(app, tag, index, media_type or OCI_INDEX, uploaded)
        return Assembled(digest, platforms, uploaded[0])
    descriptor = _one(deps, deps_reference, app, tag, what, uploaded, on_status, (body, media_type))
    return Assembled(descriptor["digest"], [], uploaded[0])


def _one(deps: Registry, reference: str, app: Registry, tag: str | None, what: Assembly, uploaded: list[int],
         on_status: Callable[[str], None], fetched: tuple[bytes, str] | None = None) -> dict:
    """One platform's manifest: layers in place, config and manifest pushed; its descriptor back."""
    body, media_type = fetched or deps.get_manifest(reference)[:2]
    manifest = json.loads(body)
    media_type = media_type or manifest.get("mediaType", OCI_MANIFEST)
    if media_type not in LAYER_TYPE:
        raise InputError(f"{deps.image.ref(reference)} is a {media_type or 'manifest of unknown type'}",
                         hint="the dependency image must be an image made by `depimage ensure`")
    config = json.loads(deps.get_blob(manifest["config"]["digest"]))
    labels = (config.get("config") or {}).get("Labels") or {}
    if APP_SITE_LABEL not in labels:
        raise InputError(f"{deps.image.ref(reference)} is not a dependency image made by this depimage "
                         f"(no {APP_SITE_LABEL} label)",
                         hint=f"let `depimage app` ensure it (leave out {opt('deps_image')}), or run `depimage ensure` "
                              "again; for any other base image, use the Dockerfile path (examples/Dockerfile)")
    for layer in manifest["layers"]:
        have_blob(app, deps, layer["digest"], layer.get("size", 0), uploaded, on_status)
    layer = what.layer
    if not app.has_blob(layer.digest):
        on_status(f"pushing the application layer ({human_size(layer.size)})")
        app.push_blob(layer.blob, layer.digest)
        uploaded[0] += layer.size
    config["rootfs"]["diff_ids"] = list(config["rootfs"].get("diff_ids", [])) + [layer.diff_id]
    config["history"] = list(config.get("history", [])) + [{"created": config.get("created"),
                                                             "created_by": what.history}]
    runtime = what.runtime.merged(Runtime(labels=tuple(what.labels.items())))
    config["config"] = runtime.apply(config.get("config") or {}, what.default_command)
    config_bytes = dumps(config)
    config_digest = sha256_digest(config_bytes)
    if not app.has_blob(config_digest):
        app.push_blob(config_bytes, config_digest)
        uploaded[0] += len(config_bytes)
    new = {"schemaVersion": 2, "mediaType": media_type,
           "config": {**manifest["config"], "digest": config_digest, "size": len(config_bytes)},
           "layers": manifest["layers"] + [{"mediaType": LAYER_TYPE[media_type], "digest": layer.digest,
                                            "size": layer.size}]}
    manifest_bytes = dumps(new)
    if tag:
        digest = put_last(app, tag, manifest_bytes, media_type, uploaded)
    else:  # one platform of an index: stored by digest, before the index that names it
        digest = sha256_digest(manifest_bytes)
        if app.manifest_digest(digest) is None:
            app.put_manifest(digest, manifest_bytes, media_type)
            uploaded[0] += len(manifest_bytes)
    return {"mediaType": media_type, "digest": digest, "size": len(manifest_bytes)}


def have_blob(app: Registry, deps: Registry, digest: str, size: int, uploaded: list[int],
               on_status: Callable[[str], None]) -> None:
    """A layer of the dependency image, present in the app's repository without passing through here, if
    the registry allows: already there, or mounted. Else (another registry) copied, and said so."""
    if app.image.repository == deps.image.repository and app.image.host == deps.image.host:
        return
    if app.has_blob(digest):
        return
    if app.image.host == deps.image.host and app.mount_blob(digest, deps.image.repository):
        return
    on_status(f"copying layer {digest[:19]} ({human_size(size)}) from {deps.image.name}: "
              "the registry did not mount it")
    app.push_blob(deps.get_blob(digest), digest)
    uploaded[0] += size


def put_last(app: Registry, tag: str, body: bytes, media_type: str, uploaded: list[int]) -> str:
    """The tag, last of all: nothing is put when it already names these very bytes."""
    digest = sha256_digest(body)
    if app.manifest_digest(tag) != digest:
        app.put_manifest(tag, body, media_type)
        uploaded[0] += len(body)
    return digest


def dumps(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

