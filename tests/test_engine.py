import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub

import dataclasses
import logging
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from avatargen.engine import AvatarEngine, GenerationRequest, load_engine
from avatargen.presets import QUALITIES, Quality
from avatargen.tiny import save_tiny_pipeline

SD = QUALITIES["sd"]
HD = QUALITIES["hd"]
STEPS = 2


def pose_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    cx = width // 2
    draw.line((cx, height // 6, cx, height // 2), fill=(255, 0, 0), width=8)
    draw.line((width // 4, height // 4, 3 * width // 4, height // 4), fill=(0, 255, 0), width=8)
    draw.line((cx, height // 2, width // 3, 5 * height // 6), fill=(0, 0, 255), width=8)
    draw.line((cx, height // 2, 2 * width // 3, 5 * height // 6), fill=(255, 255, 0), width=8)
    return image


def make_request(quality: Quality = SD, *, seed: int = 0, prompt: str = "photo of a person") -> GenerationRequest:
    return GenerationRequest(
        pose_image=pose_image(quality.width, quality.height),
        identity_image=Image.new("RGB", (64, 64), (200, 150, 120)),
        prompt=prompt,
        negative_prompt="blurry, lowres",
        width=quality.width,
        height=quality.height,
        steps=STEPS,
        guidance_scale=quality.guidance_scale,
        seed=seed,
    )


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture(scope="session")
def engine(tiny_cache) -> AvatarEngine:
    return load_engine("tiny", cache_dir=tiny_cache)


@pytest.fixture(scope="session")
def sd_seed0(engine: AvatarEngine) -> Image.Image:
    return engine.generate([make_request(seed=0)])[0]


def test_importing_engine_loads_no_torch():
    code = "import sys, avatargen.engine; assert not {'torch', 'diffusers'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_engine_is_placeholder(engine: AvatarEngine):
    assert engine.placeholder is True
    assert engine.name == "tiny"


def test_sd_image_size(sd_seed0: Image.Image):
    assert sd_seed0.size == (512, 768)
    assert sd_seed0.mode == "RGB"


def test_hd_image_size(engine: AvatarEngine):
    (image,) = engine.generate([make_request(HD)])
    assert image.size == (768, 1152)
    assert image.mode == "RGB"


def test_same_seed_same_image(engine: AvatarEngine, sd_seed0: Image.Image):
    (again,) = engine.generate([make_request(seed=0)])
    assert np.array_equal(pixels(again), pixels(sd_seed0))


def test_different_seed_different_image(engine: AvatarEngine, sd_seed0: Image.Image):
    (other,) = engine.generate([make_request(seed=1)])
    assert np.abs(pixels(other) - pixels(sd_seed0)).mean() > 5


def test_prompts_steer_the_image(engine: AvatarEngine, sd_seed0: Image.Image):
    # so a batch that mixed up prompts would show
    request = make_request(seed=0)
    for changed in (
        dataclasses.replace(request, prompt="anime illustration of a person"),
        dataclasses.replace(request, negative_prompt=""),
    ):
        (other,) = engine.generate([changed])
        assert np.abs(pixels(other) - pixels(sd_seed0)).mean() > 2


def test_batch_equals_one_by_one(engine: AvatarEngine, sd_seed0: Image.Image):
    first = make_request(seed=0)
    second = dataclasses.replace(
        make_request(seed=7, prompt="anime illustration of a person, cel shading"),
        pose_image=pose_image(SD.width, SD.height).transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    )
    batch = engine.generate([first, second])
    (alone,) = engine.generate([second])
    assert np.abs(pixels(batch[0]) - pixels(sd_seed0)).max() <= 2
    assert np.abs(pixels(batch[1]) - pixels(alone)).max() <= 2


def test_progress_once_per_step(engine: AvatarEngine):
    calls = []
    engine.generate([make_request(), make_request(seed=3)], progress=lambda *args: calls.append(args))
    assert calls == [(i, STEPS) for i in range(1, STEPS + 1)]


def test_mixed_sizes_keep_input_order(engine: AvatarEngine):
    requests = [make_request(SD, seed=1), make_request(HD, seed=2), make_request(SD, seed=3)]
    calls = []
    images = engine.generate(requests, progress=lambda *args: calls.append(args))
    assert [image.size for image in images] == [(512, 768), (768, 1152), (512, 768)]
    # two pipeline calls, counted as one run
    assert calls == [(i, 2 * STEPS) for i in range(1, 2 * STEPS + 1)]
    (third,) = engine.generate([requests[2]])
    assert np.abs(pixels(images[2]) - pixels(third)).max() <= 2


def test_wrong_pose_size_raises(engine: AvatarEngine):
    request = dataclasses.replace(make_request(), pose_image=pose_image(512, 512))
    with pytest.raises(ValueError, match=r"`pose_image` has to be 512x768 \(width x height\) but is 512x512"):
        engine.generate([make_request(), request])


def test_empty_batch_raises(engine: AvatarEngine):
    with pytest.raises(ValueError, match="cannot be empty"):
        engine.generate([])


def test_size_not_multiple_of_8_raises(engine: AvatarEngine):
    request = dataclasses.replace(make_request(), width=510, pose_image=pose_image(510, 768))
    with pytest.raises(ValueError, match="multiples of 8"):
        engine.generate([request])


def test_tokenizer_knows_every_character(engine: AvatarEngine):
    tokenizer = engine.pipeline.tokenizer
    text = 'Studio portrait of a person, softbox lighting — 50mm, café au lait & naïve "quotes" (1.2) #3!'
    ids = tokenizer(text).input_ids
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in ids[1:-1]
    assert tokenizer.model_max_length == 77


def test_saving_again_reuses_the_folder(engine: AvatarEngine, tiny_cache):
    folder = tiny_cache / "tiny-pipeline"
    before = (folder / "model_index.json").stat().st_mtime_ns
    assert save_tiny_pipeline(folder) == folder
    assert (folder / "model_index.json").stat().st_mtime_ns == before
    assert [p.name for p in tiny_cache.iterdir()] == ["tiny-pipeline"]  # no temporary folder left behind


def test_diffusers_kind_loads_local_folders(engine: AvatarEngine, tiny_cache):
    # the real-model loading code, pointed at the saved tiny pipeline instead of hub ids
    folder = tiny_cache / "tiny-pipeline"
    loaded = load_engine(
        "diffusers", cache_dir=tiny_cache, base_model=str(folder), controlnet_model=str(folder / "controlnet")
    )
    assert loaded.placeholder is False
    assert loaded.name == str(folder)
    (image,) = loaded.generate([make_request()])
    assert image.size == (512, 768)


def test_auto_falls_back_to_tiny_offline(tiny_cache, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="avatargen.engine"):
        engine = load_engine("auto", cache_dir=tiny_cache)
    assert engine.placeholder is True
    assert engine.name == "tiny"
    assert "using the tiny placeholder pipeline" in caplog.text


def test_unknown_kind_raises(tiny_cache):
    with pytest.raises(ValueError, match="`kind` has to be one of"):
        load_engine("dall-e", cache_dir=tiny_cache)
