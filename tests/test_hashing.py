"""The hash's framing: every input is labelled and length-prefixed, so no two inputs run together."""

from __future__ import annotations

import re

from depimage.fingerprint.hashing import TAG_HEX, compute
from depimage.fingerprint.installed import stand_in_hashes
from depimage.fingerprint.options import ImageOptions

OPTIONS = ImageOptions("python:3.12-slim", "0.13.9")


def test_moving_bytes_between_two_files_moves_the_hash():
    a = compute([("a", b"xy"), ("b", b"z")], OPTIONS, "FROM x\n")
    b = compute([("a", b"x"), ("b", b"yz")], OPTIONS, "FROM x\n")
    c = compute([("ax", b"y"), ("b", b"z")], OPTIONS, "FROM x\n")
    assert len({a.hex, b.hex, c.hex}) == 3


def test_every_input_counts_and_the_tag_is_its_prefix():
    base = compute([("a", b"x")], OPTIONS, "FROM x\n")
    assert compute([("a", b"x")], OPTIONS, "FROM y\n") != base
    assert compute([("a", b"x")], ImageOptions("python:3.12-slim", "0.13.9", no_dev=True), "FROM x\n") != base
    assert compute([("a", b"x")], OPTIONS, "FROM x\n") == base
    assert base.tag() == "deps-" + base.hex[:TAG_HEX] and base.tag("v") == "v" + base.hex[:TAG_HEX]


def test_stand_in_hashes_only_where_a_file_has_none():
    lock = ('sdist = { url = "https://x/a-1.tar.gz", hash = "sha256:11", size = 5 }\nwheels = [\n'
            '    { url = "https://x/a-1-py3-none-any.whl", size = 7 },\n'
            '    { url = "https://x/a-1-cp311-none-any.whl" },\n]\n')
    patched = stand_in_hashes(lock)
    assert patched.count("hash = ") == 3 and 'hash = "sha256:11"' in patched
    assert stand_in_hashes(patched) is None  # nothing left without a hash
    def stand_in(text: str, file: str) -> str:
        return re.search(rf'{re.escape(file)}", hash = "(sha256:[0-9a-f]+)"', text)[1]

    wheel = "a-1-py3-none-any.whl"
    # the size is part of what the stand-in says: the same file at another size has another stand-in
    assert stand_in(stand_in_hashes(lock.replace("size = 7", "size = 8")), wheel) != stand_in(patched, wheel)
    assert stand_in(stand_in_hashes(lock.replace("/a-1-py3", "/b/a-1-py3")), "b/" + wheel) != stand_in(patched, wheel)
    # a file that loses its hash gets a stand-in, not the hash it had
    assert stand_in(stand_in_hashes(lock.replace('hash = "sha256:11", ', "")), "a-1.tar.gz") != "sha256:11"
    # a git or URL source's `sdist = { hash = ... }` has no location: it does not stand for a hashless file's hash
    git = 'sdist = { hash = "sha256:22" }\nwheels = [\n    { url = "https://x/b-1-py3-none-any.whl", size = 3 },\n]\n'
    assert stand_in_hashes(git) is not None
