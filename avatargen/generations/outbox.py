"""The webhook outbox: a delivery is a row written in the transaction that finishes its generation, so it outlives
the process (kill -9 included); a sender in every consuming process posts due rows, one receiver at a time per
thread, so a slow or hanging receiver delays only its own deliveries, and retries with back-off.

A row is taken by a conditional update (`claimed_until`), so two senders never post it at once; a sender that dies
mid-post leaves a claim that lapses and another sender (or the restarted one) posts it again. Delivered or given-up
rows are deleted. Time comes from `clock`, so tests move it instead of waiting.
"""

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, or_, update
from sqlmodel import Session, col, select

from avatargen.db.connect import transaction
from avatargen.db.tables import Generation, WebhookOutbox, WebhookTarget, utcnow
from avatargen.generations.webhooks import Refused, parse_url, post, resolve, sign

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # one delivery attempt
CLAIM_S = TIMEOUT_S + 20  # a claim older than this belongs to a sender that died
POLL_S = 5.0  # how often a sender looks for rows other processes wrote
MOST_RECEIVERS = 16  # receivers posted to at once by one process
BATCH = 200  # due rows looked at per pass


class Outbox:
    """`write(session, generation_id)` inside the finishing transaction, `wake()` after it commits; `start()` runs
    the sender thread, `send_due(wait=True)` one pass in the caller's thread (tests)."""

    def __init__(
        self,
        database: Engine,
        *,
        secret: str,
        attempts: int = 5,
        backoff_s: float = 1.0,
        private_ok: bool = False,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.database = database
        self.secret = secret  # empty: no webhooks are written or sent
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.private_ok = private_ok
        self.timeout_s = timeout_s
        self.clock = clock
        self._busy: dict[str, threading.Thread] = {}  # receiver → the thread posting to it
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._sender: threading.Thread | None = None

    def write(self, session: Session, generation_id: str) -> bool:
        """Add the delivery of this generation's record, as it stands in `session`, to its target (the request's
        URL, else the person's); False when there is none."""
        if not self.secret:
            return False
        row = session.get(Generation, generation_id, populate_existing=True)
        if row is None:
            return False
        targets = session.exec(
            select(WebhookTarget).where(WebhookTarget.user_id == row.user_id).order_by(col(WebhookTarget.id))
        ).all()
        url = next((t.url for t in targets if t.generation_id == row.id), None) or next(
            (t.url for t in targets if t.generation_id is None), None
        )
        if url is None:
            return False
        event = {"event": f"generation.{row.status}", "data": row.to_public()}
        body = json.dumps(event, separators=(",", ":"))
        now = self.clock()
        session.add(WebhookOutbox(generation_id=row.id, url=url, body=body, due_at=now, created_at=now))
        return True

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self.secret and self._sender is None:
            self._sender = threading.Thread(target=self._run, name="avatargen-webhooks", daemon=True)
            self._sender.start()

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()

    def send_due(self, *, wait: bool = False) -> float:
        """Start posting every due row whose receiver is not busy; seconds until the next row falls due."""
        now = self.clock()
        with transaction(self.database) as session:
            rows = session.exec(
                select(WebhookOutbox)
                .where(col(WebhookOutbox.due_at) <= now, _unclaimed(now))
                .order_by(col(WebhookOutbox.due_at))
                .limit(BATCH)
            ).all()
            upcoming = session.exec(select(func.min(WebhookOutbox.due_at)).where(col(WebhookOutbox.due_at) > now)).one()
        by_receiver: dict[str, list[WebhookOutbox]] = defaultdict(list)
        for row in rows:
            by_receiver[_receiver(row.url)].append(row)
        started = [thread for key, queue in by_receiver.items() if (thread := self._post_all(key, queue))]
        for thread in started if wait else ():
            thread.join()
        return POLL_S if upcoming is None else max(0.0, (_aware(upcoming) - now).total_seconds())

    def _post_all(self, key: str, rows: list[WebhookOutbox]) -> threading.Thread | None:
        with self._lock:
            if key in self._busy or len(self._busy) >= MOST_RECEIVERS:
                return None  # its thread takes the rest on its next pass
            thread = threading.Thread(target=self._post_each, args=(key, rows), name=f"webhook {key}", daemon=True)
            self._busy[key] = thread
        thread.start()
        return thread

    def _post_each(self, key: str, rows: list[WebhookOutbox]) -> None:
        try:
            for row in rows:
                if self._stopped.is_set():
                    return
                if self._claim(row.id):
                    self._deliver(row)
        except Exception:
            log.exception("webhook sender for %s failed", key)
        finally:
            with self._lock:
                self._busy.pop(key, None)
            self._wake.set()  # rows that waited for this receiver may be due

    def _claim(self, delivery_id: str) -> bool:
        now = self.clock()
        with transaction(self.database) as session:
            taken = session.exec(
                update(WebhookOutbox)
                .where(col(WebhookOutbox.id) == delivery_id, _unclaimed(now))
                .values(claimed_until=now + timedelta(seconds=CLAIM_S))
            )
            return taken.rowcount == 1

    def _deliver(self, row: WebhookOutbox) -> None:
        try:
            target = parse_url(row.url)
            address = resolve(target, private_ok=self.private_ok)
        except Refused as refusal:
            log.warning("webhook %s for generation %s refused: %s", row.id, row.generation_id, refusal)
            return self._forget(row.id)
        body = row.body.encode()
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "avatargen-webhooks",
            "X-Avatargen-Delivery": row.id,
            "X-Avatargen-Timestamp": timestamp,
            "X-Avatargen-Signature": sign(self.secret, timestamp, body),
        }
        try:
            status = post(target, address, body, headers, timeout=self.timeout_s)
        except Exception as error:
            return self._retry(row, f"{type(error).__name__}: {error}")
        if 200 <= status < 300:
            return self._forget(row.id)
        if 300 <= status < 400:
            log.warning("webhook %s to %s refused: a redirect (HTTP %d) is never followed", row.id, target.host, status)
            return self._forget(row.id)
        self._retry(row, f"HTTP {status}")

    def _retry(self, row: WebhookOutbox, problem: str) -> None:
        host = _receiver(row.url)
        tried = row.attempts + 1
        if tried >= self.attempts:
            log.warning("webhook %s to %s given up after %d attempts (%s)", row.id, host, tried, problem)
            return self._forget(row.id)
        wait = self.backoff_s * 2 ** (tried - 1)
        log.info("webhook %s to %s failed (%s); retrying in %.0f s", row.id, host, problem, wait)
        with transaction(self.database) as session:
            session.exec(
                update(WebhookOutbox)
                .where(col(WebhookOutbox.id) == row.id)
                .values(attempts=tried, due_at=self.clock() + timedelta(seconds=wait), claimed_until=None)
            )

    def _forget(self, delivery_id: str) -> None:
        with transaction(self.database) as session:
            session.exec(delete(WebhookOutbox).where(col(WebhookOutbox.id) == delivery_id))

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                wait = self.send_due()
            except Exception:
                log.exception("webhook sender pass failed")
                wait = POLL_S
            self._wake.wait(min(wait, POLL_S))
            self._wake.clear()


def _unclaimed(now: datetime):
    return or_(col(WebhookOutbox.claimed_until).is_(None), col(WebhookOutbox.claimed_until) < now)


def _receiver(url: str) -> str:
    try:
        return parse_url(url).key
    except Refused:
        return url  # refused when its turn comes, with a log line


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; every stored time is UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
