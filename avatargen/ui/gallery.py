"""The pose browser: filters and search, the library a page at a time, the person's own poses, saving a new one."""

import gradio as gr

from avatargen.ui.create import let_go, pose_tiles, show_picks
from avatargen.ui.events import listen, then
from avatargen.ui.layout import ANY, FACET_LABELS, Page
from avatargen.ui.pictures import templates_of
from avatargen.web.api import Api, search_words

PAGE_SIZE = 24


def outputs(ui: Page) -> list:
    return [ui.gallery, ui.page_ids, ui.page, ui.page_label, ui.no_match, ui.my_poses, ui.my_pose_ids]


def show_page(
    ui: Page, api: Api, page: int, picks: list[str], search: str, values: list, request: gr.Request, group=False
) -> dict:
    query = {f: v for f, v in zip(FACET_LABELS, values, strict=True) if v and v != ANY}
    query |= {"search": search_words(search), "limit": PAGE_SIZE, "group": bool(group)}
    page = max(page, 0)
    templates, total = api.services.poses.library.query(offset=page * PAGE_SIZE, **query)
    if not templates and total:  # past the last page (the filters changed meanwhile): the last one
        page = (total - 1) // PAGE_SIZE
        templates, total = api.services.poses.library.query(offset=page * PAGE_SIZE, **query)
    mine = api.my_poses(request)
    pages = max(1, -(-total // PAGE_SIZE))
    if not total:
        gr.Warning("No pose matches these filters. Clear them to see every pose again.")
    return {
        ui.gallery: pose_tiles(api, templates, picks, visible=total > 0),
        ui.page_ids: [t.id for t in templates],
        ui.page: page,
        ui.page_label: f"Page {page + 1} of {pages} · {total} poses" if total else "No poses",
        ui.no_match: gr.Column(visible=total == 0),
        ui.my_poses: pose_tiles(api, mine, picks, visible=bool(mine)),
        ui.my_pose_ids: [t.id for t in mine],
    }


def first_page(ui: Page, api: Api, picks, search, grouped, category, gender, view, framing, request: gr.Request):
    return show_page(ui, api, 0, picks, search, [category, gender, view, framing], request, grouped)


def previous_page(ui: Page, api: Api, page, picks, search, grouped, category, gender, view, framing, request):
    return show_page(ui, api, page - 1, picks, search, [category, gender, view, framing], request, grouped)


def next_page(ui: Page, api: Api, page, picks, search, grouped, category, gender, view, framing, request):
    return show_page(ui, api, page + 1, picks, search, [category, gender, view, framing], request, grouped)


def clear_filters(ui: Page, api: Api, picks, request: gr.Request) -> dict:
    cleared = {facet: ANY for facet in ui.facets} | {ui.search: "", ui.grouped: False}
    return cleared | show_page(ui, api, 0, picks, "", [ANY] * len(ui.facets), request)


def save_pose(ui: Page, api: Api, reference: str | None, name: str, picks, quality, priority, request: gr.Request):
    """Extract the pose of the person in a reference photo, keep it as theirs, and pick it."""
    try:
        template = api.extract_pose(reference, name, request=request)["data"]
    finally:
        let_go(api, reference)
    gr.Info(f"Saved “{template['name']}” to your poses and picked it.", duration=4)
    picks = [p for p in picks if p != template["id"]][-7:] + [template["id"]]
    mine = api.my_poses(request)
    return show_picks(ui, api, picks, quality, priority, request) | {
        ui.my_poses: pose_tiles(api, mine, picks, visible=True),
        ui.my_pose_ids: [t.id for t in mine],
        ui.pose_name: "",
    }


def refresh_library(ui: Page, api: Api, page_ids, picks, request: gr.Request) -> dict:
    return {ui.gallery: pose_tiles(api, templates_of(api, page_ids, request), picks)}


def wire(ui: Page, api: Api) -> None:
    filters = [ui.picks, ui.search, ui.grouped, *ui.facets]
    changed = [ui.search.submit, ui.grouped.input, *(f.input for f in ui.facets)]
    listen(changed, first_page, ui, api, filters, outputs(ui))
    listen(ui.previous.click, previous_page, ui, api, [ui.page, *filters], outputs(ui))
    listen(ui.following.click, next_page, ui, api, [ui.page, *filters], outputs(ui))
    cleared = [*ui.facets, ui.search, ui.grouped, *outputs(ui)]
    listen([ui.clear_filters.click, ui.no_match_clear.click], clear_filters, ui, api, [ui.picks], cleared)
    picked = [ui.picks, ui.pose_preview, ui.pose_info, ui.variant, ui.tray, ui.clear_picks, ui.examples]
    picked = [*picked, ui.cost, ui.balance]
    saved = listen(
        ui.reference.upload,
        save_pose,
        ui,
        api,
        [ui.reference, ui.pose_name, ui.picks, ui.quality, ui.priority],
        [*picked, ui.my_poses, ui.my_pose_ids, ui.pose_name],
    )
    then(saved, refresh_library, ui, api, [ui.page_ids, ui.picks], [ui.gallery], success=True)


def first_load(ui: Page, api: Api, picks, request: gr.Request) -> dict:
    return show_page(ui, api, 0, picks, "", [ANY] * len(FACET_LABELS), request)
