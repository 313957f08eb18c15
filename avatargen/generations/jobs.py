"""Generations as a worker sees them: claim, keep alive, report progress, complete or fail (+ refund, once).

A claim is the `attempts` number it set: progress, completion and failure only apply while that claim still holds
the row, so a worker thought dead that wakes up late changes nothing. Knows nothing of the engine.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import Engine

from avatargen.credits import ledger
from avatargen.credits.pricing import CANDIDATES
from avatargen.db.connect import transaction
from avatargen.db.tables import Generation, Kind, Reason, Status, utcnow
from avatargen.generations import queries
from avatargen.generations.outbox import Outbox
from avatargen.presets import VIDEO_FPS
from avatargen.storage import clips
from avatargen.storage.store import Storage

ALTERNATIVES_KEPT = timedelta(days=1)  # a best-of-N generation's other candidates, then the recovery sweep deletes them


def output_name(generation_id: str, alternative: int = 0) -> str:
    """The name every attempt saves a generation's output (or its n-th alternative) under, so a later attempt finds
    an earlier one's."""
    return f"avatar-{generation_id}" + (f"-alt{alternative}" if alternative else "")


def preview_name(generation_id: str) -> str:
    """The name a generation's live previews are saved under while it runs."""
    return f"preview-{generation_id}"


