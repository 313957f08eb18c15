"""Starting generations (Generate, again) and following them live: the create view's results and status line, and
the Jobs tab, polled by the create view's timer.

Everything is rebuilt from the server (the batch ids survive a reload in the browser's storage), and a job that
finishes moves into the history without a refresh.
"""

from dataclasses import dataclass

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui.create import Create, let_go, show_price
from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.history import History, after_change, finished_outputs
from avatargen.ui.pictures import PICTURE_SIZE, data_uri, output_picture, pose_names, preview_uri
from avatargen.ui.stats import Stats
from avatargen.ui.text import SIGN_IN, batch_status, duration, job_state, jobs_html, took_seconds
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
    return [create.status, create.results, jobs.table, create.tracked, create.timer]


def batch_records(api: Api, batch: list[str], unfinished: dict[str, dict], request: gr.Request) -> list[dict]:
    records = []
    for generation_id in batch:
        if generation_id in unfinished:
            records.append(unfinished[generation_id])
            continue
        try:
            records.append(api.generation(generation_id, request=request)["data"])
        except UserError:  # deleted meanwhile, or not an id this person has
            continue
    return records


def result_tiles(api: Api, records: list[dict], request: gr.Request) -> list[tuple]:
    names = pose_names(api, [r["poseTemplateId"] for r in records], request)
    poses = {t.id: t for t in api.page.poses_of(list(names), request)}
    tiles = []
    for record in records:
        name = names[record["poseTemplateId"]]
        if record["status"] == "completed":
            picture = output_picture(api, record["id"], request)
            tiles.append((picture, f"{name} · {duration(took_seconds(record))}"))
        elif record["poseTemplateId"] in poses:
            picture = api.page.pose_picture(poses[record["poseTemplateId"]], PICTURE_SIZE)
            tiles.append((picture, job_state(record, record)))
    return tiles


def show_run(
    create: Create, jobs: Jobs, api: Api, batch: list[str], request: gr.Request, *, tracked: dict | None = None
) -> dict:
    """The status line, the results of the last batch and the jobs panel; the results redraw only on change."""
    if api.visitor(request) is None:
        return {
            jobs.table: f"<p>{SIGN_IN} to generate avatars and follow your jobs here.</p>",
            create.timer: gr.Timer(active=False),
        }
    unfinished = {job["id"]: job for job in api.jobs(request)["data"]}
    records = batch_records(api, batch, unfinished, request)
    now = {r["id"]: r["status"] for r in records} | {gid: job["status"] for gid, job in unfinished.items()}
    poses = api.page.poses_of(list(dict.fromkeys(job["poseTemplateId"] for job in unfinished.values())), request)
    update = {
        create.status: batch_status(records),
        jobs.table: jobs_html(
            list(unfinished.values()),
            pose_names(api, [job["poseTemplateId"] for job in unfinished.values()], request),
            {t.id: data_uri(api, t) for t in poses},
            {gid: uri for gid, job in unfinished.items() if (uri := preview_uri(api, job))},
        ),
        create.tracked: now,
        create.timer: gr.Timer(active=bool(unfinished)),
    }
    if tracked is None or any(tracked.get(r["id"]) != r["status"] for r in records):
        update[create.results] = gr.Gallery(value=result_tiles(api, records, request), selected_index=None)
    return update


def poll(
    create: Create,
    jobs: Jobs,
    history: History,
    stats: Stats,
    header: Header,
    api: Api,
    batch: list[str],
    tracked: dict,
    history_page: int,
    request: gr.Request,
) -> dict:
    update = show_run(create, jobs, api, batch, request, tracked=tracked)
    now = update[create.tracked]
    finished = [gid for gid, status in tracked.items() if status in UNFINISHED and now.get(gid) not in UNFINISHED]
    if finished:
        update |= after_change(history, stats, header, api, history_page, request)
    return update


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
    candidates,
    style,
    seed,
    mirror,
    batch,
    tracked,
    request: gr.Request,
) -> dict:
    """One generation per picked pose; missing inputs are named together. Earlier ones still running stay in view."""
    missing = [what for what, absent in (("pick a pose", not picks), ("upload a photo", not photo)) if absent]
    if missing:
        raise UserError(" and ".join(missing).capitalize() + " first.")
    seed = None if seed is None or seed < 0 else int(seed)
    args = (photo, list(picks), quality, priority, style, seed, list(more or []), bool(mirror), candidates)
    records = api.generate_batch(*args, request=request)["data"]
    ids = [record["id"] for record in records]
    n = len(ids)
    gr.Info(
        f"Started {n} generation{'s' if n > 1 else ''}. You can keep going; they finish in the background.", duration=4
    )
    followed = follow(ids, batch, tracked)
    stored = str(api.page.input_photo(ids[0], request=request))  # the app's own copies, without metadata
    stored_more = [str(path) for path in api.page.more_input_photos(ids[0], request=request)]
    for upload in (photo, *(more or [])):
        let_go(api, upload)  # Gradio's copies of the uploads are no longer needed
    return (
        {create.batch: followed, create.photo: stored, create.photo_from: ids[0], create.more_photos: stored_more}
        | show_run(create, jobs, api, followed, request)
        | show_price(create, header, api, picks, quality, priority, candidates, request)
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
    options = (record["quality"], record["priority"], record["style"], seed, more, record["mirrored"], candidates)
    [started] = api.generate_batch(photo, [record["poseTemplateId"]], *options, request=request)["data"]
    gr.Info("Started again with the same settings; it shows at the top of the page and in Jobs.", duration=4)
    followed = follow([started["id"]], batch, tracked)
    return {create.batch: followed} | show_run(create, jobs, api, followed, request)


def again_same(create: Create, jobs: Jobs, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(create, jobs, api, generation_id, True, batch, tracked, request)


def again_new(create: Create, jobs: Jobs, api: Api, generation_id: str, batch, tracked, request: gr.Request) -> dict:
    return again(create, jobs, api, generation_id, False, batch, tracked, request)


def wire(jobs: Jobs, create: Create, history: History, stats: Stats, header: Header, api: Api) -> None:
    listen(
        create.timer.tick,
        poll,
        (create, jobs, history, stats, header, api),
        [create.batch, create.tracked, history.page],
        [*run_outputs(create, jobs), *finished_outputs(history, stats, header)],
    )
    followed = [history.selected, create.batch, create.tracked]
    for button, handler in ((history.again_same, again_same), (history.again_new, again_new)):
        listen(button.click, handler, (create, jobs, api), followed, [create.batch, *run_outputs(create, jobs)])
    listen(
        create.generate.click,
        generate,
        (create, header, jobs, api),
        [
            create.photo,
            create.more_photos,
            create.picks,
            create.quality,
            create.priority,
            create.candidates,
            create.style,
            create.seed,
            create.mirror,
            create.batch,
            create.tracked,
        ],
        [
            create.batch,
            create.photo,
            create.photo_from,
            create.more_photos,
            create.cost,
            header.balance,
            *run_outputs(create, jobs),
        ],
    )
