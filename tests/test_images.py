"""The dependency image's writer, records, rebase and base facts, fast: over the in-memory registry (no engine, no
registry process). The end-to-end tests show the same on the real parts; these fail first when the code breaks."""

from __future__ import annotations

import json

from depimage.fingerprint.record import Record, compare, record_from_labels
from depimage.image.base import inspect_base
from depimage.image.depsimage import CREATED, DepLayer, Known, PlatformImage, image_facts, push_layered, recorded
from depimage.image.layer import build_layer
from depimage.image.layering import KEY_ANNOTATION
from depimage.oci.digest import sha256_digest
from depimage.oci.media import OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from memregistry import MemoryRegistry

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DPKG = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\n\n"
ENV = {"VIRTUAL_ENV": "/opt/venv", "PATH": "/opt/venv/bin:$PATH"}


def base_image(registry: MemoryRegistry, tag: str, arch: str = "amd64", marker: bytes = b"") -> None:
    """A Debian-like base (python3.11, glibc 2.36) pushed as the Docker driver pushes: Docker media types."""
    layer = build_layer({"usr/bin/python3.11": (b"#!python" + marker, True), "var/lib/dpkg/status": (DPKG, False)})
    registry.push_blob(layer.blob, layer.digest)
    config = json.dumps({"architecture": arch, "os": "linux", "created": "2024-05-01T00:00:00Z",
                         "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Labels": {"base": "yes"}},
                         "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}, "history": [{}]}).encode()
    registry.push_blob(config, sha256_digest(config))
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": sha256_digest(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer.digest,
                            "size": layer.size}]}
    registry.put_manifest(tag, json.dumps(manifest).encode(), DOCKER_MANIFEST)


def dep_layers(names: list[str]) -> list[DepLayer]:
    out = []
    for name in names:
        layer = build_layer({f"opt/venv/lib/python3.11/site-packages/{name}.py": (name.encode(), False)})
        out.append(DepLayer(f"key-{name}", f"{name} 1.0", Known(layer.digest, layer.size, layer.diff_id), layer))
    return out


def manifest_of(registry: MemoryRegistry, reference: str) -> dict:
    return json.loads(registry.get_manifest(reference)[0])


def test_base_facts_are_read_once_and_kept(tmp_path):
    base = MemoryRegistry("r.io/base/python")
    base_image(base, "3.11")
    lines = []
    digest, [bp] = inspect_base(base, "3.11", (), tmp_path / "cache", lines.append)
    assert (bp.facts.python, bp.facts.python_version, bp.facts.glibc_minor, bp.facts.musl) == \
        ("/usr/bin/python3.11", "3.11", 36, False)
    assert bp.python_platform == "x86_64-manylinux_2_36" and digest == base.manifest_digest("3.11")
    assert any("reading 1 layer(s)" in line for line in lines)
    base.log.clear()
    inspect_base(base, "3.11", (), tmp_path / "cache")  # the layer's facts are in the cache now
    assert not [entry for entry in base.log if entry[0] == "get_blob" and entry[1] == bp.manifest["layers"][0]["digest"]]


def test_the_dependency_image_over_its_base_tag_last_and_nothing_twice(tmp_path):
    blobs: dict = {}
    base, target = MemoryRegistry("r.io/base/python", blobs), MemoryRegistry("r.io/acme/deps", blobs)
    base_image(base, "3.11")
    _, [bp] = inspect_base(base, "3.11", (), None)
    layers = dep_layers(["numpy", "six"])
    image = PlatformImage(bp, layers, ENV, {"dev.depimage.hash": "h"}, "/app")
    pushed = push_layered(base, target, "deps-1", [image], annotations={"dev.depimage.base-digest": "sha256:b"})
    puts = [entry for entry in target.log if entry[0] == "put_manifest"]
    assert puts == [("put_manifest", "deps-1")] and target.log[-1] == ("put_manifest", "deps-1")  # the tag, last
    assert ("mount", bp.manifest["layers"][0]["digest"]) not in target.log  # same blobs: present, not mounted
    manifest = manifest_of(target, "deps-1")
    assert manifest["mediaType"] == OCI_MANIFEST and manifest["annotations"] == {"dev.depimage.base-digest": "sha256:b"}
    assert [layer["mediaType"] for layer in manifest["layers"]] == [OCI_LAYER] * 3  # the base's, made OCI
    assert [layer.get("annotations", {}).get(KEY_ANNOTATION) for layer in manifest["layers"]] == \
        [None, "key-numpy", "key-six"]
    config = json.loads(target.get_blob(manifest["config"]["digest"]))
    assert config["config"]["Env"] == ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV=/opt/venv"]
    assert config["config"]["Labels"] == {"base": "yes", "dev.depimage.hash": "h"}
    assert config["created"] == CREATED and config["config"]["WorkingDir"] == "/app"
    assert config["rootfs"]["diff_ids"][1:] == [d.known.diff_id for d in layers]
    assert pushed.layers_pushed == ["numpy 1.0", "six 1.0"] and pushed.uploaded > 0

    again = push_layered(base, target, "deps-1", [image], annotations={"dev.depimage.base-digest": "sha256:b"})
    assert (again.digest, again.uploaded, again.layers_pushed) == (pushed.digest, 0, [])  # same digest, nothing sent

    elsewhere = MemoryRegistry("other.io/acme/deps")
    said = []
    copied = push_layered(base, elsewhere, "deps-1", [image], said.append, {"dev.depimage.base-digest": "sha256:b"})
    assert copied.digest == pushed.digest  # same inputs, same digest, on another registry
    assert any(line.startswith("copying layer") for line in said)


