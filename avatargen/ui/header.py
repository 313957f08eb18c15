"""The header: the title, the balance, the sign-in button, and the engine banner below it."""

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from avatargen.ui.events import listen

BANNER_SECONDS = 5
HOW_TO = "Add a photo of you, pick one or more poses, press Generate: you get an avatar of yourself in each pose."


@dataclass
class Header:
    balance: gr.Markdown
    banner: gr.Markdown  # what a visitor must know about the model (loading, placeholder), when anything
    banner_timer: gr.Timer  # asks again until the notice can no longer change


def build(*, sign_in: bool) -> Header:
    """Call inside `with gr.Blocks()`, at its top level. `sign_in` adds the Hugging Face sign-in button."""
    with gr.Row(elem_id="header"):
        with gr.Column(scale=4):
            gr.Markdown("# avatargen — you, in any pose", elem_id="title")
            gr.Markdown(HOW_TO, elem_id="howto")
        balance = gr.Markdown(elem_id="balance", min_width=160)
        if sign_in:
            gr.LoginButton(elem_id="sign-in", scale=0)
    banner = gr.Markdown(visible=False, elem_id="engine-banner")
    return Header(balance=balance, banner=banner, banner_timer=gr.Timer(BANNER_SECONDS))


def notice(header: Header, engine_notice: Callable[[], str | None], engine_settled: Callable[[], bool]) -> dict:
    settled = engine_settled()  # asked first: a notice read after it is already the final one
    text = engine_notice()
    return {
        header.banner: gr.Markdown(value=text or "", visible=bool(text)),
        header.banner_timer: gr.Timer(active=not settled),
    }


def wire(
    header: Header,
    demo: gr.Blocks,
    engine_notice: Callable[[], str | None],
    engine_settled: Callable[[], bool],
) -> None:
    bound = (header, engine_notice, engine_settled)
    listen([demo.load, header.banner_timer.tick], notice, bound, [], [header.banner, header.banner_timer])
