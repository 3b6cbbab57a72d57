"""Fixtures: template uv projects made once per session with real uv, copied fresh into each test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import copy, make_app, make_workspace  # noqa: E402


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture(scope="session")
def app_template(templates) -> Path:
    return make_app(templates / "app")


@pytest.fixture(scope="session")
def workspace_template(templates) -> Path:
    return make_workspace(templates / "workspace")


@pytest.fixture
def app(app_template, tmp_path) -> Path:
    return copy(app_template, tmp_path / "app")


@pytest.fixture
def workspace(workspace_template, tmp_path) -> Path:
    return copy(workspace_template, tmp_path / "workspace")
