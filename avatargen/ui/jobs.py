"""Live jobs: the create view's results and status line, and the jobs panel, polled by a timer.

Everything is rebuilt from the server (the batch ids survive a reload in the browser's storage), and a job that
finishes moves into the history without a refresh.
"""

import gradio as gr

from avatargen.errors import UserError
from avatargen.ui import history
from avatargen.ui.events import listen
from avatargen.ui.layout import Page
from avatargen.ui.pictures import PICTURE_SIZE, data_uri, output_picture, pose_names, templates_of
from avatargen.ui.text import SIGN_IN, batch_status, duration, job_state, jobs_html, took_seconds
from avatargen.web.api import Api

UNFINISHED = ("pending", "processing")
MAX_FOLLOWED = 16  # generations the create view follows at once


def follow(started: list[str], batch: list[str], tracked: dict) -> list[str]:
    """What the create view follows after a start: the earlier ones still running, then the new ones."""
    running = [gid for gid in batch if tracked.get(gid) in UNFINISHED and gid not in started]
    return (running + started)[-MAX_FOLLOWED:]


def run_outputs(ui: Page) -> list:
    return [ui.status, ui.results, ui.jobs, ui.tracked, ui.timer]


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
    poses = {t.id: t for t in templates_of(api, list(names), request)}
    tiles = []
    for record in records:
        name = names[record["poseTemplateId"]]
        if record["status"] == "completed":
            picture = output_picture(api, record["id"], request)
            tiles.append((picture, f"{name} · {duration(took_seconds(record))}"))
        elif record["poseTemplateId"] in poses:
            tiles.append((api.pose_picture(poses[record["poseTemplateId"]], PICTURE_SIZE), job_state(record, record)))
    return tiles


def show_run(ui: Page, api: Api, batch: list[str], request: gr.Request, *, tracked: dict | None = None) -> dict:
    """The status line, the results of the last batch and the jobs panel; the results redraw only on change."""
    if api.visitor(request) is None:
        return {
            ui.jobs: f"<p>{SIGN_IN} to generate avatars and follow your jobs here.</p>",
            ui.timer: gr.Timer(active=False),
        }
    unfinished = {job["id"]: job for job in api.jobs(request)["data"]}
    records = batch_records(api, batch, unfinished, request)
    now = {r["id"]: r["status"] for r in records} | {gid: job["status"] for gid, job in unfinished.items()}
    poses = templates_of(api, list(dict.fromkeys(job["poseTemplateId"] for job in unfinished.values())), request)
    update = {
        ui.status: batch_status(records),
        ui.jobs: jobs_html(
            list(unfinished.values()),
            pose_names(api, [job["poseTemplateId"] for job in unfinished.values()], request),
            {t.id: data_uri(api, t) for t in poses},
        ),
        ui.tracked: now,
        ui.timer: gr.Timer(active=bool(unfinished)),
    }
    if tracked is None or any(tracked.get(r["id"]) != r["status"] for r in records):
        update[ui.results] = gr.Gallery(value=result_tiles(api, records, request), selected_index=None)
    return update


def poll(ui: Page, api: Api, batch: list[str], tracked: dict, history_page: int, request: gr.Request) -> dict:
    update = show_run(ui, api, batch, request, tracked=tracked)
    now = update[ui.tracked]
    finished = [gid for gid, status in tracked.items() if status in UNFINISHED and now.get(gid) not in UNFINISHED]
    if finished:
        update |= history.after_change(ui, api, history_page, request)
    return update


def wire(ui: Page, api: Api) -> None:
    listen(
        ui.timer.tick,
        poll,
        ui,
        api,
        [ui.batch, ui.tracked, ui.history_page],
        [*run_outputs(ui), *history.finished_outputs(ui)],
    )
