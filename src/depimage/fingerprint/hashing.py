"""The dependency-only hash: recipe files, image options, generated Dockerfile and the recipe format,
each framed by length so that no two different inputs run together into the same bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from depimage import RECIPE_FORMAT
from depimage.fingerprint.canonical import canonical_json
from depimage.fingerprint.options import ImageOptions
from depimage.layout import FILE_MODE

TAG_HEX = 24  # 96 bits in the tag: collisions stay out of reach for any one repository
TAG_PREFIX = "deps-"  # the default tag is deps-<first 24 hex digits of the hash>


@dataclass(frozen=True)
class DependencyHash:
    """sha256 hex digest of everything that shapes the dependency image."""

    hex: str

    def tag(self, prefix: str = TAG_PREFIX) -> str:
        return f"{prefix}{self.hex[:TAG_HEX]}"


def compute(items: list[tuple[str, bytes]], options: ImageOptions, dockerfile: str) -> DependencyHash:
    """Same dependencies and options, same hash; anything that changes the image, a new one.
    items: the recipe's canonical files, or for one member, scope.member_items."""
    h = hashlib.sha256()

    def put(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    put("format", str(RECIPE_FORMAT).encode())
    put("options", canonical_json(options.as_dict()))
    put("dockerfile", dockerfile.encode())
    for path, content in items:
        put(f"file {path} {FILE_MODE:o}", content)
    return DependencyHash(h.hexdigest())
