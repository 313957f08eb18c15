"""The History tab: finished generations as pictures, a page at a time; details, full size, again (see `jobs`),
delete (confirmed)."""

from dataclasses import dataclass

import gradio as gr

from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.pictures import PICTURE_SIZE, output_picture, pose_names
from avatargen.ui.stats import Stats
from avatargen.ui.stats import outputs as stats_outputs
from avatargen.ui.stats import show as show_stats
from avatargen.ui.text import SIGN_IN, details, history_caption
from avatargen.web.api import Api

PAGE_SIZE = 12


@dataclass
class History:
    previous: gr.Button
    label: gr.Markdown
    following: gr.Button
    gallery: gr.Gallery
    ids: gr.State  # the generations on the page shown, in order
    page: gr.State
    selected: gr.State  # the generation whose details show, or None
    selected_box: gr.Row
    selected_image: gr.Image
    selected_info: gr.Markdown
    again_same: gr.Button
    again_new: gr.Button
    delete: gr.Button
    confirm: gr.Row
    confirm_delete: gr.Button
    cancel_delete: gr.Button


def build() -> History:
    """Its tab; call inside `gr.Tabs()`. Its states are left for `page.place_states` (not inside the tab)."""
    with gr.Tab("History", id="history-tab"):
        with gr.Row():
            previous = gr.Button("← Newer", size="sm")
            label = gr.Markdown(elem_id="history-page")
            following = gr.Button("Older →", size="sm")
        with gr.Row(visible=False, elem_id="selected") as selected_box:
            selected_image = gr.Image(
                label="Full size",
                type="pil",
                interactive=False,
                height=520,
                buttons=["download", "fullscreen"],
                elem_id="selected-image",
            )
            with gr.Column():
                selected_info = gr.Markdown(elem_id="selected-info")
                with gr.Row():
                    again_same = gr.Button("Again, same seed", size="sm", elem_id="again-same")
                    again_new = gr.Button("Again, new seed", size="sm", elem_id="again-new")
                    delete = gr.Button("Delete…", size="sm", variant="stop", elem_id="delete")
                with gr.Row(visible=False, elem_id="confirm") as confirm:
                    gr.Markdown("Delete this generation and its image? This cannot be undone.")
                    confirm_delete = gr.Button("Yes, delete", variant="stop", size="sm", elem_id="confirm-delete")
                    cancel_delete = gr.Button("Cancel", size="sm", elem_id="cancel-delete")
        gallery = gr.Gallery(
            label="Finished generations — click one for details",
            buttons=[],
            columns=6,
            height="auto",
            allow_preview=False,
            object_fit="contain",
            format="jpeg",
            elem_id="history",
            elem_classes="captioned",
        )
    return History(
        previous=previous,
        label=label,
        following=following,
        gallery=gallery,
        ids=gr.State([], render=False),
        page=gr.State(0, render=False),
        selected=gr.State(None, render=False),
        selected_box=selected_box,
        selected_image=selected_image,
        selected_info=selected_info,
        again_same=again_same,
        again_new=again_new,
        delete=delete,
        confirm=confirm,
        confirm_delete=confirm_delete,
        cancel_delete=cancel_delete,
    )


def outputs(history: History) -> list:
    return [
        history.gallery,
        history.ids,
        history.page,
        history.label,
        history.selected,
        history.selected_box,
        history.confirm,
    ]


def finished_outputs(history: History, stats: Stats, header: Header) -> list:
    """What `after_change` changes."""
    return [*outputs(history), *stats_outputs(stats, header)]


def after_change(
    history: History, stats: Stats, header: Header, api: Api, page: int, request: gr.Request, *, keep=None
) -> dict:
    """What a finished or deleted generation changes: the history, the stats, the balance. The item `keep` stays
    open (with its pending delete) when it is still there."""
    return show_page(history, api, page, request, keep=keep) | show_stats(stats, header, api, request)


