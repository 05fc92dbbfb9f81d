"""Wire names to presentation text: escapes, case, compression pointers, and every way a name can be bad."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsvigil.ingest.wire_names import (
    NAME_BAD,
    NAME_OK,
    NAME_TEXT_MAX,
    NAME_TRUNCATED,
    decode_name,
    skip_name,
)
from tests.ingest.dns_builder import encode_labels, pointer, presentation_text


def read_name(message: bytes, pos: int = 0) -> tuple[int, int, str, bool]:
    """Decode the name at `pos` of `message` laid inside padding: (status, next pos, text, mixed case)."""
    padding = b"\xc0" * 5  # pointer bytes around the message catch reads outside it
    buffer = np.frombuffer(padding + message + padding, dtype=np.uint8)
    out = np.zeros(NAME_TEXT_MAX + 16, dtype=np.uint8)
    start = len(padding)
    status, next_pos, end, mixed_case = decode_name(buffer, start, start + len(message), start + pos, out, 3)
    assert 3 <= end <= 3 + NAME_TEXT_MAX
    assert not out[:3].any()
    assert not out[3 + NAME_TEXT_MAX :].any()
    text = bytes(out[3:end]).decode("ascii") if status == NAME_OK else ""
    return int(status), int(next_pos) - start, text, bool(mixed_case)


@pytest.mark.parametrize(
    ("labels", "text"),
    [
        ([], "."),
        ([b"com"], "com"),
        ([b"www", b"example", b"com"], "www.example.com"),
        ([b"a.b", b"c"], "a\\.b.c"),
        ([b"back\\slash"], "back\\\\slash"),
        ([b"sp ace"], "sp\\032ace"),
        ([b"\x00\x01\x1f"], "\\000\\001\\031"),
        ([b"\x7f\x80\xff"], "\\127\\128\\255"),
        ([b"_dmarc", b"x-y", b"*"], "_dmarc.x-y.*"),
        ([b'q"()@$;'], 'q"()@$;'),  # visible ASCII other than '.' and '\' stays as it is
        ([b"\xc3\xa9t\xc3\xa9"], "\\195\\169t\\195\\169"),  # no IDNA decoding: bytes are bytes
    ],
)
def test_labels_are_written_in_escaped_presentation_form(labels: list[bytes], text: str) -> None:
    wire = encode_labels(labels)
    assert read_name(wire) == (NAME_OK, len(wire), text, False)


def test_upper_case_letters_are_lowered_and_reported() -> None:
    status, _, text, mixed_case = read_name(encode_labels([b"WwW", b"ExAmPlE", b"COM"]))
    assert (status, text, mixed_case) == (NAME_OK, "www.example.com", True)


def test_all_upper_case_is_reported_too() -> None:
    assert read_name(encode_labels([b"EXAMPLE"]))[2:] == ("example", True)


def test_only_ascii_letters_change_case() -> None:
    # 0xC0-0xDE would be upper-case letters in Latin-1; RFC 4343 folds ASCII only.
    assert read_name(encode_labels([b"\xc0\xde[@]"]))[2:] == ("\\192\\222[@]", False)


def test_compression_pointer_completes_the_name() -> None:
    message = b"\x00" * 12 + encode_labels([b"example", b"com"])
    pos = len(message)
    message += encode_labels([b"www"], terminate=False) + pointer(12) + b"\xff"
    assert read_name(message, pos) == (NAME_OK, pos + 6, "www.example.com", False)


def test_chained_pointers_each_earlier_than_the_last() -> None:
    message = b"\x00" * 12 + encode_labels([b"com"])  # 12: com
    second = len(message)
    message += encode_labels([b"example"], terminate=False) + pointer(12)  # example.com
    third = len(message)
    message += encode_labels([b"Mail"], terminate=False) + pointer(second)
    assert read_name(message, third) == (NAME_OK, third + 7, "mail.example.com", True)


def test_a_name_that_is_only_a_pointer() -> None:
    message = b"\x00" * 12 + encode_labels([b"org"]) + pointer(12)
    assert read_name(message, 17) == (NAME_OK, 19, "org", False)


def test_a_pointer_to_the_root() -> None:
    message = b"\x00" * 12 + b"\x00" + pointer(12)
    assert read_name(message, 13) == (NAME_OK, 15, ".", False)


@pytest.mark.parametrize(
    ("message", "pos"),
    [
        (b"\x00" * 12 + pointer(12), 12),  # points at itself
        (b"\x00" * 12 + pointer(14) + b"\x00", 12),  # forward
        (b"\x00" * 12 + pointer(0x3FFF), 12),  # far past the end
        (b"\x00" * 12 + b"\x01a" + pointer(12), 12),  # loops back into its own start
        # Two names pointing at each other: 12 -> 16 is forward, so even the first hop fails.
        (b"\x00" * 12 + b"\x01a" + pointer(16) + b"\x01b" + pointer(12), 12),
        # Two names pointing at each other: from 20, b -> 16 is earlier, but a -> 20 climbs back.
        (b"\x00" * 16 + b"\x01a" + pointer(20) + b"\x01b" + pointer(16), 20),
        # A backward pointer that lands on a name whose own pointer goes forward.
        (b"\x00" * 12 + b"\x01a" + pointer(16) + b"\x00" + b"\x01c" + pointer(12), 17),
    ],
)
def test_bad_pointers_make_a_bad_name_and_end(message: bytes, pos: int) -> None:
    assert read_name(message, pos)[0] == NAME_BAD


@pytest.mark.parametrize("first_byte", [0x40, 0x41, 0x80, 0xBF])
def test_reserved_label_types_make_a_bad_name(first_byte: int) -> None:
    assert read_name(bytes([first_byte]) + b"abc\x00")[0] == NAME_BAD


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\x03ww",
        b"\x03www",  # no root label
        b"\x03www\x07example",
        b"\xc0",  # half a pointer
        b"\x03www\xc0",
    ],
)
def test_names_running_past_the_end_are_truncated(wire: bytes) -> None:
    assert read_name(wire)[0] == NAME_TRUNCATED


def test_a_name_of_255_bytes_is_read_and_256_is_bad() -> None:
    # 3 labels of 63 and one of 61: 4 * 64 - 2 + 1 = 255 bytes with the root label.
    longest = [b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 61]
    wire = encode_labels(longest)
    assert len(wire) == 255
    assert read_name(wire) == (NAME_OK, 255, ".".join(label.decode() for label in longest), False)
    too_long = encode_labels([*longest[:3], b"d" * 62])
    assert len(too_long) == 256
    assert read_name(too_long)[0] == NAME_BAD


def test_compression_cannot_build_a_name_over_255_bytes() -> None:
    message = b"\x00" * 12 + encode_labels([b"a" * 63, b"b" * 63, b"c" * 63])  # 193 bytes
    pos = len(message)
    message += encode_labels([b"d" * 62], terminate=False) + pointer(12)
    assert read_name(message, pos)[0] == NAME_BAD


def test_the_most_escaped_name_fits_the_text_bound() -> None:
    labels = [b"\xff" * 63, b"\x00" * 63, b"." * 63, b"\x01" * 61]
    status, _, text, _ = read_name(encode_labels(labels))
    assert status == NAME_OK
    assert text == presentation_text(labels)
    assert len(text) == 4 * 63 * 2 + 2 * 63 + 4 * 61 + 3
    assert len(text) <= NAME_TEXT_MAX


_LABEL = st.binary(min_size=1, max_size=63) | st.sampled_from([b"www", b"Example", b"a.b", b"x\\y", b" "])


@given(st.lists(_LABEL, max_size=8).filter(lambda labels: sum(len(x) + 1 for x in labels) < 255))
def test_any_labels_read_back_as_the_presentation_text(labels: list[bytes]) -> None:
    wire = encode_labels(labels)
    status, next_pos, text, mixed_case = read_name(wire)
    assert (status, next_pos, text) == (NAME_OK, len(wire), presentation_text(labels))
    assert mixed_case == any(b"A"[0] <= byte <= b"Z"[0] for label in labels for byte in label)


@given(st.binary(max_size=300), st.integers(0, 40))
def test_random_bytes_never_crash_or_overrun(message: bytes, pos: int) -> None:
    status, next_pos, text, _ = read_name(message, min(pos, len(message)))
    assert status in (NAME_OK, NAME_TRUNCATED, NAME_BAD)
    if status == NAME_OK:
        assert next_pos <= len(message)
        assert 1 <= len(text) <= NAME_TEXT_MAX


def skip(message: bytes, pos: int = 0) -> tuple[int, int]:
    buffer = np.frombuffer(message + b"\x05abc", dtype=np.uint8)
    status, next_pos = skip_name(buffer, pos, len(message))
    return int(status), int(next_pos)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"\x00", (NAME_OK, 1)),
        (encode_labels([b"www", b"example"]), (NAME_OK, 13)),
        (b"\x03www" + pointer(0), (NAME_OK, 6)),  # the pointer is not followed, so no loop
        (pointer(0x3FFF), (NAME_OK, 2)),
        (b"\x03www", (NAME_TRUNCATED, 4)),
        (b"\x03ww", (NAME_TRUNCATED, 4)),
        (b"\x03www\xc0", (NAME_TRUNCATED, 4)),
        (b"", (NAME_TRUNCATED, 0)),
        (b"\x03www\x41", (NAME_BAD, 4)),
        (b"\x80", (NAME_BAD, 0)),
    ],
)
def test_skip_name_steps_over_a_name_without_following_pointers(
    wire: bytes, expected: tuple[int, int]
) -> None:
    assert skip(wire) == expected
