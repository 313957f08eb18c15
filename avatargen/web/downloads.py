"""Owner-only downloads: a stored file handed to one request as a short-lived copy only that response knows, and,
where Gradio's file route asks nobody who is fetching (`hf` mode), served to the person it was made for only."""

import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import anyio
from gradio.utils import get_upload_folder
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from avatargen.errors import UserError
from avatargen.schedule import Schedule

log = logging.getLogger(__name__)

PREFIX = "private-"


class PrivateCopies:
    """Hands a stored file to one request: a copy in an unguessable folder of Gradio's cache, deleted after `ttl`.

    Gradio serves what a handler returns from its cache; a path there that only this response knows, and that
    expires quickly, is what makes a download private (Gradio's own copies are named by content hash). Each copy
    remembers whom it was made for (`owner_of`).
    """

    def __init__(self, schedule: Schedule, *, ttl: float = 300.0):
        self.schedule = schedule
        self.ttl = ttl  # seconds a copy stays fetchable
        self._owners: dict[str, str] = {}  # folder name → the account the copy was made for

    def copy(self, source: Path, *, name: str, owner: str) -> str:
        folder = Path(get_upload_folder()) / f"{PREFIX}{secrets.token_urlsafe(24)}"
        folder.mkdir(parents=True)
        target = folder / name
        shutil.copyfile(source, target)
        self._owners[folder.name] = owner
        self.schedule.after(self.ttl, lambda: self._expire(folder))
        return str(target)

    def folder_of(self, path: str) -> str | None:
        """The name of the private copy's folder `path` lies in; None for any other path."""
        try:
            relative = Path(path).resolve().relative_to(Path(get_upload_folder()).resolve())
        except ValueError:
            return None
        return relative.parts[0] if relative.parts and relative.parts[0].startswith(PREFIX) else None

    def owner_of(self, folder: str) -> str | None:
        """The account the copy in `folder` was made for (None once it expired)."""
        return self._owners.get(folder)

    def _expire(self, folder: Path) -> None:
        self._owners.pop(folder.name, None)
        shutil.rmtree(folder, ignore_errors=True)


class OwnerOnlyFiles:
    """ASGI middleware in front of Gradio's `/file=` route: a private copy goes only to the account it was made for;
    anybody else (a signed-out visitor holding a leaked address included) gets 404, and a log line.

    `who(request)` names the account asking (it may call the Hub for a token, so it runs in a thread).
    """

    def __init__(self, app, *, copies: PrivateCopies, who: Callable[[Request], str | None]):
        self.app = app
        self.copies = copies
        self.who = who

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "/file=" in path:
            wanted = unquote(path.split("/file=", 1)[1])
            if (folder := self.copies.folder_of(wanted)) is not None:
                owner = self.copies.owner_of(folder)
                asking = await anyio.to_thread.run_sync(self._who, Request(scope))
                if owner is None or asking != owner:
                    log.warning("private download refused: asked by %s, made for %s", asking or "nobody", owner)
                    await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _who(self, request: Request) -> str | None:
        try:
            return self.who(request)
        except UserError:  # a name the app cannot use owns nothing
            return None
