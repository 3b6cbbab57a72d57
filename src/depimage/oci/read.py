"""Reading an image from a registry: its manifest or index, and each platform's manifest and config (remote.Image
and remote.Index in go-containerregistry). Layers are never read here: an image is put together from what its
manifests say of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from depimage.oci.model import Config, Index, Manifest, Platform, parse_document
from depimage.oci.reference import ImageName


class Repository(Protocol):
    """What the readers and the writer need of one repository on a registry (oci.client.Registry, or the
    tests' in-memory registry)."""

    image: ImageName
    def manifest_digest(self, reference: str) -> str | None: ...
    def get_manifest(self, reference: str) -> tuple[bytes, str, str]: ...
    def get_blob(self, digest: str) -> bytes: ...
    def stream_blob(self, digest: str, chunk: int = ...) -> Iterator[bytes]: ...
    def has_blob(self, digest: str) -> bool: ...
    def mount_blob(self, digest: str, from_repository: str) -> bool: ...
    def push_blob(self, data: bytes, digest: str) -> None: ...
    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str: ...
    def put_referrer(self, digest: str, body: bytes, media_type: str) -> bool: ...


@dataclass(frozen=True)
class Image:
    """One platform's image as the registry holds it."""

    digest: str  # of its manifest
    manifest: Manifest
    config: Config
    platform: Platform  # from the index entry, else from the config


@dataclass(frozen=True)
class Remote:
    """An image or index at a reference: the document and each platform's image."""

    digest: str
    document: Manifest | Index
    images: tuple[Image, ...]

    @property
    def is_index(self) -> bool:
        return isinstance(self.document, Index)


def read_image(registry: Repository, reference: str, *, configs: bool = True) -> Remote:
    """The image at reference, every platform's manifest and config read once (configs=False: the manifests
    only, each platform's Config left empty)."""
    body, media_type, digest = registry.get_manifest(reference)
    document = parse_document(body, media_type)
    if isinstance(document, Index):
        images = []
        for entry in document.images():
            child_body, child_type, _ = registry.get_manifest(entry.digest)
            manifest = parse_document(child_body, child_type or entry.media_type)
            assert isinstance(manifest, Manifest), f"{entry.digest} is an index inside an index"
            images.append(_image(registry, entry.digest, manifest, entry.platform, configs))
        return Remote(digest, document, tuple(images))
    return Remote(digest, document, (_image(registry, digest, document, None, configs),))


def _image(registry: Repository, digest: str, manifest: Manifest, platform: Platform | None, configs: bool) -> Image:
    config = Config.from_bytes(registry.get_blob(manifest.config.digest)) if configs else Config({})
    return Image(digest, manifest, config, platform or config.platform)
