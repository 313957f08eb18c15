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
from avatargen.credits.pricing import generation_cost, video_cost
from avatargen.db.connect import transaction
from avatargen.db.paging import page_bounds
from avatargen.db.tables import FINISHED, Generation, Kind, Reason, Status, User, WebhookTarget
from avatargen.engine.identity import require_face
from avatargen.engine.likeness import check_one_person
from avatargen.errors import InsufficientCredits, NotFound, UserError
from avatargen.generations import queries
from avatargen.generations.options import MAX_BATCH, MAX_SEED, GenerationOptions, check_choice
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.webhooks import check_url
from avatargen.poses.motions import MAX_FRAMES, MIN_FRAMES
from avatargen.presets import QUALITIES, VIDEO_FPS, VIDEO_FRAMES, VIDEO_QUALITIES
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

    def price(self, quality: str, priority: bool, candidates: int = 1) -> int:
        """Credits a generation costs now: 0 while `auto` has fallen back to the placeholder model."""
        check_choice("quality", quality, QUALITIES)
        return 0 if self.free() else generation_cost(quality, bool(priority), candidates)

    def create(
        self, user: User, *, photo: str | Path | None, pose_ids: Sequence[str], options: GenerationOptions
    ) -> list[Generation]:
        """One generation per pose from the same photos: all checked, charged and recorded in one transaction, or
        none. The total is checked against the balance as a whole. Without a seed each generation draws its own.

        With `options.request_id`, a request this person already made with that id answers its first result and
        charges nothing (also when both arrive at once: the second finds the first under the row lock)."""
        if options.request_id and (earlier := self._made(user, options.request_id)):
            return earlier
        webhook_url = self._webhook(options.webhook_url)
        cost = self.price(options.quality, options.priority, options.candidates)
        if not pose_ids:
            raise UserError("Pick a pose from the gallery first.")
        if len(pose_ids) > MAX_BATCH:
            raise UserError(f"Pick at most {MAX_BATCH} poses at once; you picked {len(pose_ids)}.")
        poses = [self.poses.pose(user, pose_id) for pose_id in pose_ids]
        if photo is None:
            raise UserError("Upload a photo of yourself first.")
        taken = None if self.limits is None else self.limits.take(user, jobs=len(poses))  # counts once accepted
        keys: list[str] = []
        try:
            keys = self._store_photos(user, (photo, *options.more_photos))  # one copy shared by the batch
            with transaction(self.database) as session:
                generations = self._charge(session, user, [pose.id for pose in poses], keys, options, cost)
                for generation in generations:
                    if webhook_url:
                        session.add(WebhookTarget(user_id=user.stored_id, generation_id=generation.id, url=webhook_url))
                self.storage.commit(keys)  # the photos take their names as the rows that own them commit
        except BaseException as error:
            for key in keys:
                self.storage.delete(key)
            if self.limits is not None:
                self.limits.give_back(taken)
            if isinstance(error, _AlreadyMade) and options.request_id:
                return self._made(user, options.request_id)
            raise
        self._enqueue(generations)
        return generations

    def _webhook(self, url: str | None) -> str | None:
        return check_url(url, private_ok=self.settings.webhook_private_ok) if url else None

    def _made(self, user: User, request_id: str) -> list[Generation]:
        with transaction(self.database) as session:
            return list(queries.by_request(session, user_id=user.stored_id, request_id=request_id))

    def video_price(self, quality: str, priority: bool, frames: int = VIDEO_FRAMES) -> int:
        """Credits a video clip costs now: 0 while `auto` has fallen back to the placeholder model."""
        check_choice("quality", quality, QUALITIES)
        return 0 if self.free() else video_cost(quality, bool(priority), frames)

    def create_video(
        self,
        user: User,
        *,
        photo: str | Path | None,
        motion_id: str,
        options: GenerationOptions,
        frames: int = VIDEO_FRAMES,
    ) -> Generation:
        """One video of the person moving through a motion: checked, charged and recorded in one transaction like an
        image (`create`, `request_id` included), queued as one job."""
        if options.request_id and (earlier := self._made(user, options.request_id)):
            return earlier[0]
        webhook_url = self._webhook(options.webhook_url)
        if not MIN_FRAMES <= frames <= MAX_FRAMES:
            raise UserError(f"A video has {MIN_FRAMES} to {MAX_FRAMES} frames; you asked for {frames}.")
        cost = self.video_price(options.quality, options.priority, frames)
        motion = self.poses.motions.get(motion_id)
        if photo is None:
            raise UserError("Upload a photo of yourself first.")
        size = VIDEO_QUALITIES[options.quality]
        video = {"kind": Kind.video, "width": size.width, "height": size.height, "frames": frames, "fps": VIDEO_FPS}
        taken = None if self.limits is None else self.limits.take(user, jobs=1)  # counts once accepted
        keys: list[str] = []
        try:
            keys = self._store_photos(user, (photo, *options.more_photos))
            with transaction(self.database) as session:
                [generation] = self._charge(session, user, [motion.id], keys, options, cost, **video)
                if webhook_url:
                    session.add(WebhookTarget(user_id=user.stored_id, generation_id=generation.id, url=webhook_url))
                self.storage.commit(keys)  # the photos take their names as the row that owns them commits
        except BaseException as error:
            for key in keys:
                self.storage.delete(key)
            if self.limits is not None:
                self.limits.give_back(taken)
            if isinstance(error, _AlreadyMade) and options.request_id:
                return self._made(user, options.request_id)[0]
            raise
        self._enqueue([generation])
        return generation

    def _store_photos(self, user: User, photos: Sequence[str | Path]) -> list[str]:
        """Check every photo (decodes, shows a big enough face, the same person as the first), then store the
        cleaned copies."""
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
            check_one_person(images)  # a friend's photo would blend two faces into one avatar
        keys: list[str] = []
        try:
            for image, path in zip(images, photos, strict=True):
                name = Path(path).name
                key = self.storage.save_image(image, kind="uploads", user_id=user.stored_id, name=name, staged=True)
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
        pose_ids: list[str],
        keys: list[str],
        options: GenerationOptions,
        cost: int,
        **fields: object,  # more columns of every row (a video's kind, size, frames and fps)
    ) -> list[Generation]:
        """Under the person's row lock: check the limits and the balance, insert the rows and their debits."""
        ledger.lock_user(session, user.stored_id)
        if options.request_id and (
            earlier := queries.by_request(session, user_id=user.stored_id, request_id=options.request_id)
        ):
            raise _AlreadyMade(list(earlier))  # a twin of this request committed while this one was on its way
        if self.limits is not None:  # under the lock: concurrent requests count one at a time
            self.limits.check_room(user, queries.in_flight(session, user.stored_id), len(pose_ids))
        have = ledger.balance(session, user.stored_id)
        if have < cost * len(pose_ids):
            raise InsufficientCredits(_shortfall(len(pose_ids), cost, have))
        size = QUALITIES[options.quality]
        generations = [
            Generation(
                user_id=user.stored_id,
                pose_template_id=pose_id,
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
                request_id=options.request_id,
                candidates=options.candidates,
            ).sqlmodel_update(fields)
            for pose_id in pose_ids
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

    def output_path(self, user: User, generation_id: str, alternative: int = 0) -> Path:
        """The output's file, or with `alternative` n the n-th other candidate of a best-of-N generation."""
        row = self.get(user, generation_id)
        if row.output_image_path is None:
            raise UserError(f"This generation has no image yet (status: {row.status}).")
        if not alternative:
            return self.storage.path(row.output_image_path)
        if alternative > len(row.alternatives):
            raise UserError(
                f"This generation has {len(row.alternatives)} alternatives now, not {alternative}: they are kept a day."
            )
        return self.storage.path(row.alternatives[alternative - 1]["path"])

    def download(self, user: User, generation_id: str) -> tuple[Path, str]:
        """What `/download_output` hands out, and the file name to give it: an image, or a video's MP4."""
        row = self.get(user, generation_id)
        if row.kind == Kind.video:
            if row.video_path is None:
                raise UserError(f"This video is not ready yet (status: {row.status}).")
            return self.storage.path(row.video_path), f"avatar-{row.id}.mp4"
        return self.output_path(user, generation_id), f"avatar-{row.id}.jpg"

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
        inputs = set(row.input_image_paths)
        for key in row.stored_keys:  # its output, live preview, a video's files, best-of-N alternatives
            if key not in inputs:
                self.storage.delete(key)
        return True


class _AlreadyMade(Exception):  # noqa: N818 - not an error: a retried request gets the first one's answer
    pass


def _shortfall(count: int, cost: int, have: int) -> str:
    if count > 1:
        return f"These {count} generations cost {count * cost} credits in all and you have {have}."
    cheapest = generation_cost("sd", False)
    hint = f" SD without priority costs {cheapest}." if cheapest < cost and have >= cheapest else ""
    return f"This generation costs {cost} credits and you have {have}.{hint}"
