"""Where everything sits on the page: the components, built once inside `gr.Blocks`, and nothing else."""

from dataclasses import dataclass

import gradio as gr

from avatargen.presets import QUALITIES, STYLES
from avatargen.web.api import MAX_SEARCH

ANY = "Any"
FACET_LABELS = {"category": "Category", "gender": "Body", "view": "View", "framing": "Framing"}
MAX_PICKS = 8
COUNT_AXIS = {"y_lim": [0, None], "height": 240}  # counts start from zero

CSS = """
#header { align-items: center; }
#header h1 { margin: 0; font-size: 1.5rem; }
#balance { text-align: right; }
.captioned .caption-label {
  position: static; max-width: 100%; white-space: normal; opacity: 1; border: none; border-radius: 0;
  font-size: 0.8rem; line-height: 1.2; padding: 2px 4px;
}
.captioned .thumbnail-item { aspect-ratio: auto; display: flex; flex-direction: column; }
.captioned .thumbnail-item img { aspect-ratio: 2 / 3; height: auto; object-fit: contain; }
.captioned .grid-wrap { padding-top: 34px; }  /* below the gallery's label, which floats over the top */
#tray .caption-label { display: none; }
#tray .grid-container { grid-template-columns: repeat(8, minmax(0, 1fr)) !important; grid-auto-rows: auto; }
#examples .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
#history .grid-container { grid-template-columns: repeat(6, minmax(0, 1fr)) !important; }
#results .thumbnail-item img { max-height: 340px; }
#no-match { border: 2px dashed var(--color-accent); border-radius: 8px; padding: 12px; }
table.jobs { width: 100%; border-collapse: collapse; }
table.jobs td { padding: 4px 8px; vertical-align: middle; border-bottom: 1px solid var(--border-color-primary); }
table.jobs progress { width: 100%; }
#confirm { border: 2px solid #ef4444; border-radius: 8px; padding: 8px; }
@media (max-width: 640px) {
  #header h1 { font-size: 1.1rem; }
  #generate-bar {
    position: fixed; left: 0; right: 0; bottom: 0; z-index: 50; padding: 8px 12px;
    background: var(--background-fill-primary); box-shadow: 0 -2px 10px rgba(0, 0, 0, 0.2);
  }
  .gradio-container { padding-bottom: 170px !important; }
  #photo-preview { height: 200px !important; }
  #pose-preview { height: 240px !important; }
  #results { height: 320px !important; }
  #poses .grid-container, #my-poses .grid-container, #history .grid-container {
    grid-template-columns: repeat(3, minmax(0, 1fr)) !important;
  }
}
"""


@dataclass
class Page:
    """Every component the handlers read or change, by name."""

    banner: gr.Markdown
    balance: gr.Markdown
    # create view: photo · pose · result
    photo: gr.State  # server-side path of the checked photo
    photo_from: gr.State  # the generation whose stored photo this is (restored after a reload), or None
    upload: gr.UploadButton
    sample: gr.Button
    more_upload: gr.UploadButton  # up to 3 more photos of the person, averaged into one identity
    more_photos: gr.State  # their server-side paths
    more_info: gr.Markdown
    photo_preview: gr.Image
    quality: gr.Radio
    style: gr.Dropdown
    priority: gr.Checkbox
    seed: gr.Number
    mirror: gr.Checkbox
    picks: gr.State  # picked pose ids, in order
    pose_preview: gr.Image
    pose_info: gr.Markdown
    variant: gr.Dropdown  # the last picked pose's other views and framings
    tray: gr.Gallery
    clear_picks: gr.Button
    examples: gr.Gallery
    example_ids: gr.State
    cost: gr.Markdown
    generate: gr.Button
    status: gr.Markdown
    results: gr.Gallery
    batch: gr.State  # ids of the generations started last
    tracked: gr.State  # what the last poll showed: {generation id: status}, to redraw only on change
    saved: gr.BrowserState  # picks, batch and photo_from, to rebuild the page after a reload
    # pose browser
    facets: list[gr.Dropdown]
    search: gr.Textbox
    grouped: gr.Checkbox  # one tile per base pose
    clear_filters: gr.Button
    no_match: gr.Column
    no_match_clear: gr.Button
    my_poses: gr.Gallery
    my_pose_ids: gr.State
    gallery: gr.Gallery
    page_ids: gr.State
    page: gr.State
    page_label: gr.Markdown
    previous: gr.Button
    following: gr.Button
    reference: gr.UploadButton
    pose_name: gr.Textbox
    # jobs
    jobs: gr.HTML
    timer: gr.Timer
    # history
    history: gr.Gallery
    history_ids: gr.State
    history_page: gr.State
    history_label: gr.Markdown
    history_previous: gr.Button
    history_next: gr.Button
    selected: gr.State
    selected_box: gr.Column
    selected_image: gr.Image
    selected_info: gr.Markdown
    again_same: gr.Button
    again_new: gr.Button
    delete: gr.Button
    confirm: gr.Row
    confirm_delete: gr.Button
    cancel_delete: gr.Button
    # stats
    stats_tab: gr.Tab
    stats: gr.Markdown
    per_day: gr.LinePlot
    credits_per_day: gr.LinePlot
    by_style: gr.BarPlot
    by_quality: gr.BarPlot
    ledger: gr.Dataframe


