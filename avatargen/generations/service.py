"""The service layer: validate → price → debit → record → enqueue, and every per-user read and change.

Every public method takes the requesting `User`; another user's id answers exactly like one that does not exist.
"""

import functools
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from avatargen.accounts.passwords import hash_password, verify_password
from avatargen.credits.limits import RateLimited, RateLimits
from avatargen.credits.pricing import generation_cost
from avatargen.db import queries as db
from avatargen.db.tables import CreditTransaction, CustomPose, Generation, User, WebhookTarget, iso, utcnow
from avatargen.engine.identity import require_face
from avatargen.errors import InsufficientCredits, NotFound, UnknownPose, UserError
from avatargen.generations.webhooks import check_url
from avatargen.poses.library import PoseLibrary
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES, STYLES
from avatargen.settings import Settings
from avatargen.storage.store import APP_FOLDER, Storage, load_photo, photo_work

log = logging.getLogger(__name__)

LOCAL_USERNAME = "local"
MIN_PASSWORD = 8
CUSTOM_PREFIX = "custom-"
MAX_PAGE = 100
MAX_SEED = 2**32 - 1
MAX_PHOTOS = 4  # photos of the person per generation: `photo` and up to 3 more
MAX_BATCH = 8  # poses one request may generate at once

Enqueue = Callable[[str, bool], None]  # (generation id, priority)


