"""The app's own routes, served beside Gradio's: `launch(app_kwargs={"routes": beside_gradio(api)})`.

Gradio's FastAPI `App` matches these before its own routes. Each feature keeps its own router module.
"""

from starlette.routing import BaseRoute, Mount

from avatargen.web.api import Api
from avatargen.web.files import files_router
from avatargen.web.rest import PREFIX, rest_app
from avatargen.web.share import share_router


def beside_gradio(api: Api) -> list[BaseRoute]:
    """Every route the app serves next to Gradio's: the REST API, owner-only files, share pages."""
    services = api.services
    return [Mount(PREFIX, app=rest_app(api)), *files_router(services).routes, *share_router(services).routes]
