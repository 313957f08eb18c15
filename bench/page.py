"""The page as a first-time visitor meets it, in Debian's Chromium at 1440×900, 1024×768 and 390×844.

Launches the app in this process (auth off, the model faked by tests/conftest.py's FakeEngine, one finished
generation made first so History has an item), then per size: a screenshot of the first screen, where the pose grid
and Generate sit (is each inside the first viewport?), whether the pose library scrolls inside the page, the time
from a click on a pose to its picked mark, how many of four rapid clicks are kept, and axe-core's serious and
critical violations with History open on an item (axe-core from npm: `npm install` at the repository root). Once:
the first load's bytes and requests. Prints the figures and writes bench/results/page.json and screenshots under
bench/results/page/.

    python bench/page.py
"""

import json
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import app  # noqa: E402
from avatargen.settings import Settings  # noqa: E402
from tests.conftest import FakeEngine, generate_batch, make_runtime  # noqa: E402

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": (1440, 900), "laptop": (1024, 768), "phone": (390, 844)}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OUT = ROOT / "bench" / "results"

# The tiles and their picked mark: Gradio gallery tiles with a ✓ caption (before issue 24), or the pose grid's
# buttons with aria-pressed (after).
MARKED = """([tile, old]) => old ? tile.querySelector('.caption-label')?.textContent.includes('✓')
                                  : tile.getAttribute('aria-pressed') === 'true'"""


def tiles(page):
    old = page.locator("#poses .thumbnail-item").count() > 0
    return (page.locator("#poses .thumbnail-item") if old else page.locator("#poses button.pose")), old


def pick_latency(page, index: int) -> float:
    """Milliseconds from a click on a pose to its picked mark (the page's own clock, requestAnimationFrame)."""
    found, old = tiles(page)
    handle = found.nth(index).element_handle()
    return page.evaluate(
        """async ([tile, old]) => {
            const marked = MARKED;
            const start = performance.now();
            tile.click();
            while (!marked([tile, old])) {
                await new Promise(r => requestAnimationFrame(r));
                if (performance.now() - start > 20000) return -1;
            }
            return performance.now() - start;
        }""".replace("MARKED", MARKED),
        [handle, old],
    )


def rapid_picks(page) -> int:
    """Four clicks 80 ms apart on four unpicked poses; how many are marked picked 4 s later."""
    found, old = tiles(page)
    for index in range(12, 16):
        found.nth(index).click()
        page.wait_for_timeout(80)
    page.wait_for_timeout(4000)
    return sum(page.evaluate(MARKED, [found.nth(i).element_handle(), old]) for i in range(12, 16))


def first_screen(page, width: int, height: int) -> dict:
    def where(selector):
        box = page.locator(selector).first.bounding_box()
        return None if box is None else {"top": round(box["y"]), "bottom": round(box["y"] + box["height"])}

    page.evaluate("window.scrollTo(0, 0)")
    grid, generate, photo = where("#poses"), where("#generate"), where("#photo-preview")
    nested = page.evaluate(
        """() => [...document.querySelectorAll('#poses, #poses *')].some(e => {
            const s = getComputedStyle(e);
            return /(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 2; })"""
    )
    return {
        "photo": photo,
        "pose_grid": grid,
        "generate": generate,
        "pose_grid_starts_on_first_screen": grid is not None and grid["top"] < height,
        "generate_on_first_screen": generate is not None and generate["bottom"] <= height,
        "library_scrolls_inside_the_page": nested,
        "page_height": page.evaluate("document.documentElement.scrollHeight"),
    }


def axe(page) -> dict:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return {
        v["id"]: {"impact": v["impact"], "nodes": len(v["nodes"])}
        for v in found
        if v["impact"] in ("serious", "critical")
    }


def open_history_item(page) -> None:
    page.get_by_role("tab", name="History").click()
    first = page.locator("#history .thumbnail-item, #history button.item").first
    first.wait_for(timeout=60_000)
    first.click()
    page.locator("#selected-info").get_by_text("Status").wait_for(timeout=60_000)


def first_load(url: str, browser) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sizes = []
    page.on("requestfinished", lambda request: sizes.append(request.sizes()["responseBodySize"]))
    start = time.monotonic()
    page.goto(url)
    page.locator("#poses img").first.wait_for(timeout=60_000)
    tiles_seconds = time.monotonic() - start
    page.wait_for_timeout(3000)  # the page keeps a stream open: never "network idle"
    encoded = page.evaluate(
        """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
              .reduce((sum, e) => sum + (e.transferSize || 0), 0)"""
    )
    context.close()
    import httpx

    plain = len(httpx.get(url, headers={"Accept-Encoding": "identity"}).content)
    wire = httpx.get(url, headers={"Accept-Encoding": "gzip"})
    return {
        "requests": len(sizes),
        "transferred_bytes": encoded,
        "body_bytes": sum(sizes),
        "html_bytes": plain,
        "html_encoding": wire.headers.get("content-encoding", "identity"),
        "html_bytes_on_the_wire": int(wire.headers.get("content-length") or len(wire.content)),
        "first_tiles_seconds": round(tiles_seconds, 2),
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    (OUT / "page").mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = Path(tempfile.mkdtemp()) / "data"
    settings = Settings(data_dir=data, engine="tiny", auth="none", port=port)
    engine = FakeEngine()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "build_runtime", lambda s: make_runtime(s, engine))
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    services = runtime.services
    user = services.users.user_for(None)
    photo = data / "face.jpg"
    from skimage import data as samples

    Image.fromarray(samples.astronaut()).save(photo)
    pose = services.poses.library.query(limit=1)[0][0].id
    generate_batch(services, user, photo=photo, pose_ids=[pose])
    while services.generations.jobs(user):
        time.sleep(0.2)
    url = f"http://127.0.0.1:{port}/"
    figures: dict = {"machine": f"{platform.machine()}, {platform.node()}, shared 2-core VM, no GPU", "sizes": {}}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        figures["first_load"] = first_load(url, browser)
        for label, (width, height) in SIZES.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(url)
            page.locator("#poses img").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "page" / f"{label}-{width}x{height}.png"))
            shown = first_screen(page, width, height)
            shown["pick_ms"] = [round(pick_latency(page, index)) for index in (8, 9, 10)]
            shown["pick_ms_median"] = statistics.median(shown["pick_ms"])
            shown["rapid_picks_kept_of_4"] = rapid_picks(page)
            open_history_item(page)
            page.screenshot(path=str(OUT / "page" / f"{label}-history.png"))
            shown["axe_serious_critical"] = axe(page) if label != "phone" else "not measured"
            figures["sizes"][label] = shown
            context.close()
        browser.close()
    demo.close()
    runtime.close()
    print(json.dumps(figures, indent=1))
    (OUT / "page.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
