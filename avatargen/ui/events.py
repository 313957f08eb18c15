"""Binding module-level handlers to the page: each gets the `Page` and the `Api` first, the event's inputs after."""

import functools
import inspect
from collections.abc import Callable, Sequence

import gradio as gr

from avatargen.api import user_errors


def bind(fn: Callable, ui, api) -> Callable:
    """`fn(ui, api, *inputs)` as a Gradio handler; every error becomes a readable toast (see `user_errors`)."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        return fn(ui, api, *args, **kwargs)

    signature = inspect.signature(fn)  # Gradio reads it to fill gr.Request and gr.SelectData parameters
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[2:])
    return user_errors(handler)


def listen(triggers, fn: Callable, ui, api, inputs: Sequence, outputs: Sequence, **options):
    """Attach a handler. Progress stays hidden, so a failed action leaves no "Error" badge over the page."""
    triggers = triggers if isinstance(triggers, list) else [triggers]
    options = {"api_visibility": "private", "show_progress": "hidden"} | options
    return gr.on(triggers, bind(fn, ui, api), list(inputs), list(outputs), **options)


def then(dependency, fn: Callable, ui, api, inputs: Sequence, outputs: Sequence, *, success: bool = False):
    """Run a handler after another one (only after it succeeded, with `success`)."""
    step = dependency.success if success else dependency.then
    return step(bind(fn, ui, api), list(inputs), list(outputs), api_visibility="private", show_progress="hidden")
