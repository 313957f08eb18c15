"""The poses, in the middle of the create view: search (as you type) and filters, the pose grid a page at a time
(the person's own poses first), the other views of the last pick, and saving a pose from a reference photo.

Picking happens in the browser (`picker`); the server hears the whole set of picks after each click.
"""

from dataclasses import dataclass

import gradio as gr

from avatargen.ui import picker
from avatargen.ui.create import Create, let_go, ready_outputs, show_ready
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
    grid: gr.HTML  # the chosen poses and a page of tiles (see `picker`)
    page: gr.State
    variant: gr.Dropdown  # the last picked pose's other views and framings
    pose_name: gr.Textbox
    reference: gr.UploadButton


def build(facets: dict[str, list[str]]) -> PoseGallery:
    """The create view's middle column. Its states are left for `page.place_states` (not inside the tab)."""
    with gr.Column(scale=5, min_width=320, elem_id="pose-column"):
        gr.Markdown("### 2 · Pick poses", elem_classes="step")
        with gr.Row(elem_id="search-row", equal_height=True):
            search = gr.Textbox(
                label="Search poses",
                placeholder="arms crossed, sitting, jump…",
                max_length=MAX_SEARCH,
                elem_id="search",
                scale=3,
                min_width=160,
            )
            grouped = gr.Checkbox(label="One tile per pose", elem_id="grouped", min_width=110)
        with gr.Row(elem_id="filters"):
            facet_inputs = [
                gr.Dropdown([ANY, *facets.get(facet, [])], value=ANY, label=label, min_width=80)
                for facet, label in FACET_LABELS.items()
            ]
        with gr.Row(elem_id="pager", equal_height=True):
            previous = gr.Button("← Previous", size="sm", interactive=False, elem_id="previous", min_width=80)
            page_label = gr.Markdown(elem_id="pose-page", min_width=150)
            following = gr.Button("Next →", size="sm", elem_id="next", min_width=80)
            clear_filters = gr.Button("Clear filters", size="sm", elem_id="clear-filters", min_width=80)
        with gr.Column(visible=False, elem_id="no-match") as no_match:
            gr.Markdown("**No pose matches these filters.** Try other words, or clear the filters.")
            no_match_clear = gr.Button("Clear filters", variant="primary", size="sm", elem_id="no-match-clear")
        grid = picker.build(elem_id="poses")
        variant = gr.Dropdown(label="The same pose from another view or framing", visible=False, elem_id="variant")
        with gr.Accordion("Use a pose from your own reference photo", open=False):
            with gr.Row():
                pose_name = gr.Textbox(label="Name (optional)", max_length=MAX_NAME, elem_id="pose-name")
                reference = gr.UploadButton(
                    "Upload a reference photo and save its pose", type="filepath", elem_id="reference"
                )
            gr.Markdown("Only you can see and use the poses you save; they come first in the grid.")
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
        grid=grid,
        page=gr.State(0, render=False),
        variant=variant,
        pose_name=pose_name,
        reference=reference,
    )


def outputs(gallery: PoseGallery) -> list:
    return [gallery.grid, gallery.page, gallery.page_label, gallery.no_match, gallery.previous, gallery.following]


