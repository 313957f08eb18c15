"""Starting generations (Generate, again) and following them live: the create view's results and status line, and
the Jobs tab, polled by the create view's timer.

Everything is rebuilt from the server (the batch ids survive a reload in the browser's storage), and a job that
finishes moves into the history without a refresh.
"""

import html
from dataclasses import dataclass

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui import results
from avatargen.ui.create import Create, let_go, ready_outputs, show_ready
from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.history import History, after_change, finished_outputs
from avatargen.ui.pictures import data_uri, output_picture, pose_names, preview_uri
from avatargen.ui.stats import Stats
from avatargen.ui.text import SIGN_IN, batch_status, jobs_html
from avatargen.web.api import Api

UNFINISHED = ("pending", "processing")
MAX_FOLLOWED = 16  # generations the create view follows at once


@dataclass
class Jobs:
    table: gr.HTML  # the person's unfinished generations


def build() -> Jobs:
    """Its tab; call inside `gr.Tabs()`."""
    with gr.Tab("Jobs", id="jobs-tab"):
        return Jobs(table=gr.HTML(elem_id="jobs"))


def follow(started: list[str], batch: list[str], tracked: dict) -> list[str]:
    """What the create view follows after a start: the earlier ones still running, then the new ones."""
    running = [gid for gid in batch if tracked.get(gid) in UNFINISHED and gid not in started]
    return (running + started)[-MAX_FOLLOWED:]


def run_outputs(create: Create, jobs: Jobs) -> list:
    return [create.status, create.results, jobs.table, create.tracked, create.pictures, create.timer]


def batch_records(api: Api, batch: list[str], unfinished: dict[str, dict], request: gr.Request) -> list[dict]:
    records = []
    for generation_id in batch:
        if generation_id in unfinished:
            records.append(unfinished[generation_id])
            continue
        try:
            records.append(api.generation(generation_id, request=request)["data"])
        except UserError:  # deleted or cancelled meanwhile, or not an id this person has
            continue
    return records


def show_run(
    create: Create, jobs: Jobs, api: Api, batch: list[str], request: gr.Request, *, pictures: dict | None = None
) -> dict:
    """The status line, the last batch's tiles (redrawn on every poll: their progress moves) and the jobs panel.
    Finished outputs are copied once per page (`pictures`), so a tile's picture never reloads."""
    if api.visitor(request) is None:
        return {
            jobs.table: f"<p>{SIGN_IN} to generate avatars and follow your jobs here.</p>",
            create.timer: gr.Timer(active=False),
        }
    unfinished = {job["id"]: job for job in api.jobs(request)["data"]}
    records = batch_records(api, batch, unfinished, request)
    pictures = {gid: path for gid, path in (pictures or {}).items() if gid in batch}
    for record in records:
        if record["status"] == "completed" and record["id"] not in pictures:
            pictures[record["id"]] = output_picture(api, record["id"], request)
    names = pose_names(api, [r["poseTemplateId"] for r in [*records, *unfinished.values()]], request)
    poses = api.page.poses_of(list(dict.fromkeys(job["poseTemplateId"] for job in unfinished.values())), request)
    return {
        create.status: html.escape(batch_status(records)),
        create.results: results.tiles(api, records, names, pictures, request),
        jobs.table: jobs_html(
            list(unfinished.values()),
            names,
            {t.id: data_uri(api, t) for t in poses},
            {gid: uri for gid, job in unfinished.items() if (uri := preview_uri(api, job))},
        ),
        create.tracked: {r["id"]: r["status"] for r in [*records, *unfinished.values()]},
        create.pictures: pictures,
        create.timer: gr.Timer(active=bool(unfinished)),
    }


def poll(
    create: Create,
    jobs: Jobs,
    history: History,
    stats: Stats,
    header: Header,
    api: Api,
    batch: list[str],
    tracked: dict,
    pictures: dict,
    history_page: int,
    history_selected: str | None,
    request: gr.Request,
) -> dict:
    """A tick while jobs run (or another tab of this browser changed something): the tiles move on; a job that
    finished refreshes the history (an open item and a pending delete stay open), the stats and the balance."""
    update = show_run(create, jobs, api, batch, request, pictures=pictures)
    now = update.get(create.tracked, {})
    finished = [gid for gid, status in tracked.items() if status in UNFINISHED and now.get(gid) not in UNFINISHED]
    if finished:
        update |= after_change(history, stats, header, api, history_page, request, keep=history_selected)
    elif api.visitor(request) is not None:  # another tab may have spent or been refunded credits
        update[header.balance] = f"**Balance:** {api.credits(request)['data']['balance']} credits"
    return update


