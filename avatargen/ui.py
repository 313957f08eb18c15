"""The Gradio Blocks page. It receives the API functions; it imports no model and no database."""

from collections.abc import Callable

import gradio as gr

from avatargen.api import Api, register_api, user_errors
from avatargen.errors import NotFound
from avatargen.presets import QUALITIES, STYLES

PAGE_SIZE = 24
ANY = "Any"
FACET_LABELS = {"category": "Category", "gender": "Body", "view": "View", "framing": "Framing"}
HISTORY_COLUMNS = ["Created", "Status", "Pose", "Quality", "Style", "Credits", "Id"]


def _status_text(record: dict) -> str:
    status = record["status"]
    if status == "pending":
        return "⏳ Waiting in the queue…"
    if status == "processing":
        done = int(record["progress"] * 100)
        return f"🎨 Generating… {done}%  \n`{'█' * (done // 5)}{'░' * (20 - done // 5)}`"
    if status == "completed":
        return f"✅ Done. Seed {record['seed']}, {record['creditUsed']} credits."
    return f"❌ {record['errorMessage']}"


def _filters(values: tuple) -> dict:
    return {
        facet: (value if value and value != ANY else None) for facet, value in zip(FACET_LABELS, values, strict=True)
    }


def create_demo(api: Api, *, engine_notice: Callable[[], str | None], sign_in: bool = False) -> gr.Blocks:
    facets = api.facets()

    def notice() -> dict:
        text = engine_notice()
        return gr.update(value=text or "", visible=bool(text))

    def pose_page(page: int, search: str, category, gender, view, framing, request: gr.Request) -> tuple:
        filters = _filters((category, gender, view, framing))
        pictures, ids, page, total = api.gallery(filters, search, page=page, size=PAGE_SIZE, request=request)
        pages = max(1, -(-total // PAGE_SIZE))
        label = f"Page {page + 1} of {pages} · {total} poses" if total else "No pose matches these filters."
        return pictures, ids, page, label

    def first_page(search: str, category, gender, view, framing, request: gr.Request) -> tuple:
        return pose_page(0, search, category, gender, view, framing, request)

    def turn_page(step: int):
        def turn(page: int, search: str, category, gender, view, framing, request: gr.Request) -> tuple:
            return pose_page(page + step, search, category, gender, view, framing, request)

        return turn

    def pick_pose(ids: list[str], event: gr.SelectData) -> tuple:
        pose = ids[event.index]
        return pose, f"**Pose:** {event.value['caption']} (`{pose}`)"

    @user_errors
    def save_pose(reference, name: str, search: str, category, gender, view, framing, request: gr.Request) -> tuple:
        template = api.extract_pose(reference, name, request=request)["data"]
        gr.Info(f"Saved “{template['name']}” to your poses. It is picked for your next generation.")
        page = pose_page(0, search, category, gender, view, framing, request)
        return (*page, template["id"], f"**Pose:** {template['name']} (your own)", None)

    @user_errors
    def account(quality: str, priority: bool, request: gr.Request) -> str:
        cost = api.price(quality, priority)["data"]["credits"]
        if api.visitor(request) is None:
            return f"**Cost:** {cost} credits · Sign in with Hugging Face to get your free credits."
        balance = api.credits(request)["data"]["balance"]
        return f"**Cost:** {cost} credits · **Your balance:** {balance} credits"

    @user_errors
    def history(request: gr.Request) -> tuple:
        if api.visitor(request) is None:
            return [], "Sign in with Hugging Face to see your generations."
        records = api.generations(limit=100, request=request)["data"]
        rows = [
            [
                r["createdAt"][:19].replace("T", " "),
                r["status"],
                r["poseTemplateId"],
                r["quality"].upper(),
                r["style"],
                r["creditUsed"],
                r["id"],
            ]
            for r in records
        ]
        stats = api.stats(request)["data"]
        average = stats["averageProcessingTime"]
        summary = (
            f"**{stats['totalGenerations']}** generations · **{stats['completedGenerations']}** completed · "
            f"**{stats['failedGenerations']}** failed · average time "
            f"**{'–' if average is None else f'{average:.1f} s'}** · **{stats['totalCreditsUsed']}** credits used"
        )
        return rows, summary

    @user_errors
    def start(photo, pose, quality, priority, style, seed, request: gr.Request) -> tuple:
        if not pose:
            raise gr.Error("Pick a pose from the gallery first.")
        seed = None if seed is None or seed < 0 else seed
        record = api.generate(photo, pose, quality, priority, style, seed, request=request)["data"]
        return record["id"], _status_text(record), None, gr.Timer(active=True)

    @user_errors
    def watch(generation_id: str | None, quality: str, priority: bool, request: gr.Request) -> tuple:
        if not generation_id:
            return gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            record = api.generation(generation_id, request=request)["data"]
        except NotFound:  # deleted from the history meanwhile
            return "", None, gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if record["status"] in ("pending", "processing"):
            return _status_text(record), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), notice()
        image = api.download_output(generation_id, request=request) if record["status"] == "completed" else None
        rows, summary = history(request)
        return (
            _status_text(record),
            image,
            gr.Timer(active=False),
            rows,
            summary,
            account(quality, priority, request),
            notice(),
        )

    @user_errors
    def open_row(rows, event: gr.SelectData, request: gr.Request) -> tuple:
        generation_id = rows.iloc[event.index[0]]["Id"]
        record = api.generation(generation_id, request=request)["data"]
        image = api.download_output(generation_id, request=request) if record["status"] == "completed" else None
        return generation_id, image, _status_text(record)

    @user_errors
    def remove(generation_id: str | None, request: gr.Request) -> tuple:
        if not generation_id:
            raise gr.Error("Select a generation in the table first.")
        gr.Info(api.delete_generation(generation_id, request=request)["message"])
        return None, None, ""

    with gr.Blocks(title="avatargen — you, in any pose", delete_cache=(3600, 3600)) as demo:
        banner = gr.Markdown(visible=False, elem_id="engine-banner")
        if sign_in:
            gr.LoginButton(elem_id="sign-in")
        gr.Markdown("# avatargen\nUpload a photo of yourself, pick a pose, and get an image of you in that pose.")
        pose_ids, page, watched = gr.State([]), gr.State(0), gr.State(None)
        pose_id = gr.State("")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row():
                    facet_inputs = [
                        gr.Dropdown([ANY, *facets.get(facet, [])], value=ANY, label=label, min_width=120)
                        for facet, label in FACET_LABELS.items()
                    ]
                search = gr.Textbox(placeholder="Search poses: waving, arms crossed, sitting…", show_label=False)
                gallery = gr.Gallery(
                    label="Poses", columns=6, height=560, allow_preview=False, object_fit="contain", elem_id="poses"
                )
                with gr.Row():
                    previous = gr.Button("← Previous", size="sm")
                    page_label = gr.Markdown(elem_id="pose-page")
                    following = gr.Button("Next →", size="sm")
                with gr.Accordion("Use a pose from your own reference photo", open=False):
                    with gr.Row():
                        reference = gr.Image(label="Reference photo", type="filepath", image_mode=None, height=200)
                        with gr.Column():
                            pose_name = gr.Textbox(label="Name (optional)", max_length=60)
                            extract = gr.Button("Extract and save pose")
                            gr.Markdown("Only you can see and use the poses you save.")
            with gr.Column(scale=2):
                photo = gr.Image(label="Your photo", type="filepath", image_mode=None, height=260, elem_id="photo")
                chosen = gr.Markdown("**Pose:** none picked yet — click one in the gallery.", elem_id="chosen")
                quality = gr.Radio(
                    [(f"{key.upper()} {q.width}×{q.height}", key) for key, q in QUALITIES.items()],
                    value="sd",
                    label="Quality",
                )
                priority = gr.Checkbox(label="Priority: jump the queue (+3 credits)")
                style = gr.Dropdown([(s.label, key) for key, s in STYLES.items()], value="realistic", label="Style")
                seed = gr.Number(
                    -1, precision=0, minimum=-1, label="Seed (-1 for a random one; reuse one to repeat a result)"
                )
                cost = gr.Markdown(elem_id="cost")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                status = gr.Markdown(elem_id="status")
                result = gr.Image(
                    label="Your avatar", type="pil", format="png", interactive=False, height=520, elem_id="result"
                )
        with gr.Tab("History"):
            summary = gr.Markdown(elem_id="stats")
            table = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, elem_id="history")
            with gr.Row():
                selected = gr.State(None)
                refresh = gr.Button("Refresh", size="sm")
                delete = gr.Button("Delete selected", size="sm", variant="stop")
            selected_status = gr.Markdown()
            selected_image = gr.Image(label="Selected", type="pil", interactive=False, height=420)
        timer = gr.Timer(1.0, active=False)
        register_api(api)

        gallery_outputs = [gallery, pose_ids, page, page_label]
        demo.load(notice, None, banner, api_visibility="private")
        demo.load(first_page, [search, *facet_inputs], gallery_outputs, api_visibility="private")
        demo.load(account, [quality, priority], cost, api_visibility="private")
        demo.load(history, None, [table, summary], api_visibility="private")
        gr.on(
            [search.submit, *(f.change for f in facet_inputs)],
            first_page,
            [search, *facet_inputs],
            gallery_outputs,
            api_visibility="private",
        )
        previous.click(turn_page(-1), [page, search, *facet_inputs], gallery_outputs, api_visibility="private")
        following.click(turn_page(1), [page, search, *facet_inputs], gallery_outputs, api_visibility="private")
        gallery.select(pick_pose, pose_ids, [pose_id, chosen], api_visibility="private")
        extract.click(
            save_pose,
            [reference, pose_name, search, *facet_inputs],
            [*gallery_outputs, pose_id, chosen, reference],
            api_visibility="private",
        )
        gr.on([quality.change, priority.change], account, [quality, priority], cost, api_visibility="private")
        generate.click(
            start,
            [photo, pose_id, quality, priority, style, seed],
            [watched, status, result, timer],
            api_visibility="private",
        ).success(account, [quality, priority], cost, api_visibility="private").then(
            history, None, [table, summary], api_visibility="private"
        )
        timer.tick(
            watch,
            [watched, quality, priority],
            [status, result, timer, table, summary, cost, banner],
            api_visibility="private",
            show_progress="hidden",
        )
        refresh.click(history, None, [table, summary], api_visibility="private")
        table.select(open_row, table, [selected, selected_image, selected_status], api_visibility="private")
        delete.click(remove, selected, [selected, selected_image, selected_status], api_visibility="private").then(
            history, None, [table, summary], api_visibility="private"
        ).then(account, [quality, priority], cost, api_visibility="private")
    return demo
