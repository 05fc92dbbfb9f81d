"""Shared fixtures: the reference data folder beside the repository, and a fresh warehouse."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check behaviour, not speed: on a loaded CI machine a slow example is no failure.
settings.register_profile("dnsvigil", deadline=None)
settings.load_profile("dnsvigil")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DNSVIGIL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEBIAN_PACKAGE_OF = {"tshark": "tshark", "chromium": "chromium"}


def required_tool(name: str) -> str:
    """The path of a Debian tool a test needs. A missing tool fails the test: a skip would pass unseen."""
    path = shutil.which(name)
    if path is None:
        package = DEBIAN_PACKAGE_OF.get(name, name)
        pytest.fail(f"{name} is not installed: `make test` installs it (Debian package {package})")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data beside the repository (`../shared/data`, or $DNSVIGIL_SHARED_DATA).

    The data is not part of the repository: where it is absent, the tests that need it skip, saying so
    (the data folder's own README asks for that); the skips show in pytest's summary, never as passes.
    """
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent: set DNSVIGIL_SHARED_DATA to where it is")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pcaps_dir(shared_data: Path) -> Path:
    """The folder of reference DNS captures."""
    return shared_data / "pcaps"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty warehouse directory for one test."""
    return tmp_path / "warehouse"
