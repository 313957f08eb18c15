"""The seed's REST API, served beside the page under `/api/apps/avatar-generator`.

Its five routes (multipart `POST /generate`; `GET /generations?limit&offset`; `GET` and `DELETE
/generations/{id}`; `GET /stats`) and the ones this app adds in the same style answer exactly what the named
Gradio endpoints answer: each route calls the same `Api` method (hence the same services and the same strict
`web.params` parsing, so a bad value gets the same message), with the caller identified by the bearer token
(`accounts.api_keys.Bearers`) instead of Gradio's session. Refusals are `{"message": …}` with an HTTP status
(`web.rest_errors`). The API is its own small FastAPI app, mounted in front of Gradio's routes, so it has its own
OpenAPI document (`…/openapi.json`) and docs page (`…/docs`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema
from starlette.exceptions import HTTPException

from avatargen.accounts.api_keys import Bearers, NotSignedIn, key_record
from avatargen.db.tables import User
from avatargen.generations.options import MAX_BATCH, MAX_PHOTOS
from avatargen.web import params, rest_errors
from avatargen.web import rest_schemas as shapes
from avatargen.web.api import Api, generation_options
from avatargen.web.rest_errors import NotReady, RestRoute, http_refusal, validation_refusal
from avatargen.web.rest_uploads import BodyLimit, Photo, Photos, photos_on_disk

PREFIX = "/api/apps/avatar-generator"
FORM_SLACK = 1_000_000  # bytes of a generation request beyond its photos: the other fields and multipart framing


class KeyedApi(Api):
    """The named endpoints' own code for REST callers: who is asking is the account their bearer token signed in
    (`request.state.user`, set by `signed_in`), not a Gradio session. Shares the app's `Api` state."""

    def __init__(self, api: Api):
        vars(self).update(vars(api))  # the same services, uploads and private copies: only the caller differs

    def user(self, request: Request, *, to: str = "continue") -> User:  # type: ignore[override]
        if (user := request.state.user) is None:
            sent = "an API key or a Hugging Face token" if self.services.settings.auth == "hf" else "an API key"
            raise NotSignedIn(f"Send {sent} as 'Authorization: Bearer <key>' to {to}.")
        return user

    def visitor(self, request: Request) -> User | None:  # type: ignore[override]
        return request.state.user


bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`python -m avatargen user key NAME`), or under AVATARGEN_AUTH=hf a Hugging Face token.",
)


