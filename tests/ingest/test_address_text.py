"""Addresses as text: RFC 5952 vectors, and agreement with Python's `ipaddress` for every address."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsvigil.ingest.address_text import addresses_to_arrow


def expected_text(packed: bytes) -> str:
    """The text `ipaddress` gives, with an IPv4-mapped address dotted (RFC 5952 section 5, Python >= 3.13)."""
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def texts(packed_addresses: list[bytes]) -> list[str]:
    """Our text of each packed address (4 or 16 bytes)."""
    table = np.zeros((len(packed_addresses), 16), dtype=np.uint8)
    versions = np.zeros(len(packed_addresses), dtype=np.uint8)
    for row, packed in enumerate(packed_addresses):
        table[row, : len(packed)] = np.frombuffer(packed, dtype=np.uint8)
        versions[row] = 4 if len(packed) == 4 else 6
    array = addresses_to_arrow(table, versions)
    assert array.type == pa.string()
    assert array.null_count == 0
    return [str(text) for text in array.to_pylist()]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        # RFC 5952 section 4 and 5 examples.
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
        ("2001:0db8::0001", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # one zero group stays
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  # the longest run is shortened
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # the first of equal runs is shortened
        ("2001:DB8::AbCd", "2001:db8::abcd"),  # lower case
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),  # IPv4-mapped, dotted
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        # Edges of the zero-run logic.
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"),
        ("1:0:1:0:0:1:0:0", "1:0:1::1:0:0"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fe80::1:f:10:100", "fe80::1:f:10:100"),
        # Other embedded-IPv4 prefixes are not dotted.
        ("::192.0.2.1", "::c000:201"),
        ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
        ("::ffff:0:192.0.2.1", "::ffff:0:c000:201"),
        ("::fffe:192.0.2.1", "::fffe:c000:201"),
    ],
)
def test_ipv6_text_is_rfc_5952_canonical(written: str, canonical: str) -> None:
    assert texts([ipaddress.IPv6Address(written).packed]) == [canonical]


@pytest.mark.parametrize("written", ["0.0.0.0", "255.255.255.255", "10.0.0.1", "192.0.2.1", "100.64.9.99"])
def test_ipv4_text_is_the_dotted_quad(written: str) -> None:
    assert texts([ipaddress.IPv4Address(written).packed]) == [written]


_GROUP = st.sampled_from([0, 0, 0, 1, 0xF, 0x10, 0xFF, 0x100, 0xFFF, 0x1000, 0xFFFF]) | st.integers(0, 0xFFFF)


@given(st.lists(_GROUP, min_size=8, max_size=8))
def test_ipv6_text_equals_ipaddress_for_any_zero_pattern(groups: list[int]) -> None:
    packed = b"".join(group.to_bytes(2, "big") for group in groups)
    (text,) = texts([packed])
    assert text == expected_text(packed)
    assert ipaddress.ip_address(text).packed == packed


@given(st.binary(min_size=4, max_size=4))
def test_mapped_ipv6_text_equals_ipaddress(ipv4: bytes) -> None:
    packed = bytes(10) + b"\xff\xff" + ipv4
    (text,) = texts([packed])
    assert text == "::ffff:" + str(ipaddress.IPv4Address(ipv4))
    assert ipaddress.ip_address(text).packed == packed


@given(st.lists(st.binary(min_size=4, max_size=4) | st.binary(min_size=16, max_size=16), max_size=50))
def test_every_address_text_equals_ipaddress(packed_addresses: list[bytes]) -> None:
    assert texts(packed_addresses) == [expected_text(packed) for packed in packed_addresses]


def test_only_the_requested_rows_are_written_in_their_order() -> None:
    table = np.zeros((3, 16), dtype=np.uint8)
    table[0, :4] = (192, 0, 2, 1)
    table[1, 15] = 1
    table[2, :4] = (198, 51, 100, 7)
    versions = np.array([4, 6, 4], dtype=np.uint8)
    rows = np.array([2, 0, 2, 1], dtype=np.int64)
    assert addresses_to_arrow(table, versions, rows).to_pylist() == [
        "198.51.100.7",
        "192.0.2.1",
        "198.51.100.7",
        "::1",
    ]


def test_rows_may_repeat_the_longest_address() -> None:
    table = np.zeros((2, 16), dtype=np.uint8)
    table[0, :4] = (1, 1, 1, 1)
    table[1] = 0xFF
    versions = np.array([4, 6], dtype=np.uint8)
    rows = np.array([1, 1], dtype=np.int64)  # as many rows as addresses, but both IPv6
    assert (
        addresses_to_arrow(table, versions, rows).to_pylist()
        == ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] * 2
    )


@pytest.mark.parametrize("rows", [[0, 2], [-1], [5]])
def test_rows_outside_the_addresses_are_refused(rows: list[int]) -> None:
    with pytest.raises(ValueError, match="rows"):
        addresses_to_arrow(np.zeros((2, 16), dtype=np.uint8), np.full(2, 4, np.uint8), np.array(rows))


def test_addresses_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        addresses_to_arrow(np.zeros((2, 4), dtype=np.uint8), np.full(2, 4, np.uint8))


def test_no_rows_make_an_empty_array() -> None:
    array = addresses_to_arrow(np.zeros((0, 16), dtype=np.uint8), np.zeros(0, dtype=np.uint8))
    assert len(array) == 0
    assert array.type == pa.string()


def test_ipv4_ignores_the_bytes_after_the_fourth() -> None:
    table = np.full((1, 16), 0xAB, dtype=np.uint8)
    table[0, :4] = (1, 2, 3, 4)
    assert addresses_to_arrow(table, np.array([4], dtype=np.uint8)).to_pylist() == ["1.2.3.4"]
