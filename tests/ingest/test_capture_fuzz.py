"""read_capture on random and damaged input: it only ever raises InputError, never hangs, and what it yields
is consistent (every message within its buffer, at least a DNS header long)."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.errors import InputError
from dnsvigil.ingest.capture_file import read_capture
from tests.ingest import pcap_builder as b

TIME_LIMIT_S = 20
LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]


def pcap_header(magic: int, linktype: int) -> bytes:
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)


def synthetic_pcapng() -> bytes:
    """A pcapng with several interfaces and link types, UDP, TCP and fragments, to damage."""
    writer = b.PcapngWriter()
    ether = writer.interface(1)
    raw = writer.interface(101, tsresol=9)
    cooked = writer.interface(113, tsresol=0x80 | 16)
    stream = b.length_prefixed(*(b.dns_message(n, "tcp.example") for n in range(4)))
    syn = b.tcp(40000, 53, seq=10, flags=b.SYN)
    writer.epb(raw, 1, b.ipv4("192.0.2.1", "192.0.2.53", syn, protocol=6))
    for n in range(4):
        part = b.tcp(40000, 53, stream[n * 20 : n * 20 + 20], seq=11 + n * 20)
        writer.epb(raw, 2 + n, b.ipv4("192.0.2.1", "192.0.2.53", part, protocol=6))
        writer.epb(
            ether, 2 + n, b.ethernet(b.ipv6("2001:db8::1", "2001:db8::53", b.udp(1, 53, b.dns_message(n))))
        )
    big = b.udp(53, 40000, b.dns_message(9, "frag.example", response=True, extra=b"\x01" * 700))
    for fragment in b.ipv6_fragments("2001:db8::53", "2001:db8::1", big, [256, 256])[::-1]:
        writer.epb(cooked, 99, b.linux_sll(fragment))
    for fragment in b.ipv4_fragments("192.0.2.53", "192.0.2.1", big, [400]):
        writer.epb(ether, 100, b.ethernet(fragment))
    writer.spb(b.ethernet(b.ipv4("192.0.2.1", "192.0.2.53", b.udp(1, 53, b.dns_message(77)))))
    return writer.bytes()


def check_read(path: Path, chunk_bytes: int) -> None:
    """Read `path` to its end in a thread; fail if that takes too long or yields inconsistent batches."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            for batch in read_capture(path, chunk_bytes=chunk_bytes):
                slices = batch.slices
                assert (batch.counts >= 0).all()
                assert batch.records >= 0
                if len(slices):
                    assert (slices.offset >= 0).all()
                    assert (slices.offset + slices.length <= len(slices.buffer)).all()
                    assert (slices.length >= 12).all()
                    assert set(slices.ip_version.tolist()) <= {4, 6}
                    assert set(slices.transport.tolist()) <= {6, 17}
            outcome.append(None)
        except InputError:
            outcome.append(None)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIME_LIMIT_S)
    assert not worker.is_alive(), f"reading {path} did not end within {TIME_LIMIT_S} s"
    if outcome[0] is not None:
        raise outcome[0]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    check_read(Path(__file__).parent / "absent.pcap", 1 << 20)  # nothing to read; raises InputError inside
    warm = folder / "warm.pcapng"
    warm.write_bytes(synthetic_pcapng())
    check_read(warm, 1 << 20)  # compiles (or loads) every kernel before the timed examples
    return folder


PREFIXES = st.one_of(
    st.builds(
        pcap_header, st.sampled_from([0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34]), st.sampled_from(LINK_TYPES)
    ),
    st.builds(
        lambda header: header[:4][::-1] + header[4:], st.builds(pcap_header, st.just(0xD4C3B2A1), st.just(1))
    ),
    st.just(b.PcapngWriter().bytes()),
    st.just(b.PcapngWriter(big_endian=True).bytes()),
    st.just(b""),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=PREFIXES, tail=st.binary(max_size=3000), chunk_bytes=st.sampled_from([1, 64, 1000, 1 << 20]))
def test_random_bytes(scratch: Path, prefix: bytes, tail: bytes, chunk_bytes: int) -> None:
    path = scratch / "random.bin"
    path.write_bytes(prefix + tail)
    check_read(path, chunk_bytes)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(
        ["dnscap__dns.pcap", "dnscap__dnso1tcp.pcap", "dnscap__sll2.pcap", "synthetic.pcapng"]
    ),
    changes=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=30
    ),
    keep=st.floats(0.05, 1),
    chunk_bytes=st.sampled_from([100, 4096, 1 << 20]),
)
def test_damaged_captures(
    scratch: Path, pcaps_dir: Path, source: str, changes, keep: float, chunk_bytes: int
) -> None:
    if source == "synthetic.pcapng":
        data = bytearray(synthetic_pcapng())
    else:
        if not (pcaps_dir / source).exists():
            pytest.skip(f"{source} is absent")
        data = bytearray((pcaps_dir / source).read_bytes())
    for where, value in changes:
        data[int(where * len(data))] = value
    path = scratch / "damaged.bin"
    path.write_bytes(bytes(data[: max(1, int(len(data) * keep))]))
    check_read(path, chunk_bytes)
