"""Who is asking: the account name a Gradio request carries under each sign-in mode.

- `none`: nobody in particular (the service maps it to the one local user);
- `password`: the name Gradio's login page signed in;
- `hf`: the Hugging Face user, from Gradio's OAuth session ("Sign in with Hugging Face") or, for scripts, from a
  Hugging Face token sent as `X-HF-Authorization: Bearer …` (what `gradio_client.Client(url, token=…)` sends; a
  plain `Authorization` header also works), looked up on the Hub and remembered a short while (`TokenMemory`).
  Hugging Face names get the `hf:` prefix, which password accounts cannot contain, so the two never collide.

`requester` reads a Gradio request (an event's `gr.Request`); `route_requester` reads a plain Starlette request
of a route served beside Gradio's (downloads, share pages), with the same answers.
"""

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from avatargen.errors import UserError

HF_PREFIX = "hf:"
_HF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


class TokenMemory:
    """What the Hub said about tokens, kept a short while: a bounded LRU of token hashes (the least recently used
    goes first when full, never the whole memory at once).

    An owner is remembered `known_s` (so a revoked token keeps working at most that long), a token the Hub refused
    `refused_s`, and a Hub error (down, slow, rate-limited) only `error_s`: the next request asks again.
    """

    def __init__(
        self,
        *,
        most: int = 10_000,
        known_s: float = 60.0,
        refused_s: float = 60.0,
        error_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.most, self.known_s, self.refused_s, self.error_s = most, known_s, refused_s, error_s
        self.clock = clock
        self._entries: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def owner(self, token: str, ask: Callable[[str], str | None]) -> str | None:
        """The user `token` belongs to, from memory or from `ask` (the Hub's whoami: a name, None for a token it
        refused, or an exception for a Hub error)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        with self._lock:
            known = self._entries.get(key)
            if known is not None and known[1] > now:
                self._entries.move_to_end(key)
                return known[0]
        try:
            name = ask(token)
            keep = self.known_s if name is not None else self.refused_s
        except Exception:  # the Hub could not answer: signed out for now, asked again in a few seconds
            name, keep = None, self.error_s
        with self._lock:
            self._entries[key] = (name, now + keep)
            self._entries.move_to_end(key)
            while len(self._entries) > self.most:
                self._entries.popitem(last=False)
        return name


tokens = TokenMemory()


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
    return None if name is None else hf_name(name)


def hf_token_account(token: str) -> str | None:
    """The account a Hugging Face token signs in (`hf:<username>`), or None for a token the Hub does not know."""
    name = token_owner(token) if token.startswith("hf_") else None
    return None if name is None else hf_name(name)


def hf_name(name: str) -> str:
    """The account name of a Hugging Face user; refused when the app cannot use their username."""
    if not _HF_NAME.fullmatch(name):
        raise UserError(
            f"Your Hugging Face username {name[:40]!r} has characters this app cannot use; please contact the owner."
        )
    return HF_PREFIX + name


def token_owner(token: str) -> str | None:
    """The Hugging Face user a token belongs to (asks the Hub, then remembers it a short while)."""
    return tokens.owner(token, hub_owner)


def hub_owner(token: str) -> str | None:
    """The Hub's answer: a user's name, None for a token it refused (or an organisation's); raises on Hub errors."""
    from huggingface_hub import whoami
    from huggingface_hub.errors import HfHubHTTPError

    try:
        user = whoami(token=token)
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            return None
        raise
    return user["name"] if user.get("type") == "user" else None


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
