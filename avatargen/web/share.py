"""Share pages: `/s/<token>`, a small public page for one shared output, served beside Gradio's routes.

No sign-in: the page shows the image, the pose's name and the style, a download button, and Open Graph / Twitter
card tags so a pasted link previews in chat apps. Every fetch checks the link again (stopped or ended links die at
once), so responses are cached only with revalidation (ETag → 304). Unknown, stopped and ended tokens get the same
404, and each address may try only a few unknown tokens a minute: guessing 192-bit tokens is hopeless anyway, this
keeps a guesser from costing the database anything.
"""

import hashlib
import html
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from avatargen.generations.sharing import SharedOutput
from avatargen.presets import STYLES
from avatargen.services import Services
from avatargen.web.files import download_name, pose_name
from avatargen.web.site import site_url

HEADERS = {
    "Cache-Control": "public, no-cache",  # kept by browsers and proxies, but asked again each time: revocable
    "Referrer-Policy": "no-referrer",  # the token never leaves in a Referer
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
}


class Throttle:
    """Per client address: at most `requests` fetches and `misses` unknown tokens per `window` seconds."""

    def __init__(
        self,
        *,
        requests: int = 120,
        misses: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = {"request": requests, "miss": misses}
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def allows(self, address: str) -> bool:
        """Count a request from `address`; False once it is over either limit in the window."""
        with self._lock:
            now = self.clock()
            if len(self._seen) > 100_000:  # addresses seen once long ago, after a flood of them
                recent = now - self.window
                self._seen = {key: times for key, times in self._seen.items() if times and times[-1] > recent}
            over = any(len(self._recent(address, kind, now)) >= limit for kind, limit in self.limits.items())
            if not over:
                self._recent(address, "request", now).append(now)
            return not over

    def missed(self, address: str) -> None:
        """Count an unknown token from `address`."""
        with self._lock:
            now = self.clock()
            self._recent(address, "miss", now).append(now)

    def _recent(self, address: str, kind: str, now: float) -> deque[float]:
        times = self._seen.setdefault((address, kind), deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


def page_html(shared: SharedOutput, *, pose: str, page_url: str, image_url: str) -> str:
    row = shared.generation
    style = STYLES[row.style].label if row.style in STYLES else row.style
    title, alt = f"{pose} · {style}", f"An AI portrait in the pose {pose}, {style.lower()} style"
    tags = {
        "og:type": "website",
        "og:title": title,
        "og:description": alt + ".",
        "og:url": page_url,
        "og:image": image_url,
        "og:image:secure_url": image_url,
        "og:image:type": "image/jpeg",
        "og:image:width": str(row.width),
        "og:image:height": str(row.height),
        "og:image:alt": alt,
    }
    cards = {"twitter:card": "summary_large_image", "twitter:title": title, "twitter:image": image_url}
    cards["twitter:description"] = alt + "."
    meta = "\n".join(
        [f'<meta property="{key}" content="{html.escape(value)}">' for key, value in tags.items()]
        + [f'<meta name="{key}" content="{html.escape(value)}">' for key, value in cards.items()]
    )
    image = html.escape(image_url)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{html.escape(title)}</title>
{meta}
<style>
body{{margin:0;font-family:system-ui,sans-serif;background:#111;color:#eee;display:flex;justify-content:center}}
main{{max-width:720px;width:100%;padding:16px;box-sizing:border-box;text-align:center}}
img{{max-width:100%;max-height:78vh;height:auto;border-radius:8px}}
h1{{font-size:1.3rem;margin:12px 0 4px}} p{{margin:0 0 16px;color:#bbb}}
a.download{{display:inline-block;padding:10px 22px;border-radius:8px;background:#f97316;color:#111;
font-weight:600;text-decoration:none}}
</style></head>
<body><main>
<img id="shared-image" src="{image}" alt="{html.escape(alt)}" width="{row.width}" height="{row.height}">
<h1 id="shared-pose">{html.escape(pose)}</h1>
<p id="shared-style">{html.escape(style)}</p>
<a class="download" id="shared-download" href="{image}?download=1" download>Download</a>
</main></body></html>
"""


def share_router(services: Services, throttle: Throttle | None = None) -> APIRouter:
    router = APIRouter()
    throttle = throttle or Throttle()

    def not_found() -> Response:
        return PlainTextResponse("This link does not exist or is no longer shared.", 404, headers=HEADERS)

    def find(token: str, request: Request) -> SharedOutput | Response:
        address = request.client.host if request.client else "unknown"
        if not throttle.allows(address):
            return PlainTextResponse("Too many requests; try again in a minute.", 429, {"Retry-After": "60"})
        shared = services.sharing.shared(token) if len(token) <= 64 else None
        if shared is None:
            throttle.missed(address)
            return not_found()
        return shared

    def etag(shared: SharedOutput, what: str) -> str:
        row = shared.generation
        return '"' + hashlib.sha256(f"{what}:{row.id}:{row.output_image_path}".encode()).hexdigest()[:32] + '"'

    @router.get("/s/{token}")
    def shared_page(token: str, request: Request) -> Response:
        """The public page of a shared output."""
        if isinstance(shared := find(token, request), Response):
            return shared
        headers = HEADERS | {"ETag": etag(shared, "page")}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        page_url = f"{site_url(request)}/s/{token}"
        pose = pose_name(services, shared.owner, shared.generation)
        body = page_html(shared, pose=pose, page_url=page_url, image_url=f"{page_url}/image.jpg")
        return HTMLResponse(body, headers=headers)

    @router.get("/s/{token}/image.jpg")
    def shared_image(token: str, request: Request, download: bool = False) -> Response:
        """The shared output itself (never anything else of the generation); `?download=1` saves it."""
        if isinstance(shared := find(token, request), Response):
            return shared
        headers = HEADERS | {"ETag": etag(shared, "image")}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        row = shared.generation
        path = services.storage.path(row.output_image_path or "")
        if not path.is_file():
            return not_found()
        return FileResponse(
            path,
            media_type="image/jpeg",
            filename=download_name(row, "output", pose_name(services, shared.owner, row)),
            content_disposition_type="attachment" if download else "inline",
            headers=headers,
        )

    return router
