"""Which package goes into which layer of a layered dependency image, decided from uv's export alone (so before
anything is downloaded): a package whose wheel is large gets a layer of its own, the largest first and at most
HEAVY_BUDGET of them; every other package goes into one of GROUPS layers chosen by a hash of its name, so
adding, removing or updating a small package changes that one group layer. The layer count stays below
HEAVY_BUDGET + GROUPS + 2 (uv, the venv) whatever the lock, far under the engines' limit of about 125.

Each layer has a key: what it holds (names, versions and the locked files' hashes) for which Python and
platform. Same key, same bytes: a layer whose key an image in the registry already records is not made again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

from depimage.fingerprint.canonical import canonical_json
from depimage.fingerprint.installed import Locked
from depimage.image.staging import Target
from depimage.project.names import normalize_name

LAYOUT_FORMAT = 1  # bumped whenever what a layer holds for the same key changes
HEAVY_BYTES = 1_000_000  # a package with a wheel this large (compressed) gets a layer of its own
HEAVY_BUDGET = 40
GROUPS = 16
KEY_ANNOTATION = "dev.depimage.layer"  # on each layer's descriptor in the manifest: its key
BASE_ANNOTATION = "dev.depimage.base-digest"  # on the manifest (and index): the digest its base tag had


@dataclass(frozen=True)
class PlannedLayer:
    title: str  # for people: "numpy 2.1.0", or "group 7 (12 packages)"
    packages: tuple[Locked, ...]
    key: str


def installed_for(packages: list[Locked], target: Target) -> list[Locked]:
    """The packages uv installs for target: markers evaluated for its platform and Python. A marker that cannot
    be judged here keeps its package (uv decides while installing; an unneeded package costs an empty layer)."""
    env = target.marker_env()
    kept = []
    for p in packages:
        try:
            if p.marker and not Marker(p.marker).evaluate(env):
                continue
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            pass
        kept.append(p)
    return kept


def plan_layers(packages: list[Locked], target: Target) -> list[PlannedLayer]:
    """Heavy packages first (largest first), then the non-empty groups in their order."""
    heavy = sorted((p for p in packages if p.wheel_size >= HEAVY_BYTES), key=lambda p: (-p.wheel_size, p.name))
    heavy = heavy[:HEAVY_BUDGET]
    alone = {p.name for p in heavy}
    groups: dict[int, list[Locked]] = {}
    for p in packages:
        if p.name not in alone:
            groups.setdefault(group_of(p.name), []).append(p)
    layers = [_layer(f"{p.name} {p.version}", (p,), target) for p in heavy]
    for number in sorted(groups):
        members = tuple(sorted(groups[number], key=lambda p: p.name))
        layers.append(_layer(f"group {number} ({len(members)} package{'s' * (len(members) != 1)})", members, target))
    return layers


def group_of(name: str) -> int:
    """A stable function of the package's name alone: the same group in every project and every release."""
    return int(hashlib.sha256(normalize_name(name).encode()).hexdigest()[:8], 16) % GROUPS


def layer_key(kind: str, content: object, target: Target) -> str:
    """sha256 over what a layer holds and for which Python and platform."""
    return hashlib.sha256(canonical_json({"format": LAYOUT_FORMAT, "kind": kind, "content": content,
                                          "python": target.python_version,
                                          "platform": target.python_platform,
                                          **({"bytecode": target.bytecode} if target.bytecode else {})})).hexdigest()


def _layer(title: str, packages: tuple[Locked, ...], target: Target) -> PlannedLayer:
    content = [[p.name, p.version, list(p.files)] for p in packages]
    return PlannedLayer(title, packages, layer_key("packages", content, target))