class AvatarService:
    def __init__(
        self,
        settings: Settings,
        *,
        database: Engine,
        storage: Storage,
        poses: PoseLibrary,
        enqueue: Enqueue,
        limits: RateLimits | None = None,
        notify: Callable[[str], None] = lambda generation_id: None,  # a generation finished (webhooks)
    ):
        self.settings = settings
        self.database = database  # SQLAlchemy's engine; "engine" alone is the generation engine
        self.storage = storage
        self.limits = limits
        self.notify = notify
        self.poses = poses
        self.enqueue = enqueue
        self.placeholder_fallback: Callable[[], bool] = lambda: False  # set by the runtime from the engine state

    def session(self) -> Session:
        return Session(self.database, expire_on_commit=False)

    # Users and credits

    def add_user(
        self, username: str, *, password: str | None = None, admin: bool = False, credits: int | None = None
    ) -> User:
        username = username.strip()
        if not username or len(username) > 64:
            raise UserError("A username needs 1 to 64 characters.")
        if ":" in username:  # kept for accounts from elsewhere: "hf:<name>"
            raise UserError("A username cannot contain ':'.")
        if password is not None and len(password) < MIN_PASSWORD:
            raise UserError(f"A password needs at least {MIN_PASSWORD} characters.")
        with self.session() as session:
            if db.get_user(session, username) is not None:
                raise UserError(f"User {username!r} already exists.")
            try:
                user = db.add_user(
                    session,
                    username=username,
                    starting_credits=self.settings.starting_credits if credits is None else credits,
                    role="admin" if admin else "user",
                    password_hash=hash_password(password) if password else None,
                )
                session.commit()
            except IntegrityError:  # created meanwhile by a concurrent request
                raise UserError(f"User {username!r} already exists.") from None
            return user

    def authenticate(self, username: str, password: str) -> bool:
        with self.session() as session:
            user = db.get_user(session, username)
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
        with self.session() as session:
            user = db.get_user(session, username)
        if user is None:
            if self.settings.auth == "password":
                raise UserError("Your account was not found. Please sign in again.")
            user = self._first_visit(username)
        if self.settings.daily_credits:
            self.top_up_daily(user)
        return user

    def _first_visit(self, username: str) -> User:
        with self.session() as session:
            try:
                user = db.add_user(session, username=username, starting_credits=self.settings.starting_credits)
                session.commit()
                log.info("new account %r with %d credits", username, self.settings.starting_credits)
                return user
            except IntegrityError:  # created meanwhile by a concurrent first request
                session.rollback()
        with self.session() as session:
            return db.get_user(session, username)

    def top_up_daily(self, user: User) -> int:
        """Once per UTC day, bring a balance below `daily_credits` up to it (a "daily" ledger entry).

        Concurrent first requests of the day take the person's row lock in turn, so one of them tops up and the
        others see its entry. Returns the credits added (0 when none were due).
        """
        floor = self.settings.daily_credits
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.session() as session:
            if db.topped_up_since(session, user.id, today) or db.balance(session, user.id) >= floor:
                return 0
            db.lock_user(session, user.id)
            if db.topped_up_since(session, user.id, today):
                return 0
            missing = floor - db.balance(session, user.id)
            if missing <= 0:
                return 0
            session.add(CreditTransaction(user_id=user.id, delta=missing, reason="daily"))
            session.commit()
            return missing

    def grant_credits(self, username: str, amount: int) -> int:
        with self.session() as session:
            user = db.get_user(session, username)
            if user is None:
                raise NotFound(f"No user named {username!r}.")
            db.lock_user(session, user.id)
            if db.balance(session, user.id) + amount < 0:
                raise UserError("A balance cannot go below zero.")
            session.add(CreditTransaction(user_id=user.id, delta=amount, reason="admin"))
            session.commit()
            return db.balance(session, user.id)

    def credits(self, user: User, *, limit: int = 50) -> dict:
        with self.session() as session:
            return {
                "balance": db.balance(session, user.id),
                "transactions": [
                    {
                        "delta": entry.delta,
                        "reason": entry.reason,
                        "generationId": entry.generation_id,
                        "createdAt": iso(entry.created_at),
                    }
                    for entry in db.ledger(session, user.id, limit=page_bounds(limit, 0)[0])
                ],
            }

    # Poses

    def pose(self, user: User, pose_id: str) -> PoseTemplate:
        """A library template, or one of this person's own custom poses."""
        return self._pose(user.id, pose_id)

    def pose_for(self, generation: Generation) -> PoseTemplate:
        return self._pose(generation.user_id, generation.pose_template_id)

    def _pose(self, user_id: int, pose_id: str) -> PoseTemplate:
        if not str(pose_id).startswith(CUSTOM_PREFIX):
            return self.poses.get(pose_id)
        with self.session() as session:
            row = db.get_custom_pose(session, user_id=user_id, pose_id=pose_id)
        if row is None:
            raise UnknownPose(f"Unknown pose {pose_id!r}. Pick a pose from the gallery.")
        return _template(row)

    def my_poses(self, user: User) -> list[PoseTemplate]:
        """A person's own custom poses, newest first."""
        with self.session() as session:
            return [_template(row) for row in db.custom_poses(session, user_id=user.id)]

    def query_poses(self, user: User | None, **filters) -> tuple[list[PoseTemplate], int]:
        """The library filtered and paged, this person's custom poses first (none for a signed-out visitor)."""
        mine = []
        if user is not None:
            with self.session() as session:
                mine = [_template(row) for row in db.custom_poses(session, user_id=user.id)]
        return self.poses.query(include=mine, **filters)

    def extract_pose(self, user: User, *, photo: str | Path, name: str | None = None) -> PoseTemplate:
        """Find the person's pose in a reference photo and keep it as their private template."""
        from avatargen.poses.extract import detect_pose

        if photo is None:
            raise UserError("Upload a reference photo of a person in the pose you want.")
        with self.session() as session:  # before the costly detection; checked again when saving
            self._check_custom_pose_room(session, user)
        with photo_work():
            image = load_photo(photo, **self._photo_limits())
            found = detect_pose(image)
        label = f"{found.view.replace('-', ' ')}, {found.framing.replace('-', ' ')}"
        name = (name or "").strip()[:60] or f"My pose ({label})"
        row = CustomPose(
            user_id=user.id,
            name=name,
            view=found.view,
            framing=found.framing,
            keypoints=[list(point) for point in found.keypoints],
        )
        with self.session() as session:
            db.lock_user(session, user.id)  # concurrent saves count one at a time
            self._check_custom_pose_room(session, user)
            session.add(row)
            session.commit()
        return _template(row)

    def _check_custom_pose_room(self, session: Session, user: User) -> None:
        most = self.settings.max_custom_poses
        if db.count_custom_poses(session, user_id=user.id) >= most:
            raise UserError(f"You have {most} saved poses, the most one person can keep; delete one to save another.")

    def _photo_limits(self) -> dict:
        return {"max_bytes": self.settings.max_upload_bytes, "max_pixels": self.settings.max_upload_pixels}

    def delete_pose(self, user: User, pose_id: str) -> None:
        with self.session() as session:
            row = db.get_custom_pose(session, user_id=user.id, pose_id=str(pose_id))
            if row is None:
                raise NotFound("Pose not found.")
            if db.unfinished_with_pose(session, user_id=user.id, pose_id=row.id):
                raise UserError(
                    "A generation waiting in the queue uses this pose; delete the pose once it has finished."
                )
            session.delete(row)
            session.commit()

    # Generations

    def price(self, quality: str, priority: bool) -> int:
        """Credits a generation costs now: 0 while `auto` has fallen back to the placeholder model."""
        _check_choice("quality", quality, QUALITIES)
        return 0 if self.placeholder_fallback() else generation_cost(quality, bool(priority))

    def create_generation(
        self,
        user: User,
        *,
        photo: str | Path,
        pose_id: str,
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: int | None = None,
        more_photos: Sequence[str | Path] = (),
        mirror: bool = False,
        webhook_url: str | None = None,
    ) -> Generation:
        """Check everything, charge, record a pending generation and queue it.

        `more_photos`: up to `MAX_PHOTOS - 1` more photos of the person, each checked like `photo`; `mirror`: the
        pose drawn as its mirror image.
        """
        [generation] = self.create_generations(
            user,
            photo=photo,
            pose_ids=[pose_id],
            quality=quality,
            priority=priority,
            style=style,
            seed=seed,
            more_photos=more_photos,
            mirror=mirror,
            webhook_url=webhook_url,
        )
        return generation

    def create_generations(
        self,
        user: User,
        *,
        photo: str | Path,
        pose_ids: Sequence[str],
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: int | None = None,
        more_photos: Sequence[str | Path] = (),
        mirror: bool = False,
        webhook_url: str | None = None,
    ) -> list[Generation]:
        """One generation per pose from the same photos: all checked, charged and recorded in one transaction, or
        none. The total is checked against the balance as a whole. Without a seed each generation draws its own."""
        if self.limits is not None:
            self.limits.check_request(user)
        webhook_url = check_url(webhook_url) if webhook_url else None
        cost = self.price(quality, priority)
        _check_choice("style", style, STYLES)
        if seed is not None and not 0 <= int(seed) <= MAX_SEED:
            raise UserError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        if not pose_ids:
            raise UserError("Pick a pose from the gallery first.")
        if len(pose_ids) > MAX_BATCH:
            raise UserError(f"Pick at most {MAX_BATCH} poses at once; you picked {len(pose_ids)}.")
        poses = [self.pose(user, pose_id) for pose_id in pose_ids]
        if photo is None:
            raise UserError("Upload a photo of yourself first.")
        if len(more_photos) > MAX_PHOTOS - 1:
            raise UserError(f"Up to {MAX_PHOTOS} photos of you: one photo and at most {MAX_PHOTOS - 1} more.")
        with photo_work():
            images = [load_photo(photo, **self._photo_limits())]
            require_face(images[0])
            for number, path in enumerate(more_photos, start=2):
                try:
                    images.append(load_photo(path, **self._photo_limits()))
                    require_face(images[-1])
                except UserError as error:
                    raise type(error)(f"Photo {number}: {error}") from None
        size = QUALITIES[quality]
        keys: list[str] = []  # stored once, shared by the generations of the batch
        try:
            for image, path in zip(images, (photo, *more_photos), strict=True):
                keys.append(self.storage.save_image(image, kind="uploads", user_id=user.id, name=Path(path).name))
            with self.session() as session:
                db.lock_user(session, user.id)
                if self.limits is not None:  # under the lock: concurrent requests count one at a time
                    _check_room(self.limits, user, db.in_flight(session, user.id), len(poses))
                have = db.balance(session, user.id)
                if have < cost * len(poses):
                    raise InsufficientCredits(_shortfall(len(poses), cost, have))
                placeholder = self.placeholder_fallback()
                generations = [
                    Generation(
                        user_id=user.id,
                        pose_template_id=pose.id,
                        input_image_path=keys[0],
                        extra_input_paths=keys[1:],
                        quality=quality,
                        priority=bool(priority),
                        style=style,
                        seed=secrets.randbelow(MAX_SEED + 1) if seed is None else int(seed),
                        width=size.width,
                        height=size.height,
                        credit_used=cost,
                        placeholder=placeholder,
                        mirrored=bool(mirror),
                    )
                    for pose in poses
                ]
                for generation in generations:
                    session.add(generation)
                    session.add(
                        CreditTransaction(
                            user_id=user.id, delta=-cost, reason="generation", generation_id=generation.id
                        )
                    )
                    if webhook_url:
                        session.add(WebhookTarget(user_id=user.id, generation_id=generation.id, url=webhook_url))
                session.commit()
        except BaseException:
            for key in keys:
                self.storage.delete(key)
            raise
        for queued, generation in enumerate(generations):
            try:
                self.enqueue(generation.id, generation.priority)
            except Exception:
                log.exception("could not queue generation %s", generation.id)
                # Rows a worker claimed meanwhile (batching picks pending rows from the database) run as charged.
                cancelled = sum(self._remove(row) for row in generations[queued:])
                if cancelled == len(generations):
                    raise UserError(
                        "The generation queue is unavailable right now; you were not charged. Please try again."
                    ) from None
                if cancelled:
                    raise UserError(
                        f"The generation queue is unavailable right now; {cancelled} of your {len(generations)} "
                        "generations were cancelled and refunded. Please try again."
                    ) from None
                break
        return generations

    def list_generations(
        self, user: User, *, limit: int = 20, offset: int = 0, statuses: Sequence[str] | None = None
    ) -> tuple[list[Generation], int]:
        limit, offset = page_bounds(limit, offset)
        with self.session() as session:
            rows, total = db.list_generations(session, user_id=user.id, limit=limit, offset=offset, statuses=statuses)
            return list(rows), total

    def jobs(self, user: User) -> list[dict]:
        """A person's unfinished generations, oldest first, each with its place in the queue and an estimate.

        `queuePosition` counts from 1 (next to run) for pending jobs and is None while running; `etaSeconds` is
        the expected wait until done, from the recent run times of the same quality, or None with no history.
        """
        jobs = []
        with self.session() as session:
            for row in db.unfinished_generations(session, user_id=user.id):
                took = db.recent_run_seconds(session, quality=row.quality)
                if row.status == "processing":
                    position, eta = None, None if took is None else took * (1 - row.progress)
                else:
                    position = db.queue_ahead(session, row) + 1
                    waves = (position - 1) // self.settings.batch_size + 1  # a worker takes a batch per call
                    eta = None if took is None else took * waves
                jobs.append(row.to_public() | {"queuePosition": position, "etaSeconds": eta})
        return jobs

    def breakdown(self, user: User) -> dict:
        """Generations and credits per UTC day, per style and per quality, for plots."""
        with self.session() as session:
            rows = db.generation_breakdown(session, user_id=user.id)
        totals: dict[str, dict[str, dict[str, int]]] = {"day": {}, "style": {}, "quality": {}}
        for day, style, quality, count, credits in rows:
            for axis, key in (("day", day), ("style", style), ("quality", quality)):
                entry = totals[axis].setdefault(key, {"generations": 0, "credits": 0})
                entry["generations"] += count
                entry["credits"] += credits
        return {axis: [{axis: key, **values} for key, values in found.items()] for axis, found in totals.items()}

    def input_path(self, user: User, generation_id: str) -> Path:
        """The stored photo a generation was made from (to make it again)."""
        return self.storage.path(self.get_generation(user, generation_id).input_image_path)

    def get_generation(self, user: User, generation_id: str) -> Generation:
        with self.session() as session:
            row = db.get_generation(session, user_id=user.id, generation_id=str(generation_id))
        if row is None:
            raise NotFound("Generation not found.")
        return row

    def is_pending(self, generation_id: str) -> bool:
        with self.session() as session:
            row = session.get(Generation, generation_id)
        return row is not None and row.status == "pending"

    def output_path(self, user: User, generation_id: str) -> Path:
        row = self.get_generation(user, generation_id)
        if row.output_image_path is None:
            raise UserError(f"This generation has no image yet (status: {row.status}).")
        return self.storage.path(row.output_image_path)

    def delete_generation(self, user: User, generation_id: str) -> None:
        """Delete a generation and its files; a pending one is cancelled and refunded."""
        row = self.get_generation(user, generation_id)
        if row.status == "processing":
            raise UserError("This generation is being made right now; delete it once it has finished.")
        if not self._remove(row):
            raise UserError("This generation just changed state; refresh and try again.")

    def _remove(self, row: Generation) -> bool:
        """Delete a row in the state it was read in (refunding it if it never ran) and its files."""
        with self.session() as session:
            deleted = session.exec(delete(Generation).where(Generation.id == row.id, Generation.status == row.status))
            if deleted.rowcount != 1:
                session.rollback()
                return False
            if row.status == "pending":
                session.add(
                    CreditTransaction(user_id=row.user_id, delta=row.credit_used, reason="refund", generation_id=row.id)
                )
            session.commit()
        with self.session() as session:
            shared = db.input_in_use(session, row.input_image_path)  # the other generations of a batch share them
        for key in () if shared else row.input_image_paths:
            self.storage.delete(key)
        self.storage.delete(row.output_image_path)
        return True

    def stats(self, user: User) -> dict:
        with self.session() as session:
            return db.generation_stats(session, user_id=user.id)

    # Worker side: the worker calls these; they know nothing of the engine.

    def claim(self, generation_id: str) -> Generation | None:
        with self.session() as session:
            if not db.claim_generation(session, generation_id):
                return None
            return session.get(Generation, generation_id)

    def claim_batch(self, generation_id: str, *, size: int) -> list[Generation]:
        """Claim this generation and up to size-1 more pending ones of the same size (to run in one call)."""
        first = self.claim(generation_id)
        if first is None:
            return []
        batch = [first]
        if size > 1:
            with self.session() as session:
                candidates = db.next_pending_like(session, first, limit=size - 1)
            batch += [claimed for gid in candidates if (claimed := self.claim(gid)) is not None]
        return batch

    def heartbeat(self, batch: list[Generation]) -> None:
        """Tell other workers these claims are alive (while loading models or waiting for the GPU)."""
        with self.session() as session:
            for generation in batch:
                db.touch(session, generation.id, generation.attempts)

    def report_progress(self, generation: Generation, progress: float) -> None:
        with self.session() as session:
            db.set_progress(session, generation.id, generation.attempts, progress)

    def complete(self, generation: Generation, output_key: str, *, placeholder: bool = False) -> None:
        """Record the output; an image from the `auto` fallback placeholder is free (its charge is refunded)."""
        free = placeholder and self.settings.engine == "auto"
        with self.session() as session:
            finished = db.complete_generation(session, generation.id, generation.attempts, output_key, placeholder=free)
        if not finished:  # deleted, or taken over after this worker was thought dead: the output has no owner
            self.storage.delete(output_key)
            return
        self._drop_earlier_outputs(generation.user_id, generation.id, keep=output_key)
        self.notify(generation.id)

    def fail(self, generation_id: str, message: str, *, attempt: int | None = None) -> bool:
        with self.session() as session:
            if not db.fail_and_refund(session, generation_id, message, attempt=attempt):
                return False
            user_id = session.get(Generation, generation_id).user_id
        self._drop_earlier_outputs(user_id, generation_id, keep=None)
        self.notify(generation_id)
        return True

    def _drop_earlier_outputs(self, user_id: int, generation_id: str, *, keep: str | None) -> None:
        """Delete outputs an earlier attempt saved but never recorded (its worker died between the two)."""
        folder = self.storage.path(f"outputs/{APP_FOLDER}/{int(user_id)}")
        for path in folder.glob(f"*-avatar-{generation_id}.jpg"):
            if keep is None or path != self.storage.path(keep):
                path.unlink(missing_ok=True)

    def requeue_stale(self, *, stale_after: float | None = None) -> tuple[int, int]:
        """Put `processing` rows whose worker went silent back in the queue, or fail and refund them (once) when
        they are out of attempts. Returns (queued again, failed)."""
        stale_after = self.settings.stale_job_seconds if stale_after is None else stale_after
        with self.session() as session:
            retry, give_up = db.requeue_stale(
                session,
                stale_before=utcnow() - timedelta(seconds=stale_after),
                max_attempts=self.settings.max_job_attempts,
            )
        for generation_id, priority in retry:
            self.enqueue(generation_id, priority)
        failed = sum(
            self.fail(gid, "The generator stopped while making this image; your credits were refunded.")
            for gid in give_up
        )
        if retry or failed:
            log.info("recovery: %d stalled generations queued again, %d failed and refunded", len(retry), failed)
        return len(retry), failed

    def recover(self, *, stale_after: float | None = None) -> int:
        """At start: requeue stalled work, and enqueue every `pending` row again (its message may be lost; a
        duplicate message is harmless, its claim fails). Returns how many rows were queued."""
        self.requeue_stale(stale_after=stale_after)
        with self.session() as session:
            pending = db.pending_ids(session)
        for generation_id, priority in pending:
            self.enqueue(generation_id, priority)
        return len(pending)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no such user")


