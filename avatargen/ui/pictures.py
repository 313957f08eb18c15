"""Pictures for the page: pose thumbnails, output images, and the names of the poses behind ids."""

import base64
import io
from pathlib import Path
from urllib.parse import quote

import gradio as gr
from PIL import Image

from avatargen.poses.template import PoseTemplate
from avatargen.web.api import Api

PREVIEW_SIZE = (320, 480)  # a large pose picture
PICTURE_SIZE = (192, 288)  # history tiles
TILE_SIZE = (96, 144)  # the pose grid, the results and the jobs panel (small files: a lighter first load)


def pose_names(api: Api, pose_ids: list[str], request: gr.Request) -> dict[str, str]:
    names = {t.id: t.name for t in api.page.poses_of(list(dict.fromkeys(pose_ids)), request)}
    names |= {m.id: m.name for m in api.services.poses.motions if m.id in pose_ids}  # a video's motion
    return {pose_id: names.get(pose_id, "A pose you deleted") for pose_id in pose_ids}


def file_url(path: Path | str) -> str:
    """The address Gradio serves a file under (relative, so it works under a path prefix too); only files in its
    allowed paths or upload folder are served."""
    return "gradio_api/file=" + quote(str(path))


def data_uri_of(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def data_uri(api: Api, template: PoseTemplate) -> str:
    """A small pose picture inline in HTML (own poses are never written where Gradio serves files)."""
    picture = api.page.pose_picture(template, TILE_SIZE)
    if isinstance(picture, Image.Image):
        return data_uri_of(picture)
    return "data:image/png;base64," + base64.b64encode(Path(picture).read_bytes()).decode()


def pose_src(api: Api, template: PoseTemplate) -> str:
    """A pose picture's address for the page's own HTML: the served file, or inline for a person's own pose."""
    picture = api.page.pose_picture(template, TILE_SIZE)
    return data_uri_of(picture) if isinstance(picture, Image.Image) else file_url(picture)


def preview_uri(api: Api, job: dict) -> str | None:
    """A running job's latest live preview inline in HTML (a data URI), if it has one yet."""
    path = api.page.preview_picture(job)
    try:
        data = path.read_bytes() if path is not None else None
    except OSError:  # replaced by a newer one, or by the output, just now
        data = None
    return None if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode()


def output_picture(api: Api, generation_id: str, request: gr.Request, alternative: int = 0) -> str:
    """A generation's output picture (a video's poster frame), or its n-th best-of-N alternative, at its owner-only
    URL: the browser fetches it with the person's own session."""
    return api.page.output_url(generation_id, alternative, request=request)
