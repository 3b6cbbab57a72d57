"""A layer's bytes, fast: one gzip stream every reader takes (Python's gzip, `gzip -t`), its diff_id the tar's
digest, and the same bytes whatever the machine's core count (the pieces are cut by the tar alone)."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor

from depimage.image import layer as layer_module
from depimage.image.layer import build_layer

# Incompressible and compressible stretches, across several 1 MiB pieces, and a file smaller than one.
DRAW = random.Random(7)
FILES = {f"opt/venv/lib/p{i}.bin": (DRAW.randbytes(200_000) + b"abc" * 300_000, i % 2 == 0) for i in range(8)}
FILES["opt/venv/lib/small.py"] = (b"print('hi')\n", False)


def test_one_gzip_stream_whose_tar_is_the_diff_id(tmp_path):
    made = build_layer(FILES, symlinks={"opt/venv/bin/python": "/usr/bin/python3"}, into=tmp_path / "l.tar.gz")
    packed = made.path.read_bytes()
    assert made.size == len(packed) and made.digest == "sha256:" + hashlib.sha256(packed).hexdigest()
    tar = gzip.decompress(packed)
    assert made.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    names = tarfile.open(fileobj=io.BytesIO(tar)).getnames()
    assert "opt/venv/lib/small.py" in names and "opt/venv/bin/python" in names
    assert subprocess.run(["gzip", "-t"], input=packed).returncode == 0
    assert packed[:10] == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])  # no time, no name, Unix


def test_the_same_bytes_with_one_deflating_thread_or_many(monkeypatch):
    digests = set()
    for workers, cores in ((1, 1), (2, 2), (8, 64)):
        monkeypatch.setattr(layer_module, "_DEFLATERS", ThreadPoolExecutor(max_workers=workers))
        monkeypatch.setattr(layer_module.os, "cpu_count", lambda cores=cores: cores)
        digests.add(build_layer(FILES).digest)
    assert len(digests) == 1


def test_the_bytes_are_pinned():
    """A change of level, piece size or deflate library moves every layer's digest, and so every registry's
    reuse by digest: it must be deliberate (and this digest moved with it)."""
    assert build_layer(FILES).digest == PINNED


PINNED = "sha256:dc691e8a974fb2917a1ef742a20c81ab45a6e4cfebe4a2b8e208fb589063ef4c"
