"""The receiving side of one Frame Streams connection: what to answer to each control frame.

Bidirectional Frame Streams, as fstrm's Unix socket writer speaks it (Knot DNS's `mod-dnstap`, Unbound,
BIND): the sender opens with READY naming the content types it can send; the receiver answers ACCEPT
naming the one it takes; the sender sends START, data frames, and STOP; the receiver answers FINISH and
both close. A unidirectional sender (a file replayed into the socket) opens with START and gets no answer.
Pure logic: control frames in, bytes to send back out; the socket is the caller's, and the stream decoder
has already refused a READY or START that does not name this receiver's content type.
"""

from __future__ import annotations

import enum

from dnsvigil.errors import InputError
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType


class SessionState(enum.Enum):
    """Where a connection is in the protocol."""

    OPENING = "opening"  # nothing read yet
    ACCEPTED = "accepted"  # READY answered with ACCEPT; START comes next
    STARTED = "started"  # data frames flow
    STOPPED = "stopped"  # STOP read (and FINISH sent when bidirectional): the sender is done


class FrameSession:
    """Follows one connection's control frames and says what to answer.

    Args:
        content_type: the content type taken, named in ACCEPT, e.g. b"protobuf:dnstap.Dnstap".
        where: how error messages name the connection.
    """

    def __init__(self, content_type: bytes, *, where: str) -> None:
        self._content_type = content_type
        self._where = where
        self.state = SessionState.OPENING
        self.bidirectional = False

    def answer(self, control: ControlFrame) -> bytes:
        """The bytes to send back for `control` (empty when none), after checking it comes in its turn.

        Raises:
            InputError: the frame is out of order (START twice, STOP before START, ACCEPT from the sender).
        """
        kind = control.control_type
        if kind == ControlType.READY and self.state == SessionState.OPENING:
            self.bidirectional = True
            self.state = SessionState.ACCEPTED
            return ControlFrame(ControlType.ACCEPT, (self._content_type,)).to_wire()
        if kind == ControlType.START and self.state in (SessionState.OPENING, SessionState.ACCEPTED):
            self.state = SessionState.STARTED
            return b""
        if kind == ControlType.STOP and self.state == SessionState.STARTED:
            self.state = SessionState.STOPPED
            return ControlFrame(ControlType.FINISH).to_wire() if self.bidirectional else b""
        raise InputError(
            f"{self._where}: Frame Streams {kind.name} frame while {self.state.value}",
            hint="the sender does not follow the Frame Streams protocol",
        )
