"""Live previews: while a generation runs, its record (through gradio_client) carries the storage key of the latest
preview the tiny preview decoder (TAESD's architecture, built in code) made of the forming image, and the Jobs panel
shows it; once it is done, the output replaces them."""

import threading

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from avatargen.engine.config import PREVIEW_EVERY
from avatargen.settings import Settings
from avatargen.ui.pictures import preview_uri
from avatargen.ui.text import jobs_html
from tests.helpers import serve, wait_for, wait_until_done

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")


def test_previews_arrive_while_a_job_runs_and_go_when_it_is_done(tmp_path, photo):
    settings = Settings(data_dir=tmp_path / "data", engine="tiny", fast=False, starting_credits=100)
    with serve(settings) as launched:
        runtime = launched.runtime
        engine = runtime.engine.get()
        assert engine.previewer is not None and PREVIEW_EVERY < 20
        jobs = runtime.services.jobs
        saved, go_on = threading.Event(), threading.Event()
        save_preview = jobs.save_preview

        def held_preview(generation, image):  # the job waits at its first preview until the test has seen it
            save_preview(generation, image)
            saved.set()
            go_on.wait(120)

        jobs.save_preview = held_preview
        client = Client(launched.url, verbose=False)
        try:
            pose_id = client.predict(framing="half-body", limit=1, api_name="/poses")["data"][0]["id"]
            started = client.predict(
                handle_file(str(photo)), pose_id, "sd", False, "realistic", 3, None, api_name="/generate"
            )["data"]
            wait_for(saved.is_set, timeout=300, what="a first preview")
            record = client.predict(started["id"], api_name="/generation")["data"]
            assert record["status"] == "processing" and record["previewUrl"]
            with Image.open(runtime.services.storage.path(record["previewUrl"])) as preview:
                assert preview.size == (record["width"], record["height"])  # the forming image, at its size
            # the Jobs panel shows it in place of the pose's picture
            uri = preview_uri(launched.api, record)
            assert uri.startswith("data:image/jpeg;base64,")
            assert f'<img src="{uri}"' in jobs_html(
                [record], {}, {record["poseTemplateId"]: "pose"}, {record["id"]: uri}
            )
        finally:
            go_on.set()
            jobs.save_preview = save_preview
        done = wait_until_done(client, started["id"], timeout=300)
        assert done["status"] == "completed" and done["previewUrl"] is None
        assert not runtime.services.storage.path(record["previewUrl"]).exists()
