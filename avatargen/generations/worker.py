"""The worker: claim → processing → engine.generate → likeness → save output → completed | failed (+refund)."""

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from PIL import Image

from avatargen.db.tables import Generation, Kind
from avatargen.engine.engine import GenerationRequest
from avatargen.engine.face_detail import FACE_PROMPT
from avatargen.engine.likeness import likeness
from avatargen.engine.loading import LazyEngine
from avatargen.errors import UserError
from avatargen.generations.best_of import Candidate, candidate_requests, ranked
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.video_jobs import VideoJobs
from avatargen.poses.render import render_openpose
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES, STYLES, Style

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # at most this often a progress write to the DB
LOGGED_PROGRESS_POINTS = 4  # a log line at each quarter of the denoising steps

# (outputs, the person's photos) → each output's likeness, 0-100 or None (no face)
Scorer = Callable[[Sequence[Image.Image], Sequence[Image.Image]], list[int | None]]


def compose_prompt(style: Style, pose: PoseTemplate) -> str:
    """The prompt of a generation: the style's, then what the pose shows."""
    return f"{style.prompt}, {pose.name.lower()}"


def compose_face_prompt(style: Style) -> str:
    """The face-detail pass's prompt: the style's, and a close-up of a face rather than the pose's body."""
    return f"{style.prompt}, {FACE_PROMPT}"


