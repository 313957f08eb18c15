"""The worker: claim → processing → engine.generate → save output → completed | failed (+refund)."""

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from avatargen.engine import GenerationRequest
from avatargen.models import Generation
from avatargen.poses import render_openpose
from avatargen.presets import QUALITIES, STYLES
from avatargen.service import AvatarService

if TYPE_CHECKING:
    from avatargen.engine import AvatarEngine

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # at most this often a progress write to the DB


class LazyEngine:
    """Loads the engine on first use, once, whichever thread asks first."""

    def __init__(self, load: Callable[[], "AvatarEngine"]):
        self._load = load
        self._lock = threading.Lock()
        self._engine: AvatarEngine | None = None
        self.error: str | None = None

    @property
    def loaded(self) -> "AvatarEngine | None":
        return self._engine

    def get(self) -> "AvatarEngine":
        with self._lock:
            if self._engine is None:
                started = time.perf_counter()
                try:
                    self._engine = self._load()
                except Exception as error:
                    self.error = f"{type(error).__name__}: {error}"
                    raise
                self.error = None
                log.info("engine %s ready in %.1f s", self._engine.name, time.perf_counter() - started)
            return self._engine


class GenerationWorker:
    """The job handler: turns one queued generation id into an image, or a refunded failure."""

    def __init__(self, service: AvatarService, engine: LazyEngine):
        self.service = service
        self.engine = engine

    def __call__(self, generation_id: str) -> None:
        generation = self.service.claim(generation_id)
        if generation is None:  # taken by another worker, finished, or deleted
            return
        try:
            request = self.build_request(generation)
            [image] = self.engine.get().generate([request], progress=self._progress_reporter(generation))
            key = self.service.storage.save_image(
                image, kind="outputs", user_id=generation.user_id, name=f"avatar-{generation.id}"
            )
        except Exception as error:
            log.exception("generation %s failed", generation.id)
            self.service.fail(
                generation.id,
                f"The image could not be generated ({type(error).__name__}); "
                f"your {generation.credit_used} credits were refunded.",
                attempt=generation.attempts,
            )
            return
        self.service.complete(generation, key)

    def build_request(self, generation: Generation) -> GenerationRequest:
        pose = self.service.poses.get(generation.pose_template_id)
        style = STYLES[generation.style]
        quality = QUALITIES[generation.quality]
        return GenerationRequest(
            pose_image=render_openpose(pose, generation.width, generation.height),
            identity_image=self.service.storage.open_image(generation.input_image_path),
            prompt=f"{style.prompt}, {pose.name.lower()}",
            negative_prompt=style.negative_prompt,
            width=generation.width,
            height=generation.height,
            steps=quality.steps,
            guidance_scale=quality.guidance_scale,
            seed=generation.seed,
        )

    def _progress_reporter(self, generation: Generation) -> Callable[[int, int], None]:
        last = 0.0

        def report(step: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if step < total and now - last < PROGRESS_EVERY_S:
                return
            last = now
            self.service.report_progress(generation, step / total)

        return report
