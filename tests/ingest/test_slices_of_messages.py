"""`MessageSlices.of_messages`: messages laid side by side, each found again at its offset."""

from __future__ import annotations

from dnsvigil.ingest.slices import MessageSlices


def test_each_message_is_found_at_its_offset_and_length() -> None:
    messages = [b"\x12\x34" + bytes(10), b"", b"\xab" * 40]
    slices = MessageSlices.of_messages(messages)
    assert len(slices) == 3
    found = [
        slices.buffer[offset : offset + length].tobytes()
        for offset, length in zip(slices.offset.tolist(), slices.length.tolist(), strict=True)
    ]
    assert found == messages
    assert slices.ip_version.tolist() == [4, 4, 4]
    assert slices.transport.tolist() == [17, 17, 17]


def test_no_messages_make_empty_slices() -> None:
    assert len(MessageSlices.of_messages([])) == 0
    assert len(MessageSlices.empty()) == 0
