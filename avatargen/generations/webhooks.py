"""Completion webhooks: when a generation completes or fails, POST its record to the URL given with the request,
or else to the person's URL. Signed with HMAC-SHA256, retried with back-off, sent from a background thread (a
`Schedule`'s) so a worker never waits on a receiver.

A receiver checks `X-Avatargen-Signature: sha256=<hex>` = HMAC(secret, "<X-Avatargen-Timestamp>.<body>") and may
see a delivery twice (same `X-Avatargen-Delivery`). Deliveries live in memory: a process that dies loses the ones
not sent yet; `/generation` stays the truth.
"""

import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.request
import uuid
from dataclasses import dataclass
from functools import partial
from hashlib import sha256
from urllib.parse import urlparse

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from avatargen.db.tables import Generation, WebhookTarget
from avatargen.errors import UserError
from avatargen.schedule import Schedule

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


@dataclass
class _Delivery:
    url: str
    body: bytes
    id: str
    attempt: int = 1


class Webhooks:
    """`notify(generation_id)` returns at once; a schedule's thread looks the target up, delivers and retries.

    Back-off runs on the schedule's clock (`time.time` unless given one), so tests move time instead of waiting.
    """

    def __init__(
        self,
        database: Engine,
        *,
        secret: str,
        attempts: int = 5,
        backoff_s: float = 1.0,
        private_ok: bool = False,
        schedule: Schedule | None = None,
    ):
        self.database = database
        self.secret = secret
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.private_ok = private_ok
        self.schedule = schedule or Schedule(clock=time.time, name="avatargen-webhooks")

    def notify(self, generation_id: str) -> None:
        if self.secret:
            self.schedule.after(0, partial(self._prepare_logged, generation_id))

    def close(self) -> None:
        self.schedule.close()

    def _prepare_logged(self, generation_id: str) -> None:
        try:
            self._prepare(generation_id)
        except Exception:
            log.exception("webhook for generation %s could not be prepared", generation_id)

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
        self.schedule.after(0, partial(self._deliver, _Delivery(url=url, body=body, id=uuid.uuid4().hex)))

    def _deliver(self, delivery: _Delivery) -> None:
        host = urlparse(delivery.url).hostname or ""
        if not self.private_ok and _private(host):
            log.warning("webhook %s refused: %s is not a public address", delivery.id, host)
            return
        timestamp = str(int(self.schedule.clock()))
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
        wait = self.backoff_s * 2 ** (delivery.attempt - 1)
        delivery.attempt += 1
        log.info("webhook %s to %s failed (%s); retrying in %.0f s", delivery.id, host, problem, wait)
        self.schedule.after(wait, partial(self._deliver, delivery))


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
