"""Sizes for people: one way of writing them in every line depimage prints."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000, as registries and `docker images` count), three figures at most:
    `612 B`, `27.7 MB`, `3.48 GB`."""
    if size < 1000:
        return f"{size} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        value = size / scale
        text = f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
        if float(text) < 1000 or unit == "GB":
            return f"{text.rstrip('0').rstrip('.') if '.' in text else text} {unit}"
    raise AssertionError("unreachable")
