"""The Motion tab in Chromium (1440×900 and a 390×844 phone): pick a motion from its animated gallery, see the price,
generate, and the clip plays inline; the history shows its poster with a play badge.

The models are faked (the video engine paints frames; the MP4, preview and poster are the real ones), so the page is
what is tested here; tests/test_video_app.py makes a real clip on the tiny pipeline. Screenshots land in tmp dirs.
"""

import shutil
import socket

import pytest

import app
from avatargen.settings import Settings
from tests.conftest import FakeEngine, make_runtime
from tests.helpers import open_tab
from tests.test_browser import CHROMIUM, DESKTOP, FLAGS, PHONE, WAIT
from tests.test_video import FakeVideo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path_factory.mktemp("app") / "data", engine="tiny", port=port)
    video = FakeVideo()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "build_runtime", lambda s: make_runtime(s, FakeEngine(), load_video=lambda image: video))
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    runtime.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_picked_motion_is_priced_generated_and_plays_inline(browser, url, viewport, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(url)
        expect(page.locator("#poses img").first).to_be_visible(timeout=WAIT)
        page.locator("#sample").click()
        expect(page.locator("#photo-preview img")).to_be_visible(timeout=WAIT)
        open_tab(page, "Motion")
        tiles = page.locator("#motions .thumbnail-item")
        expect(tiles.first).to_be_visible(timeout=WAIT)
        assert tiles.count() >= 12
        page.locator("#motion-search textarea, #motion-search input").first.fill("turn around")
        page.keyboard.press("Enter")
        expect(tiles.first.locator(".caption-label")).to_contain_text("Turn around", timeout=WAIT)
        tiles.first.click()
        expect(page.locator("#motion-cost")).to_contain_text("20 credits for 2 s", timeout=WAIT)
        page.screenshot(path=tmp_path / "motion-picked.png", full_page=True)
        page.locator("#generate-video").click()
        video = page.locator("#video-result video")
        expect(video).to_be_visible(timeout=WAIT)
        page.wait_for_function(
            "() => { const v = document.querySelector('#video-result video');"
            " return v && v.readyState >= 2 && v.duration > 0; }",
            timeout=WAIT,
        )
        facts = video.evaluate("v => ({duration: v.duration, loop: v.loop, controls: v.controls, w: v.videoWidth})")
        assert facts["duration"] == pytest.approx(2.0, abs=0.2) and facts["loop"] and facts["w"] == 384
        expect(page.locator("#motion-status")).to_contain_text("16 frames at 8 fps")
        video.scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / "motion-playing.png", full_page=True)
        open_tab(page, "History")
        badge = page.locator("#history .thumbnail-item").filter(has_text="▶ Turn around on the spot (video)").first
        expect(badge.locator("img")).to_be_visible(timeout=WAIT)  # the poster frame, not a video player
        page.screenshot(path=tmp_path / "history.png", full_page=True)
    finally:
        context.close()