def _template(row: CustomPose) -> PoseTemplate:
    return PoseTemplate(
        id=row.id,
        name=row.name,
        category="custom",
        gender="unisex",
        view=row.view,
        framing=row.framing,
        tags=("custom", "my pose"),
        keypoints=tuple(tuple(point) for point in row.keypoints),
        owner=row.user_id,
    )


def _check_room(limits: RateLimits, user: User, flying: int, adding: int) -> None:
    """A request must fit under the person's limit of jobs in flight with all the generations it adds."""
    limits.check_in_flight(user, flying)
    most = limits.in_flight.get(user.role, 0)
    if most and flying + adding > most:
        raise RateLimited(
            f"These {adding} generations would make {flying + adding} jobs in flight; the limit is {most}. "
            "Pick fewer poses or wait for some to finish. You were not charged."
        )


def _shortfall(count: int, cost: int, have: int) -> str:
    if count > 1:
        return f"These {count} generations cost {count * cost} credits in all and you have {have}."
    cheapest = generation_cost("sd", False)
    hint = f" SD without priority costs {cheapest}." if cheapest < cost and have >= cheapest else ""
    return f"This generation costs {cost} credits and you have {have}.{hint}"


def _check_choice(what: str, value: str, choices: dict) -> None:
    if value not in choices:
        raise UserError(f"Unknown {what} {value!r}; choose one of: {', '.join(choices)}.")


def page_bounds(limit: int, offset: int, *, most: int = MAX_PAGE) -> tuple[int, int]:
    """The page a request gets: 1 to `most` rows, from a non-negative offset."""
    return max(1, min(most, int(limit))), max(0, int(offset))
