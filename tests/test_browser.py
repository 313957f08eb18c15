"""A person in Chromium: the page loads the gallery, a pose is picked, a photo uploaded, and the avatar appears."""

import shutil
import socket

import pytest

import app
from avatargen.settings import Settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture
def page_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path / "data", engine="tiny", port=port)
    runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", runtime
    demo.close()
    runtime.close()


def test_pick_a_pose_upload_a_photo_and_get_an_avatar(page_url, photo, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, runtime = page_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)
        expect(page.locator("#poses img").first).to_be_visible(timeout=60_000)
        expect(page.locator("#cost")).to_contain_text("Cost: 5 credits")
        expect(page.locator("#cost")).to_contain_text("balance: 100 credits")

        library = len(runtime.service.poses)
        sitting = runtime.service.poses.query(category="sitting")[1]
        expect(page.locator("#pose-page")).to_contain_text(f"{library} poses")
        page.get_by_label("Category").click()
        page.get_by_role("option", name="sitting").click()
        expect(page.locator("#pose-page")).to_contain_text(f"· {sitting} poses")
        page.locator("#poses img").first.click()
        expect(page.locator("#chosen")).to_contain_text("Sitting")

        page.get_by_text("HD 768×1152").click()
        expect(page.locator("#cost")).to_contain_text("Cost: 7 credits")

        page.locator("#photo input[type=file]").set_input_files(str(photo))
        page.locator("#generate").click()
        expect(page.locator("#status")).to_contain_text("Done", timeout=120_000)
        expect(page.locator("#result img")).to_be_visible()
        expect(page.locator("#cost")).to_contain_text("balance: 93 credits")
        expect(page.locator("#history")).to_contain_text("completed")
        expect(page.locator("#stats")).to_contain_text("1 completed")
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        browser.close()

    [generation], total = runtime.service.list_generations(runtime.service.user_for(None))
    assert total == 1 and generation.status == "completed" and generation.quality == "hd"
    assert runtime.service.pose_for(generation).category == "sitting"
