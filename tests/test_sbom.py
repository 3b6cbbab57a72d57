"""The SBOM, fast: CycloneDX made by its library and valid by its schema, reproducible, attached as an OCI 1.1
referrer through the referrers tag schema (over the in-memory registry, which, as Distribution, has no referrers
API), and read back; the base annotations; a builder's Docker image made OCI with them, and the builder's list of
what it installed joined with the lock. tests/test_sbom_e2e.py shows it on the real registry and engine."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from depimage.image.sbom import (SBOM_TYPE, Installed, attach, base_annotations, read_sbom, referrers, sbom)
from depimage.oci.digest import sha256_digest
from depimage.fingerprint.installed import Locked
from depimage.oci.media import (DOCKER_CONFIG, DOCKER_LIST, DOCKER_MANIFEST, LAYER_TYPE, OCI_CONFIG, OCI_INDEX,
                                OCI_LAYER, OCI_MANIFEST)
from depimage.oci.model import Descriptor
from depimage.oci.reference import parse_image_name
from depimage.oci.write import annotate
from depimage.usecases.builder import _platform_of, sbom_listing
from memregistry import MemoryRegistry

NUMPY = Installed("numpy", "2.1.0", ("a" * 64, "b" * 64), "https://index.example/simple")
SIX = Installed("Six", "1.17.0", ("c" * 64,), "https://index.example/simple")
LOCAL = Installed("tool", "0.3.0", (), "git+https://git.example/acme/tool@0123abcd")


def test_the_sbom_is_valid_cyclonedx_and_lists_each_distribution_with_its_purl_hashes_and_source():
    document = sbom([NUMPY, SIX, LOCAL], "registry.test/acme/api deps-0123")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode()) is None
    components = {c["name"]: c for c in json.loads(document)["components"]}
    assert set(components) == {"numpy", "six", "tool"}
    assert components["numpy"]["purl"] == "pkg:pypi/numpy@2.1.0"
    assert [h["content"] for h in components["numpy"]["hashes"]] == ["a" * 64, "b" * 64]
    assert components["tool"]["externalReferences"][0]["type"] == "vcs"


def test_same_packages_same_bytes_in_any_order_and_another_package_other_bytes():
    assert sbom([NUMPY, SIX], "x") == sbom([SIX, NUMPY], "x")
    assert sbom([NUMPY, SIX], "x") != sbom([NUMPY], "x")
    assert "timestamp" not in json.loads(sbom([NUMPY], "x"))["metadata"] or \
        json.loads(sbom([NUMPY], "x"))["metadata"]["timestamp"].startswith("1980")


def test_attached_as_a_referrer_through_the_tag_schema_once_and_read_back():
    registry = MemoryRegistry("registry.test/acme/api")
    subject = Descriptor(OCI_MANIFEST, "sha256:" + "1" * 64, 1234)
    document = sbom([NUMPY, SIX], "x")
    first = attach(registry, subject, document)
    again = attach(registry, subject, document)  # a re-run: the same referrer, listed once
    assert first == again
    found = referrers(registry, subject.digest)
    assert [d.digest for d in found] == [first] and found[0].artifact_type == SBOM_TYPE
    referrer = json.loads(registry.manifests[first][0])
    assert referrer["subject"] == {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": 1234}
    assert referrer["artifactType"] == SBOM_TYPE and referrer["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert registry.blobs[referrer["layers"][0]["digest"]] == document
    assert [d.name for d in read_sbom(registry, subject.digest)] == ["numpy", "six"]
    assert read_sbom(registry, "sha256:" + "2" * 64) is None
    assert sha256_digest(document) in registry.blobs


def test_base_annotations_name_the_base_fully_with_its_tag_and_digest():
    hub = base_annotations(parse_image_name("python"), "3.12-slim", "sha256:" + "f" * 64)
    assert hub == {"org.opencontainers.image.base.name": "docker.io/library/python:3.12-slim",
                   "org.opencontainers.image.base.digest": "sha256:" + "f" * 64}
    ghcr = base_annotations(parse_image_name("ghcr.io/acme/base"), "1", "")
    assert ghcr == {"org.opencontainers.image.base.name": "ghcr.io/acme/base:1"}


def test_a_registry_with_the_referrers_api_gets_no_fallback_tag():
    class WithApi(MemoryRegistry):
        def put_referrer(self, digest, body, media_type):
            self.put_manifest(digest, body, media_type)
            return True  # it answered OCI-Subject: it indexes the referrer itself

    registry = WithApi("registry.test/acme/api")
    subject = Descriptor(OCI_MANIFEST, "sha256:" + "1" * 64, 10)
    attach(registry, subject, sbom([NUMPY], "x"))
    assert not any(tag.startswith("sha256-") for tag in registry.list_tags())


def _docker_image(registry: MemoryRegistry, arch: str) -> tuple[bytes, str]:
    """A Docker v2 schema 2 manifest, as the docker driver pushes it: a config and one layer."""
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": {"a": "b"}}}).encode()
    layer = f"layer of {arch}".encode()
    for blob in (config, layer):
        registry.push_blob(blob, sha256_digest(blob))
    body = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                       "config": {"mediaType": DOCKER_CONFIG, "digest": sha256_digest(config), "size": len(config)},
                       "layers": [{"mediaType": LAYER_TYPE[DOCKER_MANIFEST], "digest": sha256_digest(layer),
                                   "size": len(layer)}]}).encode()
    return body, sha256_digest(body)


def test_annotate_makes_a_builders_docker_image_oci_with_the_annotations_blobs_untouched():
    registry = MemoryRegistry("registry.test/acme/api")
    body, _ = _docker_image(registry, "amd64")
    registry.put_manifest("deps-1", body, DOCKER_MANIFEST)
    blobs = dict(registry.blobs)
    based = base_annotations(parse_image_name("python"), "3.12-slim", "sha256:" + "f" * 64)
    written = annotate(registry, "deps-1", based)
    new, media_type, digest = registry.get_manifest("deps-1")
    assert media_type == OCI_MANIFEST and digest == written.digest and [m.digest for m in written.manifests] == [digest]
    manifest = json.loads(new)
    assert manifest["mediaType"] == OCI_MANIFEST and manifest["annotations"] == based
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [OCI_LAYER]
    assert registry.blobs == blobs  # no blob written: the config's bytes are the builder's
    assert annotate(registry, "deps-1", based).digest == digest  # again: the same document


def test_annotate_an_index_annotates_each_platform_and_leaves_out_attestations():
    registry = MemoryRegistry("registry.test/acme/api")
    entries = []
    for arch in ("amd64", "arm64"):
        body, digest = _docker_image(registry, arch)
        registry.put_manifest(digest, body, DOCKER_MANIFEST)
        entries.append({"mediaType": DOCKER_MANIFEST, "digest": digest, "size": len(body),
                        "platform": {"os": "linux", "architecture": arch, **({"variant": "v8"} if arch == "arm64" else {})}})
    attestation, at_digest = _docker_image(registry, "unknown")
    registry.put_manifest(at_digest, attestation, OCI_MANIFEST)
    entries.append({"mediaType": OCI_MANIFEST, "digest": at_digest, "size": len(attestation),
                    "platform": {"os": "unknown", "architecture": "unknown"}})
    registry.put_manifest("deps-2", json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                                                "manifests": entries}).encode(), DOCKER_LIST)
    written = annotate(registry, "deps-2", {"k": "v"})
    index = json.loads(registry.get_manifest("deps-2")[0])
    assert index["mediaType"] == OCI_INDEX and index["annotations"] == {"k": "v"}
    assert [m["platform"] for m in index["manifests"]] == [e["platform"] for e in entries[:2]]
    assert [m.digest for m in written.manifests] == [m["digest"] for m in index["manifests"]]
    for entry in index["manifests"]:
        manifest = json.loads(registry.get_manifest(entry["digest"])[0])
        assert manifest["annotations"] == {"k": "v"} and entry["mediaType"] == manifest["mediaType"] == OCI_MANIFEST
    assert [_platform_of(m, {"linux/amd64": [], "linux/arm64": []}) for m in written.manifests] == \
        ["linux/amd64", "linux/arm64"]  # the local exporter's folders say arm64 without its variant
    assert _platform_of(written.manifests[0], {"": []}) == ""
    assert _platform_of(written.manifests[1], {"linux/amd64": []}) is None


def test_the_builders_listing_takes_hashes_and_source_from_the_lock_where_the_version_is_the_locked_one():
    locked = {"six": Locked("six", "1.17.0", ("c" * 64,), 0, True, source="https://index.example/simple"),
              "zope-interface": Locked("zope-interface", "7.0", ("d" * 64,), 0, True, source="https://i.example")}
    listed = sbom_listing([("six", "1.17.0"), ("zope.interface", "7.0.0"), ("extra", "1.0")], locked)
    assert listed == [Installed("six", "1.17.0", ("c" * 64,), "https://index.example/simple"),
                      Installed("zope.interface", "7.0.0", ("d" * 64,), "https://i.example"),
                      Installed("extra", "1.0")]
    assert sbom_listing([("six", "1.16.0")], locked) == [Installed("six", "1.16.0")]  # not the locked file's
