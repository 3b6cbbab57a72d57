"""The application image, assembled on the registry as Jib and ko do: the dependency image read (its manifests and
configs, never its layers), one layer and a new config appended per platform, written with the one writer
(oci/write.py): the dependency image's layers referenced (already in the repository, or mounted into it from the
dependency image's repository), the manifest (or, for a multi-platform dependency image, the index over one
manifest a platform) pushed last, so a failure leaves no tag on a half-made image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from depimage.errors import InputError, opt
from depimage.image.layer import Layer
from depimage.image.runconfig import Runtime
from depimage.image.sbom import BASE_DIGEST, BASE_NAME
from depimage.layout import APP_SITE_LABEL
from depimage.oci.media import LAYER_TYPE
from depimage.oci.model import Descriptor
from depimage.oci.read import Image, Repository, read_image
from depimage.oci.write import Addition, Writer, append


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
    manifests: list[Descriptor] = field(default_factory=list)  # each platform's new manifest
    over: list[str] = field(default_factory=list)  # the digest of the dependency image's manifest each stands on


def assemble(deps: Repository, deps_reference: str, app: Repository, tag: str, what: Assembly,
             on_status: Callable[[str], None] = lambda msg: None) -> Assembled:
    """app:tag = the dependency image at deps_reference + what, for each of its platforms."""
    remote = read_image(deps, deps_reference)
    for image in remote.images:
        _check_dependency_image(deps, image)
    appended = [append(image, [_addition(image, what)], _config(image, what), annotations=_based(image))
                for image in remote.images]
    done = Writer(app, on_status).write(tag, appended, deps,
                                        index_type=remote.document.media_type if remote.is_index else "",
                                        annotations=_based(remote.images[0]) if remote.is_index else None)
    return Assembled(done.digest, [i.platform.name for i in remote.images] if remote.is_index else [], done.uploaded,
                     done.manifests, [i.digest for i in remote.images])


def _based(image: Image) -> dict[str, str]:
    """The base annotations of the application image: its base is the dependency image's base, whose labels
    (inherited by the application's config) say which."""
    return {k: v for k, v in image.config.labels.items() if k in (BASE_NAME, BASE_DIGEST)}


def _check_dependency_image(deps: Repository, image: Image) -> None:
    where = deps.image.ref(image.digest) if ":" not in image.digest else f"{deps.image.name}@{image.digest}"
    if image.manifest.media_type not in LAYER_TYPE:
        raise InputError(f"{where} is a {image.manifest.media_type or 'manifest of unknown type'}",
                         hint="the dependency image must be an image made by `depimage ensure`")
    if APP_SITE_LABEL not in image.config.labels:
        raise InputError(f"{where} is not a dependency image made by this depimage (no {APP_SITE_LABEL} label)",
                         hint=f"let `depimage app` ensure it (leave out {opt('deps_image')}), or run `depimage ensure` "
                              "again; for any other base image, use the Dockerfile path (examples/Dockerfile)")


def _addition(image: Image, what: Assembly) -> Addition:
    layer = what.layer
    return Addition(Descriptor(image.manifest.layer_type, layer.digest, layer.size), layer.diff_id,
                    {"created": image.config.data.get("created"), "created_by": what.history}, "the application",
                    layer.blob)


def _config(image: Image, what: Assembly):
    runtime = what.runtime.merged(Runtime(labels=tuple(what.labels.items())))
    settings = runtime.apply(image.config.settings, what.default_command)
    return image.config.appended([what.layer.diff_id], [{"created": image.config.data.get("created"),
                                                         "created_by": what.history}], settings)
