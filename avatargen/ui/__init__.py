"""The Gradio page, in parts a newcomer can find:

- `layout.py`: where every component sits (`Page`), and the CSS; no behaviour.
- `create.py`: photo, picked poses, price, Generate, "again"; `gallery.py`: the pose browser.
- `jobs.py`: live results and the jobs panel (a timer); `history.py` and `stats.py`: the tabs of the same names.
- `text.py` and `pictures.py`: what the handlers show, from API records.
- `events.py`: handlers are module-level functions `fn(ui, api, *inputs) -> {component: value}`.
- `page.py`: `create_demo(api, …)` builds the layout, wires each part and rebuilds the page on load.
"""

from avatargen.ui.layout import CSS
from avatargen.ui.page import create_demo

__all__ = ["CSS", "create_demo"]
