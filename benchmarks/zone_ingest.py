"""Zone ingest rate: `dnsvigil ingest zone` on a synthetic CZDS-style zone file, plain and gzip.

The zone is shaped like ICANN CZDS's .com file: absolute lower-case names, `ttl in type rdata` on tabs,
two NS records per delegation and a DS record for a third of them (about 140 bytes of text a delegation).
Each run is the whole command (reading, scanning, Parquet, commit) into a fresh warehouse, after a warm-up
run that fills numba's cache; it prints delegations per second. Not a test: run it by hand.

    .venv/bin/python benchmarks/zone_ingest.py --delegations 3000000 --work /tmp/zone-bench
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

_ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)


def write_zone(path: Path, delegations: int, seed: int = 1) -> None:
    """A CZDS-style .com zone with `delegations` random delegated domains."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="ascii") as out:
        out.write("com.\t900\tin\tsoa\ta.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400\n")
        out.write("com.\t172800\tin\tns\ta.gtld-servers.net.\n")
        lengths = rng.integers(4, 16, delegations)
        lines: list[str] = []
        for index in range(delegations):
            name = bytes(_ALPHABET[rng.integers(0, 36, lengths[index])]).decode() + str(index)
            host = f"host{index % 1000}.net."
            lines.append(
                f"{name}.com.\t172800\tin\tns\tns1.{host}\n{name}.com.\t172800\tin\tns\tns2.{host}\n"
            )
            if index % 3 == 0:
                lines.append(f"{name}.com.\t86400\tin\tds\t12345 13 2 {'a1b2' * 16}\n")
            if len(lines) >= 100_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))


def ingest(path: Path, home: Path) -> dict[str, object]:
    shutil.rmtree(home, ignore_errors=True)
    command = [sys.executable, "-m", "dnsvigil", "ingest", "zone", str(path), "--home", str(home), "--json"]
    result: dict[str, object] = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--delegations", type=int, default=3_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/zone-bench"))
    arguments = parser.parse_args()
    arguments.work.mkdir(parents=True, exist_ok=True)
    plain = arguments.work / "com-20240102.txt"
    packed = arguments.work / "com-20240103.txt.gz"
    if not plain.exists():
        write_zone(plain, arguments.delegations)
    if not packed.exists():
        packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=6))
    ingest(plain, arguments.work / "home")  # warm-up: numba's on-disk cache
    for path in (plain, packed):
        result = ingest(path, arguments.work / "home")
        print(
            f"{path.name}: {result['rows']:,} delegations in {result['seconds']} s, "
            f"{result['rows_per_second']:,.0f} delegations/s ({path.stat().st_size / 1e6:,.0f} MB on disk)"
        )


if __name__ == "__main__":
    main()
