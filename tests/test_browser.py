"""A person in Chromium (1440×900, 1024×768 and a 390×844 phone), against the launched app with signed-in users.

The model is faked (tests/conftest.py FakeEngine) so jobs can be held mid-run; everything else is real. Each bug
from issues 11 and 24 has a regression test here (issue 24's newer ones in tests/test_page.py). Screenshots land
in each test's tmp dir.
"""

import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

import app
from avatargen.runtime import Runtime
from avatargen.settings import Settings
from avatargen.web.files import slug
from tests.conftest import FakeEngine, generate_batch, make_runtime
from tests.helpers import open_tab

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
DESKTOP = {"width": 1440, "height": 900}
LAPTOP = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORD = "a-long-password"
WAIT = 60_000
REFERENCE = "Upload a reference photo and save its pose"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"),
]


@dataclass
class Served:
    url: str
    runtime: Runtime
    engine: FakeEngine

    def user(self, name: str, credits: int = 100) -> str:
        self.runtime.services.users.add(name, password=PASSWORD, credits=credits)
        return name

    def generations(self, name: str) -> list:
        services = self.runtime.services
        return services.generations.page(services.users.user_for(name), limit=100)[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # One job per engine call, so jobs queue behind each other and show their place in the queue.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("app") / "data", engine="tiny", auth="password", port=port, batch_size=1
    )
    engine = FakeEngine(gated=True)
    engine.gate.set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "build_runtime", lambda s: make_runtime(s, engine))
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    yield Served(f"http://127.0.0.1:{port}/", runtime, engine)
    engine.gate.set()
    demo.close()
    runtime.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def engine(served):
    yield served.engine
    served.engine.fail_with = None
    served.engine.gate.set()


@pytest.fixture
def sign_in(browser, served):
    """Signs a person in, in a browser context of their own; every context it opened closes after the test, so no
    page is left polling the app while the next tests run."""
    from playwright.sync_api import expect

    contexts = []

    def signed_in(name: str, viewport: dict = DESKTOP):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.goto(served.url)
        page.get_by_label("username").fill(name)
        page.get_by_label("password").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#poses img").first).to_be_visible(timeout=WAIT)
        expect(page.locator("#balance")).to_contain_text("credits", timeout=WAIT)
        return page

    yield signed_in
    for context in contexts:
        context.close()


def toast(page, text: str):
    from playwright.sync_api import expect

    found = page.locator(".toast-body").filter(has_text=text).first
    expect(found).to_be_visible(timeout=WAIT)
    return found


def no_error_badges(page) -> None:
    # Gradio's status tracker paints a red "Error" pill over a failed event's outputs unless its wrap is hidden.
    shown = "[...document.querySelectorAll('span.error')].filter(e => !e.closest('.wrap')?.classList.contains('hide'))"
    page.wait_for_timeout(300)
    assert page.evaluate(f"{shown}.filter(e => !e.closest('.toast-wrap, [class*=toast]')).length") == 0


def close_toasts(page) -> None:
    for close in page.locator(".toast-close").all():
        if close.is_visible():
            close.click()


def upload(page, button: str, path: Path) -> None:
    page.get_by_test_id(f"{button}-upload-button").set_input_files(str(path))


def tile(page, gallery: str, index: int):
    """A tile: a pose button in the pose grid, a thumbnail in the History gallery."""
    if gallery == "poses":
        return page.locator("#poses button.pose").nth(index)
    return page.locator(f"#{gallery} .thumbnail-item").nth(index)


def pose_name(page, index: int) -> str:
    return tile(page, "poses", index).locator(".name").inner_text()


def pick(page, index: int) -> None:
    from playwright.sync_api import expect

    tile(page, "poses", index).click()
    expect(tile(page, "poses", index)).to_have_attribute("aria-pressed", "true", timeout=WAIT)


