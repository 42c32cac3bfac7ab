"""Shared fixtures: the tiny random model for fast unit tests, the bundled
Gemma for integration tests. Both are loaded once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("CLASSROOM_ARTIFACTS", ROOT / "artifacts"))


@pytest.fixture(scope="session")
def tiny():
    from components.models import TINY_ID, load_model

    return load_model(TINY_ID)


@pytest.fixture(scope="session")
def gemma():
    from components.models import BUNDLED_ID, load_model

    return load_model(BUNDLED_ID)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
