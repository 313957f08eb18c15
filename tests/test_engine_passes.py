"""The engine's identity and face passes on the tiny stack through the real loading code: several photos of a person
are one token sequence (N x tokens per photo), batched; the face pass runs the OpenPose ControlNet on the pose's
crop and leaves every pixel outside its mask as it was."""

import dataclasses
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from avatargen.engine.config import EngineConfig
from avatargen.engine.engine import AvatarEngine, GenerationRequest
from avatargen.engine.face_detail import FACE_DETAIL_SIZE, _face_mask, face_detail_steps, face_window
from avatargen.engine.identity import FaceBox
from avatargen.engine.loading import load_engine
from avatargen.presets import QUALITIES

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")  # mediapipe's protobuf

ASTRONAUT = Image.fromarray(data.astronaut())
CAMERAMAN = Image.fromarray(data.camera()).convert("RGB")
PHOTOS = (ASTRONAUT, CAMERAMAN, ImageOps.mirror(ASTRONAUT), ImageOps.mirror(CAMERAMAN))  # four faces
SD = dataclasses.replace(QUALITIES["sd"], steps=5)
SMALL = dataclasses.replace(QUALITIES["sd"], width=64, height=96, steps=3)  # where the size does not matter
FACE = FaceBox(left=232, top=300, right=280, bottom=356, score=0.9)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> AvatarEngine:
    return load_engine(EngineConfig(kind="tiny", cache_dir=tmp_path_factory.mktemp("cache"), fast=False))


def pose(width: int, height: int, *, flipped: bool = False) -> Image.Image:
    image = Image.new("RGB", (width, height))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    draw.line((width // 2, height // 6, width // 2, height // 2), fill=(255, 0, 0), width=8)
    draw.line((width // 4, height // 3, 3 * width // 4, height // 3), fill=(0, 255, 0), width=8)
    draw.ellipse((FACE.left, FACE.top, FACE.right, FACE.bottom), outline=(0, 0, 255), width=4)
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM) if flipped else image


def request(photos: tuple[Image.Image, ...], seed: int = 0, **changes) -> GenerationRequest:
    fields = dict(
        pose_image=pose(SD.width, SD.height),
        identity_images=photos,
        prompt="photo of a person",
        negative_prompt="blurry",
        quality=SD,
        seed=seed,
    )
    return GenerationRequest(**{**fields, **changes})


def small(r: GenerationRequest) -> GenerationRequest:
    return dataclasses.replace(r, quality=SMALL, pose_image=r.pose_image.resize((SMALL.width, SMALL.height)))


def max_diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())


def test_several_photos_are_one_token_sequence_and_batch_as_alone(engine: AvatarEngine):
    projection = engine.pipeline.unet.encoder_hid_proj
    tokens = projection.image_projection_layers[0].latents.shape[1]  # the Resampler's queries per photo
    shapes = []
    hook = projection.register_forward_hook(lambda module, args, output: shapes.append(tuple(output[0].shape)))
    try:
        requests = [small(request(PHOTOS[:count], seed=count)) for count in (1, 2, 3, 4)]
        alone = [engine.generate([r])[0] for r in requests]
        lone_shapes = shapes[:: SMALL.steps]  # once per step, under guidance: (2, photos, tokens, width)
        shapes.clear()
        batch = engine.generate(requests)
    finally:
        hook.remove()
    # each photo its own `tokens`: N x tokens in all, never an average of the photos
    assert [shape[:3] for shape in lone_shapes] == [(2, count, tokens) for count in (1, 2, 3, 4)]
    # in one batch, each request's photos repeated to 12 (the least common multiple): the same images as alone
    assert shapes[0][:3] == (8, 12, tokens)
    for together, by_itself in zip(batch, alone, strict=True):
        assert max_diff(together, by_itself) <= 2
    # and the photos count: two faces give an identity unlike either one's
    (other,) = engine.generate([small(request(PHOTOS[1:2], seed=2))])
    (first,) = engine.generate([small(request(PHOTOS[:1], seed=2))])
    assert max_diff(alone[1], other) > 2 and max_diff(alone[1], first) > 2


def with_face(engine: AvatarEngine) -> AvatarEngine:
    return AvatarEngine(
        engine.pipeline,
        device="cpu",
        dtype=engine.dtype,
        placeholder=True,
        name="tiny",
        config=dataclasses.replace(engine.config, face_detail="on"),
        cpu_threads=1,
        find_face=lambda image: FACE,
    )


def test_the_face_pass_runs_the_controlnet_on_the_pose_and_keeps_all_outside_its_mask(engine: AvatarEngine):
    detailer = with_face(engine)
    canvas = engine.generate([request(PHOTOS[:1])])[0]
    face_pipe = detailer.face_pipeline
    assert face_pipe.controlnet is engine.pipeline.controlnet and not face_pipe.mask_processor.config.do_binarize
    calls = {"controlnet": 0, "encode": 0}
    control = face_pipe.controlnet.register_forward_hook(
        lambda *_: calls.__setitem__("controlnet", calls["controlnet"] + 1)
    )
    encode = face_pipe.vae.encode
    face_pipe.vae.encode = lambda *a, **k: calls.__setitem__("encode", calls["encode"] + 1) or encode(*a, **k)
    try:
        (detailed,) = detailer.detail_faces([canvas], [request(PHOTOS[:1])])
    finally:
        control.remove()
        del face_pipe.vae.encode
    # one ControlNet call per step of the pass (both guidance halves at once); one VAE encode: the window's, not
    # the masked window's, which a 4-channel UNet never reads
    assert calls == {"controlnet": face_detail_steps(SD.steps), "encode": 1}

    window = face_window(FACE, canvas.size)
    left, top, right, bottom = window
    mask = np.zeros((canvas.height, canvas.width), np.uint8)
    mask[top:bottom, left:right] = np.asarray(
        _face_mask(FACE, window).resize((right - left, bottom - top), Image.Resampling.LANCZOS)
    )
    difference = np.abs(np.asarray(detailed, np.int16) - np.asarray(canvas, np.int16)).max(axis=2)
    assert difference[mask == 0].max() == 0  # outside the mask: pixel for pixel as it was
    assert difference[FACE.top : FACE.bottom, FACE.left : FACE.right].mean() > 5  # the face: repainted
    assert 0 < mask[top:bottom, left:right].mean() < 255 and FACE_DETAIL_SIZE == 512  # feathered, not a hard edge

    # the pose's crop steers the repainted face
    flipped = request(PHOTOS[:1], pose_image=pose(SD.width, SD.height, flipped=True))
    (turned,) = detailer.detail_faces([canvas], [flipped])
    assert max_diff(turned, detailed) > 2


def test_fast_decode_decodes_the_final_image_with_the_preview_decoder(tmp_path):
    cache = tmp_path / "cache"
    plain, tiny = (
        load_engine(EngineConfig(kind="tiny", cache_dir=cache, fast=True, fast_decode=fast_decode))
        for fast_decode in (False, True)
    )
    decodes = []
    hook = tiny.pipeline.vae.decoder.register_forward_hook(lambda *_: decodes.append("vae"))
    try:
        (image,) = tiny.generate([small(request(PHOTOS[:1]))])
    finally:
        hook.remove()
    (full,) = plain.generate([small(request(PHOTOS[:1]))])
    assert decodes == []  # the full VAE never ran
    assert image.size == full.size == (SMALL.width, SMALL.height) and image.mode == "RGB"
    assert max_diff(image, full) > 2  # another decoder: another rendering of the same latents
