"""The History tab: finished generations as pictures, a page at a time; details, full size, again (see `jobs`),
delete (confirmed)."""

import html
from dataclasses import dataclass

import gradio as gr

from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.pictures import PICTURE_SIZE, output_picture, pose_names
from avatargen.ui.stats import Stats
from avatargen.ui.stats import outputs as stats_outputs
from avatargen.ui.stats import show as show_stats
from avatargen.ui.text import SIGN_IN, details, history_caption, likeness_part
from avatargen.web.api import Api

PAGE_SIZE = 12
SHARE_FOR = {"Until I stop it": "never", "7 days": "7d", "1 day": "1d"}  # the link's life, as `/share` takes it


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
    selected_image: gr.HTML  # the owner-only image and its download link (web.files)
    selected_info: gr.Markdown
    alternatives: gr.Gallery  # a best-of-N generation's other candidates, while they are kept
    again_same: gr.Button
    again_new: gr.Button
    delete: gr.Button
    share_row: gr.Row  # a public link to the selected output: how long, share, stop, the link
    share_expiry: gr.Dropdown
    share: gr.Button
    unshare: gr.Button
    share_link: gr.Textbox
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
            selected_image = gr.HTML(elem_id="selected-image")
            with gr.Column():
                with gr.Row(visible=False, elem_id="share-row") as share_row:
                    share_expiry = gr.Dropdown(
                        list(SHARE_FOR), value="Until I stop it", label="Link lasts", elem_id="share-expiry", scale=1
                    )
                    share = gr.Button("Share", size="sm", variant="primary", elem_id="share", scale=0)
                    unshare = gr.Button("Stop sharing", size="sm", elem_id="unshare", visible=False, scale=0)
                share_link = gr.Textbox(
                    label="Anyone with this link can see the image (no sign-in)",
                    interactive=False,
                    visible=False,
                    buttons=["copy"],
                    elem_id="share-link",
                )
                selected_info = gr.Markdown(elem_id="selected-info")
                alternatives = gr.Gallery(
                    label="The other candidates (kept for a day)",
                    columns=3,
                    height="auto",
                    object_fit="contain",
                    format="jpeg",
                    visible=False,
                    elem_id="alternatives",
                )
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
        alternatives=alternatives,
        again_same=again_same,
        again_new=again_new,
        delete=delete,
        share_row=share_row,
        share_expiry=share_expiry,
        share=share,
        unshare=unshare,
        share_link=share_link,
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
    image = full_size(output_picture(api, record["id"], request), name) if record["status"] == "completed" else None
    others = [
        (output_picture(api, record["id"], request, n), likeness_part(other).removeprefix(" · ") or "no face")
        for n, other in enumerate(record["alternatives"], start=1)
    ]
    return {
        history.selected: record["id"],
        history.selected_box: gr.Row(visible=True),
        history.selected_image: gr.HTML(value=image, visible=image is not None),
        history.selected_info: details(record, name),
        history.alternatives: gr.Gallery(value=others, visible=bool(others), selected_index=None),
        history.confirm: gr.Row(visible=False),
    } | sharing(history, record)


def sharing(history: History, record: dict) -> dict:
    """The share controls for the selected generation: offered for a finished image, the link while shared."""
    link = record["shareUrl"]
    return {
        history.share_row: gr.Row(visible=record["status"] == "completed"),
        history.share: gr.Button(visible=link is None),
        history.unshare: gr.Button(visible=link is not None),
        history.share_link: gr.Textbox(value=link or "", visible=link is not None),
    }


def share_outputs(history: History) -> list:
    return [*outputs(history), history.share_row, history.share, history.unshare, history.share_link]


def share(history: History, api: Api, generation_id: str, lasts: str, page: int, request: gr.Request) -> dict:
    answer = api.sharing.share(generation_id, SHARE_FOR.get(lasts, "never"), request=request)
    gr.Info(answer["message"], duration=4)
    return shared_changed(history, api, answer["data"], page, request)


def unshare(history: History, api: Api, generation_id: str, page: int, request: gr.Request) -> dict:
    answer = api.sharing.unshare(generation_id, request=request)
    gr.Info(answer["message"], duration=4)
    return shared_changed(history, api, answer["data"], page, request)


def shared_changed(history: History, api: Api, record: dict, page: int, request: gr.Request) -> dict:
    """The page again (its captions mark shared items), the details left open."""
    kept = {history.selected: record["id"], history.selected_box: gr.Row(visible=True)}
    return show_page(history, api, page, request) | kept | sharing(history, record)


def full_size(url: str, name: str) -> str:
    """The picture at full size and a link that saves it under its own name (the route's Content-Disposition)."""
    link = html.escape(url, quote=True)
    return (
        f'<img src="{link}" alt="{html.escape(name, quote=True)}" style="max-height:520px;max-width:100%">'
        f'<p><a href="{link}?download=1" download>Download</a></p>'
    )


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
    shown += [history.share_row, history.share, history.unshare, history.share_link]
    shown.append(history.alternatives)
    listen(history.gallery.select, select, (history, api), [history.ids], shown)
    chosen = [history.selected, history.share_expiry, history.page]
    listen(history.share.click, share, (history, api), chosen, share_outputs(history))
    listen(history.unshare.click, unshare, (history, api), [history.selected, history.page], share_outputs(history))
    listen(history.delete.click, ask_delete, (history,), [], [history.confirm])
    listen(history.cancel_delete.click, cancel_delete, (history,), [], [history.confirm])
    bound = (history, stats, header, api)
    confirmed = [history.selected, history.page]
    listen(history.confirm_delete.click, delete, bound, confirmed, finished_outputs(history, stats, header))
