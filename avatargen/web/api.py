"""Named Gradio endpoints for scripts (gradio_client); the same service methods back the UI.

Identity always comes from the request, never from a parameter. User errors become gr.Error.
"""

from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.components.api_component import Api as RawValue

from avatargen.accounts.requester import requester
from avatargen.credits.pricing import CANDIDATES
from avatargen.db.paging import MAX_PAGE
from avatargen.db.tables import User
from avatargen.errors import UserError
from avatargen.generations.options import MAX_BATCH, MAX_SEED, GenerationOptions
from avatargen.generations.pose_book import MAX_NAME
from avatargen.generations.webhooks import MAX_URL
from avatargen.poses.template import FACETS, PoseTemplate
from avatargen.presets import QUALITIES, STYLES
from avatargen.schedule import Schedule
from avatargen.services import Services
from avatargen.web import params
from avatargen.web.errors import user_errors
from avatargen.web.files import fetched_by_client
from avatargen.web.page import PageReads
from avatargen.web.sharing import SHARE_ENDPOINTS, ShareEndpoints
from avatargen.web.site import site_url
from avatargen.web.uploads import UploadPurge, discarding_uploads, more_uploads, uploaded
from avatargen.web.videos import VideoEndpoints, register_video_api

MAX_POSES_PAGE = 200
MAX_OFFSET = 10_000_000
MAX_SEARCH = 100  # characters of pose search text


def search_words(search) -> str | None:
    """Pose search text, bounded, each word once (repeats add nothing to a match but work)."""
    text = params.text("search", search, most=MAX_SEARCH, default=None)
    return None if text is None else " ".join(dict.fromkeys(text.lower().split()))


def generation_options(
    quality, priority, style, seed, mirror, *, more_photos=(), webhook_url=None, request_id=None, candidates=1
) -> GenerationOptions:
    """What a person chose for a generation, each value parsed strictly (the message names the parameter)."""
    return GenerationOptions(
        quality=params.choice("quality", quality, QUALITIES, default="sd"),
        priority=params.flag("priority", priority),
        style=params.choice("style", style, STYLES, default="realistic"),
        seed=params.whole("seed", seed, lo=0, hi=MAX_SEED, default=None),
        more_photos=tuple(more_photos),
        mirror=params.flag("mirror", mirror),
        webhook_url=params.text("webhook_url", webhook_url, most=MAX_URL, default=None),
        request_id=params.optional_ident("request_id", request_id),
        candidates=params.number_choice("candidates", candidates, CANDIDATES, default=1),
    )


