"""One byte form per value, whatever the key order: what the hash sees of TOML data and options."""

from __future__ import annotations

import json


def canonical_json(data: object) -> bytes:
    """Sorted keys, no spaces; values JSON does not know (paths) as their text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
