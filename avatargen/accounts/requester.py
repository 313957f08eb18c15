"""Who is asking: the account name a Gradio request carries under each sign-in mode.

- `none`: nobody in particular (the service maps it to the one local user);
- `password`: the name Gradio's login page signed in;
- `hf`: the Hugging Face user, from Gradio's OAuth session ("Sign in with Hugging Face") or, for scripts, from a
  Hugging Face token sent as `X-HF-Authorization: Bearer …` (what `gradio_client.Client(url, token=…)` sends; a
  plain `Authorization` header also works), looked up on the Hub once and remembered for 10 minutes. Hugging Face
  names get the `hf:` prefix, which password accounts cannot contain, so the two never collide.

`requester` reads a Gradio request (an event's `gr.Request`); `route_requester` reads a plain Starlette request
of a route served beside Gradio's (downloads, share pages), with the same answers.
"""

import hashlib
import re
import threading
import time

from avatargen.errors import UserError

HF_PREFIX = "hf:"
TOKEN_MEMORY_SECONDS = 600
_HF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")

_tokens: dict[str, tuple[str | None, float]] = {}
_tokens_lock = threading.Lock()


def requester(request, auth: str) -> str | None:
    """The account name of this request, or None when nobody is signed in (or auth is off)."""
    if request is None or auth == "none":
        return None
    if auth == "password":
        return request.username
    return hf_account(request)


def route_requester(request, auth: str) -> str | None:
    """The account name of a plain Starlette request to a route beside Gradio's, or None when nobody is signed in.

    Under `password` it is the name Gradio's login stored for the request's `access-token` cookie (what Gradio's own
    `/gradio_api/user` answers); under `hf` the OAuth session or the token, as for Gradio's requests.
    """
    if auth == "none":
        return None
    if auth == "password":
        return _gradio_login(request)
    return hf_account(request)


def _gradio_login(request) -> str | None:
    app = request.app  # the routes are Gradio's App's own, matched before its routes
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not tokens or cookie_id is None:
        return None
    cookies = request.cookies
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return tokens.get(token) if token else None


def hf_account(request) -> str | None:
    name = _oauth_username(request)
    if name is None and (token := _bearer_token(request)) is not None:
        name = token_owner(token)
    if name is None:
        return None
    if not _HF_NAME.fullmatch(name):
        raise UserError(
            f"Your Hugging Face username {name[:40]!r} has characters this app cannot use; please contact the owner."
        )
    return HF_PREFIX + name


def token_owner(token: str) -> str | None:
    """The Hugging Face user a token belongs to (asks the Hub, then remembers it for 10 minutes)."""
    key = hashlib.sha256(token.encode()).hexdigest()
    now = time.monotonic()
    with _tokens_lock:
        known = _tokens.get(key)
    if known is not None and known[1] > now:
        return known[0]
    from huggingface_hub import whoami

    try:
        user = whoami(token=token)
        name = user["name"] if user.get("type") == "user" else None
    except Exception:  # an invalid or expired token, or the Hub unreachable: not signed in
        name = None
    with _tokens_lock:
        if len(_tokens) > 10_000:
            _tokens.clear()
        _tokens[key] = (name, now + TOKEN_MEMORY_SECONDS)
    return name


def _oauth_username(request) -> str | None:
    session = _session(request)
    info = session.get("oauth_info") if session else None
    if not info or (info.get("expires_at") or 0) < time.time():  # an expired session counts as signed out
        return None
    return (info.get("userinfo") or {}).get("preferred_username")


def _session(request) -> dict:
    # a live request keeps the session in its ASGI scope (SessionMiddleware, added by Gradio for OAuth);
    # a queued gr.Request rebuilt by Gradio carries it as a plain attribute
    underlying = getattr(request, "request", None) or request
    scope = getattr(underlying, "scope", None)
    if isinstance(scope, dict):
        return scope.get("session") or {}
    return getattr(underlying, "session", None) or {}


def _bearer_token(request) -> str | None:
    headers = getattr(request, "headers", None) or {}
    value = headers.get("x-hf-authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip().startswith("hf_") else None
