"""Share links: public pages for one output, no sign-in, with previews for chat apps; revocable at once, never an
input photo, unguessable and throttled. The launched app (password auth, the model faked), raw HTTP and
gradio_client."""

import re
import secrets
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
from gradio_client import Client

from avatargen.db.tables import Status, utcnow
from avatargen.presets import STYLES
from avatargen.settings import Settings
from avatargen.web.share import Throttle
from tests.conftest import FakeEngine, generate_one, make_runtime
from tests.helpers import Clock, refused, serve, wait_for

PASSWORD = "a-long-password"


class Tags(HTMLParser):
    """The page's <meta> tags by property or name, and its title."""

    def __init__(self, text: str):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.title, self._in_title = "", False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (key := attrs.get("property") or attrs.get("name")):
            self.meta[key] = attrs.get("content", "")
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


@pytest.fixture(scope="module")
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def served(tmp_path_factory, engine):
    settings = Settings(data_dir=tmp_path_factory.mktemp("share") / "data", auth="password", engine="tiny")
    with serve(settings, engine=engine) as launched:
        for name in ("alice", "bob"):
            launched.runtime.services.users.add(name, password=PASSWORD)
        yield launched


def finished(services, name: str, photo, **options):
    user = services.users.user_for(name)
    pose_id = services.poses.library.query(limit=1)[0][0].id
    row = generate_one(services, user, photo=photo, pose_id=pose_id, style="anime", **options)
    wait_for(lambda: services.generations.get(user, row.id).status == Status.completed, what="the generation")
    return services.generations.get(user, row.id)


