"""The SBOM, fast: CycloneDX made by its library and valid by its schema, reproducible, attached as an OCI 1.1
referrer through the referrers tag schema (over the in-memory registry, which, as Distribution, has no referrers
API), and read back; the base annotations. tests/test_sbom_e2e.py shows it on the real registry and engine."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from depimage.image.sbom import (SBOM_TYPE, Installed, attach, base_annotations, read_sbom, referrers, sbom)
from depimage.oci.digest import sha256_digest
from depimage.oci.media import OCI_MANIFEST
from depimage.oci.model import Descriptor
from depimage.oci.reference import parse_image_name
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
