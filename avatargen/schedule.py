"""Work due at a time on a clock: upload purges and private downloads' expiry.

A `Schedule` keeps actions by due time and one daemon thread runs each once its time has come. The clock is a
callable passed in (`time.monotonic` unless told), so a test moves its own clock and calls `run_due()` instead of
sleeping; `run_due()` and the thread never run actions at the same time, so when it returns, what was due is done.
"""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    due: float
    order: int  # first scheduled, first run among equals
    action: Callable[[], None] = field(compare=False)
    key: Hashable | None = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Schedule:
    """Actions to run at times on `clock`; one with a `key` replaces the pending one with the same key."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, name: str = "avatargen-schedule"):
        self.clock = clock
        self.name = name
        self._entries: list[_Entry] = []
        self._by_key: dict[Hashable, _Entry] = {}
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._running = threading.Lock()  # held while actions run: the thread's turn or a caller's `run_due`
        self._thread: threading.Thread | None = None
        self._stopped = False

    def after(self, delay: float, action: Callable[[], None], *, key: Hashable | None = None) -> None:
        """Run `action` once `delay` seconds of the clock have passed (0: as soon as the thread gets to it)."""
        with self._wake:
            if key is not None:
                self._cancel(key)
            entry = _Entry(self.clock() + delay, next(self._order), action, key)
            heapq.heappush(self._entries, entry)
            if key is not None:
                self._by_key[key] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def cancel(self, key: Hashable) -> None:
        """Forget the pending action with this key, if any."""
        with self._wake:
            self._cancel(key)

    def run_due(self) -> None:
        """Run every action whose time has come, in due order, in this thread (after any the thread is running)."""
        with self._running:
            while (entry := self._next_due()) is not None:
                try:
                    entry.action()
                except Exception:
                    log.exception("%s: a scheduled action failed", self.name)

    def close(self) -> None:
        """Stop the thread; actions still pending never run."""
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _cancel(self, key: Hashable) -> None:
        if (entry := self._by_key.pop(key, None)) is not None:
            entry.cancelled = True

    def _next_due(self) -> _Entry | None:
        with self._wake:
            while self._entries and self._entries[0].cancelled:
                heapq.heappop(self._entries)
            if self._stopped or not self._entries or self._entries[0].due > self.clock():
                return None
            entry = heapq.heappop(self._entries)
            if entry.key is not None and self._by_key.get(entry.key) is entry:
                del self._by_key[entry.key]
            return entry

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and not (self._entries and self._entries[0].due <= self.clock()):
                    self._wake.wait(None if not self._entries else max(0.0, self._entries[0].due - self.clock()))
                if self._stopped:
                    return
            self.run_due()
