"""The create view: the photo, the picked poses, the price and Generate, with the last batch's results."""

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from avatargen.errors import UserError
from avatargen.poses.template import PoseTemplate
from avatargen.presets import QUALITIES, STYLES
from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.pictures import PICTURE_SIZE, PREVIEW_SIZE, TRAY_SIZE
from avatargen.ui.text import SIGN_IN, caption, facets_line, price_line
from avatargen.web.api import MAX_BATCH, Api

SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "assets" / "sample-photo.jpg"
EXAMPLE_SEARCHES = ("arms crossed", "hands on hips", "sitting", "jump")
MAX_MORE_PHOTOS = 3
POLL_SECONDS = 1.5


@dataclass
class Create:
    # the photo column: the photo and the options
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
    candidates: gr.Radio  # images made per pose, the most alike kept
    seed: gr.Number
    mirror: gr.Checkbox
    # the pose column: the picked poses
    picks: gr.State  # picked pose ids, in order
    pose_preview: gr.Image
    pose_info: gr.Markdown
    variant: gr.Dropdown  # the last picked pose's other views and framings
    tray: gr.Gallery
    clear_picks: gr.Button
    examples: gr.Gallery
    example_ids: gr.State
    # the result column: the price, Generate and the batch it follows (see `jobs`)
    cost: gr.Markdown
    generate: gr.Button
    status: gr.Markdown
    results: gr.Gallery
    batch: gr.State  # ids of the generations started last
    tracked: gr.State  # what the last poll showed: {generation id: status}, to redraw only on change
    timer: gr.Timer  # polls while jobs run (kept at the page's top level, so it ticks whichever tab shows)


def build() -> Create:
    """Call inside `with gr.Blocks()`, at its top level."""
    with gr.Row(elem_id="create", equal_height=False):
        photo_column = _photo_column()
        pose_column = _pose_column()
        result_column = _result_column()
    return Create(
        **photo_column,
        **pose_column,
        **result_column,
        photo=gr.State(None),
        photo_from=gr.State(None),
        more_photos=gr.State([]),
        picks=gr.State([]),
        example_ids=gr.State([]),
        batch=gr.State([]),
        tracked=gr.State({}),
        timer=gr.Timer(POLL_SECONDS, active=False),
    )


def _photo_column() -> dict:
    with gr.Column(scale=1, min_width=300, elem_id="photo-column"):
        parts = {
            "photo_preview": gr.Image(
                label="Your photo", type="pil", interactive=False, height=250, elem_id="photo-preview", buttons=[]
            )
        }
        with gr.Row():
            parts["upload"] = gr.UploadButton("Upload a photo", type="filepath", size="sm", elem_id="upload")
            parts["sample"] = gr.Button("Try a sample photo", size="sm", elem_id="sample")
        parts["more_upload"] = gr.UploadButton(
            f"Add more photos of you (up to {MAX_MORE_PHOTOS})",
            type="filepath",
            file_count="multiple",
            size="sm",
            elem_id="more-photos",
        )
        parts["more_info"] = gr.Markdown(elem_id="more-photos-info")
        with gr.Row():
            parts["quality"] = gr.Radio(
                [(f"{key.upper()} {q.width}×{q.height}", key) for key, q in QUALITIES.items()],
                value="sd",
                label="Quality",
                min_width=150,
            )
            parts["style"] = gr.Dropdown(
                [(s.label, key) for key, s in STYLES.items()], value="realistic", label="Style", min_width=150
            )
        with gr.Row():
            parts["priority"] = gr.Checkbox(label="Priority (+3 credits)", min_width=150)
            parts["seed"] = gr.Number(-1, precision=0, minimum=-1, label="Seed (-1: random)", min_width=150)
        parts["mirror"] = gr.Checkbox(label="Mirror the pose (left and right swapped)", elem_id="mirror")
        parts["candidates"] = gr.Radio(
            [("One image", 1), ("Best of 2 (+2 credits)", 2), ("Best of 4 (+6 credits)", 4)],
            value=1,
            label="Images per pose: the one most like you is kept",
            elem_id="candidates",
        )
    return parts