def test_several_platforms_give_an_index_and_records_are_read_back():
    blobs: dict = {}
    base, target = MemoryRegistry("r.io/base/python", blobs), MemoryRegistry("r.io/acme/deps", blobs)
    base_image(base, "amd64", "amd64")
    base_image(base, "arm64", "arm64")
    _, [amd] = inspect_base(base, "amd64", (), None)
    _, [arm] = inspect_base(base, "arm64", (), None)
    said: list[str] = []
    record = Record({"six": ("1.0", "i", "f")}, {"format": 1, "options": {}, "base-digest": "sha256:a"}).labels()
    images = [PlatformImage(bp, dep_layers([f"six-{bp.platform[6:]}"]), ENV, record, "/app") for bp in (amd, arm)]
    pushed = push_layered(base, target, "deps-2", images, said.append, {"dev.depimage.base-digest": "sha256:a"})
    assert target.log[-1] == ("put_manifest", "deps-2")  # the index, last
    index = manifest_of(target, "deps-2")
    assert index["mediaType"] == OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    assert all(line.startswith(("linux/amd64: ", "linux/arm64: ")) for line in said if "pushing" in line)
    assert pushed.digest == sha256_digest(target.get_manifest("deps-2")[0])

    known, labels = recorded(target, ("deps-latest", "deps-2"))  # a missing reference is skipped
    assert set(known) == {"key-six-amd64", "key-six-arm64"} and len(labels) == 2
    annotations, first_labels = image_facts(target, "deps-2")
    assert annotations == {"dev.depimage.base-digest": "sha256:a"}
    old = record_from_labels(first_labels)
    assert isinstance(old, Record) and old.inputs["base-digest"] == "sha256:a"
    new = Record({"six": ("1.1", "i", "g")}, old.inputs)
    assert compare(old, new).lines() == ["~ six 1.0 -> 1.1"]


def test_a_rebase_sends_only_a_config_and_a_manifest():
    """The same dependency layers (known by key, no bytes in hand) over a base whose tag moved."""
    blobs: dict = {}
    base, target = MemoryRegistry("r.io/base/python", blobs), MemoryRegistry("r.io/acme/deps", blobs)
    base_image(base, "3.11")
    _, [old_base] = inspect_base(base, "3.11", (), None)
    first = push_layered(base, target, "deps-1", [PlatformImage(old_base, dep_layers(["six"]), ENV, {}, "/app")])
    known, _ = recorded(target, ("deps-1",))
    base_image(base, "3.11", marker=b" security fix")  # the tag moves to a new base
    _, [new_base] = inspect_base(base, "3.11", (), None)
    target.log.clear()
    layers = [DepLayer("key-six", "six 1.0", known["key-six"])]  # no bytes: it must already be there
    rebased = push_layered(base, target, "deps-1", [PlatformImage(new_base, layers, ENV, {}, "/app")])
    pushed_blobs = [entry for entry in target.log if entry[0] == "push_blob"]
    assert len(pushed_blobs) == 1 and rebased.layers_pushed == [] and rebased.digest != first.digest  # the config
    manifest = manifest_of(target, "deps-1")
    assert manifest["layers"][0]["digest"] == new_base.manifest["layers"][0]["digest"]
    assert manifest["layers"][1]["digest"] == known["key-six"].digest


def test_diff_of_two_project_folders_says_what_moved(app, tmp_path):
    """depimage diff on two revisions of a project, no registry: a locked file that changed is named."""
    import os

    from depimage.doors.inputs import host_from
    from depimage.usecases.diff import DiffRequest, diff
    from helpers import copy
    from realworld import change_locked_hash

    other = copy(app, tmp_path / "other")
    change_locked_hash(other / "uv.lock", "six", "", "")
    assert diff(DiffRequest(str(app), str(app)), host_from(os.environ)).lines() == []
    lines = diff(DiffRequest(str(app), str(other)), host_from(os.environ)).lines()
    assert len(lines) == 1 and lines[0].startswith("~ six ") and "other files" in lines[0], lines
