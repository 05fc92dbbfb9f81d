"""The receiving side of Frame Streams: ACCEPT for READY, FINISH for STOP, order enforced."""

from __future__ import annotations

import pytest

from dnsvigil.errors import InputError
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType
from dnsvigil.watch.frame_session import FrameSession, SessionState
from tests.ingest import dnstap_builder as b

DNSTAP = b.DNSTAP_CONTENT_TYPE


def test_bidirectional_session_answers_ready_and_stop() -> None:
    session = FrameSession(DNSTAP, where="peer 1")
    ready = ControlFrame(ControlType.READY, (b"protobuf:other.Thing", DNSTAP))
    # Wire bytes as the fstrm protocol description lays them out, built independently of the code.
    assert session.answer(ready) == b.control_frame(b.ACCEPT, [DNSTAP])
    assert session.bidirectional and session.state is SessionState.ACCEPTED
    assert session.answer(ControlFrame(ControlType.START, (DNSTAP,))) == b""
    assert session.state is SessionState.STARTED
    assert session.answer(ControlFrame(ControlType.STOP)) == b.control_frame(b.FINISH)
    assert session.state is SessionState.STOPPED


def test_unidirectional_session_sends_nothing() -> None:
    session = FrameSession(DNSTAP, where="peer 1")
    assert session.answer(ControlFrame(ControlType.START)) == b""
    assert session.answer(ControlFrame(ControlType.STOP)) == b""
    assert not session.bidirectional


@pytest.mark.parametrize(
    ("frames", "problem"),
    [
        ((ControlType.ACCEPT,), "ACCEPT frame while opening"),
        ((ControlType.STOP,), "STOP frame while opening"),
        ((ControlType.START, ControlType.START), "START frame while started"),
        ((ControlType.READY, ControlType.READY), "READY frame while accepted"),
        ((ControlType.START, ControlType.STOP, ControlType.START), "START frame while stopped"),
        ((ControlType.START, ControlType.FINISH), "FINISH frame while started"),
    ],
)
def test_frames_out_of_turn_are_refused(frames: tuple[ControlType, ...], problem: str) -> None:
    session = FrameSession(DNSTAP, where="peer 9")
    *before, last = frames
    for kind in before:
        session.answer(ControlFrame(kind))
    with pytest.raises(InputError, match=f"peer 9: Frame Streams {problem}"):
        session.answer(ControlFrame(last))
