"""Per-person limits by tier (the user's role): generation requests per minute, and jobs in flight.

Requests per minute are a sliding one-minute window: in Redis when the queue is on Redis (shared by every front
end), else in this process (the single-process default). Jobs in flight are counted in the database under the
ledger's row lock, so they are exact across processes and survive crashes.
"""

import logging
import math
import threading
import time
import uuid
from collections import defaultdict, deque
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


class RateLimits:
    def __init__(self, *, per_minute: dict[str, int], in_flight: dict[str, int], redis_url: str | None = None):
        self.per_minute = per_minute  # tier → requests per minute (missing or 0: no limit)
        self.in_flight = in_flight  # tier → jobs pending or processing at once (missing or 0: no limit)
        self._redis = None
        if redis_url and urlparse(redis_url).scheme in ("redis", "rediss"):
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._local: dict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check_request(self, user: User) -> None:
        """Count one generation request; refuse it when the last minute already holds the tier's limit."""
        limit = self.per_minute.get(user.role, 0)
        if not limit:
            return
        now = time.time()
        try:
            if self._redis is not None:
                count, oldest = _redis_hit(self._redis, user.stored_id, now)
            else:
                count, oldest = self._local_hit(user.stored_id, now)
        except Exception:  # a limiter that cannot count lets requests through rather than stopping the service
            log.exception("rate limit check failed; letting the request through")
            return
        if count > limit:
            wait = max(1, math.ceil(oldest + WINDOW_S - now))
            raise RateLimited(
                f"You sent more than {limit} generation requests in the last minute; the limit is {limit}. "
                f"Try again in {wait} s. You were not charged.",
                retry_after=wait,
            )

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

    def _local_hit(self, user_id: int, now: float) -> tuple[int, float]:
        with self._lock:
            hits = self._local[user_id]
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            hits.append(now)
            return len(hits), hits[0]


def _redis_hit(client: "redis.Redis", user_id: int, now: float) -> tuple[int, float]:
    """Sliding window in a sorted set: (requests in the window including this one, the oldest one's time)."""
    key = f"avatargen:rate:{user_id}"
    pipe = client.pipeline()
    pipe.zremrangebyscore(key, 0, now - WINDOW_S)
    pipe.zadd(key, {uuid.uuid4().hex: now})
    pipe.zcard(key)
    pipe.zrange(key, 0, 0, withscores=True)
    pipe.expire(key, int(WINDOW_S) + 1)
    _, _, count, oldest, _ = pipe.execute()
    return count, oldest[0][1] if oldest else now
