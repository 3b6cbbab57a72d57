"""Tags and digests as the OCI distribution spec writes them, checked before anything is sent."""

from __future__ import annotations

import pytest

from depimage.errors import InputError
from depimage.oci.reference import check_reference, check_tag, parse_image_ref, without_tag

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("good", ["1.4.0", "latest", "_x", "A-b.c_d", "x" * 128, "deps-0123abcd"])
def test_good_tags(good):
    assert check_tag(good) == good


@pytest.mark.parametrize("bad", ["", "bad tag!", "a%2Fb", "-x", ".x", "x" * 129, "a/b", "a:b", "é"])
def test_bad_tags(bad):
    with pytest.raises(InputError, match="is not a valid tag"):
        check_tag(bad)


def test_digests():
    assert check_reference(DIGEST) == DIGEST
    for bad in ("sha256:" + "A" * 64, "sha256:abc", "sha256:"):
        with pytest.raises(InputError, match="not a valid digest"):
            check_reference(bad)


def test_image_refs():
    name, ref = parse_image_ref(f"r.io/a/b@{DIGEST}", "deps_image")
    assert (name.host, name.repository, ref) == ("r.io", "a/b", DIGEST)
    assert parse_image_ref("localhost:5000/a:1.0", "deps_image")[1] == "1.0"
    with pytest.raises(InputError) as err:
        parse_image_ref("r.io/a/b", "deps_image")
    assert "--deps-image" in str(err.value)  # where no door named it, the command line's name


@pytest.mark.parametrize("ref, name", [("ghcr.io/acme/api:deps-1", "ghcr.io/acme/api"),
                                       ("127.0.0.1:5000/api:1.0", "127.0.0.1:5000/api"),
                                       ("127.0.0.1:5000/api", "127.0.0.1:5000/api"),
                                       ("acme/api@sha256:" + "a" * 64, "acme/api")])
def test_without_tag_keeps_a_registrys_port(ref, name):
    assert without_tag(ref) == name
