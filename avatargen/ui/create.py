"""The create view: the photo, the picked poses, the price and Generate."""

from pathlib import Path

import gradio as gr

from avatargen.errors import UserError
from avatargen.poses.template import PoseTemplate
from avatargen.ui import jobs
from avatargen.ui.events import listen
from avatargen.ui.layout import MAX_PICKS, Page
from avatargen.ui.pictures import PICTURE_SIZE, PREVIEW_SIZE, TRAY_SIZE, templates_of
from avatargen.ui.text import SIGN_IN, caption, facets_line, price_line
from avatargen.web.api import Api

SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "assets" / "sample-photo.jpg"
EXAMPLE_SEARCHES = ("arms crossed", "hands on hips", "sitting", "jump")
MAX_MORE_PHOTOS = 3


def let_go(api: Api, path: str | None) -> None:
    """Gradio's cached copy of an upload goes (after the purge's delay, unless a call holds it again)."""
    api.uploads.hold(path)
    api.uploads.release(path)


def example_poses(api: Api) -> list[PoseTemplate]:
    """A few library poses a first-time visitor can try in one click."""
    found = [api.services.poses.library.query(search=words, limit=1)[0] for words in EXAMPLE_SEARCHES]
    return [templates[0] for templates in found if templates]


def pose_tiles(api: Api, templates: list[PoseTemplate], picks: list[str], **options) -> gr.Gallery:
    """Gallery tiles with the picked ones marked by pose id; no position-based highlight is left behind."""
    items = [(api.pose_picture(t, PICTURE_SIZE), caption(t, t.id in picks)) for t in templates]
    return gr.Gallery(value=items, selected_index=None, **options)


def show_picks(ui: Page, api: Api, picks: list[str], quality: str, priority: bool, request: gr.Request) -> dict:
    """Everything that shows the picked poses: the large preview of the last one, the tray, the price."""
    templates = templates_of(api, picks, request)
    last = templates[-1] if templates else None
    if last is None:
        info = "**No pose picked yet.** Pick up to 8 in the gallery below, or try one of these:"
    else:
        info = f"**{last.name}**  \n{facets_line(last)}"
        if len(templates) > 1:
            info += f"  \n{len(templates)} poses picked: one avatar each."
    tray = [(api.pose_picture(t, TRAY_SIZE), t.name) for t in templates]
    others = api.services.poses.variants(last.base_pose) if last is not None and last.owner is None else []
    return {
        ui.variant: gr.Dropdown(
            choices=[(t.name, t.id) for t in others], value=last.id if others else None, visible=len(others) > 1
        ),
        ui.picks: [t.id for t in templates],
        ui.pose_preview: api.pose_picture(last, PREVIEW_SIZE) if last else None,
        ui.pose_info: info,
        ui.tray: gr.Gallery(value=tray, visible=bool(templates), selected_index=None),
        ui.clear_picks: gr.Button(visible=bool(templates)),
        ui.examples: gr.Gallery(visible=not templates, selected_index=None),
    } | show_price(ui, api, picks, quality, priority, request)


def show_price(ui: Page, api: Api, picks: list[str], quality: str, priority: bool, request: gr.Request) -> dict:
    each = api.price(quality, priority)["data"]["credits"]
    if api.visitor(request) is None:
        return {ui.cost: f"**Cost:** {each} credits · {SIGN_IN} to get your free credits.", ui.balance: ""}
    balance = api.credits(request)["data"]["balance"]
    return {ui.cost: price_line(max(1, len(picks)), each, balance), ui.balance: f"**Balance:** {balance} credits"}


def toggle(
    ui: Page,
    api: Api,
    pose_id: str,
    picks: list[str],
    page_ids: list[str],
    my_ids: list[str],
    quality,
    priority,
    request,
) -> dict:
    if pose_id in picks:
        picks = [p for p in picks if p != pose_id]
    elif len(picks) >= MAX_PICKS:
        raise UserError(f"You can pick at most {MAX_PICKS} poses at once. Click a picked pose to unpick it.")
    else:
        picks = [*picks, pose_id]
    return show_picks(ui, api, picks, quality, priority, request) | {
        ui.gallery: pose_tiles(api, templates_of(api, page_ids, request), picks),
        ui.my_poses: pose_tiles(api, templates_of(api, my_ids, request), picks),
    }


