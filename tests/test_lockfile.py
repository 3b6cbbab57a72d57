"""uv.lock scanned as uv writes it: local packages found and masked, every other byte left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from depimage.errors import InputError
from depimage.project.lockfile import Lock

LOCK = '''version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "2.0.0"
source = { editable = "." }
dependencies = [
    { name = "six" },
]

[package.metadata]
requires-dist = [{ name = "six", specifier = ">=1" }, { name = "vendored", path = "wheels/vendored-1.0-py3-none-any.whl" }]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.org/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:00", size = 1 },
]

[[package]]
name = "vendored"
version = "1.0"
source = { path = "wheels/vendored-1.0-py3-none-any.whl" }
'''


def test_local_packages_found_and_only_source_trees_masked():
    lock = Lock.parse(LOCK, Path("uv.lock"))
    assert set(lock.local) == {"app", "vendored"}
    assert lock.local["app"].masked and not lock.local["vendored"].masked  # an archive keeps its version
    assert 'name = "app"\nversion = "0.0.0"' in lock.masked
    assert 'name = "vendored"\nversion = "1.0"' in lock.masked
    assert lock.masked.replace('version = "0.0.0"', 'version = "2.0.0"', 1) == LOCK  # nothing else moved
    assert lock.local["app"].requires_dist[0] == {"name": "six", "specifier": ">=1"}


@pytest.mark.parametrize("text, needle, line", [
    (LOCK.replace("version = 1\n", "version = 9\n", 1), "lock format version 9", 1),
    (LOCK.replace('name = "six"\nversion', 'version', 1), "not in the layout uv writes", 16),  # the [[package]] without a name
    ("requires-python = '>=3.11'\n", "no lock format `version`", 1),
])
def test_a_lock_uv_did_not_write_is_refused_with_its_line(text, needle, line):
    with pytest.raises(InputError) as err:
        Lock.parse(text, Path("uv.lock"))
    assert needle in err.value.message and err.value.line == line
