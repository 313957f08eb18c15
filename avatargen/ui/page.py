"""`create_demo`: the panels composed into one page, each part's events, and the page rebuilt from the server on
every load.

The page is a tab per view: Create (photo → poses → Generate and the results, one first screen), Jobs, History and
Stats. A new view is a tab in `create_demo`; a new part of the create view goes into `create.build`'s columns.
"""

from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from avatargen.errors import UserError
from avatargen.presets import QUALITIES, STYLES
from avatargen.ui import create, gallery, header, history, jobs, motion, stats
from avatargen.ui.create import Create
from avatargen.ui.events import bind, listen, private, then
from avatargen.ui.gallery import PoseGallery
from avatargen.ui.header import Header
from avatargen.ui.jobs import Jobs
from avatargen.web.api import MAX_BATCH, MAX_SEED, Api


def options_of(saved: dict) -> dict:
    """The options a reload brings back, each checked (the browser's storage is the browser's word)."""
    kept = saved.get("options") if isinstance(saved.get("options"), dict) else {}
    seed = kept.get("seed")
    seed = int(seed) if isinstance(seed, int | float) and float(seed).is_integer() else -1
    return {
        "quality": kept.get("quality") if kept.get("quality") in QUALITIES else "sd",
        "priority": kept.get("priority") is True,
        "style": kept.get("style") if kept.get("style") in STYLES else "realistic",
        "seed": seed if -1 <= seed <= MAX_SEED else -1,
        "mirror": kept.get("mirror") is True,
    }


def unused_upload(path) -> str | None:
    """A photo uploaded but not used yet, while Gradio still has it (only a path in its upload folder)."""
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    return path if Path(path).resolve().is_relative_to(Path(get_upload_folder()).resolve()) else None


def restore(
    create_panel: Create,
    poses: PoseGallery,
    header_panel: Header,
    jobs_panel: Jobs,
    api: Api,
    saved,
    request: gr.Request,
) -> dict:
    """Picks, options, the photo (an unused upload, or the last batch's) and the last batch come back after a
    reload; the browser keeps only ids, choices and the upload's path, and everything is checked here."""
    saved = saved if isinstance(saved, dict) else {}
    picks = [t.id for t in api.page.poses_of([p for p in saved.get("picks") or [] if isinstance(p, str)], request)]
    picks = picks[:MAX_BATCH]
    batch = [g for g in saved.get("batch") or [] if isinstance(g, str)][:MAX_BATCH]
    chosen = options_of(saved)
    update = gallery.set_picks(poses, api, {}, picks, request) | {
        create_panel.picks: picks,
        create_panel.batch: batch,
        poses.variant: gallery.variant_choice(poses, api, picks, request),
        create_panel.quality: chosen["quality"],
        create_panel.priority: chosen["priority"],
        create_panel.style: chosen["style"],
        create_panel.seed: chosen["seed"],
        create_panel.mirror: chosen["mirror"],
    }
    photo, face_ok = None, False
    try:
        if unused_upload(saved.get("upload")):
            update |= create.take_photo(create_panel, api, saved["upload"])
        elif isinstance(saved.get("photo_from"), str):
            stored = api.page.input_photo(saved["photo_from"], request=request)
            update |= create.take_photo(create_panel, api, str(stored))
            more = [str(path) for path in api.page.more_input_photos(saved["photo_from"], request=request)]
            update |= {create_panel.photo_from: saved["photo_from"], create_panel.more_photos: more}
            update[create_panel.more_info] = create.more_line(len(more))
        photo, face_ok = update.get(create_panel.photo), update.get(create_panel.face_ok, False)
    except UserError:  # deleted meanwhile, or another person's
        pass
    ready = create.show_ready(
        create_panel, header_panel, api, photo, face_ok, picks, chosen["quality"], chosen["priority"], 1, request
    )
    return update | ready | jobs.show_run(create_panel, jobs_panel, api, batch, request)


def restored_outputs(create_panel: Create, poses: PoseGallery, header_panel: Header, jobs_panel: Jobs) -> list:
    options = [create_panel.quality, create_panel.priority, create_panel.style, create_panel.seed, create_panel.mirror]
    photo = [create_panel.photo, create_panel.photo_from, create_panel.photo_preview, create_panel.face]
    return [
        poses.grid,
        poses.variant,
        create_panel.picks,
        create_panel.batch,
        *options,
        *photo,
        create_panel.face_ok,
        create_panel.more_photos,
        create_panel.more_info,
        *create.ready_outputs(create_panel, header_panel),
        *jobs.run_outputs(create_panel, jobs_panel),
    ]


def place_states(*panels) -> None:
    """The panels' states, at the page's top level: once a State inside a tab changes, Gradio draws that tab's
    button a second time."""
    for panel in panels:
        for value in vars(panel).values():
            if isinstance(value, gr.State):
                value.render()


def remember(saved: gr.BrowserState, picks, batch, photo, photo_from, quality, priority, style, seed, mirror) -> dict:
    upload = photo if photo and not photo_from else None  # a stored photo comes back through its generation
    options = {"quality": quality, "priority": priority, "style": style, "seed": seed, "mirror": mirror}
    return {saved: {"picks": picks, "batch": batch, "photo_from": photo_from, "upload": upload, "options": options}}


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
        with gr.Tabs(elem_id="views"):
            with gr.Tab("Create", id="create-tab", elem_id="create-tab"):
                create_panel, poses = create.build(lambda: gallery.build(api.page.facets()))
            jobs_panel = jobs.build()
            history_panel = history.build()
            stats_panel = stats.build()
            motion_panel = motion.build()  # last: on a phone the tabs that fit stay those people use most
        place_states(poses, history_panel, motion_panel)
        saved = gr.BrowserState({}, storage_key="avatargen-page")  # picks, batch, photo, options: for a reload

        create.wire(create_panel, header_panel, api)
        gallery.wire(poses, create_panel, header_panel, api)
        jobs.wire(jobs_panel, create_panel, history_panel, stats_panel, header_panel, api)
        history.wire(history_panel, stats_panel, header_panel, api)
        stats.wire(stats_panel, header_panel, api)
        motion.wire(motion_panel, create_panel, header_panel, api, demo)
        options = [create_panel.quality, create_panel.priority, create_panel.style, create_panel.seed]
        options.append(create_panel.mirror)
        kept = [create_panel.picks, create_panel.batch, create_panel.photo, create_panel.photo_from, *options]
        changes = [part.change for part in kept]
        listen(changes, remember, (saved,), kept, [saved], trigger_mode="always_last")  # the last change is kept
        header.wire(header_panel, demo, engine_notice, engine_settled)
        restored = demo.load(
            bind(restore, (create_panel, poses, header_panel, jobs_panel, api)),
            [saved],
            restored_outputs(create_panel, poses, header_panel, jobs_panel),
            **private(restore),
        )
        then(restored, gallery.first_load, (poses, api), [poses.grid], gallery.outputs(poses))
        shown = history.finished_outputs(history_panel, stats_panel, header_panel)
        first_history = bind(history.first_history, (history_panel, stats_panel, header_panel, api))
        demo.load(first_history, None, shown, **private(history.first_history))
        after_video = (history_panel, stats_panel, header_panel, api)  # a video finished in the Motion tab
        listen(motion_panel.done.change, history.first_history, after_video, [], shown)
    return demo
