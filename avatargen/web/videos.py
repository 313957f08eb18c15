"""The video endpoints: `/generate_video` (a clip of the person moving through a motion), `/motions` (the motion
gallery, filtered and searched like `/poses`) and `/video_price`. Every parameter goes through `params` first; the
person comes from the request. `/download_output` hands out a video's MP4 (`Generations.download`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
from gradio.components.api_component import Api as RawValue

from avatargen.generations.options import MAX_SEED, GenerationOptions
from avatargen.poses.motions import MAX_FRAMES, MIN_FRAMES
from avatargen.poses.template import FACETS
from avatargen.presets import QUALITIES, STYLES, VIDEO_FPS, VIDEO_FRAMES
from avatargen.web import params
from avatargen.web.errors import user_errors
from avatargen.web.uploads import discarding_uploads, more_uploads, uploaded

if TYPE_CHECKING:
    from avatargen.web.api import Api

MAX_MOTIONS_PAGE = 100
MAX_OFFSET = 10_000
MAX_SEARCH = 100  # characters of search text


class VideoEndpoints:
    """The video endpoint functions, bound to the `Api` (its services, uploads and ZeroGPU inline runs)."""

    def __init__(self, api: Api):
        self.api = api

    def generate_video(
        self,
        photo: str | None,
        motion_id: str,
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: int | None = None,
        more_photos: list[str] | None = None,
        mirror: bool = False,
        frames: int = VIDEO_FRAMES,
        request: gr.Request = None,
    ) -> dict:
        """One video (16 frames at 8 fps by default, 8 to 32) of the person moving through a motion, charged once."""
        api = self.api
        user = api.user(request, to="generate videos")
        motion_id = params.ident("motion_id", motion_id)
        frames = params.whole("frames", frames, lo=MIN_FRAMES, hi=MAX_FRAMES, default=VIDEO_FRAMES)
        options = GenerationOptions(
            quality=params.choice("quality", quality, QUALITIES),
            priority=params.flag("priority", priority),
            style=params.choice("style", style, STYLES),
            seed=params.whole("seed", seed, lo=0, hi=MAX_SEED, default=None),
            more_photos=tuple(more_uploads(more_photos)),
            mirror=params.flag("mirror", mirror),
        )
        service = api.services.generations
        generation = service.create_video(
            user, photo=uploaded("photo", photo), motion_id=motion_id, options=options, frames=frames
        )
        if api.run_inline is not None:
            api.run_inline(generation.id)
            generation = service.get(user, generation.id)
        return {"message": "Video generation started", "data": generation.to_public()}

    def motions(
        self,
        category: str | None = None,
        gender: str | None = None,
        view: str | None = None,
        framing: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict:
        """The motions (named pose sequences) a video can follow, filtered by the pose gallery's facets and searched
        by words like `/poses`."""
        library = self.api.services.poses.motions
        facets = library.facets()
        filters = {
            facet: params.choice(facet, value or None, facets.get(facet, ()), default=None)
            for facet, value in zip(FACETS, (category, gender, view, framing), strict=True)
        }
        limit = params.whole("limit", limit, lo=1, hi=MAX_MOTIONS_PAGE, default=50)
        offset = params.whole("offset", offset, lo=0, hi=MAX_OFFSET, default=0)
        words = params.text("search", search, most=MAX_SEARCH, default=None)
        found, total = library.query(**filters, search=words, limit=limit, offset=offset)
        return {
            "data": [m.to_public() | {"frames": VIDEO_FRAMES, "fps": VIDEO_FPS} for m in found],
            "meta": {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(found) < total},
            "facets": facets,
        }

    def video_price(self, quality: str = "sd", priority: bool = False, frames: int = VIDEO_FRAMES) -> dict:
        """Credits one clip costs now (per 16 frames started; priority once)."""
        quality = params.choice("quality", quality, QUALITIES, default="sd")
        priority = params.flag("priority", priority)
        frames = params.whole("frames", frames, lo=MIN_FRAMES, hi=MAX_FRAMES, default=VIDEO_FRAMES)
        credits = self.api.services.generations.video_price(quality, priority, frames)
        return {"data": {"quality": quality, "priority": priority, "frames": frames, "credits": credits}}


def register_video_api(api: Api) -> None:
    """Add `/generate_video`, `/motions` and `/video_price` (`api.videos`) to the Blocks being built."""
    endpoints = api.videos
    gr.api(user_errors(endpoints.motions), api_name="motions")
    gr.api(user_errors(endpoints.video_price), api_name="video_price")
    with gr.Column(visible=False):
        photo = gr.File(label="photo", file_types=None, type="filepath")
        motion_id = RawValue(None, {"type": "string"}, label="motion_id")
        quality = RawValue("sd", {"type": "string", "enum": list(QUALITIES)}, label="quality")
        priority = RawValue(False, {"type": "boolean"}, label="priority")
        style = RawValue("realistic", {"type": "string", "enum": list(STYLES)}, label="style")
        seed = RawValue(None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}, label="seed")
        more_photos = gr.File(label="more_photos", file_count="multiple", file_types=None, type="filepath")
        mirror = RawValue(False, {"type": "boolean"}, label="mirror")
        frames = RawValue(VIDEO_FRAMES, {"type": "integer"}, label="frames")
        started = gr.JSON(label="result")
    gr.on(
        [],
        user_errors(discarding_uploads(endpoints.generate_video, api.uploads, at=(0, 6))),
        [photo, motion_id, quality, priority, style, seed, more_photos, mirror, frames],
        started,
        api_name="generate_video",
        show_progress="hidden",
    )
