"""What the page reads besides the named endpoints: pose pages and pictures, a person's photos and ledger.

Not endpoints: the page's own handlers call these through `Api.page`, with the request Gradio gives them.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr
from PIL import Image

from avatargen.db.tables import Kind
from avatargen.engine.identity import find_face
from avatargen.poses.render import thumbnail_image, thumbnail_path
from avatargen.poses.template import PoseTemplate
from avatargen.storage.photos import load_photo, photo_work
from avatargen.web import params
from avatargen.web.files import VIDEO_PART, file_url
from avatargen.web.site import site_url

if TYPE_CHECKING:
    from avatargen.web.api import Api


class PageReads:
    def __init__(self, api: "Api"):
        self.api = api

    def history(self, *, limit: int, offset: int, request: gr.Request = None) -> tuple[list[dict], int]:
        """Finished generations (completed or failed), newest first, and how many there are."""
        rows, total = self.api.services.generations.finished(
            self.api.user(request, to="see your generations"), limit=limit, offset=offset
        )
        return [row.to_public() for row in rows], total

    def check_photo(self, path: str) -> Image.Image:
        """Decode an upload with the app's own photo checks (the ones generating applies); UserError says why not."""
        settings = self.api.services.settings
        return load_photo(path, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_upload_pixels)

    def face_width(self, image: Image.Image) -> int | None:
        """How wide the largest face in a checked photo is, in pixels (None: no face); generating needs
        `MIN_FACE_PIXELS`."""
        with photo_work():
            face = find_face(image)
        return None if face is None else face.width

    def my_poses(self, request: gr.Request = None) -> list[PoseTemplate]:
        """The person's own poses (none for a signed-out visitor)."""
        return self.api.services.poses.mine(self.api.visitor(request))

    def pose_picture(self, template: PoseTemplate, size: tuple[int, int] = (192, 288)) -> str | Image.Image:
        """A pose's picture: library ones are files rendered once; a person's own are drawn each time, so they never
        land in a folder that Gradio serves to everyone."""
        if template.owner is not None:
            return thumbnail_image(template, *size)
        return str(thumbnail_path(template, self.api.thumbnails, size))

    def input_photo(self, id: str, request: gr.Request = None) -> Path:
        """The stored photo a generation was made from (to make it again)."""
        user = self.api.user(request, to="use your photos")
        return self.api.services.generations.input_paths(user, params.ident("id", id))[0]

    def output_url(self, id: str, alternative: int = 0, request: gr.Request = None, *, clip: bool = False) -> str:
        """Where the person's own output image (a video's poster; with `clip` a video's MP4), or its n-th best-of-N
        alternative, is served to them alone (`web.files`): for the page and clients."""
        generation_id = params.ident("id", id)
        user = self.api.user(request, to="download your avatars")
        generations = self.api.services.generations
        if clip and generations.get(user, generation_id).kind == Kind.video:
            generations.download(user, generation_id)  # refuses a clip not made yet
            return file_url(site_url(request), generation_id, VIDEO_PART)
        generations.output_path(user, generation_id, alternative)
        return file_url(site_url(request), generation_id, f"alternative-{alternative}" if alternative else "output")

    def more_input_photos(self, id: str, request: gr.Request = None) -> list[Path]:
        """The stored extra photos a generation was made with."""
        user = self.api.user(request, to="use your photos")
        return self.api.services.generations.input_paths(user, params.ident("id", id))[1:]

    def preview_picture(self, job: dict) -> Path | None:
        """The latest live preview of a running job (a record `Api.jobs` gave this person), if one is stored."""
        key = job.get("previewUrl")
        path = self.api.services.storage.path(key) if key else None
        return path if path is not None and path.is_file() else None

    def facets(self) -> dict[str, list[str]]:
        return self.api.services.poses.facets()

    def library_poses(
        self, *, search: str | None = None, limit: int, offset: int = 0, group: bool = False, **facets: str
    ) -> tuple[list[PoseTemplate], int]:
        """One page of the library's poses (never anyone's own) and how many match; the filters come from the
        page's own controls, so they are not parsed again."""
        return self.api.services.poses.library.query(**facets, search=search, limit=limit, offset=offset, group=group)

    def variants(self, base_pose: str) -> list[PoseTemplate]:
        """The library's views, framings and variations of one base pose."""
        return self.api.services.poses.variants(base_pose)

    def poses_of(self, pose_ids: list[str], request: gr.Request = None) -> list[PoseTemplate]:
        """The poses behind these ids that still exist for this person (a deleted own pose drops out), in order.

        Library poses come from memory; the person's own are read once, and only when an id is not a library one.
        """
        library = self.api.services.poses.library
        mine = {} if all(p in library for p in pose_ids) else {t.id: t for t in self.my_poses(request)}
        return [library.get(p) if p in library else mine[p] for p in pose_ids if p in library or p in mine]

    def ledger(self, *, limit: int, request: gr.Request = None) -> dict:
        """The balance and the newest `limit` credit entries."""
        return self.api.services.ledger.statement(self.api.user(request, to="see your credits"), limit=limit)
