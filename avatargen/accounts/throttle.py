"""Where the sign-in guard keeps its failure records: in this process, or in Redis when the queue is on Redis, so
every front end sees the same wrong passwords (an attacker cannot multiply their tries by the front ends).

A record is (count, last failure, locked until), kept per table (`address`, `username`, `pair`) and key; a record
quiet for longer than `quiet_s` starts over.
"""

import threading
from dataclasses import dataclass
from typing import Protocol

TABLES = ("address", "username", "pair")
MOST_RECORDS = 10_000  # per table in memory: quiet ones are dropped past it (a flood of made-up names)


@dataclass
class Failures:
    count: int = 0
    last: float = 0.0  # when the latest wrong password came
    locked_until: float = 0.0


class FailureStore(Protocol):
    def get(self, table: str, key: str) -> Failures | None: ...

    def count(self, table: str, key: str, now: float) -> Failures: ...

    def lock(self, table: str, key: str, until: float) -> None: ...

    def forget(self, username: str, address: str) -> None: ...


def pair_key(address: str, username: str) -> str:
    return f"{username}\n{address}"


class MemoryFailures:
    """Records in this process's memory (one front end)."""

    def __init__(self, *, quiet_s: float):
        self.quiet_s = quiet_s
        self._tables: dict[str, dict[str, Failures]] = {table: {} for table in TABLES}
        self._lock = threading.Lock()

    def get(self, table: str, key: str) -> Failures | None:
        with self._lock:
            return self._tables[table].get(key)

    def count(self, table: str, key: str, now: float) -> Failures:
        with self._lock:
            records = self._tables[table]
            entry = records.get(key)
            if entry is None or now - max(entry.last, entry.locked_until) > self.quiet_s:
                if len(records) > MOST_RECORDS:
                    for old in [k for k, v in records.items() if now - max(v.last, v.locked_until) > self.quiet_s]:
                        del records[old]
                entry = records[key] = Failures()
            entry.count += 1
            entry.last = now
            return Failures(entry.count, entry.last, entry.locked_until)

    def lock(self, table: str, key: str, until: float) -> None:
        with self._lock:
            if (entry := self._tables[table].get(key)) is not None:
                entry.locked_until = until

    def forget(self, username: str, address: str) -> None:
        """A right password: the address, the username and every address's record for that username go."""
        with self._lock:
            self._tables["address"].pop(address, None)
            self._tables["username"].pop(username, None)
            pairs = self._tables["pair"]
            for key in [key for key in pairs if key.split("\n", 1)[0] == username]:
                del pairs[key]


# Count one failure atomically: a record quiet for longer than the quiet time starts over; it expires then too.
_COUNT = """
local key, now, quiet = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', key, 'last') or '0')
local locked = tonumber(redis.call('HGET', key, 'locked_until') or '0')
if now - math.max(last, locked) > quiet then redis.call('DEL', key) end
local count = redis.call('HINCRBY', key, 'count', 1)
redis.call('HSET', key, 'last', ARGV[1])
locked = tonumber(redis.call('HGET', key, 'locked_until') or '0')
redis.call('EXPIREAT', key, math.ceil(math.max(now, locked) + quiet))
return {count, tostring(locked)}
"""


class RedisFailures:
    """Records in Redis, shared by every front end using it; they expire once quiet."""

    def __init__(self, url: str, *, quiet_s: float):
        import redis

        self.client = redis.Redis.from_url(url)
        self.quiet_s = quiet_s

    def _key(self, table: str, key: str) -> str:
        return f"avatargen:signin:{table}:{key}"

    def get(self, table: str, key: str) -> Failures | None:
        found = self.client.hgetall(self._key(table, key))
        if not found:
            return None
        return Failures(int(found[b"count"]), float(found[b"last"]), float(found.get(b"locked_until", 0)))

    def count(self, table: str, key: str, now: float) -> Failures:
        count, locked = self.client.eval(_COUNT, 1, self._key(table, key), repr(now), repr(self.quiet_s))
        if table == "pair":  # remembered per username, so a right password can forget every address's record
            username = key.split("\n", 1)[0]
            self.client.sadd(self._key("pairs-of", username), key)
            self.client.expire(self._key("pairs-of", username), int(self.quiet_s) * 2 + 1)
        return Failures(int(count), now, float(locked))

    def lock(self, table: str, key: str, until: float) -> None:
        name = self._key(table, key)
        self.client.hset(name, "locked_until", repr(until))
        self.client.expireat(name, int(until + self.quiet_s) + 1)

    def forget(self, username: str, address: str) -> None:
        members = self.client.smembers(self._key("pairs-of", username))
        pairs = [self._key("pair", m.decode() if isinstance(m, bytes) else m) for m in members]
        names = [self._key("address", address), self._key("username", username), self._key("pairs-of", username)]
        self.client.delete(*names, *pairs)