def show_page(
    gallery: PoseGallery, api: Api, page: int, grid, search: str, values: list, request: gr.Request, group=False
) -> dict:
    """A page of poses in the grid; the picks stay the browser's."""
    query = {f: v for f, v in zip(FACET_LABELS, values, strict=True) if v and v != ANY}
    query |= {"search": search_words(search), "limit": PAGE_SIZE, "group": bool(group)}
    page = max(page, 0)
    templates, total = api.page.library_poses(offset=page * PAGE_SIZE, **query)
    if not templates and total:  # past the last page (the filters changed meanwhile): the last one
        page = (total - 1) // PAGE_SIZE
        templates, total = api.page.library_poses(offset=page * PAGE_SIZE, **query)
    mine = api.page.my_poses(request) if page == 0 else []
    pages = max(1, -(-total // PAGE_SIZE))
    picked = grid.get("picked", []) if isinstance(grid, dict) else []
    return {
        gallery.grid: picker.grid_value([picker.tile(api, t) for t in [*mine, *templates]], picked),
        gallery.page: page,
        gallery.page_label: f"Page {page + 1} of {pages} · {total} poses" if total else "No poses",
        gallery.no_match: gr.Column(visible=total == 0),
        gallery.previous: gr.Button(interactive=page > 0),
        gallery.following: gr.Button(interactive=page + 1 < pages),
    }


def first_page(
    gallery: PoseGallery, api: Api, grid, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, 0, grid, search, [category, gender, view, framing], request, grouped)


def previous_page(
    gallery: PoseGallery, api: Api, page, grid, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, page - 1, grid, search, [category, gender, view, framing], request, grouped)


def next_page(
    gallery: PoseGallery, api: Api, page, grid, search, grouped, category, gender, view, framing, request: gr.Request
) -> dict:
    return show_page(gallery, api, page + 1, grid, search, [category, gender, view, framing], request, grouped)


def first_load(gallery: PoseGallery, api: Api, grid, request: gr.Request) -> dict:
    return show_page(gallery, api, 0, grid, "", [ANY] * len(FACET_LABELS), request)


def clear_filters(gallery: PoseGallery, api: Api, grid, request: gr.Request) -> dict:
    cleared = {facet: ANY for facet in gallery.facets} | {gallery.search: "", gallery.grouped: False}
    return cleared | show_page(gallery, api, 0, grid, "", [ANY] * len(gallery.facets), request)


def variant_choice(gallery: PoseGallery, api: Api, picks: list[str], request: gr.Request) -> gr.Dropdown:
    """The other views and framings of the last picked library pose, when it has any."""
    last = api.page.poses_of(picks[-1:], request)
    others = api.page.variants(last[0].base_pose) if last and last[0].owner is None else []
    return gr.Dropdown(
        choices=[(t.name, t.id) for t in others], value=last[0].id if others else None, visible=len(others) > 1
    )


def picked(
    create: Create,
    header: Header,
    gallery: PoseGallery,
    api: Api,
    grid,
    photo,
    face_ok,
    quality,
    priority,
    candidates,
    request: gr.Request,
) -> dict:
    """The browser's picks, heard after each click (the latest wins): kept as ids, priced, Generate re-checked."""
    picks = [t.id for t in api.page.poses_of(picker.picked_ids(grid), request)]
    return {
        create.picks: picks,
        gallery.variant: variant_choice(gallery, api, picks, request),
    } | show_ready(create, header, api, photo, face_ok, picks, quality, priority, candidates, request)


def set_picks(gallery: PoseGallery, api: Api, grid, picks: list[str], request: gr.Request) -> dict:
    """The grid with these picks in place of the browser's (a reload, another view of a pose, a saved pose)."""
    chosen = [picker.tile(api, t) for t in api.page.poses_of(picks, request)]
    tiles = grid.get("tiles", []) if isinstance(grid, dict) else []
    return {gallery.grid: picker.grid_value(tiles, chosen, reset=True)}


def switch_variant(gallery: PoseGallery, create: Create, api: Api, chosen: str, grid, request: gr.Request) -> dict:
    """Swap the last picked pose for another view or framing of it."""
    picks = picker.picked_ids(grid)
    if not picks or not chosen or chosen == picks[-1]:
        return {}
    picks = [p for p in picks[:-1] if p != chosen] + [chosen]
    return set_picks(gallery, api, grid, picks, request) | {create.picks: picks}


def save_pose(
    gallery: PoseGallery, create: Create, api: Api, reference: str | None, name: str, grid, request: gr.Request
) -> dict:
    """Extract the pose of the person in a reference photo, keep it as theirs, and pick it."""
    try:
        template = api.extract_pose(reference, name, request=request)["data"]
    finally:
        let_go(api, reference)
    gr.Info(f"Saved “{template['name']}” to your poses and picked it.", duration=4)
    picks = [p for p in picker.picked_ids(grid) if p != template["id"]][-(MAX_BATCH - 1) :] + [template["id"]]
    page = show_page(gallery, api, 0, grid, "", [ANY] * len(FACET_LABELS), request)
    return (
        page
        | set_picks(gallery, api, page[gallery.grid], picks, request)
        | {
            create.picks: picks,
            gallery.pose_name: "",
        }
    )


def wire(gallery: PoseGallery, create: Create, header: Header, api: Api) -> None:
    filters = [gallery.grid, gallery.search, gallery.grouped, *gallery.facets]
    # Search as you type: while one search runs, the keystrokes after it collapse into one (the latest wins).
    changed = [gallery.search.input, gallery.grouped.input, *(f.input for f in gallery.facets)]
    listen(changed, first_page, (gallery, api), filters, outputs(gallery), trigger_mode="always_last")
    listen(gallery.previous.click, previous_page, (gallery, api), [gallery.page, *filters], outputs(gallery))
    listen(gallery.following.click, next_page, (gallery, api), [gallery.page, *filters], outputs(gallery))
    cleared = [*gallery.facets, gallery.search, gallery.grouped, *outputs(gallery)]
    clicked = [gallery.clear_filters.click, gallery.no_match_clear.click]
    listen(clicked, clear_filters, (gallery, api), [gallery.grid], cleared)
    ready = [create.photo, create.face_ok, create.quality, create.priority, create.candidates]
    heard = [create.picks, gallery.variant, *ready_outputs(create, header)]
    bound = (create, header, gallery, api)
    listen(gallery.grid.input, picked, bound, [gallery.grid, *ready], heard, trigger_mode="always_last")
    variant_in = [gallery.variant, gallery.grid]
    swapped_out = [gallery.grid, create.picks]
    swapped = listen(gallery.variant.input, switch_variant, (gallery, create, api), variant_in, swapped_out)
    saved = listen(
        gallery.reference.upload,
        save_pose,
        (gallery, create, api),
        [gallery.reference, gallery.pose_name, gallery.grid],
        [*outputs(gallery), create.picks, gallery.pose_name],
    )
    for changed_picks in (swapped, saved):
        then(changed_picks, picked, bound, [gallery.grid, *ready], heard, success=True)
