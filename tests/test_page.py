"""Issue 24 in Chromium: live progress and Cancel on the result tiles, Delete in reach on a phone, a history that
stays put while jobs finish, a reload that brings the options and an unused photo back, two tabs in step, and
axe-core (npm's, injected into the page) clean of serious and critical violations.

Shares tests/test_browser.py's fixtures (its own launched app: one per module); screenshots in each tmp dir.
"""

from pathlib import Path

import pytest

from tests import test_browser as shared
from tests.helpers import open_tab
from tests.test_browser import DESKTOP, LAPTOP, PHONE, WAIT, box, pick, start_batch, tile, upload

# The browser tests' fixtures, for an app launched for this module.
served, browser, engine, sign_in = shared.served, shared.browser, shared.engine, shared.sign_in

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser
# The page's saved state (written after each change the server hears) has not changed for a second.
SAVED_AND_SETTLED = """() => {
  const value = localStorage.getItem('avatargen-page'), now = performance.now();
  if (window.savedSeen !== value) { window.savedSeen = value; window.savedAt = now; return false; }
  return value !== null && now - window.savedAt > 1000;
}"""


def test_each_tile_shows_its_own_progress_and_a_waiting_job_can_be_cancelled(sign_in, served, engine, tmp_path):
    from playwright.sync_api import expect

    engine.gate.clear()
    name = served.user("rosa", credits=100)
    page = sign_in(name)
    start_batch(page, [0, 1])  # one engine call at a time: the second waits in the queue
    tiles = page.locator("#results li")
    expect(tiles).to_have_count(2, timeout=WAIT)
    expect(tiles.nth(0)).to_contain_text("Generating 0%", timeout=WAIT)
    expect(tiles.nth(1)).to_contain_text("#1 in the queue")
    expect(tiles.nth(0).locator("progress")).to_have_attribute("value", "0")
    running = next(g for g in served.generations(name) if g.status == "processing")
    served.runtime.services.jobs.report_progress(running, 0.5)  # the engine's step callback, halfway
    expect(tiles.nth(0)).to_contain_text("Generating 50%", timeout=WAIT)  # moved on by the poll, no click
    expect(tiles.nth(0).locator("progress")).to_have_attribute("value", "0.5")
    expect(tiles.nth(0).locator("button.cancel")).to_have_count(0)  # running: too late to cancel
    expect(page.locator("#balance")).to_contain_text("90 credits")
    page.screenshot(path=str(tmp_path / "progress.png"))

    tiles.nth(1).get_by_role("button", name="Cancel").click()
    expect(page.locator("#status")).to_contain_text("Cancelled; 5 credits refunded", timeout=WAIT)
    expect(page.locator("#balance")).to_contain_text("95 credits", timeout=WAIT)  # refunded at once
    expect(tiles).to_have_count(1)
    assert [g.status for g in served.generations(name)] == ["processing"]
    engine.gate.set()
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)


