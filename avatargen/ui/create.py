"""The create view: the photo (checked on upload) and the options, the pose grid between them (see `gallery`),
and the price, Generate (disabled, with its reason, until it can start) and the last batch's results.

Other panels add to the view in `build`: its columns are built in order, photo → poses → Generate, which is also
the order on a phone.
"""

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import gradio as gr

from avatargen.errors import UserError
from avatargen.presets import QUALITIES, STYLES
from avatargen.ui import results
from avatargen.ui.events import listen, then
from avatargen.ui.header import Header
from avatargen.ui.text import SIGN_IN, blocked, face_line, price_line
from avatargen.web.api import Api

SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "assets" / "sample-photo.jpg"
MAX_MORE_PHOTOS = 3
MIN_FACE_PIXELS = 80  # what generating asks (engine.identity.MIN_FACE_PIXELS), checked here on upload
POLL_SECONDS = 1.5
PRIORITY_HELP = (
    "Priority: +3 credits per avatar; your jobs go ahead of everyone's normal ones in the queue "
    "(they do not run faster once started)."
)
Column = TypeVar("Column")


@dataclass
class Create:
    # the photo column: the photo and its check
    photo: gr.State  # server-side path of the checked photo
    photo_from: gr.State  # the generation whose stored photo this is (restored after a reload), or None
    face_ok: gr.State  # whether the photo shows a face big enough
    upload: gr.UploadButton
    sample: gr.Button
    face: gr.Markdown  # what the check found, under the photo
    more_upload: gr.UploadButton  # up to 3 more photos of the person, averaged into one identity
    more_photos: gr.State  # their server-side paths
    more_info: gr.Markdown
    photo_preview: gr.Image
    # the result column: the options, the price, Generate and the batch it follows (see `jobs`)
    quality: gr.Radio
    style: gr.Dropdown
    priority: gr.Checkbox
    seed: gr.Number
    mirror: gr.Checkbox
    candidates: gr.Radio  # best of N: images made per pose, the most alike kept
    picks: gr.State  # picked pose ids, in order, as the pose grid last reported them
    cost: gr.Markdown
    generate: gr.Button
    reason: gr.HTML  # why Generate is disabled, next to it
    status: gr.HTML  # a live region
    results: gr.HTML  # a tile per generation: picture, progress, Cancel (see `results`)
    batch: gr.State  # ids of the generations started last
    tracked: gr.State  # what the last poll showed: {generation id: status}
    pictures: gr.State  # {generation id: private copy of its output}, made once per page
    timer: gr.Timer  # polls while jobs run (kept at the page's top level, so it ticks whichever tab shows)


def build(pose_column: Callable[[], Column]) -> tuple[Create, Column]:
    """Call inside the Create tab; `pose_column` builds the middle column (the pose grid) and is returned."""
    with gr.Row(elem_id="create", equal_height=False):
        photo_column = _photo_column()
        poses = pose_column()
        result_column = _result_column()
    panel = Create(
        **photo_column,
        **result_column,
        photo=gr.State(None),
        photo_from=gr.State(None),
        face_ok=gr.State(False),
        more_photos=gr.State([]),
        picks=gr.State([]),
        batch=gr.State([]),
        tracked=gr.State({}),
        pictures=gr.State({}),
        timer=gr.Timer(POLL_SECONDS, active=False),
    )
    return panel, poses


def _photo_column() -> dict:
    with gr.Column(scale=2, min_width=200, elem_id="photo-column"):
        gr.Markdown("### 1 · Your photo", elem_classes="step")
        parts = {
            "photo_preview": gr.Image(
                show_label=False, type="pil", interactive=False, height=200, elem_id="photo-preview", buttons=[]
            )
        }
        with gr.Row(elem_classes="buttons"):
            parts["upload"] = gr.UploadButton(
                "Upload a photo", type="filepath", size="sm", elem_id="upload", min_width=100
            )
            parts["sample"] = gr.Button("Try a sample photo", size="sm", elem_id="sample", min_width=100)
        parts["face"] = gr.Markdown(elem_id="photo-check")
    return parts


