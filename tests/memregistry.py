"""A registry in memory with the client's interface (oci.read.Repository): one repository's manifests, and blobs
shared with others of the same "registry" when they are given one dict. Every call is logged, so a test can say
what was read, mounted and pushed, and in which order."""

from __future__ import annotations

from depimage.oci.client import NotFound
from depimage.oci.digest import sha256_digest
from depimage.oci.reference import parse_image_name


class MemoryRegistry:
    """One repository's blobs and manifests in a dict; every call logged."""

    def __init__(self, name: str, blobs: dict | None = None) -> None:
        self.image = parse_image_name(name)
        self.blobs: dict[str, bytes] = blobs if blobs is not None else {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.log: list[tuple[str, str]] = []

    def get_manifest(self, reference):
        self.log.append(("get_manifest", reference))
        if reference not in self.manifests:
            raise NotFound(f"the image {self.image.ref(reference)} does not exist")
        body, media_type = self.manifests[reference]
        return body, media_type, sha256_digest(body)

    def manifest_digest(self, reference):
        found = self.manifests.get(reference)
        return sha256_digest(found[0]) if found else None

    def get_blob(self, digest):
        self.log.append(("get_blob", digest))
        return self.blobs[digest]

    def stream_blob(self, digest, chunk=1 << 20):
        self.log.append(("get_blob", digest))
        data = self.blobs[digest]
        for start in range(0, len(data), chunk):
            yield data[start:start + chunk]

    def list_tags(self):
        return sorted(ref for ref in self.manifests if not ref.startswith("sha256:"))

    def has_blob(self, digest):
        return digest in self.blobs

    def mount_blob(self, digest, from_repository):
        self.log.append(("mount", digest))
        return digest in self.blobs

    def push_blob(self, data, digest):
        data = data.read_bytes() if hasattr(data, "read_bytes") else data  # a layer packed on disk
        assert sha256_digest(data) == digest
        self.log.append(("push_blob", digest))
        self.blobs[digest] = data

    def put_referrer(self, digest, body, media_type):
        self.put_manifest(digest, body, media_type)
        return False  # no referrers API, as Distribution: the client keeps the tag schema

    def put_manifest(self, reference, body, media_type):
        self.log.append(("put_manifest", reference))
        self.manifests[reference] = (body, media_type)
        self.manifests[sha256_digest(body)] = (body, media_type)
        return sha256_digest(body)
