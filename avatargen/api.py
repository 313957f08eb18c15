"""Named Gradio endpoints for scripts (gradio_client); the same service methods back the UI.

Identity always comes from the request, never from a parameter. User errors become gr.Error.
"""

import functools
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from PIL import Image

from avatargen.errors import UserError
from avatargen.models import User
from avatargen.poses import thumbnail_image, thumbnail_path
from avatargen.presets import STYLES
from avatargen.service import AvatarService, page_bounds

MAX_POSES_PAGE = 200


def user_errors(fn: Callable) -> Callable:
    """Show UserError messages to the person as they are; anything else stays a server error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


class Api:
    """The endpoint functions, bound to one service."""

    def __init__(self, service: AvatarService, *, thumbnails: Path):
        self.service = service
        self.thumbnails = thumbnails

    def user(self, request: gr.Request | None) -> User:
        return self.service.user_for(request.username if request is not None else None)

    def generate(
        self,
        photo: str | None,
        pose_id: str,
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: float | None = None,
        request: gr.Request = None,
    ) -> dict:
        if seed is not None and seed != int(seed):
            raise UserError("The seed must be a whole number.")
        generation = self.service.create_generation(
            self.user(request),
            photo=photo,
            pose_id=pose_id,
            quality=quality,
            priority=bool(priority),
            style=style,
            seed=None if seed is None else int(seed),
        )
        return {"message": "Avatar generation started", "data": generation.to_public()}

    def generations(self, limit: int = 20, offset: int = 0, request: gr.Request = None) -> dict:
        limit, offset = page_bounds(limit, offset)
        rows, total = self.service.list_generations(self.user(request), limit=limit, offset=offset)
        return {
            "data": [row.to_public() for row in rows],
            "meta": {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total},
        }

    def generation(self, id: str, request: gr.Request = None) -> dict:
        return {"data": self.service.get_generation(self.user(request), id).to_public()}

    def delete_generation(self, id: str, request: gr.Request = None) -> dict:
        self.service.delete_generation(self.user(request), id)
        return {"message": "Generation deleted successfully"}

    def stats(self, request: gr.Request = None) -> dict:
        return {"data": self.service.stats(self.user(request))}

    def credits(self, request: gr.Request = None) -> dict:
        return {"data": self.service.credits(self.user(request))}

    def price(self, quality: str = "sd", priority: bool = False) -> dict:
        return {"data": {"quality": quality, "priority": priority, "credits": self.service.price(quality, priority)}}

    def styles(self) -> dict:
        return {"data": [{"id": key, "label": style.label} for key, style in STYLES.items()]}

    def poses(
        self,
        category: str | None = None,
        gender: str | None = None,
        view: str | None = None,
        framing: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        request: gr.Request = None,
    ) -> dict:
        limit, offset = page_bounds(limit, offset, most=MAX_POSES_PAGE)
        templates, total = self.service.query_poses(
            self.user(request),
            category=category or None,
            gender=gender or None,
            view=view or None,
            framing=framing or None,
            search=search or None,
            limit=limit,
            offset=offset,
        )
        return {
            "data": [template.to_public() for template in templates],
            "meta": {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(templates) < total},
            "facets": self.service.poses.facets(),
        }

    def gallery(
        self, filters: dict, search: str | None, *, page: int, size: int, request: gr.Request = None
    ) -> tuple[list[tuple], list[str], int, int]:
        """One page of the pose gallery: (picture, caption) pairs, their ids, the page shown and the total.

        Library pictures are files rendered once; a person's own poses are drawn each time and never land in a
        folder that Gradio serves to everyone.
        """
        query = {facet: value or None for facet, value in filters.items()} | {"search": search or None, "limit": size}
        user, page = self.user(request), max(page, 0)
        templates, total = self.service.query_poses(user, offset=page * size, **query)
        if not templates and total:  # past the last page (the filters changed meanwhile): show the last one
            page = (total - 1) // size
            templates, total = self.service.query_poses(user, offset=page * size, **query)
        pictures = [
            (thumbnail_image(t) if t.owner is not None else str(thumbnail_path(t, self.thumbnails)), t.name)
            for t in templates
        ]
        return pictures, [t.id for t in templates], page, total

    def facets(self) -> dict[str, list[str]]:
        return self.service.poses.facets()

    def extract_pose(self, photo: str | None, name: str | None = None, request: gr.Request = None) -> dict:
        template = self.service.extract_pose(self.user(request), photo=photo, name=name)
        return {"message": "Pose saved to your private poses", "data": template.to_public()}

    def delete_pose(self, id: str, request: gr.Request = None) -> dict:
        self.service.delete_pose(self.user(request), id)
        return {"message": "Pose deleted successfully"}

    def download_output(self, id: str, request: gr.Request = None) -> Image.Image:
        with Image.open(self.service.output_path(self.user(request), id)) as image:
            return image.copy()


JSON_ENDPOINTS = (
    "generations",
    "generation",
    "delete_generation",
    "stats",
    "credits",
    "price",
    "styles",
    "poses",
    "delete_pose",
)


def register_api(api: Api) -> None:
    """Add the named endpoints to the Blocks being built. Call inside `with gr.Blocks()`."""
    for name in JSON_ENDPOINTS:
        gr.api(user_errors(getattr(api, name)), api_name=name)
    # Endpoints that move files go through components, so Gradio checks uploads and serves downloads.
    with gr.Column(visible=False):
        photo = gr.File(label="photo", file_types=None, type="filepath")
        pose_id = gr.Textbox(label="pose_id")
        quality = gr.Radio(["sd", "hd"], value="sd", label="quality")
        priority = gr.Checkbox(False, label="priority")
        style = gr.Dropdown(list(STYLES), value="realistic", label="style")
        seed = gr.Number(None, precision=0, label="seed")
        started = gr.JSON(label="result")
        generation_id = gr.Textbox(label="id")
        image = gr.Image(type="pil", format="png", label="image")
        reference = gr.File(label="photo", type="filepath")
        pose_name = gr.Textbox(label="name")
        saved = gr.JSON(label="result")
    gr.on(
        [],
        user_errors(api.generate),
        [photo, pose_id, quality, priority, style, seed],
        started,
        api_name="generate",
        show_progress="hidden",
    )
    gr.on([], user_errors(api.download_output), generation_id, image, api_name="download_output")
    gr.on([], user_errors(api.extract_pose), [reference, pose_name], saved, api_name="extract_pose")
