"""Content addresses: what a manifest names a blob by."""

from __future__ import annotations

import hashlib


def sha256_digest(data: bytes) -> str:
    """sha256:<hex> of data, as the OCI image spec writes a digest."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
