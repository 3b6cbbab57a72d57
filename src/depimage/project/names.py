"""Package names as uv compares them."""

from __future__ import annotations

import re


def normalize_name(name: str) -> str:
    """PEP 503 normal form: `Foo.Bar_baz` and `foo-bar-baz` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()
