"""Several photos of the person and the face-detail pass, through the launched app and gradio_client (tiny stack)."""

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageOps
from skimage import data

from avatargen.engine.identity import FaceBox
from avatargen.settings import Settings
from tests.helpers import refused, serve, wait_until_done

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

FACE = FaceBox(left=232, top=120, right=280, bottom=176, score=0.9)  # the tiny stack draws no face to find


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    photos = {
        "astronaut": folder / "astronaut.jpg",
        "again": folder / "again.jpg",  # another photo of her: mirrored, smaller (another person is refused)
        "small": folder / "small.jpg",  # the astronaut with a ~50 px face
    }
    Image.fromarray(data.astronaut()).save(photos["astronaut"], quality=92)
    ImageOps.mirror(Image.fromarray(data.astronaut())).resize((400, 400)).save(photos["again"], quality=92)
    Image.fromarray(data.astronaut()).resize((256, 256)).save(photos["small"], quality=92)
    with serve(Settings(data_dir=folder / "data", engine="tiny", starting_credits=100)) as launched:
        engine = launched.runtime.engine.get()
        engine.find_face = lambda image: FACE
        yield Client(launched.url, verbose=False), engine, photos


def pose(client: Client, framing: str) -> str:
    return client.predict(framing=framing, limit=1, api_name="/poses")["data"][0]["id"]


def generate(client: Client, photo, pose_id: str, *more) -> tuple[dict, np.ndarray]:
    started = client.predict(
        handle_file(str(photo)),
        pose_id,
        "sd",
        False,
        "realistic",
        7,
        [handle_file(str(path)) for path in more] if more else None,
        api_name="/generate",
    )
    record = wait_until_done(client, started["data"]["id"], timeout=300)
    assert record["status"] == "completed", record
    with Image.open(client.predict(record["id"], api_name="/download_output")) as image:
        return record, np.asarray(image.convert("RGB"), dtype=np.int16)


def test_more_photos_change_the_identity_and_are_kept(served):
    client, _, photos = served
    pose_id = pose(client, "half-body")  # no face-detail pass under "auto"
    one, alone = generate(client, photos["astronaut"], pose_id)
    two, together = generate(client, photos["astronaut"], pose_id, photos["again"])
    assert one["moreInputImageUrls"] == [] and len(two["moreInputImageUrls"]) == 1
    assert np.abs(alone - together).mean() > 1  # the mean of two photos' encodings is another identity


def test_a_fifth_photo_or_a_small_face_is_refused_before_charging(served):
    client, _, photos = served
    pose_id = pose(client, "half-body")
    balance = client.predict(api_name="/credits")["data"]["balance"]
    five = [handle_file(str(photos["astronaut"]))] * 4
    message = refused(
        lambda: client.predict(
            handle_file(str(photos["astronaut"])), pose_id, "sd", False, "realistic", 1, five, api_name="/generate"
        )
    )
    assert "Up to 4 photos of you" in message
    message = refused(
        lambda: client.predict(
            handle_file(str(photos["astronaut"])),
            pose_id,
            "sd",
            False,
            "realistic",
            1,
            [handle_file(str(photos["small"]))],
            api_name="/generate",
        )
    )
    assert "Photo 2: Your face is only" in message and "head-and-shoulders" in message
    assert client.predict(api_name="/credits")["data"]["balance"] == balance


def test_the_face_detail_pass_repaints_full_body_faces(served):
    client, engine, photos = served
    pose_id = pose(client, "full-body")
    _, detailed = generate(client, photos["astronaut"], pose_id)
    engine.find_face = lambda image: None  # no face found: the pass leaves the image as it is
    try:
        _, plain = generate(client, photos["astronaut"], pose_id)
    finally:
        engine.find_face = lambda image: FACE
    difference = np.abs(detailed - plain).max(axis=2)
    assert difference[FACE.top : FACE.bottom, FACE.left : FACE.right].mean() > 5
    assert difference[300:].max() <= 8  # far below the face: the same, but for JPEG
