"""What the layer store holds (image/store.py): the package layers every repository of the registry can mount."""

from __future__ import annotations

from dataclasses import dataclass

from depimage.errors import InputError, opt
from depimage.image.store import Entry, LayerStore, store_name
from depimage.oci.client import Registry
from depimage.oci.reference import parse_image_name
from depimage.usecases.common import RegistryAccess


@dataclass(frozen=True)
class StoreListing:
    store: str  # REGISTRY/NAME
    entries: list[Entry]

    def as_dict(self) -> dict:
        return {"store": self.store, "layers": [
            {"title": e.title, "packages": e.packages.split(), "python": e.python, "platform": e.platform, "size": e.known.size, "key": e.key,
             "digest": e.known.digest} for e in self.entries]}


def list_store(image_name: str, access: RegistryAccess) -> StoreListing:
    """The entries of the store an image in image_name's repository uses (auto, or the one access names)."""
    image = parse_image_name(image_name)
    name = store_name(access.layer_store, image)
    if name is None:
        raise InputError(f"{opt('layer_store')} is off: there is no store to list",
                         hint=f"name one with {opt('layer_store')} REGISTRY/NAME, or leave it at auto")
    store = LayerStore(Registry(name, access.credentials(image), insecure=access.insecure), lambda msg: None)
    return StoreListing(name.name, store.entries())