class Api:
    """The endpoint functions, bound to one service. Every parameter goes through `params` first."""

    def __init__(
        self,
        services: Services,
        *,
        thumbnails: Path,
        run_inline: Callable[[str], None] | None = None,
        schedule: Schedule | None = None,
    ):
        self.services = services
        self.thumbnails = thumbnails
        self.page = PageReads(self)  # what the page reads besides these endpoints
        self.videos = VideoEndpoints(self)  # /generate_video, /motions, /video_price
        self.sharing = ShareEndpoints(self)  # /share, /unshare
        self.uploads = UploadPurge(schedule or Schedule(name="avatargen-expiry"))
        self.run_inline = run_inline  # ZeroGPU: run the queued job inside this request, then answer

    def user(self, request: gr.Request | None, *, to: str = "continue") -> User:
        """The person making this request; a signed-out visitor is asked to sign in `to` do what they tried."""
        auth = self.services.settings.auth
        name = requester(request, auth)
        if name is None and auth != "none":
            raise UserError(f"Sign in {'with Hugging Face ' if auth == 'hf' else ''}to {to}.")
        return self.services.users.user_for(name)

    def visitor(self, request: gr.Request | None) -> User | None:
        """The person making this request, or None for a signed-out visitor (who may still browse)."""
        auth = self.services.settings.auth
        name = requester(request, auth)
        return None if name is None and auth != "none" else self.services.users.user_for(name)

    def generate(
        self,
        photo: str | None,
        pose_id: str,
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: int | None = None,
        more_photos: list[str] | None = None,
        mirror: bool = False,
        webhook_url: str | None = None,
        request_id: str | None = None,
        candidates: int = 1,
        request: gr.Request = None,
    ) -> dict:
        """One generation. `webhook_url`: where its record is posted when it finishes; `request_id`: a key of the
        client's choosing: the same key again (a retry after a dropped connection) answers this first result;
        `candidates` (1, 2 or 4): images made of the pose, the one most like the person kept (+2 credits each
        beyond the first), the others listed in `alternatives` for a day."""
        chosen = (quality, priority, style, seed, more_photos, mirror, webhook_url, request_id, candidates)
        [generation] = self._start(photo, [params.ident("pose_id", pose_id)], *chosen, request)
        return {"message": "Avatar generation started", "data": generation.to_public()}

    def generate_batch(
        self,
        photo: str | None,
        pose_ids: list[str],
        quality: str = "sd",
        priority: bool = False,
        style: str = "realistic",
        seed: int | None = None,
        more_photos: list[str] | None = None,
        mirror: bool = False,
        webhook_url: str | None = None,
        request_id: str | None = None,
        candidates: int = 1,
        request: gr.Request = None,
    ) -> dict:
        """One generation per pose (at most 8) from the same photos, all charged in one transaction or none."""
        pose_ids = params.idents("pose_ids", pose_ids, most=MAX_BATCH)
        chosen = (quality, priority, style, seed, more_photos, mirror, webhook_url, request_id, candidates)
        generations = self._start(photo, pose_ids, *chosen, request)
        return {"message": "Avatar generations started", "data": [g.to_public() for g in generations]}

    def _start(
        self,
        photo,
        pose_ids,
        quality,
        priority,
        style,
        seed,
        more_photos,
        mirror,
        webhook_url,
        request_id,
        candidates,
        request,
    ) -> list:
        """The options of /generate and /generate_batch, parsed once."""
        user = self.user(request, to="generate avatars")
        options = generation_options(
            quality,
            priority,
            style,
            seed,
            mirror,
            more_photos=more_uploads(more_photos),
            webhook_url=webhook_url,
            request_id=request_id,
            candidates=candidates,
        )
        return self.start(user, uploaded("photo", photo), pose_ids, options)

    def start(self, user: User, photo: str | None, pose_ids: list[str], options: GenerationOptions) -> list:
        """Charge, record and queue one generation per pose; on ZeroGPU the jobs run before answering."""
        service = self.services.generations
        generations = service.create(user, photo=photo, pose_ids=pose_ids, options=options)
        if self.run_inline is None:
            return generations
        for generation in generations:
            self.run_inline(generation.id)
        return [service.get(user, generation.id) for generation in generations]

    def jobs(self, request: gr.Request = None) -> dict:
        """Unfinished generations with their queue position (1 = next) and an estimate in seconds."""
        return {"data": self.services.generations.jobs(self.user(request, to="see your jobs"))}

    def breakdown(self, request: gr.Request = None) -> dict:
        """Generations and credits per day, style and quality."""
        return {"data": self.services.generations.breakdown(self.user(request, to="see your stats"))}

    def generations(self, limit: int = 20, offset: int = 0, request: gr.Request = None) -> dict:
        limit = params.whole("limit", limit, lo=1, hi=MAX_PAGE, default=20)
        offset = params.whole("offset", offset, lo=0, hi=MAX_OFFSET, default=0)
        rows, total = self.services.generations.page(
            self.user(request, to="see your generations"), limit=limit, offset=offset
        )
        return {
            "data": [row.to_public(site=site_url(request)) for row in rows],
            "meta": {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total},
        }

    def generation(self, id: str, request: gr.Request = None) -> dict:
        user = self.user(request, to="see your generations")
        return {"data": self.services.generations.get(user, params.ident("id", id)).to_public(site=site_url(request))}

    def delete_generation(self, id: str, request: gr.Request = None) -> dict:
        self.services.generations.delete(self.user(request, to="delete your generations"), params.ident("id", id))
        return {"message": "Generation deleted successfully"}

    def cancel_generation(self, id: str, request: gr.Request = None) -> dict:
        """Cancel a generation still waiting in the queue; its credits come back at once."""
        user = self.user(request, to="cancel your generations")
        refunded = self.services.generations.cancel(user, params.ident("id", id))
        return {"message": f"Cancelled; {refunded} credits refunded.", "data": {"id": id, "refunded": refunded}}

    def stats(self, request: gr.Request = None) -> dict:
        return {"data": self.services.generations.stats(self.user(request, to="see your stats"))}

    def credits(self, request: gr.Request = None) -> dict:
        return {"data": self.services.ledger.statement(self.user(request, to="see your credits"))}

    def price(self, quality: str = "sd", priority: bool = False, candidates: int = 1) -> dict:
        quality = params.choice("quality", quality, QUALITIES, default="sd")
        priority = params.flag("priority", priority)
        candidates = params.number_choice("candidates", candidates, CANDIDATES, default=1)
        credits = self.services.generations.price(quality, priority, candidates)
        return {"data": {"quality": quality, "priority": priority, "candidates": candidates, "credits": credits}}

    def styles(self) -> dict:
        return {"data": [{"id": key, "label": style.label} for key, style in STYLES.items()]}

    def poses(
        self,
        category: str | None = None,
        gender: str | None = None,
        view: str | None = None,
        framing: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        group: bool = False,
        mirror: bool = False,
        request: gr.Request = None,
    ) -> dict:
        """Pose templates. `group`: one per base pose, with the views, framings and variants it offers.
        `mirror`: each as its mirror image (what `/generate` draws with `mirror=true`). `search` ranks (every
        word matched first, then the most words); when it finds nothing, `meta.suggestions` offers rewordings."""
        facets = self.services.poses.facets()
        group, mirror = params.flag("group", group), params.flag("mirror", mirror)
        filters = {
            facet: params.choice(facet, value or None, facets.get(facet, ()), default=None)
            for facet, value in zip(FACETS, (category, gender, view, framing), strict=True)
        }
        search = search_words(search)
        templates, total = self.services.poses.query(
            self.visitor(request),
            **filters,
            search=search,
            limit=(limit := params.whole("limit", limit, lo=1, hi=MAX_POSES_PAGE, default=50)),
            offset=(offset := params.whole("offset", offset, lo=0, hi=MAX_OFFSET, default=0)),
            group=group,
        )
        records = self.services.poses.grouped_record if group else PoseTemplate.to_public
        return {
            "data": [records(template.mirrored() if mirror else template) for template in templates],
            "meta": {
                "total": total,
                "limit": limit,
                "offset": offset,
                "hasMore": offset + len(templates) < total,
                # "Did you mean": rewordings of a search that found nothing, with its unknown words respelt.
                "suggestions": self.services.poses.library.suggest(search) if search and not total else [],
            },
            "facets": facets,
        }

    def extract_pose(self, photo: str | None, name: str | None = None, request: gr.Request = None) -> dict:
        name = params.text("name", name, most=MAX_NAME, default=None)
        user = self.user(request, to="save your own poses")
        template = self.services.poses.extract(user, photo=uploaded("photo", photo), name=name)
        return {"message": "Pose saved to your private poses", "data": template.to_public()}

    def delete_pose(self, id: str, request: gr.Request = None) -> dict:
        self.services.poses.delete(self.user(request, to="delete your poses"), params.ident("id", id))
        return {"message": "Pose deleted successfully"}

    def download_output(self, id: str, alternative: int = 0, request: gr.Request = None) -> dict:
        """The output of the person's own generation (an image, a video's MP4) as its owner-only URL (`web.files`),
        which the client fetches with its own session; `alternative` n (1-3): the n-th other candidate of a
        best-of-N generation, while it is kept."""
        number = params.whole("alternative", alternative, lo=0, hi=max(CANDIDATES) - 1, default=0)
        return fetched_by_client(self.page.output_url(id, number, request=request, clip=True))

