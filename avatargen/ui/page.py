"""`create_demo`: the layout, each part's events, and the page rebuilt from the server on every load."""

from collections.abc import Callable

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui import create, gallery, history, jobs, stats
from avatargen.ui.events import bind, listen, private, then
from avatargen.ui.layout import MAX_PICKS, Page, build
from avatargen.web.api import Api

BANNER_SECONDS = 5


def restore(ui: Page, api: Api, saved: dict | None, request: gr.Request) -> dict:
    """Picks, the last batch and its photo come back after a reload (the browser keeps only their ids)."""
    saved = saved if isinstance(saved, dict) else {}
    picks = [p for p in saved.get("picks") or [] if isinstance(p, str)][:MAX_PICKS]
    batch = [g for g in saved.get("batch") or [] if isinstance(g, str)][:MAX_PICKS]
    examples = create.example_poses(api)
    update = create.show_picks(ui, api, picks, "sd", False, request) | {
        ui.examples: create.pose_tiles(api, examples, picks, visible=not picks),
        ui.example_ids: [t.id for t in examples],
        ui.batch: batch,
    }
    if isinstance(saved.get("photo_from"), str):
        try:
            photo = create.take_photo(ui, api, str(api.input_photo(saved["photo_from"], request=request)))
            more = [str(path) for path in api.more_input_photos(saved["photo_from"], request=request)]
            update |= photo | {ui.photo_from: saved["photo_from"], ui.more_photos: more}
            update[ui.more_info] = create.more_line(len(more))
        except UserError:  # deleted meanwhile, or another person's
            pass
    return update | jobs.show_run(ui, api, batch, request)


def remember(ui: Page, api: Api, picks: list[str], batch: list[str], photo_from: str | None) -> dict:
    return {ui.saved: {"picks": picks, "batch": batch, "photo_from": photo_from}}


def first_history(ui: Page, api: Api, request: gr.Request) -> dict:
    return history.after_change(ui, api, 0, request)


def create_demo(api: Api, *, engine_notice: Callable[[], str | None], sign_in: bool = False) -> gr.Blocks:
    """The page. `engine_notice` says what a visitor must know about the model (loading, placeholder), or None;
    `sign_in` shows the Hugging Face sign-in button (signed-out visitors may browse the poses)."""

    def notice() -> dict:
        text = engine_notice()
        return gr.Markdown(value=text or "", visible=bool(text))

    with gr.Blocks(title="avatargen — you, in any pose", delete_cache=(3600, 3600)) as demo:
        ui = build(api.facets(), sign_in=sign_in)
        for part in (create, gallery, jobs, history, stats):
            part.wire(ui, api)
        listen(
            [ui.picks.change, ui.batch.change, ui.photo_from.change],
            remember,
            ui,
            api,
            [ui.picks, ui.batch, ui.photo_from],
            [ui.saved],
        )
        banner_timer = gr.Timer(BANNER_SECONDS)
        gr.on([demo.load, banner_timer.tick], notice, None, ui.banner, **private(notice))
        restored = demo.load(
            bind(restore, ui, api),
            [ui.saved],
            [
                ui.picks,
                ui.pose_preview,
                ui.pose_info,
                ui.variant,
                ui.tray,
                ui.clear_picks,
                ui.examples,
                ui.example_ids,
                ui.cost,
                ui.balance,
                ui.batch,
                ui.photo,
                ui.photo_from,
                ui.photo_preview,
                ui.more_photos,
                ui.more_info,
                *jobs.run_outputs(ui),
            ],
            **private(restore),
        )
        then(restored, gallery.first_load, ui, api, [ui.picks], gallery.outputs(ui))
        demo.load(bind(first_history, ui, api), None, history.finished_outputs(ui), **private(first_history))
    return demo