def _options() -> dict:
    """Quality and style, and the rest under Advanced (with Generate: on a phone, photo → poses → Generate)."""
    parts = {}
    parts["quality"] = gr.Radio(
        [(key.upper(), key) for key in QUALITIES],
        value="sd",
        label="Quality",
        info=" · ".join(f"{key.upper()} {q.width}×{q.height}" for key, q in QUALITIES.items()),
        elem_id="quality",
    )
    parts["style"] = gr.Dropdown([(s.label, key) for key, s in STYLES.items()], value="realistic", label="Style")
    with gr.Accordion("Advanced", open=False, elem_id="advanced"):
        parts["priority"] = gr.Checkbox(label="Priority (+3 credits)", elem_id="priority")
        gr.Markdown(PRIORITY_HELP, elem_classes="help")
        parts["seed"] = gr.Number(-1, precision=0, minimum=-1, label="Seed (-1: random)", elem_id="seed")
        parts["mirror"] = gr.Checkbox(label="Mirror the pose (left and right swapped)", elem_id="mirror")
        parts["candidates"] = gr.Radio(
            [("One image", 1), ("Best of 2 (+2 credits)", 2), ("Best of 4 (+6 credits)", 4)],
            value=1,
            label="Images per pose: the one most like you is kept",
            elem_id="candidates",
        )
        parts["more_upload"] = gr.UploadButton(
            f"Add more photos of you (up to {MAX_MORE_PHOTOS})",
            type="filepath",
            file_count="multiple",
            size="sm",
            elem_id="more-photos",
        )
        parts["more_info"] = gr.Markdown(elem_id="more-photos-info")
    return parts


def _result_column() -> dict:
    with gr.Column(scale=2, min_width=220, elem_id="result-column"):
        gr.Markdown("### 3 · Generate", elem_classes="step")
        options = _options()
        with gr.Column(elem_id="generate-bar"):
            cost = gr.Markdown(elem_id="cost")
            generate = gr.Button("Generate", variant="primary", interactive=False, elem_id="generate")
            reason = gr.HTML(html_template='<p class="reason">${value}</p>', elem_id="generate-reason")
        status = gr.HTML("", html_template='<p role="status" aria-live="polite">${value}</p>', elem_id="status")
        shown = results.build(elem_id="results")
    return {"cost": cost, "generate": generate, "reason": reason, "status": status, "results": shown, **options}


def let_go(api: Api, path: str | None) -> None:
    """Gradio's cached copy of an upload goes (after the purge's delay, unless a call holds it again)."""
    api.uploads.hold(path)
    api.uploads.release(path)


def ready_inputs(create: Create) -> list:
    """What `show_ready` reads, in its order."""
    return [create.photo, create.face_ok, create.picks, create.quality, create.priority, create.candidates]


def ready_outputs(create: Create, header: Header) -> list:
    """What `show_ready` changes."""
    return [create.cost, create.generate, create.reason, header.balance]


def show_ready(
    create: Create, header: Header, api: Api, photo, face_ok, picks, quality, priority, candidates, request: gr.Request
) -> dict:
    """The price, the balance, and Generate: enabled, or disabled with the reason next to it."""
    each = api.price(quality, priority, candidates)["data"]["credits"]
    if api.visitor(request) is None:
        return {
            create.cost: f"**Cost:** {each} credits",
            create.generate: gr.Button(interactive=False),
            create.reason: html.escape(f"{SIGN_IN} to get your free credits and generate."),
            header.balance: "",
        }
    balance = api.credits(request)["data"]["balance"]
    prices = {(q, p): api.price(q, p, candidates)["data"]["credits"] for q in QUALITIES for p in (False, True)}
    why = blocked(bool(photo), bool(face_ok), len(picks or []), prices, (quality, bool(priority)), balance)
    return {
        create.cost: price_line(max(1, len(picks or [])), each, balance),
        create.generate: gr.Button(interactive=not why),
        create.reason: html.escape(why),
        header.balance: f"**Balance:** {balance} credits",
    }


def take_photo(create: Create, api: Api, path: str | None) -> dict:
    """Check an upload with the app's own photo check and its face, and show what was found under it."""
    if not path:
        raise UserError("The upload did not arrive; please try again.")
    try:
        image = api.page.check_photo(path)
    except UserError:
        let_go(api, path)  # unreadable: nothing will use it
        raise
    width = api.page.face_width(image)
    image.thumbnail((640, 640))
    return {
        create.photo: path,
        create.photo_from: None,
        create.photo_preview: image,
        create.face: face_line(width, MIN_FACE_PIXELS),
        create.face_ok: width is not None and width >= MIN_FACE_PIXELS,
    }


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


def wire(create: Create, header: Header, api: Api) -> None:
    ready, inputs, outputs = (create, header, api), ready_inputs(create), ready_outputs(create, header)
    changed = [create.quality.input, create.priority.change, create.candidates.input]  # change: Playwright's check()
    listen(changed, show_ready, ready, inputs, outputs, trigger_mode="always_last")
    photo_out = [create.photo, create.photo_from, create.photo_preview, create.face, create.face_ok]
    taken = [
        listen(create.upload.upload, take_photo, (create, api), [create.upload], photo_out),
        listen(create.sample.click, take_sample, (create, api), [], photo_out),
    ]
    for event in taken:
        then(event, show_ready, ready, inputs, outputs, success=True)
    more_out = [create.more_photos, create.more_info]
    listen(create.more_upload.upload, take_more, (create, api), [create.more_upload], more_out)
