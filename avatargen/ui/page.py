"""`create_demo`: the panels composed into one page, each part's events, and the page rebuilt from the server on
every load."""

from collections.abc import Callable

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui import create, gallery, header, history, jobs, motion, stats
from avatargen.ui.create import Create
from avatargen.ui.events import bind, listen, private, then
from avatargen.ui.header import Header
from avatargen.ui.jobs import Jobs
from avatargen.web.api import MAX_BATCH, Api


def restore(create_panel: Create, header_panel: Header, jobs_panel: Jobs, api: Api, saved, request: gr.Request):
    """Picks, the last batch and its photo come back after a reload (the browser keeps only their ids)."""
    saved = saved if isinstance(saved, dict) else {}
    picks = [p for p in saved.get("picks") or [] if isinstance(p, str)][:MAX_BATCH]
    batch = [g for g in saved.get("batch") or [] if isinstance(g, str)][:MAX_BATCH]
    examples = create.example_poses(api)
    update = create.show_picks(create_panel, header_panel, api, picks, "sd", False, 1, request) | {
        create_panel.examples: create.pose_tiles(api, examples, picks, visible=not picks),
        create_panel.example_ids: [t.id for t in examples],
        create_panel.batch: batch,
    }
    if isinstance(saved.get("photo_from"), str):
        try:
            stored = api.page.input_photo(saved["photo_from"], request=request)
            photo = create.take_photo(create_panel, api, str(stored))
            more = [str(path) for path in api.page.more_input_photos(saved["photo_from"], request=request)]
            update |= photo | {create_panel.photo_from: saved["photo_from"], create_panel.more_photos: more}
            update[create_panel.more_info] = create.more_line(len(more))
        except UserError:  # deleted meanwhile, or another person's
            pass
    return update | jobs.show_run(create_panel, jobs_panel, api, batch, request)


def place_states(*panels) -> None:
    """The panels' states, at the page's top level: once a State inside a tab changes, Gradio draws that tab's
    button a second time."""
    for panel in panels:
        for value in vars(panel).values():
            if isinstance(value, gr.State):
                value.render()


def remember(saved: gr.BrowserState, picks: list[str], batch: list[str], photo_from: str | None) -> dict:
    return {saved: {"picks": picks, "batch": batch, "photo_from": photo_from}}


def create_demo(
    api: Api,
    *,
    engine_notice: Callable[[], str | None],
    engine_settled: Callable[[], bool],
    sign_in: bool = False,
) -> gr.Blocks:
    """The page. `engine_notice` says what a visitor must know about the model (loading, placeholder), or None;
    `engine_settled` whether that can still change (the page stops asking once it cannot); `sign_in` shows the
    Hugging Face sign-in button (signed-out visitors may browse the poses)."""
    with gr.Blocks(title="avatargen — you, in any pose", delete_cache=(3600, 3600)) as demo:
        header_panel = header.build(sign_in=sign_in)
        create_panel = create.build()
        with gr.Tabs():
            gallery_panel = gallery.build(api.page.facets())
            jobs_panel = jobs.build()
            history_panel = history.build()
            stats_panel = stats.build()
            motion_panel = motion.build()  # last: on a phone the tabs that fit stay those people use most
        place_states(gallery_panel, history_panel, motion_panel)
        saved = gr.BrowserState({}, storage_key="avatargen-page")  # picks, batch and photo, for after a reload

        create.wire(create_panel, header_panel, api)
        gallery.wire(gallery_panel, create_panel, header_panel, api)
        jobs.wire(jobs_panel, create_panel, history_panel, stats_panel, header_panel, api)
        history.wire(history_panel, stats_panel, header_panel, api)
        stats.wire(stats_panel, header_panel, api)
        motion.wire(motion_panel, create_panel, header_panel, api, demo)
        kept = [create_panel.picks, create_panel.batch, create_panel.photo_from]
        listen([state.change for state in kept], remember, (saved,), kept, [saved])
        header.wire(header_panel, demo, engine_notice, engine_settled)
        restored = demo.load(
            bind(restore, (create_panel, header_panel, jobs_panel, api)),
            [saved],
            [
                *create.picks_outputs(create_panel, header_panel),
                create_panel.example_ids,
                create_panel.batch,
                create_panel.photo,
                create_panel.photo_from,
                create_panel.photo_preview,
                create_panel.more_photos,
                create_panel.more_info,
                *jobs.run_outputs(create_panel, jobs_panel),
            ],
            **private(restore),
        )
        then(restored, gallery.first_load, (gallery_panel, api), [create_panel.picks], gallery.outputs(gallery_panel))
        shown = history.finished_outputs(history_panel, stats_panel, header_panel)
        first_history = bind(history.first_history, (history_panel, stats_panel, header_panel, api))
        demo.load(first_history, None, shown, **private(history.first_history))
        after_video = (history_panel, stats_panel, header_panel, api)  # a video finished in the Motion tab
        listen(motion_panel.done.change, history.first_history, after_video, [], shown)
    return demo
