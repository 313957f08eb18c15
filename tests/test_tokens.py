"""Hugging Face token look-ups: remembered briefly in a bounded LRU; a Hub error is forgotten within seconds."""

from avatargen.accounts.requester import TokenMemory
from tests.helpers import Clock


class Hub:
    """Answers whoami for the tokens it knows; counts the questions; can be down."""

    def __init__(self, owners: dict[str, str]):
        self.owners = owners
        self.asked: list[str] = []
        self.down = False

    def __call__(self, token: str) -> str | None:
        self.asked.append(token)
        if self.down:
            raise ConnectionError("the Hub is unreachable")
        return self.owners.get(token)


def test_owners_are_remembered_a_minute_so_a_revoked_token_stops_within_it():
    clock, hub = Clock(), Hub({"hf_ada": "ada"})
    memory = TokenMemory(clock=clock)
    assert [memory.owner("hf_ada", hub) for _ in range(3)] == ["ada"] * 3 and hub.asked == ["hf_ada"]
    del hub.owners["hf_ada"]  # revoked on the Hub
    clock.now += 59
    assert memory.owner("hf_ada", hub) == "ada"
    clock.now += 1
    assert memory.owner("hf_ada", hub) is None and len(hub.asked) == 2


def test_a_hub_error_signs_out_for_seconds_not_minutes():
    clock, hub = Clock(), Hub({"hf_ada": "ada"})
    memory = TokenMemory(clock=clock)
    hub.down = True
    assert memory.owner("hf_ada", hub) is None
    clock.now += 4
    assert memory.owner("hf_ada", hub) is None and len(hub.asked) == 1  # not hammering a Hub that is down
    hub.down = False
    clock.now += 1
    assert memory.owner("hf_ada", hub) == "ada"


def test_the_memory_is_bounded_and_drops_the_least_recently_used_only():
    clock, hub = Clock(), Hub({f"hf_{n}": f"user{n}" for n in range(5)})
    memory = TokenMemory(most=3, clock=clock)
    for n in range(3):
        memory.owner(f"hf_{n}", hub)
    memory.owner("hf_0", hub)  # used again: now the most recent
    memory.owner("hf_3", hub)  # full: hf_1 goes
    asked = len(hub.asked)
    for n in (0, 2, 3):
        assert memory.owner(f"hf_{n}", hub) == f"user{n}"
    assert len(hub.asked) == asked  # kept, not wiped
    memory.owner("hf_1", hub)
    assert len(hub.asked) == asked + 1
