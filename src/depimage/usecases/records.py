"""The records images carry of themselves (fingerprint/record.py), read from the registry: the one way ensure,
plan and diff ask what an image installed, and what moved since the newest image of a repository."""

from __future__ import annotations

from depimage.fingerprint.record import Record, record_from_labels
from depimage.image.depsimage import image_facts
from depimage.layout import LATEST
from depimage.oci.read import Repository


def record_at(registry: Repository, reference: str) -> Record | None:
    """The record of the image at reference (None for one made before records, or not by depimage); a missing
    image is the registry's NotFound."""
    return record_from_labels(image_facts(registry, reference)[1])


def latest_record(registry: Repository, tag_prefix: str) -> Record | None:
    """The record of <prefix>latest, the newest image of the repository; None when there is none."""
    latest = tag_prefix + LATEST
    if registry.manifest_digest(latest) is None:
        return None
    return record_at(registry, latest)
