"""End to end: a video avatar through the launched app (tiny real pipeline) and gradio_client: the motion gallery,
the price, a real MP4 checked with PyAV, the ledger, and a failed video refunded once."""

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file

from avatargen.presets import VIDEO_QUALITIES
from avatargen.settings import Settings
from tests.helpers import refused, serve, wait_until_done

FRAMES = 8  # the shortest clip keeps this test lean; the engine's own tests cover 16 and 32 frames


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("video-app") / "data", engine="tiny")
    with serve(settings) as launched:
        yield launched


def decoded(path) -> tuple[dict, np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        facts = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "fps": stream.average_rate,
        }
        frames = np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(stream)])
    return facts, frames


def test_a_visitor_turns_around_in_a_real_mp4_and_pays_once(served, photo):
    client = Client(served.url, verbose=False)
    motions = client.predict(search="turn", api_name="/motions")
    assert "turn-around" in [m["id"] for m in motions["data"]]
    walking = client.predict(category="walking", api_name="/motions")["data"]
    assert walking and all(m["category"] == "walking" for m in walking)
    assert client.predict("sd", False, FRAMES, api_name="/video_price")["data"]["credits"] == 20

    started = client.predict(
        handle_file(str(photo)), "turn-around", "sd", False, "realistic", 7, None, False, FRAMES,
        api_name="/generate_video",
    )  # fmt: skip
    assert started["message"] == "Video generation started"
    record = started["data"]
    assert record["kind"] == "video" and record["creditUsed"] == 20 and record["frames"] == FRAMES
    done = wait_until_done(client, record["id"], timeout=900)
    assert done["status"] == "completed", done["errorMessage"]
    assert done["fps"] == 8 and done["durationSeconds"] == FRAMES / 8 and done["videoUrl"].endswith(".mp4")

    path = client.predict(record["id"], api_name="/download_output")
    assert path.endswith(".mp4")
    facts, frames = decoded(path)
    size = VIDEO_QUALITIES["sd"]
    assert facts == {"codec": "h264", "pix_fmt": "yuv420p", "size": (size.width, size.height), "fps": 8}
    assert len(frames) == FRAMES
    steps = [np.abs(frames[i] - frames[i + 1]).mean() for i in range(FRAMES - 1)]
    assert min(steps) > 1.0  # every frame differs from the next
    # that they follow the motion frame by frame is tests/test_video.py's (the same seed, two motions)
    credits = client.predict(api_name="/credits")["data"]
    assert credits["balance"] == 80
    listed = client.predict(limit=5, offset=0, api_name="/generations")["data"]
    assert listed[0]["id"] == record["id"] and listed[0]["posterUrl"] and listed[0]["animationUrl"]


def test_a_failed_video_is_refunded_once_and_refusals_cost_nothing(served, photo, monkeypatch):
    client = Client(served.url, verbose=False)
    before = client.predict(api_name="/credits")["data"]["balance"]
    assert "Unknown motion" in refused(
        lambda: client.predict(handle_file(str(photo)), "moonwalk", api_name="/generate_video")
    )
    assert "frames must be a whole number from 8 to 32" in refused(
        lambda: client.predict(
            handle_file(str(photo)),
            "wave",
            "sd",
            False,
            "realistic",
            None,
            None,
            False,
            64,
            api_name="/generate_video",
        )  # fmt: skip
    )
    video = served.runtime.queue.handler.videos.video.get()  # loaded by the test before, or now

    def broken(requests, progress=None):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(video, "generate", broken)
    started = client.predict(handle_file(str(photo)), "wave", api_name="/generate_video")["data"]
    done = wait_until_done(client, started["id"], timeout=300)
    assert done["status"] == "failed" and "Your 20 credits were refunded" in done["errorMessage"]
    assert not served.runtime.services.jobs.fail(started["id"], "again")  # once
    credits = client.predict(api_name="/credits")["data"]
    assert credits["balance"] == before
    mine = [(t["reason"], t["delta"]) for t in credits["transactions"] if t["generationId"] == started["id"]]
    assert sorted(mine) == [("generation", -20), ("refund", 20)]
