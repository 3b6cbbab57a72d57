"""Assembly on a registry, against an in-memory registry with the client's interface: layers referenced and never
downloaded, the manifest put last, the same inputs giving the same digest, nothing uploaded twice."""

from __future__ import annotations

import json

import pytest

from depimage.errors import InputError
from depimage.image.appimage import Assembly, assemble
from depimage.image.layer import build_layer
from depimage.image.runconfig import Runtime
from depimage.layout import APP_SITE, APP_SITE_LABEL
from depimage.oci.digest import sha256_digest
from depimage.oci.media import OCI_LAYER, OCI_MANIFEST
from memregistry import MemoryRegistry


def deps_image(registry: MemoryRegistry, labels: dict) -> None:
    layer = build_layer({"opt/venv/lib/python3.12/site-packages/six.py": (b"# six\n", False)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": labels, "Env": ["A=1"]},
                         "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}, "history": []}).encode()
    registry.blobs[layer.digest] = layer.blob
    registry.blobs[sha256_digest(config)] = config
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(config),
                           "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer.digest, "size": layer.size}]}
    registry.manifests["deps-1"] = (json.dumps(manifest).encode(), OCI_MANIFEST)


def what(version: str = "1.0") -> Assembly:
    layer = build_layer({f"{APP_SITE.lstrip('/')}/shop/__init__.py": (f"V = {version!r}\n".encode(), False)})
    return Assembly(layer, Runtime(env=(("LOG", "info"),)), ["shop"], {"x": "y"}, f"depimage app: shop {version}")


def test_assembly_references_layers_and_puts_the_manifest_last():
    shared: dict = {}
    deps = MemoryRegistry("r.io/acme/deps", shared)
    deps_image(deps, {APP_SITE_LABEL: APP_SITE})
    app = MemoryRegistry("r.io/acme/app", shared)
    deps_layers = {layer["digest"] for layer in json.loads(deps.manifests["deps-1"][0])["layers"]}
    done = assemble(deps, "deps-1", app, "1.0", what())
    fetched = {digest for call, digest in app.log + deps.log if call == "get_blob"}
    assert fetched and not fetched & deps_layers, "a layer of the dependency image was downloaded"
    assert app.log[-1] == ("put_manifest", "1.0")
    body, _ = app.manifests["1.0"]
    manifest = json.loads(body)
    assert done.digest == sha256_digest(body) and len(manifest["layers"]) == 2
    config = json.loads(shared[manifest["config"]["digest"]])
    assert config["config"]["Cmd"] == ["shop"] and "LOG=info" in config["config"]["Env"]
    assert len(config["rootfs"]["diff_ids"]) == 2

    again = assemble(deps, "deps-1", app, "1.0", what())
    assert again.digest == done.digest and again.uploaded == 0  # the same inputs: the same digest, nothing sent
    other = assemble(deps, "deps-1", app, "1.1", what("1.1"))
    assert other.digest != done.digest


def test_a_base_not_made_by_depimage_is_refused_before_any_write():
    deps = MemoryRegistry("r.io/acme/deps")
    deps_image(deps, {})
    app = MemoryRegistry("r.io/acme/app", deps.blobs)
    with pytest.raises(InputError, match="not a dependency image made by this depimage"):
        assemble(deps, "deps-1", app, "1.0", what())
    assert not [c for c in app.log if c[0] in ("push_blob", "put_manifest")]
