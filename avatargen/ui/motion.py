"""The Motion tab: pick a motion from its animated gallery, see the price, make a video of yourself moving through it
(with the photo and options of the create view), and watch it play here when it is done."""

import html
import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from avatargen.errors import UserError
from avatargen.poses.template import CATEGORIES
from avatargen.presets import VIDEO_FPS, VIDEO_FRAMES
from avatargen.ui.create import Create
from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.web.api import Api

POLL_SECONDS = 2.0
# a tuple, not a generator: every build of the page reads it
FRAME_CHOICES = tuple((f"{n // VIDEO_FPS} s ({n} frames)", n) for n in (8, 16, 32))


@dataclass
class Motion:
    search: gr.Textbox
    category: gr.Dropdown
    gallery: gr.Gallery  # the motions' animated skeletons
    shown: gr.State  # ids of the motions in the gallery, in its order
    picked: gr.State  # the chosen motion's id, or None
    info: gr.Markdown
    frames: gr.Radio
    cost: gr.Markdown
    generate: gr.Button
    status: gr.Markdown
    player: gr.HTML  # the finished clip: plays inline, muted (it has no sound), looping, from its owner-only URL
    clip: gr.State  # the id of the video being followed, or None
    done: gr.State  # the id of the last video that finished here (the history refreshes when it changes)
    timer: gr.Timer


def build() -> Motion:
    """Call inside `gr.Tabs()`: the Motion tab. Its states are placed at the page's top level (`page.place_states`)."""
    with gr.Tab("Motion", id="motion", elem_id="motion-tab"):
        gr.Markdown("Pick a motion: you, moving through it, in a short video. Your photo and options come from above.")
        with gr.Row():
            search = gr.Textbox(label="Search motions", placeholder="turn, walk, wave…", elem_id="motion-search")
            category = gr.Dropdown([("Any", ""), *((c, c) for c in CATEGORIES)], value="", label="Category")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                gallery = gr.Gallery(
                    label="Motions",
                    columns=6,
                    height=380,
                    fit_columns=False,
                    allow_preview=False,
                    object_fit="contain",
                    elem_id="motions",
                    elem_classes="captioned",
                )
            with gr.Column(scale=2, min_width=300):
                info = gr.Markdown("No motion picked yet.", elem_id="motion-info")
                frames = gr.Radio(list(FRAME_CHOICES), value=VIDEO_FRAMES, label="Length", elem_id="motion-frames")
                cost = gr.Markdown(elem_id="motion-cost")
                generate = gr.Button("Generate video", variant="primary", elem_id="generate-video")
                status = gr.Markdown(elem_id="motion-status")
                player = gr.HTML("", elem_id="video-result")
    return Motion(
        search=search,
        category=category,
        gallery=gallery,
        shown=gr.State([], render=False),
        picked=gr.State(None, render=False),
        info=info,
        frames=frames,
        cost=cost,
        generate=generate,
        status=status,
        player=player,
        clip=gr.State(None, render=False),
        done=gr.State(None, render=False),
        timer=gr.Timer(POLL_SECONDS, active=False),
    )


def preview_file(api: Api, motion_id: str) -> str:
    """A motion's preview where Gradio may serve it (the thumbnails folder), copied there once."""
    source = api.services.poses.motions.get(motion_id).preview
    target = Path(api.thumbnails) / "motions" / source.name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return str(target)


def show_motions(panel: Motion, api: Api, search: str | None, category: str | None) -> dict:
    found = api.videos.motions(category=category or None, search=search or None, limit=100)["data"]
    tiles = [(preview_file(api, m["id"]), m["name"]) for m in found]
    return {panel.gallery: tiles, panel.shown: [m["id"] for m in found]}


def pick(
    panel: Motion, create: Create, header: Header, api: Api, shown, quality, priority, frames, evt: gr.SelectData
) -> dict:
    motion = api.services.poses.motions.get(shown[evt.index])
    facts = f"{motion.category} · {motion.view.replace('-', ' ')} · {motion.framing.replace('-', ' ')}"
    return {panel.picked: motion.id, panel.info: f"**{motion.name}**  \n{facts}"} | price(
        panel, header, api, motion.id, quality, priority, frames
    )


def price(panel: Motion, header: Header, api: Api, picked, quality, priority, frames) -> dict:
    credits = api.videos.video_price(quality, priority, frames)["data"]["credits"]
    return {panel.cost: f"**Cost:** {credits} credits for {int(frames) // VIDEO_FPS} s" if picked else ""}


def start(
    panel: Motion,
    create: Create,
    header: Header,
    api: Api,
    picked,
    photo,
    more_photos,
    quality,
    style,
    priority,
    seed,
    mirror,
    frames,
    request: gr.Request,
) -> dict:
    if not picked:
        raise UserError("Pick a motion first.")
    seed = None if seed is None or int(seed) < 0 else int(seed)
    record = api.videos.generate_video(
        photo, picked, quality, priority, style, seed, more_photos or None, mirror, frames, request=request
    )["data"]
    return {
        panel.clip: record["id"],
        panel.status: f"Queued: {record['creditUsed']} credits charged.",
        panel.player: "",
        panel.timer: gr.Timer(active=True),
    }


def player_html(api: Api, clip: str, request: gr.Request) -> str:
    """The clip in a `<video>` the browser fetches with the person's own session (owner-only URLs, `web.files`)."""
    video = html.escape(api.page.output_url(clip, request=request, clip=True))
    poster = html.escape(api.page.output_url(clip, request=request))
    return (
        f'<video src="{video}" poster="{poster}" controls muted loop autoplay playsinline '
        'aria-label="Your video"></video>'
    )


def poll(panel: Motion, api: Api, clip, request: gr.Request) -> dict:
    if not clip:
        return {panel.timer: gr.Timer(active=False)}
    record = api.generation(clip, request=request)["data"]
    if record["status"] == "completed":
        return {
            panel.status: f"Done: {record['frames']} frames at {record['fps']} fps.",
            panel.player: player_html(api, clip, request),
            panel.timer: gr.Timer(active=False),
            panel.done: clip,
        }
    if record["status"] == "failed":
        return {panel.status: record["errorMessage"], panel.timer: gr.Timer(active=False), panel.done: clip}
    done = round(record["progress"] * record["frames"])
    line = "Waiting in the queue…" if record["status"] == "pending" else f"Making frames: {done} of {record['frames']}"
    return {panel.status: line}


def wire(panel: Motion, create: Create, header: Header, api: Api, demo: gr.Blocks) -> None:
    """The tab's events; the gallery fills on page load."""
    listen([demo.load, panel.search.submit, panel.category.change], show_motions, (panel, api),
           [panel.search, panel.category], [panel.gallery, panel.shown])  # fmt: skip
    options = [create.quality, create.priority, panel.frames]
    listen(panel.gallery.select, pick, (panel, create, header, api), [panel.shown, *options],
           [panel.picked, panel.info, panel.cost])  # fmt: skip
    listen([create.quality.change, create.priority.change, panel.frames.change], price, (panel, header, api),
           [panel.picked, *options], [panel.cost])  # fmt: skip
    inputs = [panel.picked, create.photo, create.more_photos, create.quality, create.style, create.priority,
              create.seed, create.mirror, panel.frames]  # fmt: skip
    listen(panel.generate.click, start, (panel, create, header, api), inputs,
           [panel.clip, panel.status, panel.player, panel.timer])  # fmt: skip
    listen(panel.timer.tick, poll, (panel, api), [panel.clip], [panel.status, panel.player, panel.timer, panel.done])
