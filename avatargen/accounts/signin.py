"""Password sign-in guard: throttles wrong passwords per client address and per username, caps concurrent checks.

Gradio calls the auth function inside its async `/login` route with only (username, password), so the client
address comes from a context variable that `ClientAddress` (ASGI middleware) sets for every request. The password
check itself (scrypt, ~50 ms of CPU and 16 MB) runs in a worker thread, never on the event loop, and at most
`concurrent_checks` at a time.
"""

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

log = logging.getLogger(__name__)

client_address: contextvars.ContextVar[str] = contextvars.ContextVar("client_address", default="unknown")


class ClientAddress:
    """ASGI middleware: remembers the request's client address (uvicorn applies trusted X-Forwarded-For)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            client_address.set(scope["client"][0])
        await self.app(scope, receive, send)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0  # when the latest wrong password came
    locked_until: float = 0.0


class TooManyAttempts(HTTPException):
    def __init__(self, wait: float):
        seconds = max(1, round(wait))
        super().__init__(
            status_code=429,
            detail=f"Too many sign-in attempts; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


class SignInGuard:
    """`sign_in` is the auth function for Gradio's login route (a coroutine function: Gradio awaits only those).

    An address that gave `free_tries` wrong passwords (for any usernames) waits, doubling with each further
    failure up to `max_wait`. A username that got `free_tries` wrong passwords (from anywhere) is "under attack":
    from then on every address that has failed against it waits too, while an address with no failure for it (the
    real owner elsewhere) still gets its password checked. A right password clears its address and username.
    """

    def __init__(
        self,
        verify: Callable[[str, str], bool],
        *,
        free_tries: int = 5,
        first_wait: float = 2.0,
        max_wait: float = 900.0,
        concurrent_checks: int = 2,
        busy_wait: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.verify = verify
        self.free_tries = free_tries
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.busy_wait = busy_wait
        self.clock = clock
        self._checks = asyncio.Semaphore(concurrent_checks)
        self._lock = threading.Lock()
        self._by_address: dict[str, _Failures] = {}
        self._by_username: dict[str, _Failures] = {}
        self._by_pair: dict[tuple[str, str], _Failures] = {}

    async def sign_in(self, username: str, password: str) -> bool:
        address = client_address.get()
        wait = self.wait(address, username)
        if wait > 0:
            raise TooManyAttempts(wait)
        try:
            await asyncio.wait_for(self._checks.acquire(), self.busy_wait)
        except TimeoutError:
            raise HTTPException(503, "Too many people are signing in right now; try again in a few seconds.") from None
        try:
            if (wait := self.wait(address, username)) > 0:  # locked while this attempt queued for a check
                raise TooManyAttempts(wait)
            ok = await asyncio.to_thread(self.verify, username, password)
        finally:
            self._checks.release()
        if ok:
            self.succeeded(address, username)
        else:
            self.failed(address, username)
        return ok

    def wait(self, address: str, username: str) -> float:
        """Seconds this address must wait before trying this username; 0 when it may try now."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            if (by_address := self._by_address.get(address)) is not None:
                waits.append(by_address.locked_until - now)
            if self._under_attack(username) and (by_pair := self._by_pair.get((address, username))) is not None:
                waits.append(by_pair.last + self._backoff(self._by_username[username].count) - now)
            return max(waits)

    def failed(self, address: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            by_address = self._count(self._by_address, address, now)
            by_username = self._count(self._by_username, username, now)
            self._count(self._by_pair, (address, username), now)
            if by_address.count >= self.free_tries:
                by_address.locked_until = now + self._backoff(by_address.count)
                log.warning(
                    "sign-in: address %s locked out for %.0f s after %d wrong passwords (last for %r)",
                    address,
                    by_address.locked_until - now,
                    by_address.count,
                    username,
                )
            if by_username.count == self.free_tries:
                log.warning("sign-in: username %r under attack (%d wrong passwords)", username, by_username.count)

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._by_address.pop(address, None)
            self._by_username.pop(username, None)
            for key in [key for key in self._by_pair if key[1] == username]:
                del self._by_pair[key]

    def _under_attack(self, username: str) -> bool:
        failures = self._by_username.get(username)
        return failures is not None and failures.count >= self.free_tries

    def _backoff(self, count: int) -> float:
        return min(self.max_wait, self.first_wait * 2 ** max(0, count - self.free_tries))

    def _count(self, table: dict, key, now: float) -> _Failures:
        """Count one more failure; a record quiet for longer than `max_wait` starts over."""
        entry = table.get(key)
        if entry is None or now - max(entry.last, entry.locked_until) > self.max_wait:
            self._forget_quiet(table, now)
            entry = table[key] = _Failures()
        entry.count += 1
        entry.last = now
        return entry

    def _forget_quiet(self, table: dict, now: float) -> None:
        if len(table) > 10_000:  # bounded memory under a flood of made-up names or addresses
            for key in [k for k, v in table.items() if now - max(v.last, v.locked_until) > self.max_wait]:
                del table[key]