def build(facets: dict[str, list[str]], *, sign_in: bool = False) -> Page:
    """Lay the page out. Call inside `with gr.Blocks()`. `sign_in` adds the Hugging Face sign-in button."""
    with gr.Row(elem_id="header"):
        gr.Markdown("# avatargen — you, in any pose", elem_id="title")
        balance = gr.Markdown(elem_id="balance")
        if sign_in:
            gr.LoginButton(elem_id="sign-in", scale=0)
    banner = gr.Markdown(visible=False, elem_id="engine-banner")
    with gr.Row(elem_id="create", equal_height=False):
        with gr.Column(scale=1, min_width=300, elem_id="photo-column"):
            photo_preview = gr.Image(
                label="Your photo",
                type="pil",
                interactive=False,
                height=250,
                elem_id="photo-preview",
                buttons=[],
            )
            with gr.Row():
                upload = gr.UploadButton("Upload a photo", type="filepath", size="sm", elem_id="upload")
                sample = gr.Button("Try a sample photo", size="sm", elem_id="sample")
            more_upload = gr.UploadButton(
                "Add more photos of you (up to 3)",
                type="filepath",
                file_count="multiple",
                size="sm",
                elem_id="more-photos",
            )
            more_info = gr.Markdown(elem_id="more-photos-info")
            with gr.Row():
                quality = gr.Radio(
                    [(f"{key.upper()} {q.width}×{q.height}", key) for key, q in QUALITIES.items()],
                    value="sd",
                    label="Quality",
                    min_width=150,
                )
                style = gr.Dropdown(
                    [(s.label, key) for key, s in STYLES.items()], value="realistic", label="Style", min_width=150
                )
            with gr.Row():
                priority = gr.Checkbox(label="Priority (+3 credits)", min_width=150)
                seed = gr.Number(-1, precision=0, minimum=-1, label="Seed (-1: random)", min_width=150)
            mirror = gr.Checkbox(label="Mirror the pose (left and right swapped)", elem_id="mirror")
        with gr.Column(scale=1, min_width=300, elem_id="pose-column"):
            pose_preview = gr.Image(
                label="Chosen pose", type="pil", interactive=False, height=330, elem_id="pose-preview", buttons=[]
            )
            pose_info = gr.Markdown(elem_id="chosen")
            variant = gr.Dropdown(label="The same pose from another view or framing", visible=False, elem_id="variant")
            tray = gr.Gallery(
                label="Picked poses — click one to remove it",
                columns=8,
                height=130,
                fit_columns=False,
                allow_preview=False,
                object_fit="contain",
                visible=False,
                elem_id="tray",
                elem_classes="captioned",
            )
            clear_picks = gr.Button("Clear picked poses", size="sm", visible=False, elem_id="clear-picks")
            examples = gr.Gallery(
                label="Try one of these poses",
                columns=4,
                height=200,
                fit_columns=False,
                allow_preview=False,
                object_fit="contain",
                elem_id="examples",
                elem_classes="captioned",
            )
        with gr.Column(scale=1, min_width=300, elem_id="result-column"):
            with gr.Column(elem_id="generate-bar"):
                cost = gr.Markdown(elem_id="cost")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                status = gr.Markdown(elem_id="status")
            results = gr.Gallery(
                label="Your avatars",
                columns=2,
                height=440,
                object_fit="contain",
                format="jpeg",
                elem_id="results",
                elem_classes="captioned",
            )
    with gr.Tabs():
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
            my_poses = gr.Gallery(
                label="Your own poses (only you can see them)",
                columns=8,
                height="auto",
                allow_preview=False,
                object_fit="contain",
                visible=False,
                elem_id="my-poses",
                elem_classes="captioned",
            )
            gallery = gr.Gallery(
                label="Pose library — click to pick or unpick (up to 8)",
                columns=8,
                height="auto",
                allow_preview=False,
                object_fit="contain",
                elem_id="poses",
                elem_classes="captioned",
            )
            with gr.Accordion("Use a pose from your own reference photo", open=False):
                with gr.Row():
                    pose_name = gr.Textbox(label="Name (optional)", max_length=60, elem_id="pose-name")
                    reference = gr.UploadButton(
                        "Upload a reference photo and save its pose", type="filepath", elem_id="reference"
                    )
                gr.Markdown("Only you can see and use the poses you save.")
        with gr.Tab("Jobs", id="jobs-tab"):
            jobs = gr.HTML(elem_id="jobs")
        with gr.Tab("History", id="history-tab"):
            with gr.Row():
                history_previous = gr.Button("← Newer", size="sm")
                history_label = gr.Markdown(elem_id="history-page")
                history_next = gr.Button("Older →", size="sm")
            history = gr.Gallery(
                label="Finished generations — click one for details",
                columns=6,
                height="auto",
                allow_preview=False,
                object_fit="contain",
                format="jpeg",
                elem_id="history",
                elem_classes="captioned",
            )
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
        with gr.Tab("Stats", id="stats-tab") as stats_tab:
            stats = gr.Markdown(elem_id="stats")
            with gr.Row():
                per_day = gr.LinePlot(
                    x="day", y="generations", title="Generations per day", elem_id="per-day", **COUNT_AXIS
                )
                credits_per_day = gr.LinePlot(
                    x="day", y="credits", title="Credits spent per day", elem_id="credits-per-day", **COUNT_AXIS
                )
            with gr.Row():
                by_style = gr.BarPlot(x="style", y="generations", title="By style", elem_id="by-style", **COUNT_AXIS)
                by_quality = gr.BarPlot(
                    x="quality", y="generations", title="By quality", elem_id="by-quality", **COUNT_AXIS
                )
            ledger = gr.Dataframe(
                headers=["When (UTC)", "What", "Change", "Balance after"],
                interactive=False,
                wrap=True,
                column_widths=["34%", "26%", "18%", "22%"],
                label="Credit ledger",
                elem_id="ledger",
            )
    return Page(
        banner=banner,
        balance=balance,
        photo=gr.State(None),
        photo_from=gr.State(None),
        upload=upload,
        sample=sample,
        more_upload=more_upload,
        more_photos=gr.State([]),
        more_info=more_info,
        photo_preview=photo_preview,
        quality=quality,
        style=style,
        priority=priority,
        seed=seed,
        mirror=mirror,
        picks=gr.State([]),
        pose_preview=pose_preview,
        pose_info=pose_info,
        variant=variant,
        tray=tray,
        clear_picks=clear_picks,
        examples=examples,
        example_ids=gr.State([]),
        cost=cost,
        generate=generate,
        status=status,
        results=results,
        batch=gr.State([]),
        tracked=gr.State({}),
        saved=gr.BrowserState({}, storage_key="avatargen-page"),
        facets=facet_inputs,
        search=search,
        grouped=grouped,
        clear_filters=clear_filters,
        no_match=no_match,
        no_match_clear=no_match_clear,
        my_poses=my_poses,
        my_pose_ids=gr.State([]),
        gallery=gallery,
        page_ids=gr.State([]),
        page=gr.State(0),
        page_label=page_label,
        previous=previous,
        following=following,
        reference=reference,
        pose_name=pose_name,
        jobs=jobs,
        timer=gr.Timer(1.5, active=False),
        history=history,
        history_ids=gr.State([]),
        history_page=gr.State(0),
        history_label=history_label,
        history_previous=history_previous,
        history_next=history_next,
        selected=gr.State(None),
        selected_box=selected_box,
        selected_image=selected_image,
        selected_info=selected_info,
        again_same=again_same,
        again_new=again_new,
        delete=delete,
        confirm=confirm,
        confirm_delete=confirm_delete,
        cancel_delete=cancel_delete,
        stats_tab=stats_tab,
        stats=stats,
        per_day=per_day,
        credits_per_day=credits_per_day,
        by_style=by_style,
        by_quality=by_quality,
        ledger=ledger,
    )
