"""diff: what differs between two dependency images or project revisions, without building: packages added,
removed and changed, options, and the base image's digest, from the records images carry (fingerprint/record.py)
or from a project folder's own fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depimage.errors import InputError
from depimage.fingerprint.record import Changes, Record, compare, record_of
from depimage.oci.client import Registry
from depimage.oci.reference import parse_image_ref
from depimage.usecases.common import Host, ImageRequest, RegistryAccess
from depimage.usecases.hash import HashRequest, hash_project
from depimage.usecases.records import record_at


@dataclass(frozen=True)
class DiffRequest:
    old: str  # a project folder, or REGISTRY/NAME:TAG / @DIGEST of a dependency image
    new: str
    image: ImageRequest = ImageRequest()  # the options a folder is hashed with
    registry: RegistryAccess = RegistryAccess()
    context: str | None = None


def diff(request: DiffRequest, host: Host) -> Changes:
    return compare(_record(request.old, request, host), _record(request.new, request, host))


def _record(side: str, request: DiffRequest, host: Host) -> Record:
    if Path(side).is_dir():
        return record_of(hash_project(HashRequest(side, request.image, request.context), host))
    try:
        name, reference = parse_image_ref(side, "image")
    except InputError:
        raise InputError(f"{side!r} is neither a project folder (there is no such folder) nor an image "
                         "(REGISTRY/NAME:TAG or REGISTRY/NAME@DIGEST)",
                         hint="name two project folders, two images, or one of each") from None
    registry = Registry(name, request.registry.credentials(name), insecure=request.registry.insecure)
    record = record_at(registry, reference)
    if record is None:
        raise InputError(f"{side} carries no record of what it installs",
                         hint="it was made by another tool or an older depimage; compare project folders instead")
    return record
