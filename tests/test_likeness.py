"""The likeness measure (dlib's face-recognition ResNet) on real photos: one person's photos, outputs scored.

Real photos from scikit-image: the astronaut (Eileen Collins) and the cameraman, two different people.
"""

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageOps
from skimage import data

from avatargen.engine import likeness
from avatargen.settings import Settings
from tests.conftest import generate_one
from tests.helpers import refused, serve, wait_until_done

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def cameraman() -> Image.Image:
    # scikit-image's copy is 512 px: twice that, so his face passes the 80 px face check
    return Image.fromarray(data.camera()).convert("RGB").resize((1024, 1024), Image.Resampling.LANCZOS)


def astronaut_again() -> Image.Image:
    """Another photo of the same face: mirrored, smaller."""
    return ImageOps.mirror(astronaut()).resize((400, 400), Image.Resampling.LANCZOS)


def saved(image: Image.Image, path: Path) -> Path:
    image.save(path, quality=92)
    return path


@pytest.fixture
def friend_photos(tmp_path) -> list[Path]:
    """Three photos of the astronaut and, last, one of the cameraman."""
    crop = astronaut().crop((60, 0, 420, 360))
    return [
        saved(astronaut(), tmp_path / "me.jpg"),
        saved(astronaut_again(), tmp_path / "me-mirrored.jpg"),
        saved(crop, tmp_path / "me-closer.jpg"),
        saved(cameraman(), tmp_path / "friend.jpg"),
    ]


def test_the_score_maps_distance_through_dlibs_threshold():
    # 0.3 or closer: as alike as two photos of one face get; dlib's same-person threshold 0.6 is the midpoint
    assert likeness.score(0.0) == likeness.score(0.3) == 100
    assert likeness.score(likeness.SAME_PERSON_DISTANCE) == 50
    assert likeness.score(0.9) == likeness.score(1.5) == 0
    assert likeness.score(0.45) == 75


def test_same_person_is_close_and_another_person_far():
    me, again, friend = map(likeness.describe, (astronaut(), astronaut_again(), cameraman()))
    assert me.shape == (128,)
    same, other = likeness.distance(me, again), likeness.distance(me, friend)
    # measured 0.20 and 0.85 on x86_64; a margin for other CPUs
    assert same < likeness.SAME_PERSON_DISTANCE - 0.15
    assert other > likeness.SAME_PERSON_DISTANCE + 0.1
    [high, low] = likeness.likeness([astronaut_again(), cameraman()], [astronaut()])
    assert high >= 85 and low <= 25


def test_no_face_means_no_likeness():
    blank = Image.new("RGB", (512, 768), (90, 120, 150))
    assert likeness.describe(blank) is None
    assert likeness.likeness([blank, astronaut_again()], [astronaut()])[0] is None
    assert likeness.likeness([astronaut()], [blank]) == [None]


def test_the_photo_of_someone_else_is_named():
    likeness.check_one_person([astronaut(), astronaut_again()])  # one person: passes
    with pytest.raises(likeness.SomeoneElse, match=r"^Photo 3 looks like someone else"):
        likeness.check_one_person([astronaut(), astronaut_again(), cameraman()])


def test_model_files_are_found_without_importing_the_package():
    folder = likeness.model_folder()
    assert (folder / likeness.LANDMARKS_FILE).is_file() and (folder / likeness.RECOGNITION_FILE).is_file()


class MirrorEngine:
    """Stands in for the model with an output that shows the person: their first photo, mirrored, at the size."""

    name = "mirror"
    placeholder = False

    def generate(self, requests, progress=None, preview=None):
        return [
            ImageOps.pad(ImageOps.mirror(r.identity_images[0]), (r.width, r.height), color=(40, 40, 40))
            for r in requests
        ]


def test_every_output_is_scored_and_stats_average_it(settings, tmp_path, pose_id):
    from tests.conftest import make_runtime

    runtime = make_runtime(settings, MirrorEngine())
    try:
        services = runtime.services
        user = services.users.add("scored", password="password")
        generation = generate_one(services, user, photo=saved(astronaut(), tmp_path / "me.jpg"), pose_id=pose_id)
        while runtime.queue.run_next():
            pass
        record = services.generations.get(user, generation.id).to_public()
        assert record["status"] == "completed"
        assert record["likeness"] >= 85  # her own face, mirrored
        assert services.generations.stats(user)["averageLikeness"] == record["likeness"]
    finally:
        runtime.close()


def test_a_friends_photo_is_refused_through_the_app_charging_nothing(tmp_path, friend_photos):
    settings = Settings(data_dir=tmp_path / "data", engine="tiny", starting_credits=50)
    with serve(settings) as launched:
        client = Client(launched.url, verbose=False)
        pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
        before = client.predict(api_name="/credits")["data"]["balance"]
        me, *more = friend_photos
        message = refused(
            lambda: client.predict(
                handle_file(str(me)),
                pose_id,
                more_photos=[handle_file(str(path)) for path in more],
                api_name="/generate",
            )
        )
        assert "Photo 4 looks like someone else" in message
        assert client.predict(api_name="/credits")["data"]["balance"] == before
        assert client.predict(api_name="/generations")["meta"]["total"] == 0
        # the same three photos of her alone are accepted, and the result carries a likeness field
        started = client.predict(
            handle_file(str(me)),
            pose_id,
            more_photos=[handle_file(str(path)) for path in more[:2]],
            api_name="/generate",
        )["data"]
        done = wait_until_done(client, started["id"])
        assert done["status"] == "completed" and "likeness" in done
        assert client.predict(api_name="/credits")["data"]["balance"] == before - 5
