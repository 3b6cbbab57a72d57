"""The layer store, fast: where it is, what an entry records, and every way a lookup is a miss (over the in-memory
registry). tests/test_store_e2e.py shows the same on the real registries, with and without token auth."""

from __future__ import annotations

import pytest

from depimage.errors import InputError
from depimage.image.depsimage import Known
from depimage.image.layer import build_layer
from depimage.image.store import TAG, Entry, LayerStore, store_name
from depimage.oci.client import RegistryError
from depimage.oci.reference import parse_image_name
from memregistry import MemoryRegistry


@pytest.mark.parametrize("image, store", [
    ("ghcr.io/acme/api", "ghcr.io/acme/depimage-layers"),
    ("ghcr.io/acme/mono/worker", "ghcr.io/acme/depimage-layers"),  # under the owner, whatever the depth
    ("acme/api", "acme/depimage-layers"),  # Docker Hub
    ("localhost:5000/api", "localhost:5000/depimage-layers"),
])
def test_the_default_store_sits_under_the_images_owner(image, store):
    assert store_name("auto", parse_image_name(image)).name == store
    assert store_name("", parse_image_name(image)).name == store


def test_off_is_no_store_and_another_registry_is_refused():
    assert store_name("off", parse_image_name("ghcr.io/acme/api")) is None
    assert store_name("ghcr.io/acme/shared", parse_image_name("ghcr.io/acme/api")).repository == "acme/shared"
    with pytest.raises(InputError, match="serves the repositories of its own registry"):
        store_name("quay.io/acme/shared", parse_image_name("ghcr.io/acme/api"))


def made(blobs: dict, name: str) -> Entry:
    """A package layer pushed to a repository of the registry (blobs shared), as an entry to record."""
    layer = build_layer({f"opt/venv/{name}.py": (name.encode(), False)})
    blobs[layer.digest] = layer.data
    return Entry("k" * 63 + name[0], Known(layer.digest, layer.size, layer.diff_id), f"{name} 1.0", "3.12",
                 "x86_64-manylinux_2_36", f"{name}==1.0")


def test_what_is_recorded_is_found_by_key_with_what_it_holds():
    blobs: dict = {}
    target, said = MemoryRegistry("registry.test/acme/a", blobs), []
    store = LayerStore(MemoryRegistry("registry.test/acme/depimage-layers", blobs), said.append)
    numpy, six = made(blobs, "numpy"), made(blobs, "six")
    assert store.record([numpy, six], target) == 2
    assert sorted(store.registry.list_tags()) == sorted([TAG + numpy.key, TAG + six.key])
    found = store.lookup([numpy.key, six.key, "0" * 64])
    assert found == {numpy.key: numpy, six.key: six} and said == []  # a key it lacks is a plain miss
    assert store.entries() == [numpy, six]
    store.record([numpy], target)  # again: the same bytes, nothing put
    assert [c for c in store.registry.log if c[0] == "put_manifest"].count(("put_manifest", TAG + numpy.key)) == 1


def test_an_entry_whose_blob_is_gone_is_a_miss_with_a_line():
    blobs: dict = {}
    said: list[str] = []
    store = LayerStore(MemoryRegistry("registry.test/acme/depimage-layers", blobs), said.append)
    numpy = made(blobs, "numpy")
    store.record([numpy], MemoryRegistry("registry.test/acme/a", blobs))
    del blobs[numpy.known.digest]
    assert store.lookup([numpy.key]) == {}
    assert len(said) == 1 and "names a blob that is gone" in said[0] and "numpy 1.0" in said[0]


class Refusing(MemoryRegistry):
    def get_manifest(self, reference):
        raise RegistryError("ghcr.io refused user 'ci' for acme/depimage-layers (HTTP 403)")


def test_a_store_that_cannot_be_read_is_a_miss_said_once():
    said: list[str] = []
    store = LayerStore(Refusing("ghcr.io/acme/depimage-layers"), said.append)
    assert store.lookup(["a" * 64, "b" * 64]) == {} and store.lookup(["c" * 64]) == {}
    assert len(said) == 1 and "cannot be read" in said[0] and "HTTP 403" in said[0]


def test_failing_to_record_is_a_line_not_a_failure():
    class ReadOnly(MemoryRegistry):
        def put_manifest(self, reference, body, media_type):
            raise RegistryError("ghcr.io did not accept the manifest (HTTP 403)")

    blobs: dict = {}
    said: list[str] = []
    store = LayerStore(ReadOnly("ghcr.io/acme/depimage-layers", blobs), said.append)
    assert store.record([made(blobs, "numpy")], MemoryRegistry("ghcr.io/acme/a", blobs)) == 0
    assert len(said) == 1 and "could not record" in said[0]