def picked(page):
    return page.locator('#poses button.pose[aria-pressed="true"]')


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def centred(locator):
    """The element scrolled to the middle of the window: on a phone the sticky Generate bar covers the bottom."""
    top = locator.evaluate("element => element.getBoundingClientRect().top")
    locator.page.evaluate("top => window.scrollBy(0, top - window.innerHeight / 3)", top)
    return locator
def use_sample(page) -> None:
    from playwright.sync_api import expect

    page.locator("#sample").click()
    expect(page.locator("#photo-check")).to_contain_text("Face found", timeout=WAIT)


def start_batch(page, poses: list[int]) -> None:
    from playwright.sync_api import expect

    use_sample(page)
    for index in poses:
        pick(page, index)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)
    page.locator("#generate").click()


@pytest.mark.parametrize("viewport", [DESKTOP, LAPTOP], ids=["1440x900", "1024x768"])
def test_one_first_screen_holds_the_photo_the_pose_grid_and_generate_with_its_results(
    sign_in, served, tmp_path, viewport
):
    from playwright.sync_api import expect

    page = sign_in(served.user(f"dana-{viewport['width']}"), viewport)
    generate = page.locator("#generate")
    expect(generate).to_be_disabled()  # nothing given yet: disabled, with the reason next to it
    expect(page.locator("#generate-reason")).to_contain_text("Add your photo first")
    use_sample(page)
    expect(page.locator("#generate-reason")).to_contain_text("Pick at least one pose")
    pick(page, 0)
    expect(page.locator("#chosen")).to_contain_text(pose_name(page, 0))
    expect(generate).to_be_enabled(timeout=WAIT)
    expect(page.locator("#generate-reason")).to_have_text("")
    generate.click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    result_image = page.locator("#results li.completed img")
    expect(result_image).to_be_visible()
    # the avatar itself, fetched from its owner-only address (not a broken image with its alt text)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=result_image.element_handle(), timeout=WAIT)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / f"create-{viewport['width']}.png"))
    for part in ("#photo-preview", "#search", "#poses button.pose", "#generate", "#status"):
        found = box(page, part)
        assert found["y"] + found["height"] <= viewport["height"], f"{part} is below the fold"
    assert box(page, "#results li")["y"] + 100 <= viewport["height"]  # the result area starts on the first screen
    photo, poses, result = (box(page, f"#{part}-column") for part in ("photo", "pose", "result"))
    assert photo["x"] < poses["x"] < result["x"]  # side by side: photo → poses → Generate
    # The library is the page's own height: nothing inside it scrolls on its own.
    assert page.evaluate(
        """() => ![...document.querySelectorAll('#poses, #poses *')].some(e =>
            /(auto|scroll)/.test(getComputedStyle(e).overflowY) && e.scrollHeight > e.clientHeight + 2)"""
    )
    assert [g.status for g in served.generations(f"dana-{viewport['width']}")] == ["completed"]


def test_phone_orders_photo_poses_generate_and_keeps_generate_in_reach(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    page = sign_in(served.user("erin"), PHONE)
    photo, poses, result = (box(page, f"#{part}-column") for part in ("photo", "pose", "result"))
    assert photo["y"] < poses["y"] < result["y"] and abs(poses["x"] - photo["x"]) < 5  # stacked, in that order
    generate = box(page, "#generate")
    assert generate["y"] + generate["height"] <= PHONE["height"] and generate["height"] >= 44  # in reach
    use_sample(page)
    pick(page, 1)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    page.screenshot(path=str(tmp_path / "create-phone.png"))
    open_tab(page, "History")
    expect(page.locator("#generate")).to_be_hidden()  # the Generate bar belongs to the create view only
    expect(tile(page, "history", 0)).to_be_visible(timeout=WAIT)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing cut off sideways
    page.screenshot(path=str(tmp_path / "history-phone.png"), full_page=True)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("notes.jpg", lambda path: path.write_text("this is not a photo"), "not a photo we can read"),
        ("empty.png", lambda path: path.write_bytes(b""), "not a photo we can read"),
        (
            "phone.heic",
            lambda path: path.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64),
            "not a photo we can read",
        ),
        ("bomb.png", lambda path: Image.new("1", (15_000, 15_000)).save(path), "too many pixels"),
    ],
)
def test_a_broken_upload_gets_the_apps_own_message(sign_in, served, tmp_path, name, make, message):
    from playwright.sync_api import expect

    page = sign_in(served.user(f"frank-{name.split('.')[0]}"))
    path = tmp_path / name
    make(path)
    upload(page, "Upload a photo", path)
    toast(page, message)
    no_error_badges(page)
    expect(page.locator("#photo-preview img")).to_have_count(0)
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#generate-reason")).to_contain_text("Add your photo first")


