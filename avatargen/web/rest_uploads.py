"""Photos as the REST API takes them: multipart files, size-checked while they are copied to a private temporary
folder that the generations service reads (it stores its own re-encoded copy) and that is gone after the call."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import File, UploadFile

from avatargen.errors import UserError
from avatargen.generations.options import MAX_PHOTOS
from avatargen.storage.photos import megabytes
from avatargen.web.rest_errors import TooLarge, refusal

Photo = Annotated[UploadFile | None, File(description="a photo of yourself: JPEG, PNG or WebP")]
Photos = Annotated[
    list[UploadFile] | None,
    File(description=f"up to {MAX_PHOTOS - 1} more photos of you (repeat the field), averaged into one identity"),
]
CHUNK = 1 << 20


@contextmanager
def photos_on_disk(image: UploadFile | None, more: list[UploadFile] | None, *, most: int) -> Iterator[tuple[str, list]]:
    """The uploaded photos as files (the first one, then the rest), each refused over `most` bytes."""
    if image is None:
        raise UserError("image is required: a photo of yourself, sent as the multipart file field 'image'.")
    more = more or []
    if len(more) > MAX_PHOTOS - 1:
        raise UserError(f"moreImages may hold at most {MAX_PHOTOS - 1} photos; this request has {len(more)}.")
    with tempfile.TemporaryDirectory(prefix="avatargen-rest-") as folder:
        fields = [("image", image)] + [("moreImages", upload) for upload in more]
        paths = [_copied(upload, Path(folder) / str(n), field, most) for n, (field, upload) in enumerate(fields)]
        yield paths[0], paths[1:]


def _copied(upload: UploadFile, folder: Path, field: str, most: int) -> str:
    folder.mkdir()
    target = folder / (Path(upload.filename or "").name[:100] or "photo.jpg")
    copied = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            copied += len(chunk)
            if copied > most:
                raise TooLarge(f"The photo in {field} is over {megabytes(most)}, the limit.")
            out.write(chunk)
    return str(target)


class BodyLimit:
    """ASGI middleware: a request body over `most` bytes is refused with 413 (as JSON, like every refusal), at once
    when its Content-Length says so, else as soon as that many bytes have arrived (nothing past them is kept)."""

    def __init__(self, app, *, most: int):
        self.app = app
        self.most = most

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.most:
            return await refusal(self.too_large())(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.most:
                raise self.too_large()
            return message

        await self.app(scope, counted, send)

    def too_large(self) -> TooLarge:
        return TooLarge(f"The request is over {megabytes(self.most)}, the most one generation request may send.")
