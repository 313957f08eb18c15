"""What many test files need: a free port, a settable clock, waiting for an event, refusals, the app launched."""

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from avatargen.errors import UserError

if TYPE_CHECKING:
    import gradio as gr

    from avatargen.runtime import Runtime
    from avatargen.schedule import Schedule
    from avatargen.settings import Settings
    from avatargen.web.api import Api


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Clock:
    """A clock the test moves by hand (`clock.now += 60`), for what expires, retries or backs off."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy (something another thread or process does); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def refused(call: Callable[[], Any]) -> str:
    """The message a person is refused with: `call()` raises UserError, or AppError through gradio_client."""
    with pytest.raises((UserError, AppError)) as raised:
        call()
    return str(raised.value)


def wait_until_done(client: Client, generation_id: str, timeout: float = 120) -> dict:
    """The generation's record once it has completed or failed, asked through the endpoint."""

    def finished() -> dict | None:
        record = client.predict(generation_id, api_name="/generation")["data"]
        return record if record["status"] in ("completed", "failed") else None

    return wait_for(finished, timeout, what=f"generation {generation_id} to finish")


@dataclass
class Served:
    url: str
    settings: "Settings"  # with the port it listens on
    runtime: "Runtime"
    demo: "gr.Blocks"
    api: "Api"  # behind the named endpoints and the page


@contextmanager
def serve(settings: "Settings", *, engine=None, schedule: "Schedule | None" = None) -> Iterator[Served]:
    """The app launched as `app.launch` does (on a free port, not blocking this thread), closed afterwards.

    `engine` replaces the model (e.g. a FakeEngine); `schedule` is the API's, for a test that moves its clock.
    """
    # Imported here: tests/servers.py and bench/ use the helpers above without loading Gradio's app.
    import app
    from avatargen.web.api import Api
    from tests.conftest import make_runtime

    settings = settings.model_copy(update={"port": free_port()})
    made: list[Api] = []

    def api(*args, **options) -> Api:  # the app's own, kept for the test
        made.append(Api(*args, schedule=schedule, **options))
        return made[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "Api", api)
        if engine is not None:
            patch.setattr(app, "build_runtime", lambda s: make_runtime(s, engine))
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
    try:
        yield Served(f"http://127.0.0.1:{settings.port}/", settings, runtime, demo, made[0])
    finally:
        demo.close()
        runtime.close()


def open_tab(page, name: str) -> None:
    """Click a tab of the page, from the tab bar's overflow menu where a phone folds it away."""
    tab = page.get_by_role("tab", name=name)
    if tab.is_visible():
        tab.click()
        return
    page.locator(".overflow-menu").first.click()
    page.locator(".overflow-dropdown button").filter(has_text=name).first.click()
