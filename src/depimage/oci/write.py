"""Writing images to a registry as go-containerregistry's mutate.Append and remote.Write do, for any image made
over another (the dependency image over its base, the application image over the dependency image): the
base's layers referenced (already there, mounted from its repository, or copied from another registry), the
new layers pushed where the registry lacks them, a config, one manifest a platform and, for several, an index:
the tag last, so a failure leaves no tag on a half-made image. Nothing is sent twice."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from depimage.errors import DepimageError
from depimage.oci.media import DOCKER_CONFIG, LAYER_TYPE, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST
from depimage.oci.digest import sha256_digest
from depimage.oci.model import Config, Descriptor, Index, Manifest, layer_type
from depimage.oci.read import Image, Repository, read_image
from depimage.sizes import human_size


@dataclass(frozen=True)
class Addition:
    """A layer to append: how the manifest lists it, its diff_id for the config, its history entry, and its
    bytes when this run made it (None: it must be in the target already)."""

    descriptor: Descriptor
    diff_id: str
    history: dict
    title: str  # for people: "numpy 2.1.0", "the application"
    blob: bytes | Path | None = None  # a large layer: the file it was packed into


@dataclass(frozen=True)
class Appended:
    """One platform's new image, ready to write: its manifest, config bytes, and what it adds."""

    base: Image
    manifest: Manifest
    config: bytes
    additions: tuple[Addition, ...]


def append(base: Image, additions: list[Addition], config: Config, *, media_type: str = "",
           annotations: dict[str, str] | None = None) -> Appended:
    """base + additions as a new image (mutate.Append), its manifest of media_type (default: the base's kind;
    the base's gzip layers are listed in that kind), the new config, annotations on the manifest."""
    media_type = media_type or base.manifest.media_type
    base_layers = _gzip_layers_as(base.manifest.layers, media_type)
    config_bytes = config.to_bytes()
    same_kind = media_type == base.manifest.media_type
    config_descriptor = Descriptor(base.manifest.config.media_type if same_kind else OCI_CONFIG,
                                   sha256_digest(config_bytes), len(config_bytes),
                                   rest=base.manifest.config.rest if same_kind else {})
    manifest = Manifest(media_type, config_descriptor, base_layers + tuple(a.descriptor for a in additions),
                        annotations or {})
    return Appended(base, manifest, config_bytes, tuple(additions))


@dataclass
class Written:
    digest: str = ""  # of the manifest, or of the index for several platforms
    uploaded: int = 0  # bytes sent to the registry
    pushed: list[str] = field(default_factory=list)  # titles of the layers that were sent
    manifests: list[Descriptor] = field(default_factory=list)  # each image's manifest, in the order given


