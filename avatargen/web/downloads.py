"""Owner-only downloads: a stored file handed to one request as a short-lived copy only that response knows."""

import secrets
import shutil
from functools import partial
from pathlib import Path

from gradio.utils import get_upload_folder

from avatargen.schedule import Schedule


class PrivateCopies:
    """Hands a stored file to one request: a copy in an unguessable folder of Gradio's cache, deleted after `ttl`.

    Gradio serves what a handler returns from its cache; a path there that only this response knows, and that
    expires quickly, is what makes a download private (Gradio's own copies are named by content hash).
    """

    def __init__(self, schedule: Schedule, *, ttl: float = 300.0):
        self.schedule = schedule
        self.ttl = ttl  # seconds a copy stays fetchable

    def copy(self, source: Path, *, name: str) -> str:
        folder = Path(get_upload_folder()) / f"private-{secrets.token_urlsafe(24)}"
        folder.mkdir(parents=True)
        target = folder / name
        shutil.copyfile(source, target)
        self.schedule.after(self.ttl, partial(shutil.rmtree, folder, ignore_errors=True))
        return str(target)