class Jobs:
    def __init__(
        self,
        database: Engine,
        *,
        storage: Storage,
        placeholders_free: bool = False,  # an output of the placeholder model is refunded (`auto` fell back)
        outbox: Outbox | None = None,  # webhooks: written with each finished generation
        clock: Callable[[], datetime] = utcnow,  # claims, heartbeats and finishing times; other workers read them
    ):
        self.database = database
        self.storage = storage
        self.placeholders_free = placeholders_free
        self.outbox = outbox
        self.clock = clock

    def claim(self, generation_id: str) -> Generation | None:
        with transaction(self.database) as session:
            if not queries.claim_generation(session, generation_id, now=self.clock()):
                return None
            return session.get(Generation, generation_id)

    def claim_batch(self, generation_id: str, *, size: int) -> list[Generation]:
        """Claim this generation and up to size-1 more pending ones of the same size (to run in one call)."""
        first = self.claim(generation_id)
        if first is None:
            return []
        batch = [first]
        if size > 1 and first.kind == Kind.image:  # a video is a job of its own
            with transaction(self.database) as session:
                candidates = queries.next_pending_like(session, first, limit=size - 1)
            batch += [claimed for gid in candidates if (claimed := self.claim(gid)) is not None]
        return batch

    def is_pending(self, generation_id: str) -> bool:
        with transaction(self.database) as session:
            row = session.get(Generation, generation_id)
        return row is not None and row.status == Status.pending

    def heartbeat(self, batch: list[Generation]) -> None:
        """Tell other workers these claims are alive (while loading models or waiting for the GPU)."""
        with transaction(self.database) as session:
            for generation in batch:
                queries.touch(session, generation.id, generation.attempts, now=self.clock())

    def hand_back(self, generation: Generation) -> bool:
        """Give a claimed job back to the queue's next taker (this process is stopping); the caller enqueues it."""
        with transaction(self.database) as session:
            return queries.hand_back(session, generation.id, generation.attempts)

    def report_progress(self, generation: Generation, progress: float) -> None:
        with transaction(self.database) as session:
            queries.set_progress(session, generation.id, generation.attempts, progress, now=self.clock())

    def save_preview(self, generation: Generation, image: Image.Image) -> None:
        """Store the latest live preview of a running generation and point its row at it; earlier ones go."""
        key = self.storage.save_image(
            image, kind="outputs", user_id=generation.user_id, name=preview_name(generation.id)
        )
        with transaction(self.database) as session:
            held = queries.set_preview(session, generation.id, generation.attempts, key)
        self._drop_previews(generation.user_id, generation.id, keep=key if held else None)

    def _drop_previews(self, user_id: int, generation_id: str, *, keep: str | None) -> None:
        for key in self.storage.outputs_of(user_id, preview_name(generation_id)):
            if key != keep:
                self.storage.delete(key)

    def photos(self, generation: Generation) -> tuple[Image.Image, ...]:
        """The stored photos of the person a generation was asked with, the first one first."""
        return tuple(self.storage.open_image(key) for key in generation.input_image_paths)

    def save_output(self, generation: Generation, image: Image.Image, *, alternative: int = 0) -> str:
        name = output_name(generation.id, alternative)
        return self.storage.save_image(image, kind="outputs", user_id=generation.user_id, name=name)

    def save_video(self, generation: Generation, frames: list[Image.Image]) -> tuple[str, dict[str, str]]:
        """Store a clip: its poster frame (the key `complete` records as the output), the MP4 and the animated WebP."""
        name, fps = output_name(generation.id), generation.fps or VIDEO_FPS
        keys = [self.storage.save_image(clips.poster(frames), kind="outputs", user_id=generation.user_id, name=name)]
        try:
            for data, suffix in ((clips.mp4_bytes(frames, fps), ".mp4"), (clips.webp_bytes(frames, fps), ".webp")):
                keys.append(
                    self.storage.save_bytes(data, kind="outputs", user_id=generation.user_id, name=name, suffix=suffix)
                )
        except BaseException:
            for key in keys:
                self.storage.delete(key)
            raise
        return keys[0], {"video_path": keys[1], "animation_path": keys[2]}

    def complete(
        self,
        generation: Generation,
        output_key: str,
        *,
        placeholder: bool = False,
        likeness: int | None = None,
        seed: int | None = None,
        alternatives: Sequence[dict] = (),
        video: dict[str, str] | None = None,
    ) -> None:
        """Record the output; a placeholder image is free when `placeholders_free` (its charge is refunded in the
        same transaction). `likeness` scores the output, `seed` is the one that made it (best of N: not always the
        row's), `alternatives` are the other candidates ({"path", "likeness", "seed"}), kept `ALTERNATIVES_KEPT`;
        `video`: a clip's keys, from `save_video`."""
        free = placeholder and self.placeholders_free
        now = self.clock()
        details: dict = {"likeness": likeness, "alternatives": list(alternatives), **(video or {})}
        if seed is not None:
            details["seed"] = seed
        if alternatives:
            details["alternatives_expire_at"] = now + ALTERNATIVES_KEPT
        with transaction(self.database) as session:
            charged = generation.credit_used if free else 0
            finished = queries.complete_generation(
                session, generation.id, generation.attempts, output_key, free=free, now=now, details=details
            )
            if finished and charged:
                ledger.record(
                    session,
                    user_id=generation.user_id,
                    delta=charged,
                    reason=Reason.refund,
                    generation_id=generation.id,
                )
            hooked = finished and self._write_webhook(session, generation.id)
        # the output replaces the previews (the record shows none once done)
        self._drop_previews(generation.user_id, generation.id, keep=None)
        kept = {output_key, *(alternative["path"] for alternative in alternatives), *(video or {}).values()}
        if not finished:  # deleted, or taken over after this worker was thought dead: the output has no owner
            for key in kept:
                self.storage.delete(key)
            return
        self._drop_earlier_outputs(generation.user_id, generation.id, keep=kept)
        if hooked and self.outbox is not None:
            self.outbox.wake()

    def fail(self, generation_id: str, message: str, *, attempt: int | None = None) -> bool:
        """Mark a processing generation failed and refund it, in one transaction; True only the first time.

        With `attempt`, only while that claim still holds the row."""
        with transaction(self.database) as session:
            row = session.get(Generation, generation_id)
            if row is None or not queries.fail_generation(
                session, generation_id, message, attempt=attempt, now=self.clock()
            ):
                return False
            ledger.record(
                session, user_id=row.user_id, delta=row.credit_used, reason=Reason.refund, generation_id=generation_id
            )
            hooked = self._write_webhook(session, generation_id)
        self._drop_earlier_outputs(row.user_id, generation_id, keep=set())
        self._drop_previews(row.user_id, generation_id, keep=None)
        if hooked and self.outbox is not None:
            self.outbox.wake()
        return True

    def expire_alternatives(self) -> int:
        """Delete the alternatives whose day is over (their files, then their entries); returns how many rows."""
        with transaction(self.database) as session:
            rows = queries.expired_alternatives(session, now=self.clock())
        for row in rows:
            for alternative in row.alternatives:
                self.storage.delete(alternative["path"])
            with transaction(self.database) as session:
                queries.drop_alternatives(session, row.id)
        return len(rows)

    def _write_webhook(self, session, generation_id: str) -> bool:
        """The webhook delivery joins the transaction that finishes the generation: both happen, or neither."""
        return self.outbox is not None and self.outbox.write(session, generation_id)

    def _drop_earlier_outputs(self, user_id: int, generation_id: str, *, keep: set[str]) -> None:
        """Delete outputs an earlier attempt saved but never recorded (its worker died between the two)."""
        for alternative in range(max(CANDIDATES)):
            for key in self.storage.outputs_of(user_id, output_name(generation_id, alternative)):
                if key not in keep:
                    self.storage.delete(key)
