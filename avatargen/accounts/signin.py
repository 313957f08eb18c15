"""Password sign-in guard: throttles wrong passwords per client address and per username, caps concurrent checks.

Gradio calls the auth function inside its async `/login` route with only (username, password), so the client
address comes from a context variable that `ClientAddress` (ASGI middleware) sets for every request. The password
check itself (scrypt, ~50 ms of CPU and 16 MB) runs in a worker thread, never on the event loop, and at most
`concurrent_checks` at a time. The failure records live in Redis when the queue does (`accounts.throttle`), so
several front ends share them.
"""

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from urllib.parse import urlparse

from fastapi import HTTPException

from avatargen.accounts.throttle import FailureStore, MemoryFailures, RedisFailures, pair_key

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
        clock: Callable[[], float] = time.time,
        redis_url: str | None = None,
    ):
        self.verify = verify
        self.free_tries = free_tries
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.busy_wait = busy_wait
        self.clock = clock
        self._checks = asyncio.Semaphore(concurrent_checks)
        self.failures: FailureStore = MemoryFailures(quiet_s=max_wait)
        if redis_url and urlparse(redis_url).scheme in ("redis", "rediss"):
            self.failures = RedisFailures(redis_url, quiet_s=max_wait)

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
        waits = [0.0]
        if (by_address := self.failures.get("address", address)) is not None:
            waits.append(by_address.locked_until - now)
        by_username = self.failures.get("username", username)
        if by_username is not None and by_username.count >= self.free_tries:  # the name is under attack
            if (by_pair := self.failures.get("pair", pair_key(address, username))) is not None:
                waits.append(by_pair.last + self._backoff(by_username.count) - now)
        return max(waits)

    def failed(self, address: str, username: str) -> None:
        now = self.clock()
        by_address = self.failures.count("address", address, now)
        by_username = self.failures.count("username", username, now)
        self.failures.count("pair", pair_key(address, username), now)
        if by_address.count >= self.free_tries:
            locked_until = now + self._backoff(by_address.count)
            self.failures.lock("address", address, locked_until)
            log.warning(
                "sign-in: address %s locked out for %.0f s after %d wrong passwords (last for %r)",
                address,
                locked_until - now,
                by_address.count,
                username,
            )
        if by_username.count == self.free_tries:
            log.warning("sign-in: username %r under attack (%d wrong passwords)", username, by_username.count)

    def succeeded(self, address: str, username: str) -> None:
        self.failures.forget(username, address)

    def _backoff(self, count: int) -> float:
        return min(self.max_wait, self.first_wait * 2 ** max(0, count - self.free_tries))
