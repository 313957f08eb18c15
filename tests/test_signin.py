"""Sign-in throttling: wrong passwords slow an address and a username down; the real owner still gets in."""

import asyncio
import threading
import time

import pytest

from avatargen.accounts.signin import SignInGuard, TooManyAttempts, client_address

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}


def verify(username: str, password: str) -> bool:
    return PASSWORDS.get(username) == password


def attempt(guard: SignInGuard, address: str, username: str, password: str) -> bool | int:
    """True/False as Gradio sees it, or the seconds to wait when refused before checking."""

    async def run():
        client_address.set(address)
        return await guard.sign_in(username, password)

    try:
        return asyncio.run(run())
    except TooManyAttempts as refusal:
        assert refusal.status_code == 429
        assert refusal.detail == f"Too many sign-in attempts; try again in {refusal.headers['Retry-After']} s."
        return int(refusal.headers["Retry-After"])


@pytest.fixture(params=["memory", "redis"])
def where(request, clock) -> str | None:
    """Where the failure records live: this process, or a Redis shared by several front ends."""
    clock.now = time.time()  # Redis expires records on the wall clock
    if request.param == "memory":
        return None
    redis = request.getfixturevalue("redis_server")
    redis.flush()
    return redis.url


@pytest.fixture
def guard(clock, where) -> SignInGuard:
    return SignInGuard(verify, free_tries=5, first_wait=2, max_wait=900, clock=clock, redis_url=where)


def test_front_ends_sharing_redis_share_the_lockout(clock, redis_server):
    redis_server.flush()
    clock.now = time.time()
    one, two = (SignInGuard(verify, clock=clock, redis_url=redis_server.url) for _ in range(2))
    for guard in (one, two, one, two, one):  # five wrong passwords spread over two front ends
        assert attempt(guard, "10.0.0.9", "alice", "wrong") is False
    assert attempt(two, "10.0.0.9", "alice", "alice-password") == 2  # locked on both, not 5 tries each
    assert attempt(one, "10.0.0.9", "alice", "alice-password") == 2
    clock.now += 2
    assert attempt(two, "10.0.0.9", "alice", "alice-password") is True
    assert attempt(one, "10.0.0.9", "bob", "wrong") is False  # the right password cleared the address everywhere


def test_an_address_gets_a_few_tries_then_waits_longer_each_time(guard, clock, caplog):
    for _ in range(5):
        assert attempt(guard, "10.0.0.1", "alice", "wrong") is False
    assert "address 10.0.0.1 locked out for 2 s after 5 wrong passwords" in caplog.text
    assert attempt(guard, "10.0.0.1", "alice", "alice-password") == 2  # locked: not even checked
    assert attempt(guard, "10.0.0.1", "bob", "bob-password") == 2  # the address, whatever the name
    clock.now += 2.5
    assert attempt(guard, "10.0.0.1", "alice", "wrong") is False
    assert attempt(guard, "10.0.0.1", "alice", "wrong") == 4  # doubled
    clock.now += 4.5
    assert attempt(guard, "10.0.0.1", "alice", "wrong") is False
    assert attempt(guard, "10.0.0.1", "alice", "wrong") == 8
    for _ in range(20):  # capped
        clock.now += 1000
        attempt(guard, "10.0.0.1", "alice", "wrong")
    assert attempt(guard, "10.0.0.1", "alice", "wrong") <= 900


def test_the_owner_gets_in_from_another_address_while_their_name_is_attacked(guard, clock):
    for index in range(12):  # a spread attack: 12 addresses, 1 try each
        assert attempt(guard, f"10.0.1.{index}", "alice", "wrong") is False
    assert attempt(guard, "10.0.1.0", "alice", "guess") > 0  # each attacking address now waits for this name
    assert attempt(guard, "10.0.1.0", "bob", "bob-password") is True  # ...but only for this name
    assert attempt(guard, "192.168.5.5", "alice", "alice-password") is True  # the owner, elsewhere
    assert attempt(guard, "10.0.1.3", "alice", "wrong") is False  # a success clears the name's record


def test_a_right_password_clears_the_address_record(guard, clock):
    for _ in range(4):
        attempt(guard, "10.0.0.2", "bob", "wrong")
    assert attempt(guard, "10.0.0.2", "bob", "bob-password") is True
    for _ in range(4):
        assert attempt(guard, "10.0.0.2", "bob", "wrong") is False  # four more free tries


def test_records_are_forgotten_after_a_quiet_while(guard, clock):
    for _ in range(5):
        attempt(guard, "10.0.0.3", "alice", "wrong")
    clock.now += 2000
    for _ in range(4):
        assert attempt(guard, "10.0.0.3", "alice", "wrong") is False


def test_password_checks_run_off_the_event_loop_and_a_few_at_a_time():
    running, most = 0, 0
    lock = threading.Lock()
    go_on = threading.Event()

    def held_verify(username: str, password: str) -> bool:  # a slow hash, for as long as the test holds it
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        go_on.wait(30)
        with lock:
            running -= 1
        return False

    guard = SignInGuard(held_verify, free_tries=1000, concurrent_checks=2)

    async def flood() -> list[bool]:
        async def one(index: int):
            client_address.set(f"10.0.2.{index}")
            return await guard.sign_in("alice", "wrong")

        checks = asyncio.gather(*(one(i) for i in range(10)))
        async with asyncio.timeout(20):  # the loop runs this while two checks are held in their threads
            while running < 2:
                await asyncio.sleep(0.01)
        assert most == 2
        go_on.set()
        return await checks

    assert asyncio.run(flood()) == [False] * 10
    assert most == 2
