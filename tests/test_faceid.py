"""FaceID: the face aligned from 5 landmarks, embedded by an ArcFace-shaped ONNX model, fed to IP-Adapter-FaceID.

The tiny stack's FaceID parts (random adapter weights, a tiny ArcFace built with `onnx`) load through the same calls
as the real ones; the app generates with them end to end.
"""

import dataclasses

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageOps
from skimage import data

from avatargen.engine import faceid
from avatargen.engine.engine import GenerationRequest
from avatargen.engine.identity import find_face
from avatargen.presets import QUALITIES
from avatargen.settings import Settings
from tests.helpers import serve, wait_until_done

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

ASTRONAUT = Image.fromarray(data.astronaut())
CAMERAMAN = Image.fromarray(data.camera()).convert("RGB").resize((1024, 1024))


def test_the_similarity_transform_is_recovered_from_points():
    angle, scale, shift = np.radians(20), 1.5, np.array([7.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = np.array([[0.0, 0.0], [10, 0], [5, 8], [2, 12], [9, 12]])
    target = source @ (scale * rotation).T + shift
    matrix = faceid.similarity(source, target)
    assert np.allclose(matrix[:, :2], scale * rotation) and np.allclose(matrix[:, 2], shift)


def test_the_aligned_face_has_its_landmarks_on_arcfaces_template():
    face = find_face(ASTRONAUT)
    points = faceid.five_points(ASTRONAUT, face)
    assert points is not None and points.shape == (5, 2)
    assert points[0, 0] < points[1, 0] and points[3, 1] > points[2, 1] > points[0, 1]  # eyes, then nose, then mouth
    aligned = faceid.aligned_face(ASTRONAUT)
    assert aligned.size == (112, 112)
    # found again in the aligned face, the landmarks sit on the template (a few pixels off: a least-squares fit)
    again = faceid.five_points(aligned, faceid_box(aligned))
    assert np.abs(again - faceid.TEMPLATE).max() < 8


def faceid_box(image: Image.Image):
    from avatargen.engine.identity import FaceBox

    # the aligned face fills the crop: its box is most of the image
    return FaceBox(left=16, top=16, right=96, bottom=104, score=1.0)


def test_a_photo_without_a_face_still_gives_a_112_pixel_crop():
    assert faceid.aligned_face(Image.new("RGB", (300, 200), (100, 100, 100))).size == (112, 112)


@pytest.fixture(scope="module")
def arcface(tmp_path_factory) -> faceid.ArcFace:
    from avatargen.engine.tiny_faceid import arcface_model

    path = tmp_path_factory.mktemp("arcface") / "w600k_r50.onnx"
    path.write_bytes(arcface_model())
    return faceid.ArcFace(path)


def test_arcface_gives_unit_512_embeddings_and_averages_photos(arcface):
    faces = [faceid.aligned_face(ASTRONAUT), faceid.aligned_face(CAMERAMAN)]
    embeddings = arcface.embed(faces)
    assert embeddings.shape == (2, 512)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert np.allclose(arcface.identity([ASTRONAUT, CAMERAMAN]), embeddings.mean(0), atol=1e-5)
    assert not np.allclose(embeddings[0], embeddings[1], atol=1e-3)


def test_faceid_embeds_put_zeros_first_under_guidance():
    import torch

    identities = [np.ones(512), np.full(512, 2.0)]
    [guided] = faceid.faceid_embeds(identities, guided=True, device="cpu", dtype=torch.float32)
    assert guided.shape == (4, 1, 1, 512)
    assert guided[:2].abs().sum() == 0 and torch.all(guided[3] == 2)
    [plain] = faceid.faceid_embeds(identities, guided=False, device="cpu", dtype=torch.float32)
    assert plain.shape == (2, 1, 1, 512)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faceid")
    photos = {"astronaut": folder / "astronaut.jpg", "again": folder / "again.jpg"}
    ASTRONAUT.save(photos["astronaut"], quality=92)
    ImageOps.mirror(ASTRONAUT).resize((400, 400)).save(photos["again"], quality=92)
    settings = Settings(data_dir=folder / "data", engine="tiny", identity="faceid", face_detail="off")
    with serve(settings) as launched:
        yield launched, photos


def test_the_tiny_faceid_stack_loads_through_load_ip_adapter(served):
    from diffusers.models.embeddings import IPAdapterFaceIDImageProjection

    engine = served[0].runtime.engine.get()
    assert engine.arcface is not None and engine.pipeline.image_encoder is None
    (projection,) = engine.pipeline.unet.encoder_hid_proj.image_projection_layers
    assert isinstance(projection, IPAdapterFaceIDImageProjection)


def test_the_face_steers_the_image_and_a_batch_keeps_each_identity(served):
    engine = served[0].runtime.engine.get()
    quality = dataclasses.replace(QUALITIES["sd"], width=128, height=192)
    request = GenerationRequest(
        pose_image=Image.new("RGB", (128, 192)),
        identity_images=(ASTRONAUT,),
        prompt="a person",
        negative_prompt="",
        quality=quality,
        seed=3,
    )
    other = dataclasses.replace(request, identity_images=(CAMERAMAN,))
    hers, his = (np.asarray(image, dtype=np.int16) for image in engine.generate([request, other]))
    [alone] = engine.generate([other])
    assert np.abs(hers - his).mean() > 1
    assert np.abs(his - np.asarray(alone, dtype=np.int16)).max() <= 2


def test_faceid_generates_through_the_app(served):
    launched, photos = served
    client = Client(launched.url, verbose=False)
    pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
    started = client.predict(
        handle_file(str(photos["astronaut"])),
        pose_id,
        more_photos=[handle_file(str(photos["again"]))],
        seed=4,
        api_name="/generate",
    )["data"]
    done = wait_until_done(client, started["id"], timeout=300)
    assert done["status"] == "completed", done["errorMessage"]
    with Image.open(client.predict(done["id"], api_name="/download_output")) as image:
        assert image.size == (done["width"], done["height"])
