"""How the REST API refuses: every failure as `{"message": …}` with its HTTP status, the same words the named
endpoints show a person, and a reference to the log for what is our fault.

| status | when |
|---|---|
| 400 | a bad value (the message names the parameter), or any other refusal a person can fix |
| 401 | no bearer token, or one that signs nobody in (unknown, revoked, expired) |
| 402 | not enough credits (nothing was charged) |
| 404 | no such record, or another person's (the two look the same) |
| 409 | the generation has no output yet |
| 413 | a photo or the whole request over the size limit |
| 429 | too many requests or jobs in flight, or too many wrong keys; `Retry-After` says when to try again |
"""

import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from avatargen.accounts.api_keys import NotSignedIn, TooManyBadKeys
from avatargen.credits.limits import RateLimited
from avatargen.errors import InsufficientCredits, NotFound, UserError

log = logging.getLogger(__name__)

IN_FLIGHT_RETRY_S = 10  # Retry-After when jobs in flight are at the limit: a guess, no job's end is known


class NotReady(UserError):
    """The generation exists but has no output to download yet."""


class TooLarge(UserError):
    """A photo, or the whole request, is over the size limit."""


STATUS: tuple[tuple[type[UserError], int], ...] = (
    (NotSignedIn, 401),
    (InsufficientCredits, 402),
    (NotFound, 404),
    (NotReady, 409),
    (TooLarge, 413),
    (TooManyBadKeys, 429),
    (RateLimited, 429),
    (UserError, 400),
)


def refusal(error: UserError) -> JSONResponse:
    status = next(code for kind, code in STATUS if isinstance(error, kind))
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:
        retry = getattr(error, "retry_after", None) or IN_FLIGHT_RETRY_S
        headers["Retry-After"] = str(retry)
    return JSONResponse({"message": str(error)}, status_code=status, headers=headers)


def http_refusal(error: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method, an unreadable body) in the API's shape; a body that
    could not be read because of one of ours (too large) says so."""
    if isinstance(error.__cause__, UserError):
        return refusal(error.__cause__)
    return JSONResponse({"message": str(error.detail)}, status_code=error.status_code, headers=error.headers)


def validation_refusal(error: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not read at all (parameters themselves are parsed by `web.params`)."""
    problem = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path"))
    message = f"{where or 'The request'}: {problem.get('msg', 'could not be read')}."
    return JSONResponse({"message": message}, status_code=400)


class RestRoute(APIRoute):
    """A route whose every failure, in its dependencies too, is answered as `{"message": …}` with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handle(request)
            except UserError as error:
                return refusal(error)
            except HTTPException as error:
                return http_refusal(error)
            except RequestValidationError as error:
                return validation_refusal(error)
            except Exception:
                reference = secrets.token_hex(4)
                log.exception("REST %s %s failed (reference %s)", request.method, self.path, reference)
                message = f"Something went wrong on our side (reference {reference}); please try again."
                return JSONResponse({"message": message}, status_code=500)

        return answered
