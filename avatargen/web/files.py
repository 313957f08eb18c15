"""Owner-only downloads: a person's own files (outputs, their photos), served by a route beside Gradio's.

Every fetch finds the person from the request itself (Gradio's login cookie, the Hugging Face session or token,
the local user) and answers anyone but the owner, signed out or not, with the 404 of an id that does not exist,
so a URL alone is worth nothing. Names say what the file is: the pose and the day. Nothing is copied into
Gradio's cache, whose files anyone holding their URL may fetch.
"""

import re
from pathlib import Path
from urllib.parse import urlparse

from fastapi import APIRouter, Request
from gradio.data_classes import FileData
from starlette.responses import FileResponse, PlainTextResponse, Response

from avatargen.accounts.requester import route_requester
from avatargen.db.tables import Generation, Kind, User
from avatargen.errors import UserError
from avatargen.services import Services

PHOTO_PART = re.compile(r"photo(?:-([2-9]))?")
ALTERNATIVE_PART = re.compile(r"alternative-([1-9])")
VIDEO_PART = "video"  # a video's MP4 (its poster is the output)
CACHE = "private, max-age=600"  # the bytes behind a URL never change; only the owner's browser keeps them


def file_url(site: str, generation_id: str, part: str = "output") -> str:
    """Where the owner fetches a file of their generation: `part` is output, alternative-1 … alternative-3 (best of
    N's other candidates), photo or photo-2 … photo-4."""
    return f"{site}/files/{generation_id}/{part}{_suffix(part)}"


def _suffix(part: str) -> str:
    return ".mp4" if part == VIDEO_PART else ".jpg"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "avatar"


def download_name(row: Generation, part: str, pose_name: str) -> str:
    """What the file is, for the saved file's name: `<pose>-<day>.jpg`, `photo-2-<day>.jpg`, …"""
    day = row.created_at.strftime("%Y-%m-%d")
    if part in ("output", VIDEO_PART):
        return f"{slug(pose_name)}-{day}{_suffix(part)}"
    if alternative := ALTERNATIVE_PART.fullmatch(part):
        return f"{slug(pose_name)}-alt{alternative.group(1)}-{day}.jpg"
    return f"{part}-{day}.jpg"


def stored_key(row: Generation, part: str) -> str | None:
    """The storage key behind a part of a generation, or None when it has no such file."""
    if part == "output":
        return row.output_image_path
    if part == VIDEO_PART:
        return row.video_path
    if alternative := ALTERNATIVE_PART.fullmatch(part):
        index = int(alternative.group(1)) - 1
        return row.alternatives[index]["path"] if index < len(row.alternatives) else None
    if (photo := PHOTO_PART.fullmatch(part)) is None:
        return None
    index = int(photo.group(1) or 1) - 1
    keys = row.input_image_paths
    return keys[index] if index < len(keys) else None


def requesting_user(services: Services, request: Request) -> User | None:
    """The signed-in person behind a plain request (the local one under auth=none), or None."""
    auth = services.settings.auth
    try:
        name = route_requester(request, auth)
        return None if name is None and auth != "none" else services.users.user_for(name)
    except UserError:  # an account gone, a Hugging Face name the app cannot use: nobody we serve
        return None


def pose_name(services: Services, user: User, row: Generation) -> str:
    try:
        if row.kind == Kind.video:
            return services.poses.motions.get(row.pose_template_id).name
        return services.poses.pose(user, row.pose_template_id).name
    except UserError:  # an own pose deleted since
        return "avatar"


def files_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/files/{generation_id}/{name}")
    def owner_file(generation_id: str, name: str, request: Request, download: bool = False) -> Response:
        """One file of the requester's own generation; `?download=1` asks the browser to save it."""
        part, _, suffix = name.rpartition(".")
        user = requesting_user(services, request)
        try:
            row = None if user is None else services.generations.get(user, generation_id)
        except UserError:
            row = None
        key = None if row is None else stored_key(row, part)
        wrong = f".{suffix}" != _suffix(part)
        if wrong or user is None or row is None or key is None or not (path := services.storage.path(key)).is_file():
            return PlainTextResponse("Not found.", status_code=404)
        return FileResponse(
            path,
            media_type="video/mp4" if part == VIDEO_PART else "image/jpeg",
            filename=download_name(row, part, pose_name(services, user, row)),
            content_disposition_type="attachment" if download else "inline",
            headers={"Cache-Control": CACHE, "X-Content-Type-Options": "nosniff"},
        )

    return router


def fetched_by_client(url: str) -> dict:
    """What `/download_output` answers: Gradio's file record for the owner-only URL, not a copy in its cache.

    Marked as a stream, because that is what makes `gradio_client` fetch the record's own URL (with the client's
    cookies and token headers) rather than Gradio's `/file=` route. The endpoint skips its component's
    postprocessing, which would download the URL into Gradio's cache.
    """
    name = Path(urlparse(url).path).name
    return FileData(path=url, url=url, orig_name=name, mime_type="image/jpeg", is_stream=True).model_dump()