def test_delete_can_be_tapped_on_a_phone(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    page = sign_in(served.user("sami"), PHONE)
    start_batch(page, [0])
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    open_tab(page, "History")
    tile(page, "history", 0).click()
    delete = page.locator("#delete")
    delete.scroll_into_view_if_needed()
    expect(delete).to_be_visible(timeout=WAIT)
    found = box(page, "#delete")
    assert found["height"] >= 44  # a target a finger hits
    centre = (found["x"] + found["width"] / 2, found["y"] + found["height"] / 2)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('#delete') !== null", centre)
    page.screenshot(path=str(tmp_path / "delete-phone.png"))
    page.mouse.click(*centre)
    expect(page.locator("#confirm")).to_be_visible(timeout=WAIT)


def test_the_open_item_and_a_pending_delete_survive_a_job_finishing(sign_in, served, engine):
    from playwright.sync_api import expect

    page = sign_in(served.user("tara"))
    start_batch(page, [0])
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    engine.gate.clear()
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Generating", timeout=WAIT)
    open_tab(page, "History")
    tile(page, "history", 0).click()
    expect(page.locator("#selected-info")).to_contain_text("Status", timeout=WAIT)
    page.locator("#delete").click()
    expect(page.locator("#confirm")).to_be_visible(timeout=WAIT)
    before = box(page, "#confirm")
    engine.gate.set()  # the second job finishes and arrives in the history
    expect(page.locator("#history-page")).to_contain_text("2 finished", timeout=WAIT)
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#selected")).to_be_visible()
    assert abs(box(page, "#confirm")["y"] - before["y"]) < 2  # not moved


def test_a_reload_brings_back_the_options_and_an_unused_photo(sign_in, served, photo):
    from playwright.sync_api import expect

    page = sign_in(served.user("uma"))
    upload(page, "Upload a photo", photo)
    expect(page.locator("#photo-check")).to_contain_text("Face found", timeout=WAIT)
    page.locator("#quality").get_by_text("HD", exact=True).click()
    page.get_by_label("Style").click()
    page.get_by_role("option", name="Anime").click()
    page.get_by_text("Advanced").click()
    page.locator("#priority input").check()
    expect(page.locator("#cost")).to_contain_text("10 credits", timeout=WAIT)  # HD with priority
    page.locator("#seed input").fill("4242")
    page.locator("#seed input").press("Tab")
    page.locator("#mirror input").check()
    pick(page, 2)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)  # the server heard the pick
    page.wait_for_function(SAVED_AND_SETTLED, polling=100, timeout=WAIT)
    page.reload()
    expect(page.locator("#photo-check")).to_contain_text("Face found", timeout=WAIT)
    expect(page.locator("#photo-preview img")).to_be_visible()
    expect(page.locator("#quality input[value=hd]")).to_be_checked()
    expect(page.get_by_label("Style")).to_have_value("Anime")
    page.get_by_text("Advanced").click()
    expect(page.locator("#priority input")).to_be_checked()
    expect(page.locator("#seed input")).to_have_value("4242")
    expect(page.locator("#mirror input")).to_be_checked()
    expect(tile(page, "poses", 2)).to_have_attribute("aria-pressed", "true", timeout=WAIT)
    expect(page.locator("#generate")).to_be_enabled()


def test_two_tabs_stay_in_step(sign_in, served, engine):
    from playwright.sync_api import expect

    engine.gate.clear()
    first = sign_in(served.user("vera"))
    second = first.context.new_page()
    second.goto(served.url)
    expect(second.locator("#poses img").first).to_be_visible(timeout=WAIT)
    open_tab(second, "Jobs")
    expect(second.locator("#jobs")).to_contain_text("No jobs running", timeout=WAIT)
    start_batch(first, [0])  # started in the first tab
    expect(second.locator("#jobs tr")).to_have_count(1, timeout=WAIT)  # the second hears of it
    expect(second.locator("#balance")).to_contain_text("95 credits", timeout=WAIT)
    engine.gate.set()
    expect(second.locator("#jobs")).to_contain_text("No jobs running", timeout=WAIT)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install at the repository root)")
@pytest.mark.parametrize("viewport", [DESKTOP, LAPTOP], ids=["1440x900", "1024x768"])
def test_axe_finds_no_serious_or_critical_violations_with_history_open(sign_in, served, tmp_path, viewport):
    from playwright.sync_api import expect

    page = sign_in(served.user(f"wes-{viewport['width']}"), viewport)
    start_batch(page, [0])
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)

    def violations() -> list[str]:
        page.add_script_tag(path=str(AXE))
        found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        return [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in found
            if v["impact"] in ("serious", "critical")
        ]

    assert violations() == []  # the create view, with a result
    open_tab(page, "History")
    tile(page, "history", 0).click()
    expect(page.locator("#selected-info")).to_contain_text("Status", timeout=WAIT)
    page.locator("#delete").click()
    expect(page.locator("#confirm")).to_be_visible(timeout=WAIT)
    page.screenshot(path=str(tmp_path / f"history-open-{viewport['width']}.png"))
    assert violations() == []
