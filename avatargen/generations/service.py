"""Generations as a person sees them: validate → price → debit + record (one transaction) → enqueue, then read,
list, delete. Another person's id answers exactly like one that does not exist.

May import `db`, `credits`, `storage`, `poses` (through the pose book) and the engine's face check.
"""

import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlmodel import Session, col

from avatargen.credits import ledger
from avatargen.credits.limits import RateLimits
from avatargen.credits.pricing import generation_cost
from avatargen.db.connect import transaction
from avatargen.db.paging import page_bounds
from avatargen.db.tables import FINISHED, Generation, Reason, Status, User, WebhookTarget
from avatargen.engine.identity import require_face
from avatargen.errors import InsufficientCredits, NotFound, UserError
from avatargen.generations import queries
from avatargen.generations.options import MAX_BATCH, MAX_SEED, GenerationOptions, check_choice
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.webhooks import check_url
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES
from avatargen.settings import Settings
from avatargen.storage.photos import load_photo, photo_work
from avatargen.storage.store import Storage

log = logging.getLogger(__name__)

Enqueue = Callable[[str, bool], None]  # (generation id, priority)


class Generations:
    def __init__(
        self,
        settings: Settings,
        *,
        database: Engine,
        storage: Storage,
        poses: PoseBook,
        enqueue: Enqueue,
        limits: RateLimits | None = None,
        free: Callable[[], bool] = lambda: False,  # placeholder images are free (the runtime's rule)
    ):
        self.settings = settings
        self.database = database  # SQLAlchemy's engine; "engine" alone is the generation engine
        self.storage = storage
        self.poses = poses
        self.enqueue = enqueue
        self.limits = limits
        self.free = free

    def price(self, quality: str, priority: bool) -> int:
        """Credits a generation costs now: 0 while `auto` has fallen back to the placeholder model."""
        check_choice("quality", quality, QUALITIES)
        return 0 if self.free() else generation_cost(quality, bool(priority))

    def create(
        self, user: User, *, photo: str | Path | None, pose_ids: Sequence[str], options: GenerationOptions
    ) -> list[Generation]:
        """One generation per pose from the same photos: all checked, charged and recorded in one transaction, or
        none. The total is checked against the balance as a whole. Without a seed each generation draws its own."""
        if self.limits is not None:
            self.limits.check_request(user)
        webhook_url = check_url(options.webhook_url) if options.webhook_url else None
        cost = self.price(options.quality, options.priority)
        if not pose_ids:
            raise UserError("Pick a pose from the gallery first.")
        if len(pose_ids) > MAX_BATCH:
            raise UserError(f"Pick at most {MAX_BATCH} poses at once; you picked {len(pose_ids)}.")
        poses = [self.poses.pose(user, pose_id) for pose_id in pose_ids]
        if photo is None:
            raise UserError("Upload a photo of yourself first.")
        photos = (photo, *options.more_photos)
        keys = self._store_photos(user, photos)  # stored once, shared by the generations of the batch
        try:
            with transaction(self.database) as session:
                generations = self._charge(session, user, poses, keys, options, cost)
                for generation in generations:
                    if webhook_url:
                        session.add(WebhookTarget(user_id=user.stored_id, generation_id=generation.id, url=webhook_url))
        except BaseException:
            for key in keys:
                self.storage.delete(key)
            raise
        self._enqueue(generations)
        return generations

    def _store_photos(self, user: User, photos: Sequence[str | Path]) -> list[str]:
        """Check every photo (decodes, shows a big enough face), then store the cleaned copies."""
        limits = {"max_bytes": self.settings.max_upload_bytes, "max_pixels": self.settings.max_upload_pixels}
        images = []
        with photo_work():
            for number, path in enumerate(photos, start=1):
                try:
                    images.append(load_photo(path, **limits))
                    require_face(images[-1])
                except UserError as error:
                    if number == 1:
                        raise
                    raise type(error)(f"Photo {number}: {error}") from None
        keys: list[str] = []
        try:
            for image, path in zip(images, photos, strict=True):
                key = self.storage.save_image(image, kind="uploads", user_id=user.stored_id, name=Path(path).name)
                keys.append(key)
        except BaseException:
            for key in keys:
                self.storage.delete(key)
            raise
        return keys

    def _charge(
        self,
        session: Session,
        user: User,
        poses: list[PoseTemplate],
        keys: list[str],
        options: GenerationOptions,
        cost: int,
    ) -> list[Generation]:
        """Under the person's row lock: check the limits and the balance, insert the rows and their debits."""
        ledger.lock_user(session, user.stored_id)
        if self.limits is not None:  # under the lock: concurrent requests count one at a time
            self.limits.check_room(user, queries.in_flight(session, user.stored_id), len(poses))
        have = ledger.balance(session, user.stored_id)
        if have < cost * len(poses):
            raise InsufficientCredits(_shortfall(len(poses), cost, have))
        size = QUALITIES[options.quality]
        generations = [
            Generation(
                user_id=user.stored_id,
                pose_template_id=pose.id,
                input_image_path=keys[0],
                extra_input_paths=keys[1:],
                quality=options.quality,
                priority=options.priority,
                style=options.style,
                seed=secrets.randbelow(MAX_SEED + 1) if options.seed is None else options.seed,
                width=size.width,
                height=size.height,
                credit_used=cost,
                placeholder=self.free(),
                mirrored=options.mirror,
            )
            for pose in poses
        ]
        for generation in generations:
            session.add(generation)
            ledger.record(
                session, user_id=user.stored_id, delta=-cost, reason=Reason.generation, generation_id=generation.id
            )
        return generations

    def _enqueue(self, generations: list[Generation]) -> None:
        """Queue each row; when the queue refuses, the rows not yet queued are cancelled and refunded."""
        for queued, generation in enumerate(generations):
            try:
                self.enqueue(generation.id, generation.priority)
            except Exception:
                log.exception("could not queue generation %s", generation.id)
                # Rows a worker claimed meanwhile (batching picks pending rows from the database) run as charged.
                cancelled = sum(self.remove(row) for row in generations[queued:])
                if cancelled == len(generations):
                    raise UserError(
                        "The generation queue is unavailable right now; you were not charged. Please try again."
                    ) from None
                if cancelled:
                    raise UserError(
                        f"The generation queue is unavailable right now; {cancelled} of your {len(generations)} "
                        "generations were cancelled and refunded. Please try again."
                    ) from None
                return

    def page(
        self, user: User, *, limit: int = 20, offset: int = 0, statuses: Sequence[str] | None = None
    ) -> tuple[list[Generation], int]:
        limit, offset = page_bounds(limit, offset)
        with transaction(self.database) as session:
            rows, total = queries.list_generations(
                session, user_id=user.stored_id, limit=limit, offset=offset, statuses=statuses
            )
            return list(rows), total

    def finished(self, user: User, *, limit: int = 20, offset: int = 0) -> tuple[list[Generation], int]:
        """Completed or failed generations, newest first."""
        return self.page(user, limit=limit, offset=offset, statuses=FINISHED)

    def jobs(self, user: User) -> list[dict]:
        """A person's unfinished generations, oldest first, each with its place in the queue and an estimate.

        `queuePosition` counts from 1 (next to run) for pending jobs and is None while running; `etaSeconds` is
        the expected wait until done, from the recent run times of the same quality, or None with no history.
        """
        jobs = []
        with transaction(self.database) as session:
            for row in queries.unfinished_generations(session, user_id=user.stored_id):
                took = queries.recent_run_seconds(session, quality=row.quality)
                if row.status == Status.processing:
                    position, eta = None, None if took is None else took * (1 - row.progress)
                else:
                    position = queries.queue_ahead(session, row) + 1
                    waves = (position - 1) // self.settings.batch_size + 1  # a worker takes a batch per call
                    eta = None if took is None else took * waves
                jobs.append(row.to_public() | {"queuePosition": position, "etaSeconds": eta})
        return jobs

    def breakdown(self, user: User) -> dict:
        """Generations and credits per UTC day, per style and per quality, for plots."""
        with transaction(self.database) as session:
            rows = queries.generation_breakdown(session, user_id=user.stored_id)
        totals: dict[str, dict[str, dict[str, int]]] = {"day": {}, "style": {}, "quality": {}}
        for day, style, quality, count, credits in rows:
            for axis, key in (("day", day), ("style", style), ("quality", quality)):
                entry = totals[axis].setdefault(key, {"generations": 0, "credits": 0})
                entry["generations"] += count
                entry["credits"] += credits
        return {axis: [{axis: key, **values} for key, values in found.items()] for axis, found in totals.items()}

    def stats(self, user: User) -> dict:
        with transaction(self.database) as session:
            return queries.generation_counts(session, user_id=user.stored_id) | {
                "totalCreditsUsed": ledger.spent(session, user.stored_id)
            }

    def get(self, user: User, generation_id: str) -> Generation:
        with transaction(self.database) as session:
            row = queries.get_generation(session, user_id=user.stored_id, generation_id=str(generation_id))
        if row is None:
            raise NotFound("Generation not found.")
        return row

    def input_paths(self, user: User, generation_id: str) -> list[Path]:
        """The stored photos a generation was made from, the first one first (to make it again)."""
        return [self.storage.path(key) for key in self.get(user, generation_id).input_image_paths]

    def output_path(self, user: User, generation_id: str) -> Path:
        row = self.get(user, generation_id)
        if row.output_image_path is None:
            raise UserError(f"This generation has no image yet (status: {row.status}).")
        return self.storage.path(row.output_image_path)

    def delete(self, user: User, generation_id: str) -> None:
        """Delete a generation and its files; a pending one is cancelled and refunded."""
        row = self.get(user, generation_id)
        if row.status == Status.processing:
            raise UserError("This generation is being made right now; delete it once it has finished.")
        if not self.remove(row):
            raise UserError("This generation just changed state; refresh and try again.")

    def cancel(self, user: User, generation_id: str) -> int:
        """Cancel a generation still waiting in the queue: it goes, refunded in the same transaction (`remove`);
        refused once a worker has it. Returns the credits given back."""
        row = self.get(user, generation_id)
        if row.status != Status.pending or not self.remove(row):
            raise UserError("This generation has already started, so it can no longer be cancelled.")
        return row.credit_used

    def remove(self, row: Generation) -> bool:
        """Delete a row in the state it was read in (refunding it if it never ran) and its files."""
        with transaction(self.database) as session:
            as_read = (col(Generation.id) == row.id, col(Generation.status) == row.status)
            deleted = session.exec(delete(Generation).where(*as_read))
            if deleted.rowcount != 1:
                return False
            if row.status == Status.pending:
                ledger.record(
                    session, user_id=row.user_id, delta=row.credit_used, reason=Reason.refund, generation_id=row.id
                )
        with transaction(self.database) as session:
            shared = queries.input_in_use(session, row.input_image_path)  # the other generations of a batch share them
        for key in () if shared else row.input_image_paths:
            self.storage.delete(key)
        self.storage.delete(row.output_image_path)
        return True


def _shortfall(count: int, cost: int, have: int) -> str:
    if count > 1:
        return f"These {count} generations cost {count * cost} credits in all and you have {have}."
    cheapest = generation_cost("sd", False)
    hint = f" SD without priority costs {cheapest}." if cheapest < cost and have >= cheapest else ""
    return f"This generation costs {cost} credits and you have {have}.{hint}"