JSON_ENDPOINTS = (
    "jobs",
    "breakdown",
    "generations",
    "generation",
    "delete_generation",
    "cancel_generation",
    "stats",
    "credits",
    "price",
    "styles",
    "poses",
    "delete_pose",
)


def register_api(api: Api) -> None:
    """Add the named endpoints to the Blocks being built. Call inside `with gr.Blocks()`."""
    for name in JSON_ENDPOINTS:
        gr.api(user_errors(getattr(api, name)), api_name=name)
    for name in SHARE_ENDPOINTS:
        gr.api(user_errors(getattr(api.sharing, name)), api_name=name)
    # Endpoints that move files go through components, so Gradio checks uploads and serves downloads.
    # Endpoints that take files go through components, so Gradio checks uploads; their other parameters are raw
    # values (parsed by `params`, never coerced by a component) and their outputs private copies.
    with gr.Column(visible=False):
        photo = gr.File(label="photo", file_types=None, type="filepath")
        pose_id = RawValue(None, {"type": "string"}, label="pose_id")
        quality = RawValue("sd", {"type": "string", "enum": list(QUALITIES)}, label="quality")
        priority = RawValue(False, {"type": "boolean"}, label="priority")
        style = RawValue("realistic", {"type": "string", "enum": list(STYLES)}, label="style")
        seed = RawValue(None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}, label="seed")
        more_photos = gr.File(label="more_photos", file_count="multiple", file_types=None, type="filepath")
        mirror = RawValue(False, {"type": "boolean"}, label="mirror")
        optional_text = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        webhook_url = RawValue(None, optional_text, label="webhook_url")
        request_id = RawValue(None, optional_text, label="request_id")
        candidates = RawValue(1, {"type": "integer", "enum": list(CANDIDATES)}, label="candidates")
        started = gr.JSON(label="result")
        pose_ids = RawValue(None, {"type": "array", "items": {"type": "string"}}, label="pose_ids")
        batch = gr.JSON(label="result")
        generation_id = RawValue(None, {"type": "string"}, label="id")
        alternative = RawValue(0, {"type": "integer"}, label="alternative")
        image = gr.File(label="image")
        reference = gr.File(label="photo", type="filepath")
        pose_name = RawValue(None, {"anyOf": [{"type": "string"}, {"type": "null"}]}, label="name")
        saved = gr.JSON(label="result")
    gr.on(
        [],
        user_errors(discarding_uploads(api.generate, api.uploads, at=(0, 6))),
        [photo, pose_id, quality, priority, style, seed, more_photos, mirror, webhook_url, request_id, candidates],
        started,
        api_name="generate",
        show_progress="hidden",
    )
    gr.on(
        [],
        user_errors(discarding_uploads(api.generate_batch, api.uploads, at=(0, 6))),
        [photo, pose_ids, quality, priority, style, seed, more_photos, mirror, webhook_url, request_id, candidates],
        batch,
        api_name="generate_batch",
        show_progress="hidden",
    )
    gr.on(
        [],
        user_errors(api.download_output),
        [generation_id, alternative],
        image,
        api_name="download_output",
        postprocess=False,
    )
    register_video_api(api)
    gr.on(
        [],
        user_errors(discarding_uploads(api.extract_pose, api.uploads)),
        [reference, pose_name],
        saved,
        api_name="extract_pose",
    )