def switch_variant(
    ui: Page, api: Api, chosen: str, picks, page_ids, my_ids, quality, priority, request: gr.Request
) -> dict:
    """Swap the last picked pose for another view or framing of it."""
    if not picks or not chosen or chosen == picks[-1]:
        return {ui.picks: picks}
    picks = [p for p in picks[:-1] if p != chosen] + [chosen]
    return show_picks(ui, api, picks, quality, priority, request) | {
        ui.gallery: pose_tiles(api, templates_of(api, page_ids, request), picks),
        ui.my_poses: pose_tiles(api, templates_of(api, my_ids, request), picks),
    }


def pick_from_library(
    ui: Page, api: Api, picks, page_ids, my_ids, quality, priority, event: gr.SelectData, request: gr.Request
) -> dict:
    return toggle(ui, api, page_ids[event.index], picks, page_ids, my_ids, quality, priority, request)


def pick_from_mine(
    ui: Page, api: Api, picks, page_ids, my_ids, quality, priority, event: gr.SelectData, request: gr.Request
) -> dict:
    return toggle(ui, api, my_ids[event.index], picks, page_ids, my_ids, quality, priority, request)


def pick_example(
    ui: Page,
    api: Api,
    picks,
    page_ids,
    my_ids,
    example_ids,
    quality,
    priority,
    event: gr.SelectData,
    request: gr.Request,
) -> dict:
    return toggle(ui, api, example_ids[event.index], picks, page_ids, my_ids, quality, priority, request)


def unpick(
    ui: Page, api: Api, picks, page_ids, my_ids, quality, priority, event: gr.SelectData, request: gr.Request
) -> dict:
    return toggle(ui, api, picks[event.index], picks, page_ids, my_ids, quality, priority, request)


def clear(ui: Page, api: Api, page_ids, my_ids, quality, priority, request: gr.Request) -> dict:
    return show_picks(ui, api, [], quality, priority, request) | {
        ui.gallery: pose_tiles(api, templates_of(api, page_ids, request), []),
        ui.my_poses: pose_tiles(api, templates_of(api, my_ids, request), []),
    }


def take_photo(ui: Page, api: Api, path: str | None) -> dict:
    """Check an upload with the app's own photo check, and show what was read."""
    if not path:
        raise UserError("The upload did not arrive; please try again.")
    try:
        image = api.check_photo(path)
    except UserError:
        let_go(api, path)  # unreadable: nothing will use it
        raise
    image.thumbnail((640, 640))
    return {ui.photo: path, ui.photo_from: None, ui.photo_preview: image}


def take_more(ui: Page, api: Api, paths: list[str] | None) -> dict:
    """More photos of the person (up to 3), each checked like the first; their identities are averaged."""
    paths = list(paths or [])
    try:
        if len(paths) > MAX_MORE_PHOTOS:
            raise UserError(f"Add at most {MAX_MORE_PHOTOS} more photos: 4 photos of you in all.")
        for number, path in enumerate(paths, start=2):
            try:
                api.check_photo(path)
            except UserError as error:
                raise UserError(f"Photo {number}: {error}") from None
    except UserError:
        for path in paths:
            let_go(api, path)
        raise
    return {ui.more_photos: paths, ui.more_info: more_line(len(paths))}


def more_line(count: int) -> str:
    if not count:
        return ""
    return f"Plus {count} more photo{'s' if count > 1 else ''} of you: the likeness is taken from all of them."


def take_sample(ui: Page, api: Api) -> dict:
    return take_photo(ui, api, str(SAMPLE_PHOTO))


def refresh_price(ui: Page, api: Api, picks, quality, priority, request: gr.Request) -> dict:
    return show_price(ui, api, picks, quality, priority, request)