class GenerationWorker:
    """The job handler: turns a queued generation id (plus same-size pending ones) into images or refunds."""

    def __init__(
        self,
        jobs: Jobs,
        poses: PoseBook,
        engine: LazyEngine,
        *,
        batch_size: int = 1,
        heartbeat_s: float = 10.0,
        likeness: Scorer = likeness,
        video: LazyEngine | None = None,
    ):
        self.jobs = jobs
        self.poses = poses
        self.engine = engine
        self.batch_size = batch_size
        self.heartbeat_s = heartbeat_s  # how often a held claim says it is alive
        self._running: dict[str, Generation] = {}  # claimed here and not finished: handed back at a stop
        self._running_lock = threading.Lock()
        self.likeness = likeness  # scores outputs against the person's photos, here, never in a GPU process
        self.videos = None if video is None else VideoJobs(jobs, poses, video)

    def __call__(self, generation_id: str) -> None:
        batch = self.jobs.claim_batch(generation_id, size=self.batch_size)
        if not batch:  # taken by another worker, finished, or deleted: this message has nothing to do
            return
        with self._running_lock:
            self._running |= {generation.id: generation for generation in batch}
        try:
            self._run(batch)
        finally:
            with self._running_lock:
                for generation in batch:
                    self._running.pop(generation.id, None)

    def hand_back_running(self) -> list[Generation]:
        """Give every job still running here back to the queue (pending again); returns those handed back."""
        with self._running_lock:
            running = list(self._running.values())
        return [generation for generation in running if self.jobs.hand_back(generation)]

    def _run(self, batch: list[Generation]) -> None:
        for generation in batch:
            log.info(
                "generation %s started: %s of pose %s for user %d, %d×%d, attempt %d, batch of %d",
                generation.id, generation.kind, generation.pose_template_id, generation.user_id,
                generation.width, generation.height, generation.attempts, len(batch),
            )  # fmt: skip
        started = time.monotonic()
        if batch[0].kind == Kind.video:
            with self._heartbeat(batch):
                if self.videos is None:
                    self._fail(batch[0], UserError("this worker makes no videos"))
                    return
                self.videos.run(batch[0], progress=self._progress_reporter(batch), fail=self._fail)
            return
        with self._heartbeat(batch):
            ready: list[tuple[Generation, list[GenerationRequest]]] = []
            for generation in batch:
                try:
                    request = self.build_request(generation)
                    ready.append((generation, candidate_requests(request, generation.candidates)))
                except Exception as error:
                    self._fail(generation, error)
            if not ready:
                return
            requests = [request for _, candidates in ready for request in candidates]
            try:
                engine = self.engine.get()
                reporter = self._progress_reporter([generation for generation, _ in ready])
                owners = [generation for generation, candidates in ready for _ in candidates]  # per request
                images = iter(engine.generate(requests, progress=reporter, preview=self._preview_saver(owners)))
            except Exception as error:
                for generation, _ in ready:
                    self._fail(generation, error)
                return
            # each generation's candidates, most alike first; scored in this process, where dlib lives
            results = [(g, self._rank([next(images) for _ in candidates], candidates)) for g, candidates in ready]
        for generation, ranked_candidates in results:
            if self._finish(generation, ranked_candidates, placeholder=engine.placeholder):
                log.info("generation %s completed in %.1f s (its batch)", generation.id, time.monotonic() - started)

    def _rank(self, images: list[Image.Image], requests: list[GenerationRequest]) -> list[Candidate]:
        try:
            scores = self.likeness(images, requests[0].identity_images)
        except Exception:  # a likeness is worth having, not worth failing a paid image for
            log.exception("could not score the likeness of %d images", len(images))
            scores = [None] * len(images)
        return ranked(images, requests, scores)

    def _finish(self, generation: Generation, candidates: list[Candidate], *, placeholder: bool) -> bool:
        """Save and record the best candidate, the others as alternatives; False when that failed (refunded)."""
        best, *others = candidates
        try:
            key = self.jobs.save_output(generation, best.image)
            alternatives = [
                {"path": self.jobs.save_output(generation, other.image, alternative=n), **_scored(other)}
                for n, other in enumerate(others, start=1)
            ]
        except Exception as error:
            self._fail(generation, error)  # also deletes what was saved
            return False
        self.jobs.complete(
            generation,
            key,
            placeholder=placeholder,
            likeness=best.likeness,
            seed=best.seed,
            alternatives=alternatives,
        )
        return True

    @contextlib.contextmanager
    def _heartbeat(self, batch: list[Generation]):
        """Keep the batch's claims fresh from a side thread, whatever the main work is waiting on."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.heartbeat_s):
                try:
                    self.jobs.heartbeat(batch)
                except Exception:
                    log.exception("heartbeat failed")

        thread = threading.Thread(target=beat, name="avatargen-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _fail(self, generation: Generation, error: Exception) -> None:
        log.error("generation %s failed", generation.id, exc_info=error)
        reason = str(error) if isinstance(error, UserError) else "the generator ran into an error"
        what = "video" if generation.kind == Kind.video else "image"
        self.jobs.fail(
            generation.id,
            f"The {what} could not be generated: {reason.rstrip('.')}. Your {generation.credit_used} credits were "
            "refunded.",
            attempt=generation.attempts,
        )

    def build_request(self, generation: Generation) -> GenerationRequest:
        pose = self.poses.pose_of(generation.user_id, generation.pose_template_id)
        style = STYLES[generation.style]
        quality = QUALITIES[generation.quality]
        return GenerationRequest(
            pose_image=render_openpose(pose, generation.width, generation.height, mirror=generation.mirrored),
            identity_images=self.jobs.photos(generation),
            prompt=compose_prompt(style, pose),
            negative_prompt=style.negative_prompt,
            # the size the row was charged for, should the presets change while it waits
            quality=dataclasses.replace(quality, width=generation.width, height=generation.height),
            seed=generation.seed,
            framing=pose.framing,
            face_prompt=compose_face_prompt(style),
        )

    def _preview_saver(self, batch: list[Generation]) -> Callable[[int, Image.Image], None]:
        def save(index: int, image: Image.Image) -> None:
            try:
                self.jobs.save_preview(batch[index], image)
            except Exception:  # a preview is a nicety: the generation goes on without it
                log.exception("preview of %s not saved", batch[index].id)

        return save

    def _progress_reporter(self, batch: list[Generation]) -> Callable[[int, int], None]:
        last, logged = 0.0, 0

        def report(step: int, total: int) -> None:
            nonlocal last, logged
            if (quarter := step * LOGGED_PROGRESS_POINTS // total) > logged:
                logged = quarter
                log.info("generations %s: step %d of %d", ", ".join(g.id for g in batch), step, total)
            now = time.monotonic()
            if step < total and now - last < PROGRESS_EVERY_S:
                return
            last = now
            for generation in batch:
                self.jobs.report_progress(generation, step / total)

        return report


def _scored(candidate: Candidate) -> dict:
    return {"likeness": candidate.likeness, "seed": candidate.seed}