def show_page(history: History, api: Api, page: int, request: gr.Request, *, keep: str | None = None) -> dict:
    """A page of the history; the open item closes unless it is `keep` and still on the page."""
    if api.visitor(request) is None:
        return {history.label: f"{SIGN_IN} to see your generations."}
    records, total = api.page.history(limit=PAGE_SIZE, offset=max(page, 0) * PAGE_SIZE, request=request)
    if not records and total:  # past the end (deleted meanwhile): the last page
        page = (total - 1) // PAGE_SIZE
        records, total = api.page.history(limit=PAGE_SIZE, offset=page * PAGE_SIZE, request=request)
    names = pose_names(api, [r["poseTemplateId"] for r in records], request)
    poses = {t.id: t for t in api.page.poses_of(list(names), request)}
    tiles = []
    for record in records:
        if record["status"] == "completed":
            picture = output_picture(api, record["id"], request)
        elif record["poseTemplateId"] in poses:
            picture = api.page.pose_picture(poses[record["poseTemplateId"]], PICTURE_SIZE)
        else:
            continue
        tiles.append((picture, history_caption(record, names[record["poseTemplateId"]])))
    pages = max(1, -(-total // PAGE_SIZE))
    label = f"Page {page + 1} of {pages} · {total} finished" if total else "Nothing finished yet."
    ids = [r["id"] for r in records]
    shown = {
        history.gallery: gr.Gallery(value=tiles, selected_index=None),
        history.ids: ids,
        history.page: max(page, 0),
        history.label: label,
    }
    if keep is not None and keep in ids:
        return shown
    return shown | {
        history.selected: None,
        history.selected_box: gr.Row(visible=False),
        history.confirm: gr.Row(visible=False),
    }


def first_history(history: History, stats: Stats, header: Header, api: Api, request: gr.Request) -> dict:
    return after_change(history, stats, header, api, 0, request)


def newer(history: History, api: Api, page: int, request: gr.Request) -> dict:
    return show_page(history, api, page - 1, request)


def older(history: History, api: Api, page: int, request: gr.Request) -> dict:
    return show_page(history, api, page + 1, request)


def select(history: History, api: Api, ids: list[str], event: gr.SelectData, request: gr.Request) -> dict:
    record = api.generation(ids[event.index], request=request)["data"]
    name = pose_names(api, [record["poseTemplateId"]], request)[record["poseTemplateId"]]
    image = output_picture(api, record["id"], request) if record["status"] == "completed" else None
    return {
        history.selected: record["id"],
        history.selected_box: gr.Row(visible=True),
        history.selected_image: gr.Image(value=image, visible=image is not None),
        history.selected_info: details(record, name),
        history.confirm: gr.Row(visible=False),
    }


def ask_delete(history: History) -> dict:
    return {history.confirm: gr.Row(visible=True)}


def cancel_delete(history: History) -> dict:
    return {history.confirm: gr.Row(visible=False)}


def delete(
    history: History, stats: Stats, header: Header, api: Api, generation_id: str | None, page: int, request: gr.Request
) -> dict:
    if generation_id:
        gr.Info(api.delete_generation(generation_id, request=request)["message"], duration=4)
    return after_change(history, stats, header, api, page, request)


def wire(history: History, stats: Stats, header: Header, api: Api) -> None:
    listen(history.previous.click, newer, (history, api), [history.page], outputs(history))
    listen(history.following.click, older, (history, api), [history.page], outputs(history))
    shown = [history.selected, history.selected_box, history.selected_image, history.selected_info, history.confirm]
    listen(history.gallery.select, select, (history, api), [history.ids], shown)
    listen(history.delete.click, ask_delete, (history,), [], [history.confirm])
    listen(history.cancel_delete.click, cancel_delete, (history,), [], [history.confirm])
    bound = (history, stats, header, api)
    confirmed = [history.selected, history.page]
    listen(history.confirm_delete.click, delete, bound, confirmed, finished_outputs(history, stats, header))