def generate(
    ui: Page, api: Api, photo, more, picks, quality, priority, style, seed, mirror, batch, tracked, request: gr.Request
) -> dict:
    """One generation per picked pose; missing inputs are named together. Earlier ones still running stay in view."""
    missing = [what for what, absent in (("pick a pose", not picks), ("upload a photo", not photo)) if absent]
    if missing:
        raise UserError(" and ".join(missing).capitalize() + " first.")
    seed = None if seed is None or seed < 0 else int(seed)
    args = (photo, list(picks), quality, priority, style, seed, list(more or []), bool(mirror))
    records = api.generate_batch(*args, request=request)["data"]
    ids = [record["id"] for record in records]
    n = len(ids)
    gr.Info(
        f"Started {n} generation{'s' if n > 1 else ''}. You can keep going; they finish in the background.", duration=4
    )
    followed = jobs.follow(ids, batch, tracked)
    stored = str(api.input_photo(ids[0], request=request))  # the app's own copies, without metadata
    stored_more = [str(path) for path in api.more_input_photos(ids[0], request=request)]
    for upload in (photo, *(more or [])):
        let_go(api, upload)  # Gradio's copies of the uploads are no longer needed
    return (
        {ui.batch: followed, ui.photo: stored, ui.photo_from: ids[0], ui.more_photos: stored_more}
        | jobs.show_run(ui, api, followed, request)
        | show_price(ui, api, picks, quality, priority, request)
    )


def again(ui: Page, api: Api, generation_id: str, same_seed: bool, batch, tracked, request: gr.Request) -> dict:
    """The same photo, pose and options; the same seed or a new one. Its progress shows in the create view."""
    record = api.generation(generation_id, request=request)["data"]
    photo = str(api.input_photo(generation_id, request=request))
    seed = record["seed"] if same_seed else None
    more = [str(path) for path in api.more_input_photos(generation_id, request=request)]
    options = (record["quality"], record["priority"], record["style"], seed, more, record["mirrored"])
    [started] = api.generate_batch(photo, [record["poseTemplateId"]], *options, request=request)["data"]
    gr.Info("Started again with the same settings; it shows at the top of the page and in Jobs.", duration=4)
    followed = jobs.follow([started["id"]], batch, tracked)
    return {ui.batch: followed} | jobs.show_run(ui, api, followed, request)


def again_same(ui: Page, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(ui, api, generation_id, True, batch, tracked, request)


def again_new(ui: Page, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(ui, api, generation_id, False, batch, tracked, request)


def wire(ui: Page, api: Api) -> None:
    choose = [ui.picks, ui.page_ids, ui.my_pose_ids, ui.quality, ui.priority]
    shown = [ui.picks, ui.pose_preview, ui.pose_info, ui.variant, ui.tray, ui.clear_picks, ui.examples]
    shown = [*shown, ui.cost, ui.balance]
    shown_all = [*shown, ui.gallery, ui.my_poses]
    listen(ui.variant.input, switch_variant, ui, api, [ui.variant, *choose], shown_all)
    listen(ui.gallery.select, pick_from_library, ui, api, choose, shown_all)
    listen(ui.my_poses.select, pick_from_mine, ui, api, choose, shown_all)
    listen(ui.tray.select, unpick, ui, api, choose, shown_all)
    listen(ui.examples.select, pick_example, ui, api, [*choose[:3], ui.example_ids, *choose[3:]], shown_all)
    listen(ui.clear_picks.click, clear, ui, api, choose[1:], shown_all)
    listen(
        [ui.quality.input, ui.priority.input],
        refresh_price,
        ui,
        api,
        [ui.picks, ui.quality, ui.priority],
        [ui.cost, ui.balance],
    )
    photo_out = [ui.photo, ui.photo_from, ui.photo_preview]
    listen(ui.upload.upload, take_photo, ui, api, [ui.upload], photo_out)
    listen(ui.more_upload.upload, take_more, ui, api, [ui.more_upload], [ui.more_photos, ui.more_info])
    listen(ui.sample.click, take_sample, ui, api, [], photo_out)
    for button, handler in ((ui.again_same, again_same), (ui.again_new, again_new)):
        listen(button.click, handler, ui, api, [ui.selected, ui.batch, ui.tracked], [ui.batch, *jobs.run_outputs(ui)])
    listen(
        ui.generate.click,
        generate,
        ui,
        api,
        [
            ui.photo,
            ui.more_photos,
            ui.picks,
            ui.quality,
            ui.priority,
            ui.style,
            ui.seed,
            ui.mirror,
            ui.batch,
            ui.tracked,
        ],
        [ui.batch, ui.photo, ui.photo_from, ui.more_photos, ui.cost, ui.balance, *jobs.run_outputs(ui)],
    )