def test_a_photo_is_checked_for_a_face_on_upload(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    page = sign_in(served.user("cora"))
    cup = tmp_path / "cup.png"
    Image.new("RGB", (400, 400), (150, 100, 60)).save(cup)  # a brown square: no face
    upload(page, "Upload a photo", cup)
    expect(page.locator("#photo-check")).to_contain_text("No face: use a photo where your face is clearly visible")
    pick(page, 0)
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#generate-reason")).to_contain_text("clear face")
    use_sample(page)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)


def test_a_failed_pose_extraction_leaves_the_page_usable(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    page = sign_in(served.user("gina"))
    empty = tmp_path / "wall.png"
    Image.new("RGB", (320, 480), (200, 190, 180)).save(empty)
    page.get_by_text("Use a pose from your own reference photo").click()
    upload(page, REFERENCE, empty)
    toast(page, "person")
    no_error_badges(page)
    pick(page, 0)  # the grid still answers
    expect(page.locator("#chosen")).to_contain_text(served.runtime.services.poses.library.query(limit=1)[0][0].name)
    no_error_badges(page)


def test_the_mark_follows_the_pose_across_pages_filters_and_own_poses(sign_in, served, photo):
    from playwright.sync_api import expect

    page = sign_in(served.user("hugo"))
    sixth = pose_name(page, 5)
    pick(page, 5)
    expect(tile(page, "poses", 5).locator(".badge")).to_be_visible()  # a strong mark: badge and border
    expect(page.locator("#previous")).to_be_disabled()  # page 1 has no previous page
    page.locator("#next").click()
    expect(page.locator("#pose-page")).to_contain_text("Page 2", timeout=WAIT)
    expect(picked(page)).to_have_count(0)
    page.locator("#previous").click()
    expect(tile(page, "poses", 5)).to_have_attribute("aria-pressed", "true", timeout=WAIT)

    category = served.runtime.services.poses.library.query(search=sixth, limit=1)[0][0].category
    page.get_by_label("Category").click()
    page.get_by_role("option", name=category, exact=True).click()
    expect(picked(page)).to_have_count(1, timeout=WAIT)
    expect(picked(page)).to_contain_text(sixth)
    page.locator("#next").click()  # Next, then Clear filters: page 1 of everything, the pick still there
    page.locator("#clear-filters").click()
    total = len(served.runtime.services.poses.library)
    expect(page.locator("#pose-page")).to_contain_text(f"Page 1 of {-(-total // 24)} · {total} poses", timeout=WAIT)

    page.get_by_text("Use a pose from your own reference photo").click()
    page.locator("#pose-name").locator("input, textarea").first.fill("Mission portrait")
    upload(page, REFERENCE, photo)
    toast(page, "Saved “Mission portrait”")
    expect(tile(page, "poses", 0)).to_contain_text("Mission portrait", timeout=WAIT)  # own poses first
    expect(tile(page, "poses", 0)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#chosen")).to_contain_text("Mission portrait")
    expect(page.locator("#chosen")).to_contain_text(sixth)  # every pick, not only the last


def test_search_as_you_type_and_a_visible_no_match(sign_in, served):
    from playwright.sync_api import expect

    page = sign_in(served.user("iris"))
    search = page.locator("#search input, #search textarea").first
    search.press_sequentially("sitting", delay=40)  # no Enter
    expect(page.locator("#pose-page")).not_to_contain_text(f"{len(served.runtime.services.poses.library)} poses")
    expect(tile(page, "poses", 0)).to_contain_text(re.compile("sit", re.I), timeout=WAIT)
    search.fill("")
    search.press_sequentially("zzzz no such pose", delay=20)  # typed: Gradio hears keys, not fill()
    expect(page.locator("#no-match")).to_be_visible(timeout=WAIT)
    expect(page.locator("#poses button.pose")).to_have_count(0)
    page.locator("#no-match-clear").click()
    total = len(served.runtime.services.poses.library)
    expect(page.locator("#pose-page")).to_contain_text(f"{total} poses", timeout=WAIT)
    expect(page.locator("#no-match")).to_be_hidden()
    expect(search).to_have_value("")


def test_four_rapid_picks_are_all_kept_and_shown_at_once(sign_in, served):
    from playwright.sync_api import expect

    page = sign_in(served.user("quinn"))
    for index in range(4):
        tile(page, "poses", index).click()  # no waiting between clicks
    for index in range(4):  # marked in the browser, before any answer
        expect(tile(page, "poses", index)).to_have_attribute("aria-pressed", "true", timeout=500)
    expect(page.locator("#chosen .chip[data-unpick]")).to_have_count(4)
    expect(page.locator("#cost")).to_contain_text("4 poses × 5 = 20 credits", timeout=WAIT)  # the server heard all
    tile(page, "poses", 1).click()
    expect(tile(page, "poses", 1)).to_have_attribute("aria-pressed", "false", timeout=500)
    expect(page.locator("#cost")).to_contain_text("3 poses × 5 = 15 credits", timeout=WAIT)


def test_several_poses_are_priced_and_charged_as_a_whole(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    name = served.user("jack", credits=12)
    page = sign_in(name)
    use_sample(page)
    for index in range(3):
        pick(page, index)
    expect(page.locator("#cost")).to_contain_text("3 poses × 5 = 15 credits", timeout=WAIT)
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#generate-reason")).to_contain_text("Not enough credits: 15 needed, you have 12")
    expect(page.locator("#generate-reason")).to_contain_text("pick 2 poses")
    assert served.generations(name) == []

    page.locator("#chosen .chip[data-unpick]").first.click()  # unpick from the chosen poses
    expect(page.locator("#chosen .chip[data-unpick]")).to_have_count(2)
    expect(tile(page, "poses", 0)).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#cost")).to_contain_text("2 poses × 5 = 10 credits", timeout=WAIT)
    expect(page.locator("#generate")).to_be_enabled()
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("2 of 2 done", timeout=WAIT)
    expect(page.locator("#results li.completed img")).to_have_count(2)
    expect(page.locator("#results a.download").first).to_have_attribute("download", re.compile(r"-\d{4}-\d\d-\d\d"))
    expect(page.locator("#balance")).to_contain_text("2 credits", timeout=WAIT)
    assert sorted(g.status for g in served.generations(name)) == ["completed", "completed"]

    page.locator("#chosen .clear").click()
    expect(page.locator("#chosen")).to_contain_text("No pose picked yet")
    for index in range(8):
        tile(page, "poses", index).click()
    tile(page, "poses", 8).click()  # a ninth is refused, in place
    expect(page.locator("#poses .note")).to_contain_text("at most 8 poses")
    expect(picked(page)).to_have_count(8)
    expect(tile(page, "poses", 8)).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#cost")).to_contain_text("8 poses × 5 = 40 credits", timeout=WAIT)


def test_best_of_four_is_priced_before_generating_and_charged_once(sign_in, served):
    from playwright.sync_api import expect

    name = served.user("noor", credits=30)
    page = sign_in(name)
    use_sample(page)
    pick(page, 0)
    expect(page.locator("#cost")).to_contain_text("5 credits", timeout=WAIT)
    page.get_by_text("Advanced").click()
    page.locator("#candidates").get_by_text("Best of 4").click()
    expect(page.locator("#cost")).to_contain_text("11 credits", timeout=WAIT)
    pick(page, 1)  # picking keeps the choice in the price
    expect(page.locator("#cost")).to_contain_text("2 poses × 11 = 22 credits", timeout=WAIT)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("2 of 2 done", timeout=WAIT)
    expect(page.locator("#balance")).to_contain_text("8 credits", timeout=WAIT)
    assert sorted(g.candidates for g in served.generations(name)) == [4, 4]
    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text("2 finished", timeout=WAIT)
    tile(page, "history", 0).click()
    expect(page.locator("#selected-info")).to_contain_text("Best of 4", timeout=WAIT)
    expect(page.locator("#alternatives img")).to_have_count(3, timeout=WAIT)


def test_more_photos_of_you_and_a_mirrored_pose_under_advanced(sign_in, served, photo, tmp_path):
    from playwright.sync_api import expect

    name = served.user("mira")
    page = sign_in(name)
    use_sample(page)
    expect(page.locator("#mirror")).to_be_hidden()  # under Advanced, closed
    page.get_by_text("Advanced").click()
    expect(page.locator("#advanced")).to_contain_text("ahead of everyone's normal ones")  # Priority explained
    page.get_by_test_id("Add more photos of you (up to 3)-upload-button").set_input_files([str(photo), str(photo)])
    expect(page.locator("#more-photos-info")).to_contain_text("Plus 2 more photos of you", timeout=WAIT)
    page.locator("#mirror input").check()
    pick(page, 0)
    expect(page.locator("#generate")).to_be_enabled(timeout=WAIT)
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    [made] = served.generations(name)
    assert made.mirrored and len(made.extra_input_paths) == 2
    assert len(served.engine.requests[-1].identity_images) == 3  # all three photos went into the likeness

    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    page.get_by_test_id("Add more photos of you (up to 3)-upload-button").set_input_files([str(text)])
    toast(page, "Photo 2: That file is not a photo we can read")
    no_error_badges(page)


def test_one_tile_per_pose_and_a_switcher_for_its_views_and_framings(sign_in, served):
    from playwright.sync_api import expect

    page = sign_in(served.user("gus"))
    bases = len(served.runtime.services.poses.library.base_poses())
    page.locator("#grouped input").check()
    expect(page.locator("#pose-page")).to_contain_text(f"· {bases} poses", timeout=WAIT)
    pick(page, 0)
    expect(page.locator("#variant")).to_be_visible(timeout=WAIT)
    poses = served.runtime.services.poses.library
    first = poses.query(group=True, limit=1)[0][0]
    other = next(t for t in poses.variants(first.base_pose) if t.id != first.id)
    expect(page.locator("#chosen")).to_contain_text(first.name, timeout=WAIT)
    page.locator("#variant input").fill(other.name)
    page.locator("#variant input").press("Enter")
    expect(page.locator("#chosen")).to_contain_text(other.name, timeout=WAIT)
    expect(page.locator("#chosen .chip[data-unpick]")).to_have_count(1)  # swapped, not added
    no_error_badges(page)


def test_jobs_survive_a_reload_and_move_into_the_history_by_themselves(sign_in, served, engine, tmp_path):
    from playwright.sync_api import expect

    engine.gate.clear()
    name = served.user("kate")
    page = sign_in(name)
    start_batch(page, [0, 1, 2])
    jobs = page.locator("#jobs tr")
    expect(page.locator("#results li")).to_have_count(3, timeout=WAIT)
    expect(page.locator("#results")).to_contain_text("#1 in the queue")  # each tile its own place
    expect(page.locator("#status")).to_contain_text("3 still running")
    open_tab(page, "Jobs")
    expect(jobs).to_have_count(3, timeout=WAIT)
    expect(page.locator("#jobs")).to_contain_text("Generating")
    expect(page.locator("#jobs")).to_contain_text("#2 in the queue")
    expect(page.locator("#jobs img")).to_have_count(3)
    page.screenshot(path=str(tmp_path / "running-batch-desktop.png"))

    page.reload()  # everything comes back from the server
    expect(page.locator("#poses img").first).to_be_visible(timeout=WAIT)
    expect(page.locator("#results li")).to_have_count(3, timeout=WAIT)
    expect(page.locator("#photo-preview img")).to_be_visible()
    expect(page.locator("#chosen .chip[data-unpick]")).to_have_count(3)
    open_tab(page, "Jobs")
    expect(jobs).to_have_count(3, timeout=WAIT)
    expect(page.locator("#jobs")).to_contain_text("#2 in the queue")
    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text("Nothing finished yet")

    engine.gate.set()  # the jobs finish: no clicks from here on
    expect(page.locator("#history-page")).to_contain_text("3 finished", timeout=WAIT)
    expect(page.locator("#history img")).to_have_count(3)
    expect(page.locator("#status")).to_contain_text("3 of 3 done")
    open_tab(page, "Jobs")
    expect(page.locator("#jobs")).to_contain_text("No jobs running")


def test_four_clicks_on_generate_follow_four_jobs(sign_in, served, engine):
    from playwright.sync_api import expect

    page = sign_in(served.user("kim"))
    start_batch(page, [4])  # one job runs to the end first: the estimates come from recent run times
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    engine.gate.clear()
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text(re.compile("Generating|Waiting"), timeout=WAIT)
    for clicks in range(2, 5):
        page.locator("#generate").click()
        expect(page.locator("#status")).to_contain_text(f"{clicks} still running", timeout=WAIT)
    expect(page.locator("#status")).to_contain_text("0 of 4 done · 4 still running", timeout=WAIT)
    expect(page.locator("#results li")).to_have_count(4)
    expect(page.locator("#results")).to_contain_text("#3 in the queue")  # its place, and an estimate once jobs ran
    expect(page.locator("#results")).to_contain_text("about")
    open_tab(page, "Jobs")
    expect(page.locator("#jobs tr")).to_have_count(4, timeout=WAIT)
    engine.gate.set()
    expect(page.locator("#status")).to_contain_text("4 of 4 done", timeout=WAIT)
    expect(page.locator("#jobs")).to_contain_text("No jobs running")


def test_history_shows_names_details_failures_and_deletes_only_when_confirmed(sign_in, served, engine, tmp_path):
    from playwright.sync_api import expect

    name = served.user("liam")
    page = sign_in(name)
    first = served.runtime.services.poses.library.query(limit=1)[0][0]
    start_batch(page, [0])
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    engine.fail_with = RuntimeError("the GPU caught fire")
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Failed", timeout=WAIT)
    engine.fail_with = None

    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text("2 finished", timeout=WAIT)
    expect(tile(page, "history", 0).locator(".caption-label")).to_contain_text(f"Failed: {first.name}")
    expect(tile(page, "history", 0).locator(".caption-label")).to_contain_text("refunded")
    expect(tile(page, "history", 1).locator(".caption-label")).to_have_text(first.name)  # no render time
    assert first.id not in page.locator("#history").inner_text()  # names, never internal ids

    tile(page, "history", 0).click()
    expect(page.locator("#selected-info")).to_contain_text("Why it failed", timeout=WAIT)
    expect(page.locator("#selected-info")).to_contain_text("5 credits refunded")
    tile(page, "history", 1).click()
    info = page.locator("#selected-info")
    expect(info).to_contain_text(first.name, timeout=WAIT)
    for part in ("SD 512×768", "Realistic photo", "Credits: 5", "Time taken"):
        expect(info).to_contain_text(part)
    expect(page.locator("#selected-image img")).to_be_visible()
    with page.expect_download() as download:
        page.locator("#selected-image").get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.startswith(slug(first.name))  # says what it is: the pose, the day
    page.screenshot(path=str(tmp_path / "history-desktop.png"))

    [done] = [g for g in served.generations(name) if g.status == "completed"]
    page.locator("#again-same").click()
    toast(page, "Started again with the same settings")
    expect(page.locator("#history-page")).to_contain_text("3 finished", timeout=WAIT)
    again = next(g for g in served.generations(name) if g.status == "completed" and g.created_at > done.created_at)
    assert (again.seed, again.pose_template_id, again.quality, again.style) == (
        done.seed,
        done.pose_template_id,
        done.quality,
        done.style,
    )

    tile(page, "history", 2).click()
    page.locator("#delete").click()
    expect(page.locator("#confirm")).to_be_visible(timeout=WAIT)
    page.locator("#cancel-delete").click()
    expect(page.locator("#confirm")).to_be_hidden(timeout=WAIT)
    assert len(served.generations(name)) == 3  # nothing deleted without the confirmation
    page.locator("#delete").click()
    page.locator("#confirm-delete").click()
    toast(page, "Generation deleted")
    expect(page.locator("#history-page")).to_contain_text("2 finished", timeout=WAIT)
    assert len(served.generations(name)) == 2


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_shared_link_opens_signed_out_and_dies_when_stopped(sign_in, served, browser, viewport, tmp_path):
    from playwright.sync_api import expect

    page = sign_in(served.user(f"sharer{viewport['width']}"), viewport)
    start_batch(page, [0])
    expect(page.locator("#status")).to_contain_text("Done", timeout=WAIT)
    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text("1 finished", timeout=WAIT)
    tile(page, "history", 0).click()
    centred(page.locator("#share-row"))
    page.locator("#share-expiry input").click()
    page.get_by_role("option", name="7 days").click()
    centred(page.locator("#share")).click()
    toast(page, "Anyone with the link can now see this image")
    expect(tile(page, "history", 0).locator(".caption-label")).to_contain_text("shared", timeout=WAIT)
    expect(page.locator("#share-link textarea")).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{32}$"), timeout=WAIT)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url.rstrip("/"))
    centred(page.locator("#share-link")).get_by_role("button", name=re.compile("copy", re.I)).click()
    link = page.evaluate("navigator.clipboard.readText()")  # what the person pastes into a chat
    assert link == page.locator("#share-link textarea").input_value()
    page.screenshot(path=str(tmp_path / "shared-history.png"))

    friend = browser.new_context(viewport=viewport)  # no account, no cookies
    try:
        visit = friend.new_page()
        assert visit.goto(link).status == 200
        expect(visit.locator("#shared-image")).to_be_visible()
        assert visit.evaluate("document.querySelector('#shared-image').naturalWidth") > 0
        expect(visit.locator("#shared-style")).to_have_text("Realistic photo")
        shown = visit.locator("#shared-image").bounding_box()
        assert shown["x"] >= 0 and shown["x"] + shown["width"] <= viewport["width"]
        expect(visit.locator("#shared-download")).to_be_in_viewport()
        with visit.expect_download() as download:
            visit.locator("#shared-download").click()
        assert download.value.suggested_filename.endswith(".jpg")
        visit.screenshot(path=str(tmp_path / "shared-page.png"))

        centred(page.locator("#unshare")).click()
        toast(page, "The link no longer works")
        expect(page.locator("#share-link")).to_be_hidden()
        assert visit.reload().status == 404
    finally:
        friend.close()


def test_history_pages(sign_in, served, photo):
    from playwright.sync_api import expect

    name = served.user("mia")
    services = served.runtime.services
    user = services.users.user_for(name)
    poses = [t.id for t in services.poses.library.query(limit=7)[0]]
    made = []
    for chosen in (poses, poses[:6]):  # two batches, one after the other: both fit under the jobs-in-flight limit
        made += generate_batch(services, user, photo=photo, pose_ids=chosen)
        for _ in range(600):
            if not services.generations.jobs(user):
                break
            time.sleep(0.1)
    page = sign_in(name)
    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text(f"Page 1 of 2 · {len(made)} finished", timeout=WAIT)
    expect(page.locator("#history img")).to_have_count(12)
    page.get_by_role("button", name="Older →").click()
    expect(page.locator("#history-page")).to_contain_text("Page 2 of 2", timeout=WAIT)
    expect(page.locator("#history img")).to_have_count(1)


def test_stats_show_plots_and_the_ledger(sign_in, served, tmp_path):
    from playwright.sync_api import expect

    name = served.user("nina")
    page = sign_in(name)
    start_batch(page, [0, 1])
    expect(page.locator("#status")).to_contain_text("2 of 2 done", timeout=WAIT)
    open_tab(page, "Stats")
    expect(page.locator("#stats")).to_contain_text("2 completed", timeout=WAIT)
    expect(page.locator("#stats")).to_contain_text("balance 90 credits")
    for plot in ("#per-day", "#credits-per-day", "#by-style", "#by-quality"):
        expect(page.locator(plot).locator("canvas, svg").first).to_be_visible(timeout=WAIT)
    expect(page.locator("#ledger")).to_contain_text("generation")
    expect(page.locator("#ledger")).to_contain_text("grant")
    page.screenshot(path=str(tmp_path / "stats-desktop.png"), full_page=True)

    phone = sign_in(name, PHONE)
    open_tab(phone, "Stats")
    expect(phone.locator("#stats")).to_contain_text("2 completed", timeout=WAIT)
    phone.screenshot(path=str(tmp_path / "stats-phone.png"), full_page=True)


def test_two_people_see_only_their_own_jobs_and_history(sign_in, served, engine):
    from playwright.sync_api import expect

    engine.gate.clear()
    olga = sign_in(served.user("olga"))
    start_batch(olga, [0])
    open_tab(olga, "Jobs")
    expect(olga.locator("#jobs tr")).to_have_count(1, timeout=WAIT)

    # Peter signs in in the same browser storage Olga used: none of her ids show through.
    peter = olga.context.new_page()
    peter.context.clear_cookies()
    peter.goto(served.url)
    peter.get_by_label("username").fill(served.user("peter"))
    peter.get_by_label("password").fill(PASSWORD)
    peter.get_by_role("button", name="Login").click()
    expect(peter.locator("#poses img").first).to_be_visible(timeout=WAIT)
    open_tab(peter, "Jobs")
    expect(peter.locator("#jobs")).to_contain_text("No jobs running", timeout=WAIT)
    expect(peter.locator("#results li")).to_have_count(0)
    expect(peter.locator("#photo-preview img")).to_have_count(0)
    engine.gate.set()


@pytest.fixture
def space_page(browser, tmp_path, monkeypatch):
    """The app as a public Space (Hugging Face sign-in), seen by a signed-out visitor."""
    import gradio.oauth

    # Off a Space, Gradio mocks OAuth with the machine's Hub login: faked (tests/test_space.py does the same).
    monkeypatch.setattr(gradio.oauth, "get_token", lambda: "hf_local_machine")
    monkeypatch.setattr(
        gradio.oauth, "whoami", lambda *a, **k: {"type": "user", "name": "ada", "fullname": "Ada", "avatarUrl": ""}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path / "space", engine="tiny", auth="hf", port=port, worker_threads=0)
    runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"http://127.0.0.1:{port}/")
    yield page
    page.context.close()
    demo.close()
    runtime.close()


def test_a_signed_out_visitor_browses_and_is_asked_to_sign_in(space_page, tmp_path):
    from playwright.sync_api import expect

    page = space_page
    expect(page.locator("#poses img").first).to_be_visible(timeout=WAIT)
    expect(page.locator("#generate-reason")).to_contain_text("Sign in with Hugging Face to get your free credits")
    expect(page.locator("#sign-in")).to_be_visible()
    pick(page, 0)
    use_sample(page)
    expect(page.locator("#generate")).to_be_disabled()
    open_tab(page, "History")
    expect(page.locator("#history-page")).to_contain_text("Sign in with Hugging Face to see your generations")
    open_tab(page, "Stats")
    expect(page.locator("#stats")).to_contain_text("Sign in with Hugging Face")
    page.screenshot(path=str(tmp_path / "signed-out-desktop.png"))
