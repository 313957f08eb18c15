"""The worker's part for a video: the motion's frames drawn as poses, the clip made, stored (MP4, WebP preview,
poster) and recorded, or the job failed and refunded. A video is one job: it is never batched with others."""

import dataclasses
from collections.abc import Callable

from avatargen.db.tables import Generation
from avatargen.engine.loading import LazyEngine
from avatargen.engine.video import VideoRequest
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.poses.motions import Motion
from avatargen.poses.render import render_openpose
from avatargen.presets import STYLES, VIDEO_QUALITIES, Style


def video_prompt(style: Style, motion: Motion) -> str:
    """The prompt of a clip: the style's, then what the motion shows."""
    return f"{style.prompt}, {motion.name.lower()}"


class VideoJobs:
    """Turns one claimed video generation into its clip."""

    def __init__(self, jobs: Jobs, poses: PoseBook, video: LazyEngine):
        self.jobs = jobs
        self.poses = poses
        self.video = video  # loads the video engine (on the image engine's parts) on first use

    def build_request(self, generation: Generation) -> VideoRequest:
        motion = self.poses.motions.get(generation.pose_template_id)
        style = STYLES[generation.style]
        frames = motion.frames(generation.frames or 16, mirror=generation.mirrored)
        quality = dataclasses.replace(
            VIDEO_QUALITIES[generation.quality], width=generation.width, height=generation.height
        )  # the size the row was charged for
        return VideoRequest(
            pose_frames=tuple(render_openpose(frame, generation.width, generation.height) for frame in frames),
            identity_images=self.jobs.photos(generation),
            prompt=video_prompt(style, motion),
            negative_prompt=style.negative_prompt,
            quality=quality,
            seed=generation.seed,
        )

    def run(
        self,
        generation: Generation,
        *,
        progress: Callable[[int, int], None],
        fail: Callable[[Generation, Exception], None],
    ) -> None:
        try:
            request = self.build_request(generation)
            engine = self.video.get()
            [frames] = engine.generate([request], progress=progress)  # not split for ZeroGPU yet (README)
            poster, video = self.jobs.save_video(generation, frames)
        except Exception as error:
            fail(generation, error)
            return
        self.jobs.complete(generation, poster, placeholder=engine.placeholder, video=video)
