"""The app's public address, as the person asking sees it (behind a proxy too): links that work outside the page."""

from gradio.route_utils import get_request_origin

GRADIO_PREFIX = "/gradio_api"  # where Gradio's own routes live; the app's root is what comes before it


def site_url(request) -> str:
    """The root URL of the app (no trailing slash) for a `gr.Request` or a plain Starlette request.

    Proxies' `X-Forwarded-Host`/`-Proto` win (a Space is served over https by its proxy), as in Gradio's own links.
    """
    raw = getattr(request, "request", None) or request
    path = raw.url.path
    route = path[path.index(GRADIO_PREFIX) :] if GRADIO_PREFIX in path else path
    return str(get_request_origin(raw, route)).rstrip("/")