def signed_in(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
    """Who is asking, into `request.state.user`: the bearer token's account (a wrong one is refused even where no
    sign-in is needed), nobody when none was sent, the one local user under `auth=none`."""
    api: KeyedApi = request.app.state.api
    users = api.services.users
    if api.services.settings.auth == "none":
        request.state.user = users.user_for(None)
    elif credentials is None:
        request.state.user = None
    else:
        address = request.client.host if request.client else "unknown"
        request.state.user = users.user_for(request.app.state.bearers.account(credentials.credentials, address=address))
    return api


Caller = Annotated[KeyedApi, Depends(signed_in)]


def described(description: str, schema: dict):
    """A raw query or form value (parsed by `web.params`, never coerced by FastAPI) documented as `schema`."""
    return WithJsonSchema({**schema, "description": description})


Limit = Annotated[str | None, Query(), described("rows per page", {"type": "integer", "minimum": 1, "default": 20})]
Offset = Annotated[str | None, Query(), described("rows to skip", {"type": "integer", "minimum": 0, "default": 0})]
Flag = {"type": "boolean", "default": False}
Quality = {"enum": ["sd", "hd"], "default": "sd"}
Style = {"type": "string", "default": "realistic"}
Text = {"type": "string"}
FormText = Annotated[str | None, Form()]
RequestId = Annotated[FormText, described("your key for this request: sent again, it answers the first result", Text)]

REFUSALS = {code: {"model": shapes.Error} for code in (400, 401, 429)}
OWN = REFUSALS | {404: {"model": shapes.Error}}
CHARGED = REFUSALS | {402: {"model": shapes.Error}, 404: {"model": shapes.Error}, 413: {"model": shapes.Error}}

ERRORS = 'Errors are JSON `{"message": …}` with these statuses:\n' + (rest_errors.__doc__ or "").split("\n\n", 1)[1]

router = APIRouter(route_class=RestRoute)


@router.post("/generate", status_code=201, response_model=shapes.Started, responses=CHARGED, tags=["seed"])
def generate(
    request: Request,
    api: Caller,
    image: Photo = None,
    poseTemplateId: Annotated[FormText, described("a pose template's id (GET /poses)", Text)] = None,  # noqa: N803
    quality: Annotated[FormText, described("sd | hd (hd costs more)", Quality)] = None,
    priority: Annotated[FormText, described("jump the queue (costs more)", Flag)] = None,
    style: Annotated[FormText, described("a style id (GET /styles)", Style)] = None,
    seed: Annotated[FormText, described("0 to 4294967295; none: random", {"type": "integer"})] = None,
    mirror: Annotated[FormText, described("draw the pose as its mirror image", Flag)] = None,
    moreImages: Photos = None,  # noqa: N803
    webhookUrl: Annotated[FormText, described("POST the finished record here (signed)", Text)] = None,  # noqa: N803
    requestId: RequestId = None,  # noqa: N803
) -> dict:
    """Start one avatar of you in a pose: the seed's multipart upload. Charged now, refunded if it fails."""
    pose_id = params.ident("poseTemplateId", poseTemplateId)
    user = api.user(request, to="generate avatars")
    with photos_on_disk(image, moreImages, most=api.services.settings.max_upload_bytes) as (photo, more):
        options = generation_options(
            quality, priority, style, seed, mirror, more_photos=more, webhook_url=webhookUrl, request_id=requestId
        )
        [generation] = api.start(user, photo, [pose_id], options)
    return {"message": "Avatar generation started", "data": generation.to_public()}


@router.post("/generate/batch", status_code=201, response_model=shapes.StartedBatch, responses=CHARGED)
def generate_batch(
    request: Request,
    api: Caller,
    image: Photo = None,
    poseTemplateIds: Annotated[  # noqa: N803
        list[str] | None, Form(), described(f"1 to {MAX_BATCH} pose ids (repeat the field)", {"type": "array"})
    ] = None,
    quality: Annotated[FormText, described("sd | hd", Quality)] = None,
    priority: Annotated[FormText, described("jump the queue (costs more)", Flag)] = None,
    style: Annotated[FormText, described("a style id (GET /styles)", Style)] = None,
    seed: Annotated[FormText, described("0 to 4294967295; none: random", {"type": "integer"})] = None,
    mirror: Annotated[FormText, described("draw the poses as their mirror images", Flag)] = None,
    moreImages: Photos = None,  # noqa: N803
    webhookUrl: Annotated[FormText, described("POST each finished record here (signed)", Text)] = None,  # noqa: N803
    requestId: RequestId = None,  # noqa: N803
) -> dict:
    """One generation per pose from the same photos, all charged in one transaction or none."""
    pose_ids = params.idents("poseTemplateIds", poseTemplateIds, most=MAX_BATCH)
    user = api.user(request, to="generate avatars")
    with photos_on_disk(image, moreImages, most=api.services.settings.max_upload_bytes) as (photo, more):
        options = generation_options(
            quality, priority, style, seed, mirror, more_photos=more, webhook_url=webhookUrl, request_id=requestId
        )
        generations = api.start(user, photo, pose_ids, options)
    return {"message": "Avatar generations started", "data": [g.to_public() for g in generations]}


@router.get("/generations", response_model=shapes.GenerationPage, responses=REFUSALS, tags=["seed"])
def generations(request: Request, api: Caller, limit: Limit = None, offset: Offset = None) -> dict:
    """Your generations, newest first, a page at a time."""
    return api.generations(limit=limit, offset=offset, request=request)


@router.get("/generations/{id}", response_model=shapes.OneGeneration, responses=OWN, tags=["seed"])
def generation(request: Request, api: Caller, id: str) -> dict:
    """One of your generations (poll it until `status` is completed or failed)."""
    return api.generation(id, request=request)


@router.delete("/generations/{id}", response_model=shapes.Message, responses=OWN, tags=["seed"])
def delete_generation(request: Request, api: Caller, id: str) -> dict:
    """Delete one of your generations and its files; one still pending is cancelled and refunded."""
    return api.delete_generation(id, request=request)


@router.get(
    "/generations/{id}/download",
    response_class=FileResponse,
    responses=OWN | {200: {"content": {"image/jpeg": {}}}, 409: {"model": shapes.Error}},
)
def download(request: Request, api: Caller, id: str) -> FileResponse:
    """The output image of one of your completed generations, named after its pose and day."""
    user = api.user(request, to="download your avatars")
    row = api.services.generations.get(user, params.ident("id", id))
    if row.output_image_path is None:
        raise NotReady(f"This generation has no image yet (status: {row.status}).")
    name = f"avatar-{row.pose_template_id}-{row.created_at:%Y-%m-%d}.jpg"
    return FileResponse(api.services.storage.path(row.output_image_path), media_type="image/jpeg", filename=name)


@router.get("/stats", response_model=shapes.StatsAnswer, responses=REFUSALS, tags=["seed"])
def stats(request: Request, api: Caller) -> dict:
    """Your generations counted (total, completed, failed), their average time and the credits they used."""
    return api.stats(request=request)


@router.get("/stats/breakdown", response_model=shapes.Breakdown, responses=REFUSALS)
def breakdown(request: Request, api: Caller) -> dict:
    """Generations and credits per day, style and quality."""
    return api.breakdown(request=request)


@router.get("/jobs", response_model=shapes.Jobs, responses=REFUSALS)
def jobs(request: Request, api: Caller) -> dict:
    """Your unfinished generations with their place in the queue and an estimate."""
    return api.jobs(request=request)


@router.get("/credits", response_model=shapes.Credits, responses=REFUSALS)
def credits(request: Request, api: Caller) -> dict:
    """Your balance and your newest ledger entries."""
    return api.credits(request=request)


@router.get("/price", response_model=shapes.PriceAnswer, responses=REFUSALS)
def price(
    api: Caller,
    quality: Annotated[str | None, Query(), described("sd | hd", Quality)] = None,
    priority: Annotated[str | None, Query(), described("jump the queue", Flag)] = None,
) -> dict:
    """What one generation costs now (no key needed)."""
    return api.price(quality, priority)


@router.get("/styles", response_model=shapes.Styles, responses=REFUSALS)
def styles(api: Caller) -> dict:
    """The styles a generation can take (no key needed)."""
    return api.styles()


@router.get("/poses", response_model=shapes.Poses, responses=REFUSALS)
def poses(
    request: Request,
    api: Caller,
    category: Annotated[str | None, Query(), described("one of facets.category", Text)] = None,
    gender: Annotated[str | None, Query(), described("one of facets.gender", Text)] = None,
    view: Annotated[str | None, Query(), described("one of facets.view", Text)] = None,
    framing: Annotated[str | None, Query(), described("one of facets.framing", Text)] = None,
    search: Annotated[str | None, Query(), described("words, ranked ('sitting' finds 'seated')", Text)] = None,
    limit: Annotated[str | None, Query(), described("up to 200", {"type": "integer", "default": 50})] = None,
    offset: Offset = None,
    group: Annotated[str | None, Query(), described("one entry per base pose, with its variants", Flag)] = None,
    mirror: Annotated[str | None, Query(), described("each as its mirror image", Flag)] = None,
) -> dict:
    """Pose templates, filtered and searched; your own poses first (no key needed for the library)."""
    return api.poses(category, gender, view, framing, search, limit, offset, group, mirror, request=request)


@router.get("/keys", response_model=shapes.Keys, responses=REFUSALS)
def keys(request: Request, api: Caller) -> dict:
    """Your API keys (never the keys themselves: only their first characters are kept in the clear)."""
    user = api.user(request, to="see your API keys")
    return {"data": [key_record(record) for record in api.services.api_keys.of(user)]}


@router.delete("/keys/{id}", response_model=shapes.Message, responses=OWN)
def revoke_key(request: Request, api: Caller, id: str) -> dict:
    """Revoke one of your API keys for good (the one this request uses too)."""
    user = api.user(request, to="revoke your API keys")
    api.services.api_keys.revoke(user, params.whole("id", id, lo=1, hi=2**31 - 1))
    return {"message": "API key revoked"}


def rest_app(api: Api) -> FastAPI:
    """The REST API as an app of its own, to mount at `PREFIX` beside Gradio's routes."""
    settings = api.services.settings
    app = FastAPI(
        title="avatargen REST API",
        version="1",
        summary="The seed's avatar-generator routes: multipart upload, paged history, stats; bearer keys.",
        description=ERRORS,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(BodyLimit, most=settings.max_upload_bytes * MAX_PHOTOS + FORM_SLACK)
    app.state.api = KeyedApi(api)
    app.state.bearers = Bearers(api.services.api_keys, auth=settings.auth)
    app.include_router(router)
    app.add_exception_handler(HTTPException, lambda _request, error: http_refusal(error))
    app.add_exception_handler(RequestValidationError, lambda _request, error: validation_refusal(error))
    return app
