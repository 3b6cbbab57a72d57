"""The layer store: package layers already made by any project, found by what they hold from every repository of
a registry, as rules_img's deduplicated push shares a blob among images. A package layer's bytes depend only on
its key (packages, versions, locked files, Python, platform, compiler), so the numpy layer one service made is
the numpy layer of every other.

The store is one repository (by default `depimage-layers` beside the image, under its owner: ghcr.io/acme/api ->
ghcr.io/acme/depimage-layers) holding one small image per layer, tagged `layer-<key>`: its one layer is the
package layer, its annotations say what it holds. Each key is its own tag, so runs recording at once lose nothing
(the same key twice writes the same bytes); a layer found there is mounted into the target repository (copied
where the registry declines), never installed again. A store that cannot be read is a miss, never a failure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from depimage.errors import DepimageError, InputError, opt
from depimage.image.base import oci_architecture
from depimage.image.depsimage import CREATED, Known
from depimage.image.layering import KEY_ANNOTATION
from depimage.layout import LAYER_STORE_AUTO, LAYER_STORE_OFF
from depimage.oci.client import NotFound, Registry, RegistryError
from depimage.oci.digest import sha256_digest
from depimage.oci.media import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from depimage.oci.model import Descriptor, Manifest, dumps, parse_document
from depimage.oci.reference import ImageName, parse_image_name
from depimage.oci.write import copy_blob
from depimage.sizes import human_size

REPOSITORY = "depimage-layers"  # the store's name beside the image, under its owner
TAG = "layer-"  # + the layer's key
LOOKUPS = 8  # requests at a time: one image's lookups take a few round trips, whatever its layer count
TITLE = "org.opencontainers.image.title"
PYTHON, PLATFORM = "dev.depimage.python", "dev.depimage.platform"
PACKAGES = "dev.depimage.packages"
DIFF_ID = "dev.depimage.diff-id"  # the layer's, also in the entry's config: read without a second request


@dataclass(frozen=True)
class Entry:
    """A layer the store holds: its key, its blob, what it holds and for which Python and platform."""

    key: str
    known: Known
    title: str  # "numpy 2.1.0", "group 7 (12 packages)"
    python: str = ""
    platform: str = ""
    packages: str = ""  # what it holds: "numpy==2.1.0", "idna==3.10 six==1.17.0"


def store_name(setting: str, image: ImageName) -> ImageName | None:
    """The store's repository for an image: `auto` (or empty) its owner's `depimage-layers` on the same registry,
    `off` none, else the REGISTRY/NAME given, which must be on the image's registry (blobs are mounted between
    repositories of one registry)."""
    if setting in (LAYER_STORE_OFF, "false", "none"):
        return None
    if setting in ("", LAYER_STORE_AUTO):  # under the owner (the name's first part), as written and on the API host
        owner = image.repository.split("/", 1)[0] + "/" if "/" in image.repository else ""
        rest = image.repository[len(owner):]
        return ImageName(image.name[: -len(rest)] + REPOSITORY, image.host, owner + REPOSITORY)
    name = parse_image_name(setting, "layer_store")
    if name.host != image.host:
        raise InputError(f"{opt('layer_store')} {setting} is on {name.host}, the image on {image.host}: a store "
                         "serves the repositories of its own registry",
                         hint=f"name a repository on {image.host}, or `{opt('layer_store')} off`")
    return name


class LayerStore:
    """The store's repository, read and written with the image's credentials."""

    def __init__(self, registry: Registry, on_status: Callable[[str], None]) -> None:
        self.registry = registry
        self.name = registry.image.name
        self.on_status = on_status
        self.readable = True  # until a lookup is refused: then every key is a miss, said once

    def lookup(self, keys: list[str]) -> dict[str, Entry]:
        """The keys the store holds with their blob still there, asked LOOKUPS at a time. A store that is missing,
        refused or out of reach is a miss, said in one line."""
        if not keys or not self.readable:
            return {}
        try:
            with ThreadPoolExecutor(max_workers=min(LOOKUPS, len(keys)), thread_name_prefix="store") as pool:
                found = list(pool.map(self._entry, keys))
        except RegistryError as exc:
            self.readable = False
            self.on_status(f"the layer store {self.name} cannot be read ({exc.message.splitlines()[0]}); every "
                           "layer it might hold is made here")
            return {}
        return {entry.key: entry for entry in found if entry is not None}

    def _entry(self, key: str) -> Entry | None:
        """The entry of key, or None: not there, not depimage's, or its blob gone. Two requests for a hit."""
        try:
            body, media_type, _ = self.registry.get_manifest(TAG + key)
        except NotFound:
            return None
        try:
            manifest = parse_document(body, media_type)
            layer = manifest.layers[0]  # type: ignore[union-attr]
            notes = manifest.annotations
            known = Known(layer.digest, layer.size, notes[DIFF_ID])
        except (ValueError, KeyError, IndexError, AttributeError, TypeError):
            self.on_status(f"the layer store's entry {TAG}{key[:12]}... is not one depimage wrote; ignored")
            return None
        if notes.get(KEY_ANNOTATION) != key or layer.annotations.get(KEY_ANNOTATION) != key:
            return None
        if not self.registry.has_blob(layer.digest):
            self.on_status(f"the layer store's entry for {notes.get(TITLE) or key[:12]} names a blob that is gone "
                           f"from {self.name}; a miss")
            return None
        return Entry(key, known, notes.get(TITLE, ""), notes.get(PYTHON, ""), notes.get(PLATFORM, ""),
                     notes.get(PACKAGES, ""))

    def record(self, entries: list[Entry], source: Registry) -> int:
        """Each entry as a tag of the store, its blob mounted from source (the repository just written); how many
        were recorded. Failing to record costs only a later chance to reuse: said in one line, never fatal."""
        if not entries or not self.readable:  # what cannot be read cannot be written either (ghcr.io): said once
            return 0
        try:
            with ThreadPoolExecutor(max_workers=min(LOOKUPS, len(entries)), thread_name_prefix="store") as pool:
                list(pool.map(lambda e: self._record(e, source), entries))
        except DepimageError as exc:
            self.on_status(f"could not record layers in the layer store {self.name} ({exc.message.splitlines()[0]});"
                           " other repositories will make them again")
            return 0
        return len(entries)

    def _record(self, entry: Entry, source: Registry) -> None:
        digest = entry.known.digest
        if not self.registry.has_blob(digest) and not self.registry.mount_blob(digest, source.image.repository):
            copy_blob(source, self.registry, digest)
        config = dumps({"architecture": oci_architecture(entry.platform.split("-", 1)[0]), "os": "linux",
                        "created": CREATED, "rootfs": {"type": "layers", "diff_ids": [entry.known.diff_id]}})
        config_digest = sha256_digest(config)
        if not self.registry.has_blob(config_digest):
            self.registry.push_blob(config, config_digest)
        manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, len(config)),
                            (Descriptor(OCI_LAYER, digest, entry.known.size, {KEY_ANNOTATION: entry.key}),),
                            {TITLE: entry.title, PYTHON: entry.python, PLATFORM: entry.platform,
                             PACKAGES: entry.packages, KEY_ANNOTATION: entry.key, DIFF_ID: entry.known.diff_id})
        body = manifest.to_bytes()
        if self.registry.manifest_digest(TAG + entry.key) != sha256_digest(body):
            self.registry.put_manifest(TAG + entry.key, body, OCI_MANIFEST)

    def entries(self) -> list[Entry]:
        """Everything the store holds, for `depimage store`."""
        keys = [tag[len(TAG):] for tag in self.registry.list_tags() if tag.startswith(TAG)]
        with ThreadPoolExecutor(max_workers=LOOKUPS, thread_name_prefix="store") as pool:
            found = [e for e in pool.map(self._entry, keys) if e is not None]
        return sorted(found, key=lambda e: (e.packages or e.title, e.python, e.platform))


def describe(entry: Entry) -> str:
    """One line of `depimage store`: what it holds, for which Python and platform, its size and key."""
    return (f"{entry.packages or entry.title:44} python {entry.python:5} {entry.platform:26} "
            f"{human_size(entry.known.size):>9}  {entry.key[:12]}")