def cancel(
    create: Create, jobs: Jobs, header: Header, api: Api, batch, pictures, event: gr.EventData, request: gr.Request
) -> dict:
    """Cancel a waiting generation from its tile: it leaves the batch, refunded at once."""
    generation_id = str(getattr(event, "cancel", "") or "")
    message = api.cancel_generation(generation_id, request=request)["message"]
    followed = [gid for gid in batch if gid != generation_id]
    update = {create.batch: followed} | show_run(create, jobs, api, followed, request, pictures=pictures)
    update[create.status] = html.escape(message)
    return update | {header.balance: f"**Balance:** {api.credits(request)['data']['balance']} credits"}


def generate(
    create: Create,
    header: Header,
    jobs: Jobs,
    api: Api,
    photo,
    more,
    picks,
    quality,
    priority,
    style,
    seed,
    mirror,
    candidates,
    batch,
    tracked,
    pictures,
    request: gr.Request,
) -> dict:
    """One generation per picked pose. Earlier ones still running stay in view. (Generate is disabled until the
    photo and the picks are there; the same checks stand here for a page that raced ahead.)"""
    missing = [what for what, absent in (("pick a pose", not picks), ("upload a photo", not photo)) if absent]
    if missing:
        raise UserError(" and ".join(missing).capitalize() + " first.")
    seed = None if seed is None or seed < 0 else int(seed)
    args = (photo, list(picks), quality, priority, style, seed, list(more or []), bool(mirror))
    records = api.generate_batch(*args, candidates=candidates, request=request)["data"]
    ids = [record["id"] for record in records]
    followed = follow(ids, batch, tracked)
    stored = str(api.page.input_photo(ids[0], request=request))  # the app's own copies, without metadata
    stored_more = [str(path) for path in api.page.more_input_photos(ids[0], request=request)]
    for upload in (photo, *(more or [])):
        let_go(api, upload)  # Gradio's copies of the uploads are no longer needed
    return (
        {create.batch: followed, create.photo: stored, create.photo_from: ids[0], create.more_photos: stored_more}
        | show_run(create, jobs, api, followed, request, pictures=pictures)
        | show_ready(create, header, api, stored, True, picks, quality, priority, candidates, request)
    )


def again(
    create: Create, jobs: Jobs, api: Api, generation_id: str, same_seed: bool, batch, tracked, request: gr.Request
) -> dict:
    """The same photo, pose and options; the same seed or a new one. Its progress shows in the create view."""
    record = api.generation(generation_id, request=request)["data"]
    photo = str(api.page.input_photo(generation_id, request=request))
    seed = record["seed"] if same_seed else None
    more = [str(path) for path in api.page.more_input_photos(generation_id, request=request)]
    # the same seed remakes the kept image itself: one candidate; a new seed makes as many as before
    candidates = 1 if same_seed else record["candidates"]
    options = (record["quality"], record["priority"], record["style"], seed, more, record["mirrored"])
    pose_ids = [record["poseTemplateId"]]
    [started] = api.generate_batch(photo, pose_ids, *options, candidates=candidates, request=request)["data"]
    gr.Info("Started again with the same settings; it shows at the top of the page and in Jobs.", duration=4)
    followed = follow([started["id"]], batch, tracked)
    return {create.batch: followed} | show_run(create, jobs, api, followed, request)


def again_same(create: Create, jobs: Jobs, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(create, jobs, api, generation_id, True, batch, tracked, request)


def again_new(create: Create, jobs: Jobs, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(create, jobs, api, generation_id, False, batch, tracked, request)


def wire(jobs: Jobs, create: Create, history: History, stats: Stats, header: Header, api: Api) -> None:
    polled = [create.batch, create.tracked, create.pictures, history.page, history.selected]
    shown = [*run_outputs(create, jobs), *finished_outputs(history, stats, header)]
    bound = (create, jobs, history, stats, header, api)
    listen([create.timer.tick, create.results.focus], poll, bound, polled, shown)
    cancelled = [create.batch, *run_outputs(create, jobs), header.balance]
    listen(create.results.click, cancel, (create, jobs, header, api), [create.batch, create.pictures], cancelled)
    followed = [history.selected, create.batch, create.tracked]
    for button, handler in ((history.again_same, again_same), (history.again_new, again_new)):
        listen(button.click, handler, (create, jobs, api), followed, [create.batch, *run_outputs(create, jobs)])
    options = [create.quality, create.priority, create.style, create.seed, create.mirror, create.candidates]
    listen(
        create.generate.click,
        generate,
        (create, header, jobs, api),
        [create.photo, create.more_photos, create.picks, *options, create.batch, create.tracked, create.pictures],
        [
            create.batch,
            create.photo,
            create.photo_from,
            create.more_photos,
            *ready_outputs(create, header),
            *run_outputs(create, jobs),
        ],
    )
