"""Binding module-level handlers to the page: each gets the panels it touches and the `Api` first, the event's
inputs after, and answers `{component: value}`."""

import functools
import inspect
from collections.abc import Callable, Sequence

import gradio as gr

from avatargen.web.errors import user_errors


def bind(fn: Callable, bound: Sequence) -> Callable:
    """`fn(*bound, *inputs)` as a Gradio handler; every error becomes a readable toast (see `user_errors`)."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        return fn(*bound, *args, **kwargs)

    signature = inspect.signature(fn)  # Gradio reads it to fill gr.Request and gr.SelectData parameters
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[len(bound) :])
    return user_errors(handler)


def private(fn: Callable) -> dict:
    """Options for a page event: not an API endpoint, and under a name that never takes a public endpoint's (Gradio
    names events after their function). Progress stays hidden, so a failed action leaves no "Error" badge."""
    return {"api_visibility": "private", "api_name": f"page_{fn.__name__}", "show_progress": "hidden"}


def listen(triggers, fn: Callable, bound: Sequence, inputs: Sequence, outputs: Sequence, **options):
    """Attach a handler to one or more triggers; `bound` are its first arguments (panels, the Api); `options` go to
    `gr.on` (`trigger_mode`, `js`)."""
    triggers = triggers if isinstance(triggers, list) else [triggers]
    return gr.on(triggers, bind(fn, bound), list(inputs), list(outputs), **private(fn), **options)


def then(dependency, fn: Callable, bound: Sequence, inputs: Sequence, outputs: Sequence, *, success: bool = False):
    """Run a handler after another one (only after it succeeded, with `success`)."""
    step = dependency.success if success else dependency.then
    return step(bind(fn, bound), list(inputs), list(outputs), **private(fn))
