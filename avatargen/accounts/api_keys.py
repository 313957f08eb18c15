"""API keys for the REST API, and who a bearer token signs in.

A key is `avk_` and 43 random URL-safe characters (256 bits), shown once when it is made; only its SHA-256 is stored
(a key this random needs no salt or slow hash: nobody can guess one to test against a leaked hash). A person may hold
several, each named, revocable, and stamped when last used (at most once a minute, to spare the database). Wrong
tokens are throttled per client address exactly like wrong passwords (`SignInGuard`), and no key is ever logged:
the guard sees a fingerprint (a prefix of the token's SHA-256), never the token.

May import `db` and the rest of `accounts`.
"""

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import col, select

from avatargen.accounts.requester import hf_token_account
from avatargen.accounts.signin import SignInGuard
from avatargen.db.connect import transaction
from avatargen.db.tables import ApiKey, User, iso, utcnow
from avatargen.errors import NotFound, UserError

KEY_PREFIX = "avk_"
SHOWN = 12  # the characters of a key kept in the clear to tell keys apart: "avk_" and 8 more
MAX_KEY_NAME = 64
TOUCH_EVERY = timedelta(minutes=1)  # how stale `last_used_at` may get before a use writes it again


class NotSignedIn(UserError):
    """No bearer token, or one that signs nobody in: unknown, revoked, or an expired Hugging Face token."""


class TooManyBadKeys(UserError):
    """This address sent too many wrong tokens; it may try again in `retry_after` seconds."""

    def __init__(self, retry_after: float):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"Too many wrong API keys from your address; try again in {self.retry_after} s.")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_record(record: ApiKey) -> dict:
    """What a person may see of a key: never the key, which is not kept."""
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "createdAt": iso(record.created_at),
        "lastUsedAt": iso(record.last_used_at),
        "revokedAt": iso(record.revoked_at),
    }


class ApiKeys:
    """A person's REST API keys: made (shown once), listed, revoked, and looked up by the key itself."""

    def __init__(self, database: Engine, *, clock: Callable[[], datetime] = utcnow):
        self.database = database
        self.clock = clock  # stamps creation, revocation and last use

    def create(self, user: User, name: str) -> tuple[ApiKey, str]:
        """A new key for this person: its stored record, and the key itself (never stored, never shown again)."""
        name = (name or "").strip()
        if not name or len(name) > MAX_KEY_NAME:
            raise UserError(f"A key's name needs 1 to {MAX_KEY_NAME} characters.")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            user_id=user.stored_id, name=name, key_hash=key_hash(key), prefix=key[:SHOWN], created_at=self.clock()
        )
        with transaction(self.database) as session:
            session.add(record)
        return record, key

    def of(self, user: User) -> list[ApiKey]:
        """This person's keys, oldest first, revoked ones included (marked)."""
        with transaction(self.database) as session:
            query = select(ApiKey).where(ApiKey.user_id == user.stored_id).order_by(col(ApiKey.id))
            return list(session.exec(query).all())

    def revoke(self, user: User, key_id: int) -> ApiKey:
        """Revoke one of this person's keys for good; another person's key id answers like a missing one."""
        with transaction(self.database) as session:
            record = session.get(ApiKey, key_id)
            if record is None or record.user_id != user.stored_id:
                raise NotFound(f"{user.username!r} has no API key {key_id}.")
            if record.revoked_at is None:
                record.revoked_at = self.clock()
                session.add(record)
            return record

    def owner(self, key: str) -> str:
        """The account name a key signs in; NotSignedIn for an unknown or revoked key. Stamps its last use."""
        now = self.clock()
        with transaction(self.database) as session:
            found = session.exec(
                select(ApiKey, User.username).join(User).where(ApiKey.key_hash == key_hash(key))
            ).first()
            if found is None:
                raise NotSignedIn("This API key is not valid.")
            record, username = found
            if record.revoked_at is not None:
                raise NotSignedIn("This API key has been revoked; ask for a new one.")
            if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
                session.exec(update(ApiKey).where(col(ApiKey.id) == record.id).values(last_used_at=now))
            return username


class Bearers:
    """Who the token in `Authorization: Bearer <token>` signs in: an API key under any auth mode, or under `hf` a
    Hugging Face token too. An address that sends wrong tokens waits like one that sends wrong passwords."""

    def __init__(self, keys: ApiKeys, *, auth: str, clock: Callable[[], float] = time.monotonic):
        self.keys = keys
        self.auth = auth
        self.guard = SignInGuard(self.signs_in, clock=clock)  # the sign-in page's policy, on its own records

    def account(self, token: str, *, address: str) -> str:
        """The account name; NotSignedIn for a wrong token, TooManyBadKeys while this address must wait."""
        fingerprint = key_hash(token)[:16]  # what the guard keeps and may log instead of the token
        if (wait := self.guard.wait(address, fingerprint)) > 0:
            raise TooManyBadKeys(wait)
        try:
            account = self._resolve(token)
        except NotSignedIn:
            self.guard.failed(address, fingerprint)
            raise
        self.guard.succeeded(address, fingerprint)
        return account

    def signs_in(self, _fingerprint: str, token: str) -> bool:
        """Whether a token signs anyone in (the guard's own check, unthrottled)."""
        try:
            self._resolve(token)
        except NotSignedIn:
            return False
        return True

    def _resolve(self, token: str) -> str:
        if token.startswith(KEY_PREFIX):
            return self.keys.owner(token)
        if self.auth == "hf" and token.startswith("hf_"):
            if (account := hf_token_account(token)) is None:
                raise NotSignedIn("This Hugging Face token is not valid, or has expired.")
            return account
        accepted = "an API key or a Hugging Face token" if self.auth == "hf" else "an API key"
        raise NotSignedIn(f"This is not {accepted} this app knows.")
