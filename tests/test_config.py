"""The settings table is the single source of defaults, and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsvigil.config import SETTINGS, read_int, read_ports, read_share, resolve_home
from dnsvigil.errors import UsageError
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_every_setting_is_documented_in_the_readme(setting: object) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    row = next(  # the settings table's row, not prose that mentions the variable
        (line for line in readme.splitlines() if line.startswith(f"| {setting.name} | `{setting.env}`")),  # type: ignore[attr-defined]
        None,
    )
    assert row is not None, f"README has no row for {setting.env}"  # type: ignore[attr-defined]
    assert setting.default in row and setting.help in row  # type: ignore[attr-defined]


def test_home_option_beats_environment_which_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DNSVIGIL_HOME", raising=False)
    assert resolve_home(None) == Path("dnsvigil-data")
    monkeypatch.setenv("DNSVIGIL_HOME", "/srv/dns")
    assert resolve_home(None) == Path("/srv/dns")
    assert resolve_home("/tmp/x") == Path("/tmp/x")


def test_ports_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_ports("53,5353") == (53, 5353)
    for bad in ("", "dns", "0", "70000"):
        with pytest.raises(UsageError):
            read_ports(bad)
    monkeypatch.setenv("DNSVIGIL_CHUNK_MIB", "lots")
    with pytest.raises(UsageError, match="DNSVIGIL_CHUNK_MIB"):
        read_int("chunk_mib")


def test_shares_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_share("dga_min_nxdomain_share") == 0.5
    assert read_share("dga_min_nxdomain_share", "0.9") == 0.9
    for bad in ("half", "1.5", "-0.1"):
        with pytest.raises(UsageError, match="DNSVIGIL_DGA_MIN_NXDOMAIN_SHARE"):
            read_share("dga_min_nxdomain_share", bad)
