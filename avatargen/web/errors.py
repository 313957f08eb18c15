"""What a person sees when an endpoint or a page handler fails: their own mistakes as they are, ours as a reference."""

import functools
import logging
import secrets
from collections.abc import Callable

import gradio as gr

from avatargen.errors import UserError

log = logging.getLogger(__name__)


def user_errors(fn: Callable) -> Callable:
    """Show UserError messages to the person as they are; anything else is logged and answered with a message too
    (never a bare error), with a reference to find it in the log."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("%s failed (reference %s)", getattr(fn, "__name__", "endpoint"), reference)
            raise gr.Error(
                f"Something went wrong on our side (reference {reference}); please try again.", print_exception=False
            ) from None

    return wrapper
