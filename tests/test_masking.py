"""Masking of the project's own versions and of every specifier on its own packages (no uv needed)."""

from __future__ import annotations

import pytest

from depimage import MASKED_VERSION
from depimage.recipe.masking import mask_pin, mask_requirements

LOCAL = {"core", "acme-prebuilt"}


@pytest.mark.parametrize("given, masked", [
    ("core==1.2.3", "core==0.0.0"),
    ("acme_prebuilt>=1.1.0,<1.2.0", "acme_prebuilt==0.0.0"),  # a range, and the name in another spelling
    ("Acme.Prebuilt ~= 1.1", "Acme.Prebuilt ==0.0.0"),
    ("core[fast]>=1; python_version >= '3.11'", "core[fast]==0.0.0; python_version >= '3.11'"),
    ("core != 1.0 ; sys_platform == 'linux'", "core ==0.0.0 ; sys_platform == 'linux'"),
    ("core", "core"),  # no specifier: nothing to mask
    ("core @ file:///src/core", "core @ file:///src/core"),  # a direct reference has no pin
    ("six>=1.16", "six>=1.16"),  # third-party: as it is
    ("corelib>=2", "corelib>=2"),  # another package whose name starts alike
])
def test_mask_pin(given, masked):
    assert mask_pin(given, LOCAL) == masked


def test_mask_requirements_everywhere_they_are_listed():
    data = {"project": {"name": "api", "version": "4.5.6", "dependencies": ["core>=4.5"],
                        "optional-dependencies": {"x": ["acme-prebuilt<5"]}},
            "dependency-groups": {"dev": ["core==4.5.6", {"include-group": "lint"}], "lint": ["ruff"]},
            "tool": {"uv": {"dev-dependencies": ["core~=4.5"]}}}
    out = mask_requirements(data, LOCAL)
    assert out["project"]["version"] == MASKED_VERSION
    assert out["project"]["dependencies"] == ["core==0.0.0"]
    assert out["project"]["optional-dependencies"] == {"x": ["acme-prebuilt==0.0.0"]}
    assert out["dependency-groups"]["dev"] == ["core==0.0.0", {"include-group": "lint"}]
    assert out["tool"]["uv"]["dev-dependencies"] == ["core==0.0.0"]
    assert data["project"]["version"] == "4.5.6"  # the input is left alone
