"""The worker: claim → processing → engine.generate → save output → completed | failed (+refund)."""

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from avatargen.db.tables import Generation, Kind
from avatargen.engine.engine import GenerationRequest
from avatargen.engine.loading import LazyEngine
from avatargen.engine.zerogpu import on_gpu
from avatargen.errors import UserError
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.video_jobs import VideoJobs
from avatargen.poses.render import render_openpose
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES, STYLES, Style

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # at most this often a progress write to the DB


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
        video: LazyEngine | None = None,
    ):
        self.jobs = jobs
        self.poses = poses
        self.engine = engine
        self.batch_size = batch_size
        self.heartbeat_s = heartbeat_s  # how often a held claim says it is alive
        self.videos = None if video is None else VideoJobs(jobs, poses, video)

    def __call__(self, generation_id: str) -> None:
        batch = self.jobs.claim_batch(generation_id, size=self.batch_size)
        if not batch:  # taken by another worker, finished, or deleted: this message has nothing to do
            return
        if batch[0].kind == Kind.video:
            with self._heartbeat(batch):
                if self.videos is None:
                    self._fail(batch[0], UserError("this worker makes no videos"))
                    return
                self.videos.run(batch[0], progress=self._progress_reporter(batch), fail=self._fail)
            return
        with self._heartbeat(batch):
            ready, requests = [], []
            for generation in batch:
                try:
                    requests.append(self.build_request(generation))
                    ready.append(generation)
                except Exception as error:
                    self._fail(generation, error)
            if not ready:
                return
            try:
                engine = self.engine.get()
                images = on_gpu(engine.generate, requests, progress=self._progress_reporter(ready))
            except Exception as error:
                for generation in ready:
                    self._fail(generation, error)
                return
        for generation, image in zip(ready, images, strict=True):
            try:
                key = self.jobs.save_output(generation, image)
            except Exception as error:
                self._fail(generation, error)
                continue
            self.jobs.complete(generation, key, placeholder=engine.placeholder)

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
