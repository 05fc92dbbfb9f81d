"""`dnsvigil info`: what this installation and its warehouse hold."""

from __future__ import annotations

import json
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from dnsvigil import __version__
from dnsvigil.cli.context import HomeOption, JsonOption, common, stdout
from dnsvigil.config import SETTINGS
from dnsvigil.store.schema import TABLES
from dnsvigil.store.warehouse import Warehouse

_LIBRARIES = ("numpy", "numba", "pyarrow", "duckdb", "typer", "plotly")
_PEER_TOOLS = ("tshark", "knotd", "dnsperf")


def _report(home: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "version": __version__,
        "python": platform.python_version(),
        "libraries": {name: metadata.version(name) for name in _LIBRARIES},
        "peer_tools": {name: shutil.which(name) or "" for name in _PEER_TOOLS},
        "settings": {setting.name: setting.read() for setting in SETTINGS},
        "home": str(home),
        "tables": {},
    }
    if (home / "catalog.json").exists():
        warehouse = Warehouse.open(home)
        for name, table in TABLES.items():
            files = warehouse.files(name)
            report["tables"][name] = {
                "schema_version": table.version,
                "rows": sum(stored.rows for stored in files),
                "files": len(files),
                "days": sorted({stored.day for stored in files}),
                "sources": len(warehouse.sources(name)),
            }
    return report


def info(context: typer.Context, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Show the version, libraries, peer tools found, settings, and what the warehouse holds."""
    options = common(context, home=home)
    report = _report(options.home_path)
    if as_json:
        print(json.dumps(report, sort_keys=True))
        return
    stdout.print(f"dnsvigil {report['version']} on Python {report['python']}", highlight=False)
    stdout.print("libraries: " + ", ".join(f"{k} {v}" for k, v in report["libraries"].items()))
    stdout.print(
        "peer tools: "
        + ", ".join(f"{k} {'found' if v else 'missing'}" for k, v in report["peer_tools"].items())
    )
    stdout.print(f"warehouse: {report['home']}", highlight=False)
    if not report["tables"]:
        stdout.print("  (empty: run `dnsvigil ingest pcap PATH` or `dnsvigil demo`)")
        return
    table = Table("table", "schema", "rows", "files", "sources", "days", box=None)
    for name, facts in report["tables"].items():
        days = facts["days"]
        span = f"{days[0]} .. {days[-1]} ({len(days)})" if days else "-"
        table.add_row(
            name,
            str(facts["schema_version"]),
            f"{facts['rows']:,}",
            str(facts["files"]),
            str(facts["sources"]),
            span,
        )
    stdout.print(table)
