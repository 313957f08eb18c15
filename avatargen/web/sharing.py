"""The share endpoints: `/share` and `/unshare` (the public page behind a link is `web.share`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from avatargen.generations.sharing import EXPIRIES
from avatargen.web import params
from avatargen.web.site import site_url

if TYPE_CHECKING:
    from avatargen.web.api import Api

SHARE_ENDPOINTS = ("share", "unshare")


class ShareEndpoints:
    """A person's links to their finished images, bound to the app's `Api` (who is asking, the services)."""

    def __init__(self, api: Api):
        self.api = api

    def share(self, id: str, expires: str = "never", request: gr.Request = None) -> dict:
        """Make a finished image public at a link (`shareUrl`) that lasts 1d, 7d or until stopped (`never`)."""
        expires = params.choice("expires", expires, EXPIRIES, default="never")
        user = self.api.user(request, to="share your avatars")
        row = self.api.services.sharing.share(user, params.ident("id", id), expires=expires)
        record = row.to_public(site=site_url(request))
        return {"message": "Anyone with the link can now see this image.", "data": record}

    def unshare(self, id: str, request: gr.Request = None) -> dict:
        """Stop sharing: the link stops working at once."""
        row = self.api.services.sharing.unshare(self.api.user(request, to="stop sharing"), params.ident("id", id))
        return {"message": "The link no longer works.", "data": row.to_public(site=site_url(request))}
