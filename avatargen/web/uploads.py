"""Uploads as endpoints take them: checked to be uploaded files, and Gradio's cached copies purged after use."""

import functools
import threading
from collections.abc import Callable
from pathlib import Path

from gradio.utils import get_upload_folder

from avatargen.errors import UserError
from avatargen.schedule import Schedule


class UploadPurge:
    """Deletes photos from Gradio's upload cache once the app has its own re-encoded copy (EXIF and all).

    Gradio stores identical bytes once, so two calls (or two people) can share one cached file: a file goes only
    when no call has held it for `delay` seconds; a call that starts meanwhile holds it again.
    """

    def __init__(self, schedule: Schedule, *, delay: float = 60.0):
        self.schedule = schedule
        self.delay = delay
        self._lock = threading.Lock()
        self._held: dict[Path, int] = {}

    def hold(self, path: str | None) -> None:
        if (upload := _cached_upload(path)) is not None:
            with self._lock:
                self._held[upload] = self._held.get(upload, 0) + 1
                self.schedule.cancel(upload)

    def release(self, path: str | None) -> None:
        if (upload := _cached_upload(path)) is None:
            return
        with self._lock:
            self._held[upload] = self._held.get(upload, 1) - 1
            if self._held[upload] > 0:
                return
            del self._held[upload]
            self.schedule.after(self.delay, functools.partial(self._delete, upload), key=upload)

    def _delete(self, upload: Path) -> None:
        with self._lock:
            if upload in self._held:  # held again just now
                return
            upload.unlink(missing_ok=True)
        try:
            upload.parent.rmdir()
        except OSError:  # not empty: another upload shares the folder
            pass


def _cached_upload(path) -> Path | None:
    """The path when it lies in Gradio's upload cache (anything else is never deleted)."""
    if not isinstance(path, str) or not path:
        return None
    upload = Path(path).resolve()
    return upload if upload.is_relative_to(Path(get_upload_folder()).resolve()) else None


def discarding_uploads(fn: Callable, uploads: UploadPurge, *, at: tuple[int, ...] = (0,)) -> Callable:
    """For endpoints that take uploads (at these argument positions, a path or a list of paths): Gradio's cached
    copies are held during the call and purged after it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        paths = []
        for index in at:
            value = args[index] if index < len(args) else None
            paths += value if isinstance(value, list) else [value]
        for path in paths:
            uploads.hold(path)
        try:
            return fn(*args, **kwargs)
        finally:
            for path in paths:
                uploads.release(path)

    return wrapper


def uploaded(name: str, value) -> str | None:
    """The path Gradio's File component gives, or None; anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    raise UserError(f"{name} must be an uploaded file (gradio_client: handle_file(path)).")


def more_uploads(value) -> list[str]:
    """The extra photos of the person: a list of uploaded files, or nothing."""
    more = value or []
    if not isinstance(more, list):
        raise UserError("more_photos must be a list of uploaded files (gradio_client: [handle_file(path)]).")
    return [uploaded("more_photos", path) for path in more]
