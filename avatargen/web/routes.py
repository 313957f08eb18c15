"""The app's own routes, matched before Gradio's (`launch(app_kwargs={"routes": beside_gradio(api)})`): each
feature keeps its own module and adds its routes here."""

from starlette.routing import BaseRoute, Mount

from avatargen.web.api import Api
from avatargen.web.rest import PREFIX, rest_app


def beside_gradio(api: Api) -> list[BaseRoute]:
    return [Mount(PREFIX, app=rest_app(api))]
