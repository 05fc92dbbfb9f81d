"""Shared fixtures: the reference data folder beside the repository, and a fresh warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The `../shared/data` folder of real public data; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pcaps_dir(shared_data: Path) -> Path:
    """The folder of reference DNS captures."""
    return shared_data / "pcaps"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty warehouse directory for one test."""
    return tmp_path / "warehouse"
