"""Users: accounts made by an administrator (password mode) or on a first visit (local, Hugging Face).

May import `db`, `credits` (a new account's starting grant, the daily top-up) and `accounts.passwords`.
"""

import functools
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from avatargen.accounts.passwords import hash_password, verify_password
from avatargen.credits.ledger import Ledger, record
from avatargen.db.connect import transaction
from avatargen.db.tables import Reason, Role, User
from avatargen.errors import NotFound, UserError
from avatargen.settings import Settings

log = logging.getLogger(__name__)

LOCAL_USERNAME = "local"  # the one person of `auth=none`
MIN_PASSWORD = 8


def find(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def insert(
    session: Session, *, username: str, starting_credits: int, role: Role = Role.user, password_hash: str | None = None
) -> User:
    """A new user with their one starting grant."""
    user = User(username=username, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    if starting_credits:
        record(session, user_id=user.stored_id, delta=starting_credits, reason=Reason.grant)
    return user


class Users:
    def __init__(self, settings: Settings, *, database: Engine, ledger: Ledger):
        self.settings = settings
        self.database = database
        self.ledger = ledger

    def add(
        self, username: str, *, password: str | None = None, admin: bool = False, credits: int | None = None
    ) -> User:
        """An account made by an administrator, with the starting credits unless `credits` says otherwise."""
        username = username.strip()
        if not username or len(username) > 64:
            raise UserError("A username needs 1 to 64 characters.")
        if ":" in username:  # kept for accounts from elsewhere: "hf:<name>"
            raise UserError("A username cannot contain ':'.")
        if password is not None and len(password) < MIN_PASSWORD:
            raise UserError(f"A password needs at least {MIN_PASSWORD} characters.")
        try:
            with transaction(self.database) as session:
                if find(session, username) is not None:
                    raise UserError(f"User {username!r} already exists.")
                return insert(
                    session,
                    username=username,
                    starting_credits=self.settings.starting_credits if credits is None else credits,
                    role=Role.admin if admin else Role.user,
                    password_hash=hash_password(password) if password else None,
                )
        except IntegrityError:  # created meanwhile by a concurrent request
            raise UserError(f"User {username!r} already exists.") from None

    def named(self, username: str) -> User:
        """An existing account, for the command line."""
        with transaction(self.database) as session:
            user = find(session, username)
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        return user

    def authenticate(self, username: str, password: str) -> bool:
        with transaction(self.database) as session:
            user = find(session, username)
        stored = user.password_hash if user is not None else _dummy_hash()  # same work whether the name exists or not
        return verify_password(password, stored) and user is not None

    def user_for(self, username: str | None) -> User:
        """The requesting user: the signed-in one, or the single local user when auth is off.

        Local and Hugging Face accounts are created on their first request; password accounts by an administrator.
        With daily credits on, the first request of a UTC day tops the balance up.
        """
        if self.settings.auth == "none":
            username = LOCAL_USERNAME
        if not username:
            raise UserError("Please sign in first.")
        with transaction(self.database) as session:
            user = find(session, username)
        if user is None:
            if self.settings.auth == "password":
                raise UserError("Your account was not found. Please sign in again.")
            user = self._first_visit(username)
        if self.ledger.daily_credits:
            self.ledger.top_up_daily(user)
        return user

    def _first_visit(self, username: str) -> User:
        try:
            with transaction(self.database) as session:
                user = insert(session, username=username, starting_credits=self.settings.starting_credits)
            log.info("new account %r with %d credits", username, self.settings.starting_credits)
            return user
        except IntegrityError:  # created meanwhile by a concurrent first request
            with transaction(self.database) as session:
                existing = find(session, username)
            if existing is None:  # and deleted again since
                raise UserError("Your account could not be created. Please try again.") from None
            return existing


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no such user")
