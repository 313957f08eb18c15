"""The Poses tab: filters and search, the library a page at a time, the person's own poses, saving a new one; and
picking poses, wherever a pose is clicked (gallery, examples, tray, the view switcher)."""

from dataclasses import dataclass

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui.create import Create, let_go, picks_outputs, pose_tiles, show_picks
from avatargen.ui.events import listen, then
from avatargen.ui.header import Header
from avatargen.web.api import MAX_BATCH, MAX_NAME, MAX_SEARCH, Api, search_words

ANY = "Any"
FACET_LABELS = {"category": "Category", "gender": "Body", "view": "View", "framing": "Framing"}
PAGE_SIZE = 24


@dataclass
class PoseGallery:
    facets: list[gr.Dropdown]  # in the order of FACET_LABELS
    search: gr.Textbox
    grouped: gr.Checkbox  # one tile per base pose
    clear_filters: gr.Button
    no_match: gr.Column
    no_match_clear: gr.Button
    previous: gr.Button
    page_label: gr.Markdown
    following: gr.Button
    my_poses: gr.Gallery
    my_pose_ids: gr.State
    poses: gr.Gallery
    page_ids: gr.State
    page: gr.State
    pose_name: gr.Textbox
    reference: gr.UploadButton


def build(facets: dict[str, list[str]]) -> PoseGallery:
    """Its tab; call inside `gr.Tabs()`. Its states are left for `page.place_states` (not inside the tab)."""
    with gr.Tab("Poses", id="poses-tab"):
        with gr.Row():
            facet_inputs = [
                gr.Dropdown([ANY, *facets.get(facet, [])], value=ANY, label=label, min_width=130)
                for facet, label in FACET_LABELS.items()
            ]
            search = gr.Textbox(
                label="Search",
                placeholder="arms crossed, sitting, jump…",
                max_length=MAX_SEARCH,
                min_width=200,
                elem_id="search",
            )
            grouped = gr.Checkbox(label="One tile per pose", min_width=130, elem_id="grouped")
        with gr.Column(visible=False, elem_id="no-match") as no_match:
            gr.Markdown("**No pose matches these filters.** Try other words, or clear the filters.")
            no_match_clear = gr.Button("Clear filters", variant="primary", size="sm", elem_id="no-match-clear")
        with gr.Row():
            clear_filters = gr.Button("Clear filters", size="sm", elem_id="clear-filters")
            previous = gr.Button("← Previous", size="sm", elem_id="previous")
            page_label = gr.Markdown(elem_id="pose-page")
            following = gr.Button("Next →", size="sm", elem_id="next")
        tiles = {"height": "auto", "allow_preview": False, "object_fit": "contain", "elem_classes": "captioned"}
        my_poses = gr.Gallery(
            label="Your own poses (only you can see them)", columns=8, visible=False, elem_id="my-poses", **tiles
        )
        poses = gr.Gallery(
            label=f"Pose library — click to pick or unpick (up to {MAX_BATCH})", columns=8, elem_id="poses", **tiles
        )
        with gr.Accordion("Use a pose from your own reference photo", open=False):
            with gr.Row():
                pose_name = gr.Textbox(label="Name (optional)", max_length=MAX_NAME, elem_id="pose-name")
                reference = gr.UploadButton(
                    "Upload a reference photo and save its pose", type="filepath", elem_id="reference"
                )
            gr.Markdown("Only you can see and use the poses you save.")
    return PoseGallery(
        facets=facet_inputs,
        search=search,
        grouped=grouped,
        clear_filters=clear_filters,
        no_match=no_match,
        no_match_clear=no_match_clear,
        previous=previous,
        page_label=page_label,
        following=following,
        my_poses=my_poses,
        my_pose_ids=gr.State([], render=False),
        poses=poses,
        page_ids=gr.State([], render=False),
        page=gr.State(0, render=False),
        pose_name=pose_name,
        reference=reference,
    )


def outputs(gallery: PoseGallery) -> list:
    return [
        gallery.poses,
        gallery.page_ids,
        gallery.page,
        gallery.page_label,
        gallery.no_match,
        gallery.my_poses,
        gallery.my_pose_ids,
    ]


