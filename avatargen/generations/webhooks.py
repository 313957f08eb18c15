"""Completion webhooks: when a generation completes or fails, POST its record to the URL given with the request,
or else to the person's URL. Signed with HMAC-SHA256, retried with back-off, sent from a background thread so a
worker never waits on a receiver.

A receiver checks `X-Avatargen-Signature: sha256=<hex>` = HMAC(secret, "<X-Avatargen-Timestamp>.<body>") and may
see a delivery twice (same `X-Avatargen-Delivery`). Deliveries live in memory: a process that dies loses the ones
not sent yet; `/generation` stays the truth.
"""

import heapq
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from hashlib import sha256
from urllib.parse import urlparse

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from avatargen.db.tables import Generation, WebhookTarget
from avatargen.errors import UserError

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # one delivery attempt
MAX_URL = 2000


def check_url(url: str) -> str:
    """A webhook URL a person gave: http(s) with a host, at most 2000 characters."""
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > MAX_URL:
        raise UserError(f"The webhook URL must be an http:// or https:// address of at most {MAX_URL} characters.")
    return url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, sha256).hexdigest()


def _private(host: str) -> bool:
    try:
        # A host name resolves to IPv4 and IPv6 addresses only, whose socket addresses start with the address string.
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None) if isinstance(info[4][0], str)}
    except OSError:
        return False
    return any(not ipaddress.ip_address(address.split("%")[0]).is_global for address in addresses)


@dataclass(order=True)
class _Delivery:
    due: float
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    id: str = field(compare=False)
    attempt: int = field(default=1, compare=False)


class Webhooks:
    """`notify(generation_id)` returns at once; one daemon thread looks the target up, delivers and retries."""

    def __init__(
        self, database: Engine, *, secret: str, attempts: int = 5, backoff_s: float = 1.0, private_ok: bool = False
    ):
        self.database = database
        self.secret = secret
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.private_ok = private_ok
        self._due: list[_Delivery] = []
        self._todo: list[str] = []  # generation ids not looked up yet
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def notify(self, generation_id: str) -> None:
        if not self.secret:
            return
        with self._wake:
            self._todo.append(generation_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="avatargen-webhooks", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and not self._todo and not (self._due and self._due[0].due <= time.time()):
                    self._wake.wait(None if not self._due else max(0.0, self._due[0].due - time.time()))
                if self._stopped:
                    return
                todo, self._todo = self._todo, []
                ready = heapq.heappop(self._due) if self._due and self._due[0].due <= time.time() else None
            for generation_id in todo:
                try:
                    self._prepare(generation_id)
                except Exception:
                    log.exception("webhook for generation %s could not be prepared", generation_id)
            if ready is not None:
                self._deliver(ready)

    def _prepare(self, generation_id: str) -> None:
        with Session(self.database) as session:
            row = session.get(Generation, generation_id)
            if row is None:
                return
            targets = session.exec(
                select(WebhookTarget).where(WebhookTarget.user_id == row.user_id).order_by(col(WebhookTarget.id))
            ).all()
            url = next((t.url for t in targets if t.generation_id == row.id), None) or next(
                (t.url for t in targets if t.generation_id is None), None
            )
            record = row.to_public()
        if url is None:
            return
        body = json.dumps({"event": f"generation.{row.status}", "data": record}, separators=(",", ":")).encode()
        with self._wake:
            heapq.heappush(self._due, _Delivery(due=time.time(), url=url, body=body, id=uuid.uuid4().hex))

    def _deliver(self, delivery: _Delivery) -> None:
        host = urlparse(delivery.url).hostname or ""
        if not self.private_ok and _private(host):
            log.warning("webhook %s refused: %s is not a public address", delivery.id, host)
            return
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            delivery.url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "avatargen-webhooks",
                "X-Avatargen-Delivery": delivery.id,
                "X-Avatargen-Timestamp": timestamp,
                "X-Avatargen-Signature": sign(self.secret, timestamp, delivery.body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if 200 <= response.status < 300:
                    return
                problem = f"HTTP {response.status}"
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
        if delivery.attempt >= self.attempts:
            log.warning(
                "webhook %s to %s given up after %d attempts (%s)", delivery.id, host, delivery.attempt, problem
            )
            return
        delivery.due = time.time() + self.backoff_s * 2 ** (delivery.attempt - 1)
        delivery.attempt += 1
        log.info(
            "webhook %s to %s failed (%s); retrying in %.0f s", delivery.id, host, problem, delivery.due - time.time()
        )
        with self._wake:
            heapq.heappush(self._due, delivery)


def set_person_webhook(session: Session, *, user_id: int, url: str | None) -> None:
    """Set (or with None remove) the URL a person's finished generations are posted to."""
    current = session.exec(
        select(WebhookTarget).where(WebhookTarget.user_id == user_id, col(WebhookTarget.generation_id).is_(None))
    ).first()
    if current is not None:
        session.delete(current)
        session.flush()
    if url:
        session.add(WebhookTarget(user_id=user_id, url=url))