def test_a_shared_link_works_signed_out_with_a_preview_and_dies_when_stopped(served, photo):
    services, url = served.runtime.services, served.url
    row = finished(services, "alice", photo)
    other = finished(services, "alice", photo)
    alice = Client(url, auth=("alice", PASSWORD), verbose=False)

    answer = alice.predict(row.id, "7d", api_name="/share")
    link = answer["data"]["shareUrl"]
    token = link.rsplit("/", 1)[1]
    assert re.fullmatch(rf"{re.escape(url)}s/[A-Za-z0-9_-]{{32}}", link)  # 192 random bits
    assert row.id not in token
    assert answer["data"]["shareExpiresAt"] > utcnow().isoformat()[:19]
    records = {r["id"]: r for r in alice.predict(20, 0, api_name="/generations")["data"]}
    assert records[row.id]["shareUrl"] == link and records[other.id]["shareUrl"] is None

    visitor = httpx.Client(timeout=30)  # signed out
    page = visitor.get(link)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    tags = Tags(page.text)
    pose = services.poses.library.get(row.pose_template_id).name
    style = STYLES["anime"].label
    assert tags.meta["og:title"] == tags.title == f"{pose} · {style}"
    assert tags.meta["og:image"] == tags.meta["twitter:image"] == f"{link}/image.jpg"  # absolute: chat apps fetch it
    assert tags.meta["og:url"] == link and tags.meta["twitter:card"] == "summary_large_image"
    assert (tags.meta["og:image:width"], tags.meta["og:image:height"]) == (str(row.width), str(row.height))
    assert f'href="{link}/image.jpg?download=1"' in page.text

    image = visitor.get(f"{link}/image.jpg")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == services.storage.path(row.output_image_path).read_bytes()
    saved = visitor.get(f"{link}/image.jpg", params={"download": "1"}).headers["content-disposition"]
    assert saved.startswith("attachment;") and "-20" in saved  # the pose and the day
    again = visitor.get(link, headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304  # cached, but asked again every time

    unknown = visitor.get(f"{url}s/{secrets.token_urlsafe(24)}")
    assert unknown.status_code == 404
    bob = Client(url, auth=("bob", PASSWORD), verbose=False)
    assert refused(lambda: bob.predict(row.id, api_name="/unshare")) == "Generation not found."
    assert alice.predict(row.id, api_name="/unshare")["data"]["shareUrl"] is None
    for gone in (link, f"{link}/image.jpg"):
        stopped = visitor.get(gone, headers={"If-None-Match": page.headers["etag"]})
        assert (stopped.status_code, stopped.text) == (404, unknown.text)  # exactly like one that never existed

    relinked = alice.predict(row.id, "never", api_name="/share")["data"]
    assert relinked["shareUrl"] != link and relinked["shareExpiresAt"] is None
    assert visitor.get(link).status_code == 404 and visitor.get(relinked["shareUrl"]).status_code == 200
    alice.predict(row.id, api_name="/unshare")


def test_only_finished_outputs_are_ever_shared_never_a_photo(served, engine, photo):
    services, url = served.runtime.services, served.url
    row = finished(services, "alice", photo)
    alice = Client(url, auth=("alice", PASSWORD), verbose=False)
    link = alice.predict(row.id, "1d", api_name="/share")["data"]["shareUrl"]
    visitor = httpx.Client(timeout=30)
    photo_bytes = services.storage.path(row.input_image_path).read_bytes()
    for path in ("/photo.jpg", "/image.jpg/../photo.jpg", "/../../files/" + row.id + "/photo.jpg"):
        answer = visitor.get(link + path)
        assert answer.status_code == 404 or answer.content != photo_bytes
    assert visitor.get(f"{url}files/{row.id}/photo.jpg").status_code == 404
    assert photo_bytes not in visitor.get(link).content

    engine.fail_with = RuntimeError("out of memory")
    try:
        user = services.users.user_for("alice")
        failed = generate_one(services, user, photo=photo, pose_id=row.pose_template_id)
        wait_for(lambda: services.generations.get(user, failed.id).status == Status.failed, what="the failure")
    finally:
        engine.fail_with = None
    message = refused(lambda: alice.predict(failed.id, "never", api_name="/share"))
    assert message == "Only a finished image can be shared; this one has none yet."
    assert "expires must be one of: 1d, 7d, never" in refused(lambda: alice.predict(row.id, "1y", api_name="/share"))
    alice.predict(row.id, api_name="/unshare")


def test_guessing_tokens_finds_nothing_and_is_throttled(served, photo):
    services, url = served.runtime.services, served.url
    row = finished(services, "alice", photo)
    link = services.sharing.share(services.users.user_for("alice"), row.id).to_public(site=url.rstrip("/"))["shareUrl"]
    guesser = httpx.Client(headers={"X-Forwarded-For": "203.0.113.9"}, timeout=30)
    codes = [guesser.get(f"{url}s/{secrets.token_urlsafe(24)}").status_code for _ in range(1000)]
    assert 200 not in codes
    assert codes[:20] == [404] * 20 and set(codes[20:]) == {429}  # a few misses a minute, then refused
    assert guesser.get(link).status_code == 429  # even the real link, from that address, for a while
    assert httpx.get(link, headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 200  # others are served
    services.sharing.unshare(services.users.user_for("alice"), row.id)


def test_the_throttle_forgives_after_its_window():
    clock = Clock()
    throttle = Throttle(requests=5, misses=2, window=60, clock=clock)
    assert all(throttle.allows("a") for _ in range(5)) and not throttle.allows("a")
    assert throttle.allows("b")
    throttle.missed("b")
    throttle.missed("b")
    assert not throttle.allows("b")
    clock.now += 60
    assert throttle.allows("a") and throttle.allows("b")


def test_links_end_when_their_time_is_up(settings, photo):
    """On SQLite and PostgreSQL (the `settings` fixture's backends): the token column and times as each stores them."""
    now = [utcnow()]
    runtime = make_runtime(settings, FakeEngine(), clock=lambda: now[0])
    try:
        services = runtime.services
        user = services.users.user_for(None)
        pose_id = services.poses.library.query(limit=1)[0][0].id
        row = generate_one(services, user, photo=photo, pose_id=pose_id)
        runtime.queue.run_next()
        token = services.sharing.share(user, row.id, expires="1d").share_token
        now[0] += timedelta(hours=23)
        assert services.sharing.shared(token).generation.id == row.id
        now[0] += timedelta(hours=2)
        assert services.sharing.shared(token) is None
        forever = services.sharing.share(user, row.id, expires="never")
        assert forever.share_token != token  # an ended link never comes back
        now[0] += timedelta(days=3650)
        assert services.sharing.shared(forever.share_token).generation.id == row.id
        services.generations.delete(user, row.id)
        assert services.sharing.shared(forever.share_token) is None  # deleted: gone with it
    finally:
        runtime.close()