def _pose_column() -> dict:
    with gr.Column(scale=1, min_width=300, elem_id="pose-column"):
        pose_preview = gr.Image(
            label="Chosen pose", type="pil", interactive=False, height=330, elem_id="pose-preview", buttons=[]
        )
        pose_info = gr.Markdown(elem_id="chosen")
        variant = gr.Dropdown(label="The same pose from another view or framing", visible=False, elem_id="variant")
        tray = gr.Gallery(
            label="Picked poses — click one to remove it",
            columns=MAX_BATCH,
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
    return {
        "pose_preview": pose_preview,
        "pose_info": pose_info,
        "variant": variant,
        "tray": tray,
        "clear_picks": clear_picks,
        "examples": examples,
    }


def _result_column() -> dict:
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
    return {"cost": cost, "generate": generate, "status": status, "results": results}


def let_go(api: Api, path: str | None) -> None:
    """Gradio's cached copy of an upload goes (after the purge's delay, unless a call holds it again)."""
    api.uploads.hold(path)
    api.uploads.release(path)


def example_poses(api: Api) -> list[PoseTemplate]:
    """A few library poses a first-time visitor can try in one click."""
    found = [api.page.library_poses(search=words, limit=1)[0] for words in EXAMPLE_SEARCHES]
    return [templates[0] for templates in found if templates]


def pose_tiles(api: Api, templates: list[PoseTemplate], picks: list[str], **options) -> gr.Gallery:
    """Gallery tiles with the picked ones marked by pose id; no position-based highlight is left behind."""
    items = [(api.page.pose_picture(t, PICTURE_SIZE), caption(t, t.id in picks)) for t in templates]
    return gr.Gallery(value=items, selected_index=None, **options)


def picks_outputs(create: Create, header: Header) -> list:
    """What `show_picks` changes."""
    shown = [create.picks, create.pose_preview, create.pose_info, create.variant, create.tray, create.clear_picks]
    return [*shown, create.examples, create.cost, header.balance]


def show_picks(
    create: Create,
    header: Header,
    api: Api,
    picks: list[str],
    quality: str,
    priority: bool,
    candidates: int,
    request: gr.Request,
) -> dict:
    """Everything that shows the picked poses: the large preview of the last one, the tray, the price."""
    templates = api.page.poses_of(picks, request)
    last = templates[-1] if templates else None
    if last is None:
        info = f"**No pose picked yet.** Pick up to {MAX_BATCH} in the gallery below, or try one of these:"
    else:
        info = f"**{last.name}**  \n{facets_line(last)}"
        if len(templates) > 1:
            info += f"  \n{len(templates)} poses picked: one avatar each."
    tray = [(api.page.pose_picture(t, TRAY_SIZE), t.name) for t in templates]
    others = api.page.variants(last.base_pose) if last is not None and last.owner is None else []
    return {
        create.variant: gr.Dropdown(
            choices=[(t.name, t.id) for t in others], value=last.id if others else None, visible=len(others) > 1
        ),
        create.picks: [t.id for t in templates],
        create.pose_preview: api.page.pose_picture(last, PREVIEW_SIZE) if last else None,
        create.pose_info: info,
        create.tray: gr.Gallery(value=tray, visible=bool(templates), selected_index=None),
        create.clear_picks: gr.Button(visible=bool(templates)),
        create.examples: gr.Gallery(visible=not templates, selected_index=None),
    } | show_price(create, header, api, picks, quality, priority, candidates, request)


def show_price(
    create: Create,
    header: Header,
    api: Api,
    picks: list[str],
    quality: str,
    priority: bool,
    candidates: int,
    request: gr.Request,
) -> dict:
    each = api.price(quality, priority, candidates)["data"]["credits"]
    if api.visitor(request) is None:
        return {create.cost: f"**Cost:** {each} credits · {SIGN_IN} to get your free credits.", header.balance: ""}
    balance = api.credits(request)["data"]["balance"]
    return {
        create.cost: price_line(max(1, len(picks)), each, balance),
        header.balance: f"**Balance:** {balance} credits",
    }


def take_photo(create: Create, api: Api, path: str | None) -> dict:
    """Check an upload with the app's own photo check, and show what was read."""
    if not path:
        raise UserError("The upload did not arrive; please try again.")
    try:
        image = api.page.check_photo(path)
    except UserError:
        let_go(api, path)  # unreadable: nothing will use it
        raise
    image.thumbnail((640, 640))
    return {create.photo: path, create.photo_from: None, create.photo_preview: image}


def take_more(create: Create, api: Api, paths: list[str] | None) -> dict:
    """More photos of the person (up to 3), each checked like the first; their identities are averaged."""
    paths = list(paths or [])
    try:
        if len(paths) > MAX_MORE_PHOTOS:
            raise UserError(f"Add at most {MAX_MORE_PHOTOS} more photos: {MAX_MORE_PHOTOS + 1} photos of you in all.")
        for number, path in enumerate(paths, start=2):
            try:
                api.page.check_photo(path)
            except UserError as error:
                raise UserError(f"Photo {number}: {error}") from None
    except UserError:
        for path in paths:
            let_go(api, path)
        raise
    return {create.more_photos: paths, create.more_info: more_line(len(paths))}


def more_line(count: int) -> str:
    if not count:
        return ""
    return f"Plus {count} more photo{'s' if count > 1 else ''} of you: the likeness is taken from all of them."


def take_sample(create: Create, api: Api) -> dict:
    return take_photo(create, api, str(SAMPLE_PHOTO))


def refresh_price(
    create: Create, header: Header, api: Api, picks, quality, priority, candidates, request: gr.Request
) -> dict:
    return show_price(create, header, api, picks, quality, priority, candidates, request)


def wire(create: Create, header: Header, api: Api) -> None:
    listen(
        [create.quality.input, create.priority.input, create.candidates.input],
        refresh_price,
        (create, header, api),
        [create.picks, create.quality, create.priority, create.candidates],
        [create.cost, header.balance],
    )
    photo_out = [create.photo, create.photo_from, create.photo_preview]
    listen(create.upload.upload, take_photo, (create, api), [create.upload], photo_out)
    more_out = [create.more_photos, create.more_info]
    listen(create.more_upload.upload, take_more, (create, api), [create.more_upload], more_out)
    listen(create.sample.click, take_sample, (create, api), [], photo_out)