def show_page(
    gallery: PoseGallery,
    api: Api,
    page: int,
    picks: list[str],
    search: str,
    values: list,
    request: gr.Request,
    group=False,
) -> dict:
    query = {f: v for f, v in zip(FACET_LABELS, values, strict=True) if v and v != ANY}
    query |= {"search": search_words(search), "limit": PAGE_SIZE, "group": bool(group)}
    page = max(page, 0)
    templates, total = api.page.library_poses(offset=page * PAGE_SIZE, **query)
    if not templates and total:  # past the last page (the filters changed meanwhile): the last one
        page = (total - 1) // PAGE_SIZE
        templates, total = api.page.library_poses(offset=page * PAGE_SIZE, **query)
    mine = api.page.my_poses(request)
    pages = max(1, -(-total // PAGE_SIZE))
    if not total:
        gr.Warning("No pose matches these filters. Clear them to see every pose again.")
    return {
        gallery.poses: pose_tiles(api, templates, picks, visible=total > 0),
        gallery.page_ids: [t.id for t in templates],
        gallery.page: page,
        gallery.page_label: f"Page {page + 1} of {pages} · {total} poses" if total else "No poses",
        gallery.no_match: gr.Column(visible=total == 0),
        gallery.my_poses: pose_tiles(api, mine, picks, visible=bool(mine)),
        gallery.my_pose_ids: [t.id for t in mine],
    }


def first_page(
    gallery: PoseGallery, api: Api, picks, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, 0, picks, search, [category, gender, view, framing], request, grouped)


def previous_page(
    gallery: PoseGallery, api: Api, page, picks, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, page - 1, picks, search, [category, gender, view, framing], request, grouped)


def next_page(
    gallery: PoseGallery, api: Api, page, picks, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, page + 1, picks, search, [category, gender, view, framing], request, grouped)


def first_load(gallery: PoseGallery, api: Api, picks, request: gr.Request) -> dict:
    return show_page(gallery, api, 0, picks, "", [ANY] * len(FACET_LABELS), request)


def clear_filters(gallery: PoseGallery, api: Api, picks, request: gr.Request) -> dict:
    cleared = {facet: ANY for facet in gallery.facets} | {gallery.search: "", gallery.grouped: False}
    return cleared | show_page(gallery, api, 0, picks, "", [ANY] * len(gallery.facets), request)


def show_picked(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    picks: list[str],
    page_ids: list[str],
    my_ids: list[str],
    quality: str,
    priority: bool,
    candidates: int,
    request: gr.Request,
) -> dict:
    """The picks everywhere they show: the create view, and the marks on the library's and the person's tiles."""
    return show_picks(create, header, api, picks, quality, priority, candidates, request) | {
        gallery.poses: pose_tiles(api, api.page.poses_of(page_ids, request), picks),
        gallery.my_poses: pose_tiles(api, api.page.poses_of(my_ids, request), picks),
    }


def toggle(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    pose_id: str,
    picks,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    request,
) -> dict:
    if pose_id in picks:
        picks = [p for p in picks if p != pose_id]
    elif len(picks) >= MAX_BATCH:
        raise UserError(f"You can pick at most {MAX_BATCH} poses at once. Click a picked pose to unpick it.")
    else:
        picks = [*picks, pose_id]
    return show_picked(create, header, gallery, api, picks, page_ids, my_ids, quality, priority, candidates, request)


def switch_variant(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    chosen: str,
    picks,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    request: gr.Request,
) -> dict:
    """Swap the last picked pose for another view or framing of it."""
    if not picks or not chosen or chosen == picks[-1]:
        return {create.picks: picks}
    picks = [p for p in picks[:-1] if p != chosen] + [chosen]
    return show_picked(create, header, gallery, api, picks, page_ids, my_ids, quality, priority, candidates, request)


def pick_from_library(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    picks,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    event: gr.SelectData,
    request: gr.Request,
) -> dict:
    pose_id = page_ids[event.index]
    return toggle(
        create, header, gallery, api, pose_id, picks, page_ids, my_ids, quality, priority, candidates, request
    )


def pick_from_mine(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    picks,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    event: gr.SelectData,
    request: gr.Request,
) -> dict:
    pose_id = my_ids[event.index]
    return toggle(
        create, header, gallery, api, pose_id, picks, page_ids, my_ids, quality, priority, candidates, request
    )


def pick_example(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    picks,
    page_ids,
    my_ids,
    example_ids,
    quality,
    priority,
    candidates,
    event: gr.SelectData,
    request: gr.Request,
) -> dict:
    pose_id = example_ids[event.index]
    return toggle(
        create, header, gallery, api, pose_id, picks, page_ids, my_ids, quality, priority, candidates, request
    )


def unpick(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    picks,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    event: gr.SelectData,
    request: gr.Request,
) -> dict:
    pose_id = picks[event.index]
    return toggle(
        create, header, gallery, api, pose_id, picks, page_ids, my_ids, quality, priority, candidates, request
    )


def clear(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    page_ids,
    my_ids,
    quality,
    priority,
    candidates,
    request: gr.Request,
) -> dict:
    return show_picked(create, header, gallery, api, [], page_ids, my_ids, quality, priority, candidates, request)


def save_pose(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    reference: str | None,
    name: str,
    picks,
    quality,
    priority,
    candidates,
    request: gr.Request,
) -> dict:
    """Extract the pose of the person in a reference photo, keep it as theirs, and pick it."""
    try:
        template = api.extract_pose(reference, name, request=request)["data"]
    finally:
        let_go(api, reference)
    gr.Info(f"Saved “{template['name']}” to your poses and picked it.", duration=4)
    picks = [p for p in picks if p != template["id"]][-(MAX_BATCH - 1) :] + [template["id"]]
    mine = api.page.my_poses(request)
    return show_picks(create, header, api, picks, quality, priority, candidates, request) | {
        gallery.my_poses: pose_tiles(api, mine, picks, visible=True),
        gallery.my_pose_ids: [t.id for t in mine],
        gallery.pose_name: "",
    }


def refresh_library(gallery: PoseGallery, api: Api, page_ids, picks, request: gr.Request) -> dict:
    return {gallery.poses: pose_tiles(api, api.page.poses_of(page_ids, request), picks)}


def wire(gallery: PoseGallery, create: Create, header: Header, api: Api) -> None:
    filters = [create.picks, gallery.search, gallery.grouped, *gallery.facets]
    changed = [gallery.search.submit, gallery.grouped.input, *(f.input for f in gallery.facets)]
    listen(changed, first_page, (gallery, api), filters, outputs(gallery))
    listen(gallery.previous.click, previous_page, (gallery, api), [gallery.page, *filters], outputs(gallery))
    listen(gallery.following.click, next_page, (gallery, api), [gallery.page, *filters], outputs(gallery))
    cleared = [*gallery.facets, gallery.search, gallery.grouped, *outputs(gallery)]
    clicked = [gallery.clear_filters.click, gallery.no_match_clear.click]
    listen(clicked, clear_filters, (gallery, api), [create.picks], cleared)
    _wire_picking(gallery, create, header, api)
    saved = listen(
        gallery.reference.upload,
        save_pose,
        (create, header, gallery, api),
        [gallery.reference, gallery.pose_name, create.picks, create.quality, create.priority, create.candidates],
        [*picks_outputs(create, header), gallery.my_poses, gallery.my_pose_ids, gallery.pose_name],
    )
    then(saved, refresh_library, (gallery, api), [gallery.page_ids, create.picks], [gallery.poses], success=True)


def _wire_picking(gallery: PoseGallery, create: Create, header: Header, api: Api) -> None:
    bound = (create, header, gallery, api)
    choose = [create.picks, gallery.page_ids, gallery.my_pose_ids, create.quality, create.priority, create.candidates]
    shown = [*picks_outputs(create, header), gallery.poses, gallery.my_poses]
    listen(create.variant.input, switch_variant, bound, [create.variant, *choose], shown)
    listen(gallery.poses.select, pick_from_library, bound, choose, shown)
    listen(gallery.my_poses.select, pick_from_mine, bound, choose, shown)
    listen(create.tray.select, unpick, bound, choose, shown)
    listen(create.examples.select, pick_example, bound, [*choose[:3], create.example_ids, *choose[3:]], shown)
    listen(create.clear_picks.click, clear, bound, choose[1:], shown)
