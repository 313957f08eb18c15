"""Per-person limits by tier (the user's role): generation requests per minute, and jobs in flight.

Requests per minute are a sliding one-minute window of accepted jobs (a refused request leaves no trace): in Redis
when the queue is on Redis (shared by every front end), else in this process (the single-process default). Jobs in
flight are counted in the database under the ledger's row lock, so they are exact across processes and survive
crashes.
"""

import logging
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from avatargen.db.tables import User
from avatargen.errors import UserError

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

WINDOW_S = 60.0


class RateLimited(UserError):
    """Too many requests or jobs for this person's tier; nothing was charged."""

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds until a request would pass, when that is known


@dataclass(frozen=True)
class Taken:
    """Slots one request took in a person's window: given back when the request is not accepted after all."""

    user_id: int
    members: tuple[str, ...]


class RateLimits:
    """`take` room for a request's jobs before charging and `give_back` when it then fails: only accepted requests
    count. A batch counts as many requests as it has jobs. The wait a refusal names is when the entry whose expiry
    makes enough room leaves the window, so a client that waits exactly that long gets in."""

    def __init__(
        self,
        *,
        per_minute: dict[str, int],
        in_flight: dict[str, int],
        redis_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.per_minute = per_minute  # tier → requests per minute (missing or 0: no limit)
        self.in_flight = in_flight  # tier → jobs pending or processing at once (missing or 0: no limit)
        self.clock = clock
        self._redis = None
        if redis_url and urlparse(redis_url).scheme in ("redis", "rediss"):
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._local: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self._lock = threading.Lock()

    def take(self, user: User, *, jobs: int = 1) -> Taken | None:
        """Room for `jobs` generation requests in the last minute, or RateLimited naming when there will be."""
        limit = self.per_minute.get(user.role, 0)
        if not limit:
            return None
        if jobs > limit:
            raise RateLimited(
                f"These {jobs} generations count as {jobs} requests, and your limit is {limit} a minute. "
                "Pick fewer poses. You were not charged."
            )
        members = tuple(uuid.uuid4().hex for _ in range(jobs))
        now = self.clock()
        try:
            if self._redis is not None:
                frees_at = _redis_take(self._redis, user.stored_id, now, limit, members)
            else:
                frees_at = self._local_take(user.stored_id, now, limit, members)
        except Exception:  # a limiter that cannot count lets requests through rather than stopping the service
            log.exception("rate limit check failed; letting the request through")
            return None
        if frees_at is not None:
            wait = max(1, math.ceil(frees_at + WINDOW_S - now))
            raise RateLimited(
                f"You sent {limit} generation requests in the last minute; the limit is {limit}. "
                f"Try again in {wait} s. You were not charged.",
                retry_after=wait,
            )
        return Taken(user.stored_id, members)

    def give_back(self, taken: Taken | None) -> None:
        """Forget slots of a request that was refused or failed after `take`."""
        if taken is None:
            return
        try:
            if self._redis is not None:
                self._redis.zrem(_key(taken.user_id), *taken.members)
            else:
                with self._lock:
                    hits = self._local[taken.user_id]
                    hits[:] = [hit for hit in hits if hit[1] not in taken.members]
        except Exception:
            log.exception("could not give back rate limit slots")

    def check_room(self, user: User, flying: int, adding: int) -> None:
        """Refuse new jobs when this person's `flying` (pending and processing) jobs are at the tier's limit, or
        when all `adding` of a request would take them past it."""
        limit = self.in_flight.get(user.role, 0)
        if not limit:
            return
        if flying >= limit:
            raise RateLimited(
                f"You have {flying} jobs in flight; the limit is {limit}. "
                "Wait for one to finish, then try again. You were not charged."
            )
        if flying + adding > limit:
            raise RateLimited(
                f"These {adding} generations would make {flying + adding} jobs in flight; the limit is {limit}. "
                "Pick fewer poses or wait for some to finish. You were not charged."
            )

    def _local_take(self, user_id: int, now: float, limit: int, members: tuple[str, ...]) -> float | None:
        with self._lock:
            hits = self._local[user_id]
            hits[:] = [hit for hit in hits if hit[0] > now - WINDOW_S]
            if len(hits) + len(members) > limit:
                return hits[len(hits) + len(members) - limit - 1][0]
            hits.extend((now, member) for member in members)
            return None


def _key(user_id: int) -> str:
    return f"avatargen:rate:{user_id}"


# Atomically: drop what left the window; when the new members do not fit, answer the time of the entry whose
# expiry makes room for them; else add them.
_TAKE = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local adding = #ARGV - 3
if count + adding > limit then
  local at = count + adding - limit - 1
  return redis.call('ZRANGE', key, at, at, 'WITHSCORES')[2]
end
for i = 4, #ARGV do redis.call('ZADD', key, now, ARGV[i]) end
redis.call('EXPIRE', key, math.ceil(window) + 1)
return false
"""


def _redis_take(client: "redis.Redis", user_id: int, now: float, limit: int, members: tuple[str, ...]) -> float | None:
    frees_at = client.eval(_TAKE, 1, _key(user_id), repr(now), repr(WINDOW_S), limit, *members)
    return None if frees_at is None else float(frees_at)
