"""The Gradio page, one panel per part, each a module that builds its components (a small dataclass) and holds
the handlers that read or change them:

- `header.py`: title, balance, sign-in, the engine banner; `create.py`: photo, options, picked poses, price.
- `gallery.py`: the Poses tab and picking poses; `jobs.py`: Generate, again, live results and the Jobs tab.
- `history.py` and `stats.py`: the tabs of the same names.
- `text.py` and `pictures.py`: what the handlers show, from API records; `css.py`: the page's CSS.
- `events.py`: handlers are module-level functions `fn(*panels, api, *inputs) -> {component: value}`.
- `page.py`: `create_demo(api, …)` composes the panels, wires each one and rebuilds the page on load.

The page asks the `Api` only (`Api.page` for what no endpoint answers), never a service or the storage.
May import `web` (the Api, its limits and errors), `poses.template`, `presets` and `errors`; nothing imports `ui` but
`app.py`.
"""

from avatargen.ui.css import CSS
from avatargen.ui.page import create_demo

__all__ = ["CSS", "create_demo"]