@dataclass
class Writer:
    """Writes images to one repository (remote.Write): every blob present before the manifest that names it."""

    target: Repository
    on_status: Callable[[str], None] = lambda msg: None
    done: Written = field(default_factory=Written)
    _sent: set[str] = field(default_factory=set)  # blobs this writer put in the target
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def push_layer(self, blob: bytes | Path, digest: str, size: int, title: str, prefix: str = "") -> None:
        """A new layer's blob, sent as soon as it is made (while other layers are still being made; any thread),
        unless the target has it. The manifest that names it is written later, by write()."""
        with self._lock:
            if digest in self._sent:
                return
        if self.target.has_blob(digest):
            return
        self.on_status(f"{prefix}pushing the layer of {title} ({human_size(size)})")
        self.target.push_blob(blob, digest)
        with self._lock:
            if digest not in self._sent:
                self._sent.add(digest)
                self.done.uploaded += size
                self.done.pushed.append(title)

    def write(self, tag: str, images: list[Appended], source: Repository, *, index_type: str = "",
              annotations: dict[str, str] | None = None, label_platforms: bool = False) -> Written:
        """Every image's blobs and manifest, then the tag: on the manifest for one image, on an index (of
        index_type, with annotations) over them for several. source: the repository the bases' blobs are in."""
        descriptors = []
        for image in images:
            body = self._image(image, source, image.base.platform.name + ": " if label_platforms else "")
            self.done.manifests.append(Descriptor(image.manifest.media_type, sha256_digest(body), len(body),
                                                  platform=image.base.platform))
            if len(images) == 1 and not index_type:
                self.done.digest = self.put_last(tag, body, image.manifest.media_type)
                return self.done
            digest = sha256_digest(body)
            if self.target.manifest_digest(digest) is None:
                self.target.put_manifest(digest, body, image.manifest.media_type)
                self.done.uploaded += len(body)
            descriptors.append(Descriptor(image.manifest.media_type, digest, len(body), platform=image.base.platform))
        index = Index(index_type, tuple(descriptors), annotations or {})
        self.done.digest = self.put_last(tag, index.to_bytes(), index_type)
        return self.done

    def _image(self, image: Appended, source: Repository, prefix: str) -> bytes:
        for layer in image.base.manifest.layers:
            self.have_blob(source, layer.digest, layer.size)
        for addition in image.additions:
            digest = addition.descriptor.digest
            if addition.blob is not None:  # sent unless sent already or there (push_layer asks)
                self.push_layer(addition.blob, digest, addition.descriptor.size, addition.title, prefix)
            elif digest not in self._sent and not self.target.has_blob(digest):
                raise DepimageError(f"the layer of {addition.title} ({digest}) is not in the repository, and this "
                                    "run did not make it")
        config_digest = image.manifest.config.digest
        if not self.target.has_blob(config_digest):
            self.target.push_blob(image.config, config_digest)
            self.done.uploaded += len(image.config)
        return image.manifest.to_bytes()

    def have_blob(self, source: Repository, digest: str, size: int) -> None:
        """A blob of source, present in the target without passing through here where the registry allows:
        already there, or mounted. Else (another registry) copied, and said so."""
        same_host = self.target.image.host == source.image.host
        if same_host and self.target.image.repository == source.image.repository:
            return
        if self.target.has_blob(digest):
            return
        if same_host and self.target.mount_blob(digest, source.image.repository):
            return
        self.on_status(f"copying layer {digest[:19]} ({human_size(size)}) from {source.image.name}: "
                       "the registry did not mount it")
        copy_blob(source, self.target, digest)
        with self._lock:
            self.done.uploaded += size

    def put_last(self, tag: str, body: bytes, media_type: str) -> str:
        """The tag, last of all: nothing is put when it already names these very bytes."""
        digest = sha256_digest(body)
        if self.target.manifest_digest(tag) != digest:
            self.target.put_manifest(tag, body, media_type)
            self.done.uploaded += len(body)
        return digest


def copy_blob(source: Repository, target: Repository, digest: str) -> None:
    """A blob from one repository to another (another registry, or one that declined a mount), through a file on
    disk: a layer may be gigabytes."""
    with tempfile.TemporaryDirectory(prefix="depimage-copy-") as scratch:
        path = Path(scratch) / "blob"
        with path.open("wb") as fh:
            for chunk in source.stream_blob(digest):
                fh.write(chunk)
        target.push_blob(path, digest)


def annotate(target: Repository, tag: str, annotations: dict[str, str]) -> Written:
    """The image at tag again, as OCI documents with annotations on every manifest and on the index
    (mutate.Annotations and mutate.MediaType): for images a builder pushed, whose Docker media types carry no
    annotations. Blobs stay as they are (the config under the OCI config type, its bytes unchanged); the
    manifests are put by digest, the tag last; entries that are not images (BuildKit's attestations) are left
    out of the index."""
    remote = read_image(target, tag, configs=False)
    writer = Writer(target)
    if not remote.is_index:
        body = _as_oci(remote.images[0].manifest, annotations).to_bytes()
        writer.done.digest = writer.put_last(tag, body, OCI_MANIFEST)
        writer.done.manifests.append(Descriptor(OCI_MANIFEST, writer.done.digest, len(body)))
        return writer.done
    for image in remote.images:
        body = _as_oci(image.manifest, annotations).to_bytes()
        digest = target.put_manifest(sha256_digest(body), body, OCI_MANIFEST)
        writer.done.manifests.append(Descriptor(OCI_MANIFEST, digest, len(body), platform=image.platform))
    index = Index(OCI_INDEX, tuple(writer.done.manifests), {**remote.document.annotations, **annotations})
    writer.done.digest = writer.put_last(tag, index.to_bytes(), OCI_INDEX)
    return writer.done


def _as_oci(manifest: Manifest, annotations: dict[str, str]) -> Manifest:
    config = manifest.config.as_type(OCI_CONFIG) if manifest.config.media_type == DOCKER_CONFIG else manifest.config
    return Manifest(OCI_MANIFEST, config, _gzip_layers_as(manifest.layers, OCI_MANIFEST),
                    {**manifest.annotations, **annotations})


def _gzip_layers_as(layers: tuple[Descriptor, ...], manifest_type: str) -> tuple[Descriptor, ...]:
    """The layers as a manifest of manifest_type lists them: gzip layers under its kind's type (Docker's or
    OCI's), any other kept as it is."""
    gzip_layer = layer_type(manifest_type)
    return tuple(d.as_type(gzip_layer) if d.media_type in LAYER_TYPE.values() else d for d in layers)
