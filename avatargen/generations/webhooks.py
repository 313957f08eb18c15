"""Webhook addresses and single deliveries: a URL is parsed and normalised once (no `%` in a host; international
names IDNA-encoded), its host resolved once per delivery, and the connection made to the address that was checked
(the Host header and TLS server name stay the URL's host). Redirects are never followed.

A receiver checks `X-Avatargen-Signature: sha256=<hex>` = HMAC(secret, "<X-Avatargen-Timestamp>.<body>") and may
see a delivery twice (same `X-Avatargen-Delivery`). What to send and when lives in the outbox (`outbox.py`).
"""

import hmac
import http.client
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from hashlib import sha256
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import Session, col, select

from avatargen.db.tables import WebhookTarget
from avatargen.errors import UserError

log = logging.getLogger(__name__)

MAX_URL = 2000
_FORMAT = f"The webhook URL must be an http:// or https:// address of at most {MAX_URL} characters"


class Refused(UserError):
    """A webhook URL or the address it resolves to is not allowed; the message says why."""


@dataclass(frozen=True)
class Target:
    """A webhook URL, normalised: what is connected to, and what the request names."""

    url: str  # normalised
    scheme: str
    host: str  # ASCII (IDNA), lower case, no brackets
    port: int
    path: str  # path and query, at least "/"

    @property
    def key(self) -> str:
        """One receiver: deliveries to it run one at a time, and never hold up another receiver."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_url(url: str) -> Target:
    """The URL as a target, or Refused: http(s), a host without `%` or credentials, a valid port."""
    url = (url or "").strip()
    if len(url) > MAX_URL or any(ord(c) < 33 for c in url):
        raise Refused(f"{_FORMAT}.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Refused(f"{_FORMAT}.")
    if "@" in parts.netloc:
        raise Refused("The webhook URL must not carry a user name or password.")
    if "%" in parts.netloc:  # a percent-encoded host would be decoded by some clients into another address
        raise Refused("The webhook URL's host must be written plainly, without '%'.")
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except (UnicodeError, ValueError):
        raise Refused("The webhook URL's host or port is not valid.") from None
    scheme = parts.scheme.lower()
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if parts.port is None else f"{shown_host}:{port}"
    normal = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(
        url=normal, scheme=scheme, host=host, port=port, path=urlunsplit(("", "", parts.path or "/", parts.query, ""))
    )


def resolve(target: Target, *, private_ok: bool) -> str:
    """The one address a delivery connects to; Refused when the host resolves to nothing, or to any address that is
    not public (loopback, private, link-local, …) unless `private_ok`."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError:
        raise Refused(f"The webhook host {target.host} does not resolve.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise Refused(f"The webhook host {target.host} does not resolve.")
    if not private_ok:
        inward = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global]
        if inward:
            raise Refused(f"The webhook host {target.host} resolves to {inward[0]}, which is not a public address.")
    return addresses[0]


def check_url(url: str, *, private_ok: bool = False) -> str:
    """A webhook URL a person gives (endpoint or CLI), normalised, after its host was resolved and checked."""
    target = parse_url(url)
    resolve(target, private_ok=private_ok)
    return target.url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, sha256).hexdigest()


class _Pinned(http.client.HTTPConnection):
    """Connects to `address` while the request (Host header) names the URL's host."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(_Pinned):
    """As `_Pinned`, over TLS: the server name (SNI) and the certificate check are the URL's host."""

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def post(target: Target, address: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST `body` to the target at the checked `address`; the HTTP status (a redirect is an answer, not followed)."""
    connection = (_PinnedTLS if target.scheme == "https" else _Pinned)(target, address, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # what a receiver says is not needed; a bounded read lets the connection close
        return response.status
    finally:
        connection.close()


def set_person_webhook(session: Session, *, user_id: int, url: str | None) -> None:
    """Set (or with None remove) the URL a person's finished generations are posted to (`url` already checked)."""
    current = session.exec(
        select(WebhookTarget).where(WebhookTarget.user_id == user_id, col(WebhookTarget.generation_id).is_(None))
    ).first()
    if current is not None:
        session.delete(current)
        session.flush()
    if url:
        session.add(WebhookTarget(user_id=user_id, url=url))
