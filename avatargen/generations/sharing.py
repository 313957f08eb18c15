"""Share links: an owner makes one of their outputs public at `/s/<token>`, for a while or until they stop it.

The token is 192 bits from `secrets`, derived from nothing (not the id, not the content), so a link cannot be
guessed or worked out from anything else the app shows. Stopping clears it at once; sharing again makes a new one,
so a link once stopped never works again. Only a completed generation's output is ever public.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from avatargen.db.connect import transaction
from avatargen.db.tables import Generation, Status, User, utcnow
from avatargen.errors import NotFound, UserError
from avatargen.generations import queries

EXPIRIES: dict[str, timedelta | None] = {"1d": timedelta(days=1), "7d": timedelta(days=7), "never": None}
TOKEN_BYTES = 24  # 192 bits


@dataclass(frozen=True)
class SharedOutput:
    """What a share link shows: the generation and its owner (whose own poses name it)."""

    generation: Generation
    owner: User


class Sharing:
    def __init__(self, database: Engine, *, clock: Callable[[], datetime] = utcnow):
        self.database = database
        self.clock = clock  # now, for when links end

    def share(self, user: User, generation_id: str, *, expires: str = "never") -> Generation:
        """Make the output public; an already shared one keeps its link and gets the new end."""
        if expires not in EXPIRIES:
            raise UserError(f"A link lasts 1d, 7d or never, not {expires!r}.")
        with transaction(self.database) as session:
            row = queries.get_generation(session, user_id=user.stored_id, generation_id=generation_id)
            if row is None:
                raise NotFound("Generation not found.")
            if row.status != Status.completed or row.output_image_path is None:
                raise UserError("Only a finished image can be shared; this one has none yet.")
            now = self.clock()
            if not row.shared(now):
                row.share_token = secrets.token_urlsafe(TOKEN_BYTES)
            lasts = EXPIRIES[expires]
            row.share_expires_at = None if lasts is None else now + lasts
            session.add(row)
            session.flush()
            session.refresh(row)
            return row

    def unshare(self, user: User, generation_id: str) -> Generation:
        """Stop sharing: the link answers like one that never existed, from this moment."""
        with transaction(self.database) as session:
            row = queries.get_generation(session, user_id=user.stored_id, generation_id=generation_id)
            if row is None:
                raise NotFound("Generation not found.")
            row.share_token, row.share_expires_at = None, None
            session.add(row)
            session.flush()
            session.refresh(row)
            return row

    def shared(self, token: str) -> SharedOutput | None:
        """The output public at this token now, or None (unknown, stopped, ended: all the same)."""
        with transaction(self.database) as session:
            row = session.exec(select(Generation).where(Generation.share_token == token)).first()
            if row is None or not row.shared(self.clock()) or row.output_image_path is None:
                return None
            owner = session.get(User, row.user_id)
            return None if owner is None else SharedOutput(row, owner)
