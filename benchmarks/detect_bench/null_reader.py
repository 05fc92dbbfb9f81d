"""A dnstap reader that only reads: the floor of what Knot's own dnstap queue loses on this machine.

Knot's mod-dnstap hands each message to fstrm's I/O thread through a bounded queue (512 messages per
worker) and drops what does not fit, without counting it. Whether the queue overflows depends on the
reader (a full socket blocks the I/O thread) and on the I/O thread getting a core in time. This reader
does nothing but drain the socket in 1 MiB reads and count frames (compiled framing), so what Knot loses
with it is lost whatever the reader does; the watcher's runs are compared with it.

Usage: python null_reader.py SOCKET. Says "connected" and "sent STOP" on stderr as the watcher does, and
prints {"received": frames} as JSON once the sender has stopped (or on SIGTERM).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from dnsvigil.ingest.dnstap import CONTENT_TYPE
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType, FrameStreamDecoder

READ_BYTES = 1 << 20


def main(path: Path) -> int:
    """Accept one sender, answer its handshake, count its data frames until STOP; print the count."""
    received = 0

    def report() -> None:
        print(json.dumps({"received": received, "stored": 0, "dropped": 0, "lost": 0}), flush=True)

    def stopped(signum: int, frame: FrameType | None) -> None:
        report()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stopped)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        connection, _ = server.accept()
        print("peer connected", file=sys.stderr, flush=True)
        decoder = FrameStreamDecoder(CONTENT_TYPE, where="null reader")
        with connection:
            while True:
                space = decoder.get_buffer(READ_BYTES)
                size = connection.recv_into(space.data)
                if not size:
                    break
                piece = decoder.buffer_updated(size)
                received += len(piece.data_offset)
                kinds = [control.control_type for control in piece.controls]
                if ControlType.READY in kinds:
                    connection.sendall(ControlFrame(ControlType.ACCEPT, (CONTENT_TYPE,)).to_wire())
                if ControlType.STOP in kinds:
                    connection.sendall(ControlFrame(ControlType.FINISH).to_wire())
                    print("peer sent STOP", file=sys.stderr, flush=True)
                    break
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
