"""The warehouse agrees with Debian's tshark: message counts by QR, transport, IP version, RCODE and qtype.

Every reference capture goes through `dnsvigil ingest pcap`, and the rows stored are counted by
(file, QR, transport, IP version, RCODE, qtype); tshark, reading the same files, must give the same counts.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.runner import dnsvigil
from tests.conftest import required_tool

Key = tuple[str, bool, str, int, int, int]
FIELDS = ("ip.version", "udp.srcport", "tcp.srcport", "dns.flags.response", "dns.flags.rcode", "dns.qry.type")


def tshark_counts(path: Path) -> Counter[Key]:
    """What tshark finds in `path`: one key per DNS message, several per frame when TCP carries several."""
    run = subprocess.run(
        [required_tool("tshark"), "-n", "-r", str(path), "-Y", "dns && !icmp && !icmpv6", "-T", "fields"]
        + ["-E", "occurrence=a", "-E", "aggregator=,"]
        + [argument for field in FIELDS for argument in ("-e", field)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    counts: Counter[Key] = Counter()
    for line in run.stdout.splitlines():
        version, udp_port, tcp_port, responses, rcodes, qtypes = line.split("\t")
        transport = "udp" if udp_port else "tcp" if tcp_port else "?"
        flags = responses.split(",")
        rcode_list = rcodes.split(",") if rcodes else ["0"] * len(flags)
        qtype_list = qtypes.split(",")
        assert len(rcode_list) == len(qtype_list) == len(flags), (
            f"{path.name}: unaligned tshark fields {line!r}"
        )
        for response, rcode, qtype in zip(flags, rcode_list, qtype_list, strict=True):
            is_response = response in ("1", "True")
            key = (path.name, is_response, transport, int(version.split(",")[0]), int(rcode), int(qtype))
            counts[key] += 1
    return counts


@pytest.mark.tshark
def test_stored_messages_agree_with_tshark(pcaps_dir: Path, tmp_path: Path) -> None:
    paths = sorted(pcaps_dir.glob("*.pcap"))
    assert len(paths) >= 9
    run = dnsvigil("ingest", "pcap", *paths, "--home", tmp_path, "--quiet")
    assert run.exit_code == 0, run.stderr
    query = dnsvigil(
        "query",
        # The header's RCODE: tshark's dns.flags.rcode leaves out the EDNS extension bits.
        "SELECT source_file, qr, transport, ip_version, rcode & 15 AS rcode, qtype, count(*) AS n"
        " FROM dns_messages GROUP BY ALL",
        "--format",
        "json",
        "--home",
        tmp_path,
    )
    assert query.exit_code == 0, query.stderr
    ours = Counter(
        {
            (
                Path(row["source_file"]).name,
                row["qr"],
                row["transport"],
                row["ip_version"],
                row["rcode"],
                row["qtype"],
            ): (row["n"])
            for row in json.loads(query.stdout)
        }
    )
    theirs: Counter[Key] = Counter()
    for path in paths:
        theirs += tshark_counts(path)
    assert sum(theirs.values()) == sum(ours.values()) > 250
    assert ours == theirs
