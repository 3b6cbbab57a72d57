"""An SBOM for each image manifest depimage writes, from what it installed (nothing is scanned): CycloneDX JSON made
with the format's own library (cyclonedx-python-lib), one component per installed distribution with its name,
version, package URL (pkg:pypi/...), the locked files' hashes and where it came from (index, git, path).

It is attached as an OCI 1.1 referrer of the manifest it describes (`subject`, `artifactType`), found through the
registry's referrers API where it has one and through the referrers tag schema (`sha256-<hex>`, an index of the
referrers) where it has not (Distribution); never as an entry of the image's index, where tools that walk the
platforms trip over `unknown/unknown`. Reproducible: no time, and a serial number derived from the contents, so the
same packages give the same SBOM blob, and a rebase or a re-run uploads no new one."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from depimage.errors import DepimageError
from depimage.oci.client import NotFound
from depimage.oci.digest import sha256_digest
from depimage.oci.media import OCI_INDEX, OCI_MANIFEST
from depimage.oci.model import Descriptor, Index, Manifest, parse_document
from depimage.oci.read import Repository
from depimage.oci.reference import DOCKER_HUB, ImageName
from depimage.project.names import normalize_name

SBOM_TYPE = "application/vnd.cyclonedx+json"
BASE_NAME, BASE_DIGEST = "org.opencontainers.image.base.name", "org.opencontainers.image.base.digest"
EMPTY_TYPE, EMPTY = "application/vnd.oci.empty.v1+json", b"{}"  # the OCI 1.1 config of an artifact
FIXED_TIME = datetime(1980, 1, 1, tzinfo=timezone.utc)  # as the images' own time: the SBOM is reproducible


def base_annotations(base: ImageName, reference: str, digest: str) -> dict[str, str]:
    """The OCI image spec's base annotations (also the config's labels): the base's full name with the tag given,
    and the digest that tag had."""
    name = f"docker.io/{base.repository}" if base.host == DOCKER_HUB else base.name
    tag = f":{reference}" if reference and not reference.startswith("sha256:") else ""
    return {BASE_NAME: name + tag, **({BASE_DIGEST: digest} if digest else {})}


@dataclass(frozen=True)
class Installed:
    """One distribution an image holds, as the SBOM lists it."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()  # sha256 hex of the locked files (wheels, sdist)
    source: str = ""  # the index URL, git+URL@commit, or a path
    application: bool = False  # the project itself (the application image)


def sbom(installed: list[Installed], describes: str) -> bytes:
    """CycloneDX 1.6 JSON listing the distributions; describes: what the image is, for people."""
    ordered = sorted(installed, key=lambda d: (normalize_name(d.name), d.version))
    seed = json.dumps([[d.name, d.version, list(d.hashes), d.source] for d in ordered])
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "depimage:" + hashlib.sha256(seed.encode()).hexdigest()))
    bom.metadata.timestamp = FIXED_TIME
    root = bom.metadata.component = Component(name=describes, type=ComponentType.CONTAINER, bom_ref="image")
    listed = []
    for d in ordered:
        name = normalize_name(d.name)
        purl = PackageURL("pypi", None, name, d.version)
        refs = []
        if d.source.startswith(("http://", "https://", "git+")):
            refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION if not d.source.startswith("git+")
                                          else ExternalReferenceType.VCS, url=XsUri(d.source)))
        component = Component(
            name=name, version=d.version, purl=purl, bom_ref=purl.to_string(), external_references=refs,
            type=ComponentType.APPLICATION if d.application else ComponentType.LIBRARY,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=h) for h in d.hashes if _hex(h)])
        if d.source and not refs:
            component.description = f"from {d.source}"
        bom.components.add(component)
        listed.append(component)
    bom.register_dependency(root, listed)  # the image holds them all (their own graph is not recorded)
    return JsonV1Dot6(bom).output_as_string(indent=None).encode()


def _hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def attach(registry: Repository, subject: Descriptor, document: bytes, artifact_type: str = SBOM_TYPE) -> str:
    """The document as a referrer of subject (a manifest of this repository); the referrer's digest. Blobs the
    registry has are not sent again; the fallback tag's index gains the referrer only once."""
    for blob in (document, EMPTY):
        digest = sha256_digest(blob)
        if not registry.has_blob(digest):
            registry.push_blob(blob, digest)
    manifest = Manifest(OCI_MANIFEST, Descriptor(EMPTY_TYPE, sha256_digest(EMPTY), len(EMPTY)),
                        (Descriptor(artifact_type, sha256_digest(document), len(document)),),
                        {}, artifact_type=artifact_type, subject=subject.bare())
    body = manifest.to_bytes()
    digest = sha256_digest(body)
    if registry.manifest_digest(digest) is not None:  # a re-run: put before, with its tag where one was needed
        return digest
    if not registry.put_referrer(digest, body, OCI_MANIFEST):
        _tag_schema(registry, subject.digest, Descriptor(OCI_MANIFEST, digest, len(body),
                                                         rest={"artifactType": artifact_type}))
    return digest


def attach_each(registry: Repository, listings: Iterable[tuple[Descriptor, list[Installed]]], describes: str,
                on_status: Callable[[str], None]) -> int:
    """An SBOM for each (manifest, what it holds), as attach does; how many were attached. The image is whole
    without them: a failure (to read what they list, or to write them) is said in one line."""
    count = 0
    try:
        for manifest, installed in listings:
            attach(registry, manifest, sbom(installed, describes))
            count += 1
    except DepimageError as exc:
        on_status(f"could not attach the SBOM ({exc.message.splitlines()[0]}); the image is complete without it")
    return count


def _tag_schema(registry: Repository, subject: str, referrer: Descriptor) -> None:
    """The referrers tag schema: the index tagged sha256-<hex of subject> lists every referrer of it."""
    tag = subject.replace(":", "-")
    try:
        body, media_type, _ = registry.get_manifest(tag)
        index = parse_document(body, media_type)
        listed = index.manifests if isinstance(index, Index) else ()
    except NotFound:
        listed = ()
    if any(d.digest == referrer.digest for d in listed):
        return
    registry.put_manifest(tag, Index(OCI_INDEX, tuple(listed) + (referrer,), {}).to_bytes(), OCI_INDEX)


def referrers(registry: Repository, subject: str, artifact_type: str = SBOM_TYPE) -> list[Descriptor]:
    """The referrers of subject of that type, by the tag schema (what the tests and `depimage` read back)."""
    try:
        body, media_type, _ = registry.get_manifest(subject.replace(":", "-"))
    except NotFound:
        return []
    index = parse_document(body, media_type)
    return [d for d in index.manifests if d.artifact_type == artifact_type] if isinstance(index, Index) else []


def read_sbom(registry: Repository, subject: str) -> list[Installed] | None:
    """The distributions the SBOM attached to subject lists (the dependency image's, which the application image's
    extends), or None when it has none."""
    found = referrers(registry, subject)
    if not found:
        return None
    body, media_type, _ = registry.get_manifest(found[-1].digest)
    manifest = parse_document(body, media_type)
    if not isinstance(manifest, Manifest) or not manifest.layers:
        return None
    document = json.loads(registry.get_blob(manifest.layers[0].digest))
    out = []
    for c in document.get("components", []):
        refs = [r.get("url", "") for r in c.get("externalReferences", [])]
        source = refs[0] if refs else c.get("description", "").removeprefix("from ")
        out.append(Installed(c["name"], c.get("version", ""), tuple(h["content"] for h in c.get("hashes", [])),
                             source, c.get("type") == "application"))
    return out
