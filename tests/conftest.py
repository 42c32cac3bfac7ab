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
def gemma_probe(gemma):
    """Claims' view of the bundled model, remembered for the whole session:
    lessons, examples and the teacher's guide check the same claims once."""
    from components.lessons import direct_probe

    return direct_probe(gemma)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _background_work_ends_with_its_test():
    """The app analyses its examples in a background thread. Let it finish
    inside the test that started it, so it never runs on under another test's
    settings (a temporary cache folder, a cleared cache) or past the session."""
    yield
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith(("warm-up-", "warm-start")):
            thread.join(300)
