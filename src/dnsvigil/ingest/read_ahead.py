"""Run an iterator in a thread of its own, a few items ahead of its consumer.

Decompressing, scanning (compiled kernels) and writing Parquet all release the GIL, so a reader in one
thread and the warehouse writer in another keep two cores busy.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

_Item = TypeVar("_Item")


class _End:
    """The end of the items, or the error that ended them, handed from the producing thread."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[_Item], *, depth: int = 2) -> Generator[_Item, None, None]:
    """Yield the items of `items`, produced by another thread at most `depth` items ahead.

    An error raised by `items` is raised here, in the consumer. Closing the generator early stops the
    producer after its current item and waits for it, so nothing is left running.
    """
    pending: queue.Queue[_Item | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                pending.put(item)
            pending.put(_End())
        except BaseException as error:  # handed to the consumer, which re-raises it
            pending.put(_End(error))

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while not isinstance(item := pending.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on the full queue
            with contextlib.suppress(queue.Empty):
                pending.get(timeout=0.05)
        producer.join()
