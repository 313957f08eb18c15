"""The worker: claim → processing → engine.generate → likeness → save output → completed | failed (+refund)."""

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from PIL import Image

from avatargen.db.tables import Generation
from avatargen.engine.engine import GenerationRequest
from avatargen.engine.likeness import likeness
from avatargen.engine.loading import LazyEngine
from avatargen.engine.zerogpu import on_gpu
from avatargen.errors import UserError
from avatargen.generations.best_of import Candidate, candidate_requests, ranked
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.poses.render import render_openpose
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES, STYLES, Style

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # at most this often a progress write to the DB

# (outputs, the person's photos) → each output's likeness, 0-100 or None (no face)
Scorer = Callable[[Sequence[Image.Image], Sequence[Image.Image]], list[int | None]]


def compose_prompt(style: Style, pose: PoseTemplate) -> str:
    """The prompt of a generation: the style's, then what the pose shows."""
    return f"{style.prompt}, {pose.name.lower()}"


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
    ):
        self.jobs = jobs
        self.poses = poses
        self.engine = engine
        self.batch_size = batch_size
        self.heartbeat_s = heartbeat_s  # how often a held claim says it is alive
        self.likeness = likeness  # scores outputs against the person's photos, here, never in a GPU process

    def __call__(self, generation_id: str) -> None:
        batch = self.jobs.claim_batch(generation_id, size=self.batch_size)
        if not batch:  # taken by another worker, finished, or deleted: this message has nothing to do
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
                images = iter(on_gpu(engine.generate, requests, progress=reporter))
            except Exception as error:
                for generation, _ in ready:
                    self._fail(generation, error)
                return
            # each generation's candidates, most alike first; scored in this process, where dlib lives
            results = [(g, self._rank([next(images) for _ in candidates], candidates)) for g, candidates in ready]
        for generation, ranked_candidates in results:
            self._finish(generation, ranked_candidates, placeholder=engine.placeholder)

    def _rank(self, images: list[Image.Image], requests: list[GenerationRequest]) -> list[Candidate]:
        try:
            scores = self.likeness(images, requests[0].identity_images)
        except Exception:  # a likeness is worth having, not worth failing a paid image for
            log.exception("could not score the likeness of %d images", len(images))
            scores = [None] * len(images)
        return ranked(images, requests, scores)

    def _finish(self, generation: Generation, candidates: list[Candidate], *, placeholder: bool) -> None:
        best, *others = candidates
        try:
            key = self.jobs.save_output(generation, best.image)
            alternatives = [
                {"path": self.jobs.save_output(generation, other.image, alternative=n), **_scored(other)}
                for n, other in enumerate(others, start=1)
            ]
        except Exception as error:
            self._fail(generation, error)  # also deletes what was saved
            return
        self.jobs.complete(
            generation,
            key,
            placeholder=placeholder,
            likeness=best.likeness,
            seed=best.seed,
            alternatives=alternatives,
        )

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
        self.jobs.fail(
            generation.id,
            f"The image could not be generated: {reason.rstrip('.')}. Your {generation.credit_used} credits were "
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
        )

    def _progress_reporter(self, batch: list[Generation]) -> Callable[[int, int], None]:
        last = 0.0

        def report(step: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if step < total and now - last < PROGRESS_EVERY_S:
                return
            last = now
            for generation in batch:
                self.jobs.report_progress(generation, step / total)

        return report


def _scored(candidate: Candidate) -> dict:
    return {"likeness": candidate.likeness, "seed": candidate.seed}
