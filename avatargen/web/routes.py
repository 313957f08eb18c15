"""The app's own routes, served beside Gradio's: `launch(app_kwargs={"routes": beside_gradio(services)})`.

Gradio's FastAPI `App` matches these before its own routes. Each feature keeps its own router module.
"""

from starlette.routing import BaseRoute

from avatargen.services import Services
from avatargen.web.files import files_router
from avatargen.web.share import share_router


def beside_gradio(services: Services) -> list[BaseRoute]:
    """Every route the app serves next to Gradio's: owner-only files, share pages."""
    return [*files_router(services).routes, *share_router(services).routes]
