"""History: finished generations as pictures, a page at a time; details, full size, again, delete (confirmed)."""

import gradio as gr

from avatargen.ui import stats
from avatargen.ui.events import listen
from avatargen.ui.layout import Page
from avatargen.ui.pictures import PICTURE_SIZE, output_picture, pose_names, templates_of
from avatargen.ui.text import SIGN_IN, details, history_caption
from avatargen.web.api import Api

PAGE_SIZE = 12


def outputs(ui: Page) -> list:
    return [ui.history, ui.history_ids, ui.history_page, ui.history_label, ui.selected, ui.selected_box, ui.confirm]


def finished_outputs(ui: Page) -> list:
    return [*outputs(ui), *stats.outputs(ui)]


def after_change(ui: Page, api: Api, page: int, request: gr.Request) -> dict:
    """What a finished or deleted generation changes: the history, the stats, the balance."""
    return show_page(ui, api, page, request) | stats.show(ui, api, request)


def show_page(ui: Page, api: Api, page: int, request: gr.Request) -> dict:
    if api.visitor(request) is None:
        return {ui.history_label: f"{SIGN_IN} to see your generations."}
    records, total = api.history(limit=PAGE_SIZE, offset=max(page, 0) * PAGE_SIZE, request=request)
    if not records and total:  # past the end (deleted meanwhile): the last page
        page = (total - 1) // PAGE_SIZE
        records, total = api.history(limit=PAGE_SIZE, offset=page * PAGE_SIZE, request=request)
    names = pose_names(api, [r["poseTemplateId"] for r in records], request)
    poses = {t.id: t for t in templates_of(api, list(names), request)}
    tiles = []
    for record in records:
        if record["status"] == "completed":
            picture = output_picture(api, record["id"], request)
        elif record["poseTemplateId"] in poses:
            picture = api.pose_picture(poses[record["poseTemplateId"]], PICTURE_SIZE)
        else:
            continue
        tiles.append((picture, history_caption(record, names[record["poseTemplateId"]])))
    pages = max(1, -(-total // PAGE_SIZE))
    label = f"Page {page + 1} of {pages} · {total} finished" if total else "Nothing finished yet."
    return {
        ui.history: gr.Gallery(value=tiles, selected_index=None),
        ui.history_ids: [r["id"] for r in records],
        ui.history_page: max(page, 0),
        ui.history_label: label,
        ui.selected: None,
        ui.selected_box: gr.Row(visible=False),
        ui.confirm: gr.Row(visible=False),
    }


def newer(ui: Page, api: Api, page: int, request: gr.Request) -> dict:
    return show_page(ui, api, page - 1, request)


def older(ui: Page, api: Api, page: int, request: gr.Request) -> dict:
    return show_page(ui, api, page + 1, request)


def select(ui: Page, api: Api, ids: list[str], event: gr.SelectData, request: gr.Request) -> dict:
    record = api.generation(ids[event.index], request=request)["data"]
    name = pose_names(api, [record["poseTemplateId"]], request)[record["poseTemplateId"]]
    image = output_picture(api, record["id"], request) if record["status"] == "completed" else None
    return {
        ui.selected: record["id"],
        ui.selected_box: gr.Row(visible=True),
        ui.selected_image: gr.Image(value=image, visible=image is not None),
        ui.selected_info: details(record, name),
        ui.confirm: gr.Row(visible=False),
    }


def ask_delete(ui: Page, api: Api) -> dict:
    return {ui.confirm: gr.Row(visible=True)}


def cancel_delete(ui: Page, api: Api) -> dict:
    return {ui.confirm: gr.Row(visible=False)}


def delete(ui: Page, api: Api, generation_id: str | None, page: int, request: gr.Request) -> dict:
    if generation_id:
        gr.Info(api.delete_generation(generation_id, request=request)["message"], duration=4)
    return after_change(ui, api, page, request)


def wire(ui: Page, api: Api) -> None:
    listen(ui.history_previous.click, newer, ui, api, [ui.history_page], outputs(ui))
    listen(ui.history_next.click, older, ui, api, [ui.history_page], outputs(ui))
    details_out = [ui.selected, ui.selected_box, ui.selected_image, ui.selected_info, ui.confirm]
    listen(ui.history.select, select, ui, api, [ui.history_ids], details_out)
    listen(ui.delete.click, ask_delete, ui, api, [], [ui.confirm])
    listen(ui.cancel_delete.click, cancel_delete, ui, api, [], [ui.confirm])
    listen(ui.confirm_delete.click, delete, ui, api, [ui.selected, ui.history_page], finished_outputs(ui))
