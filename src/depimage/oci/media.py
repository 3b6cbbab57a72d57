"""The media types depimage reads and writes (OCI image spec, and Docker's v2 schema 2 that registries still
serve for images built by the docker driver)."""

from __future__ import annotations

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEXES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPE = {DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_MANIFEST: OCI_LAYER}
MANIFEST_TYPES = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])  # the Accept header
