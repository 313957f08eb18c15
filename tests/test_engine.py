import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub

import dataclasses
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data

from avatargen.engine import loading
from avatargen.engine.config import FAST_LORA_WEIGHT, EngineConfig
from avatargen.engine.engine import AvatarEngine, GenerationRequest, Plan
from avatargen.engine.face_detail import FACE_DETAIL_STRENGTH, face_detail_steps, wants_face_detail
from avatargen.engine.identity import FaceBox
from avatargen.engine.loading import load_engine, needs_low_memory
from avatargen.engine.tiny import _LAYOUT, build_tiny_components, save_tiny_pipeline
from avatargen.generations.worker import compose_prompt
from avatargen.poses.template import FRAMINGS
from avatargen.presets import FAST_GUIDANCE_SCALE, FAST_STEPS, QUALITIES, STYLES, Quality

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")  # mediapipe's protobuf

ROOT = Path(__file__).resolve().parents[1]
SD = QUALITIES["sd"]
HD = QUALITIES["hd"]
STEPS = 2
ASTRONAUT = Image.fromarray(data.astronaut())  # a real photo of a person
OTHER_FACE = Image.fromarray(data.camera()).convert("RGB")  # another person (the cameraman)
COFFEE = Image.fromarray(data.coffee())  # no face


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
        identity_images=(ASTRONAUT,),
        prompt=prompt,
        negative_prompt="blurry, lowres",
        quality=dataclasses.replace(quality, steps=STEPS),
        seed=seed,
    )


def with_quality(request: GenerationRequest, **changes) -> GenerationRequest:
    return dataclasses.replace(request, quality=dataclasses.replace(request.quality, **changes))


def flipped_pose(request: GenerationRequest) -> GenerationRequest:
    return dataclasses.replace(request, pose_image=request.pose_image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def max_diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(pixels(a) - pixels(b)).max())


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture(scope="session")
def engine(tiny_cache) -> AvatarEngine:
    """The full-quality mode: UniPC, the request's steps, classifier-free guidance."""
    return load_engine(EngineConfig(kind="tiny", cache_dir=tiny_cache, fast=False))


@pytest.fixture(scope="session")
def fast_engine(tiny_cache) -> AvatarEngine:
    """The default on CPU: LCM-LoRA fused, LCM scheduler."""
    return load_engine(EngineConfig(kind="tiny", cache_dir=tiny_cache))


@pytest.fixture(scope="session")
def sd_seed0(engine: AvatarEngine) -> Image.Image:
    return engine.generate([make_request(seed=0)])[0]


def test_importing_engine_and_identity_loads_no_model_library():
    code = (
        "import sys, avatargen.engine.config, avatargen.engine.loading, avatargen.engine.identity, avatargen.presets;"
        "assert not {'torch', 'diffusers', 'mediapipe'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_engine_loads_ip_adapter_through_diffusers(engine: AvatarEngine):
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    from diffusers.models.embeddings import IPAdapterPlusImageProjection
    from transformers import CLIPVisionModelWithProjection

    assert engine.placeholder is True and engine.name == "tiny"
    pipe = engine.pipeline
    assert engine.has_identity_adapter
    assert isinstance(pipe.image_encoder, CLIPVisionModelWithProjection)
    assert pipe.feature_extractor.crop_size == {"height": 32, "width": 32}  # built by load_ip_adapter for the encoder
    (projection,) = pipe.unet.encoder_hid_proj.image_projection_layers
    assert isinstance(projection, IPAdapterPlusImageProjection)
    processors = [p for p in pipe.unet.attn_processors.values() if isinstance(p, IPAdapterAttnProcessor2_0)]
    cross_attention = [name for name in pipe.unet.attn_processors if name.endswith("attn2.processor")]
    assert len(processors) == len(cross_attention) == 4  # down block 2, mid block, up block 0 (two)
    assert all(p.scale == [engine.identity_strength] for p in processors)


def test_a_plain_pipeline_is_wrapped_for_per_request_identities(engine: AvatarEngine):
    from diffusers import StableDiffusionControlNetPipeline

    from avatargen.engine.pipelines import pipeline_class

    plain = StableDiffusionControlNetPipeline(**engine.pipeline.components)
    wrapped = AvatarEngine(plain, device="cpu", dtype=engine.dtype, placeholder=True, name="tiny")
    assert isinstance(wrapped.pipeline, pipeline_class())
    assert wrapped.pipeline.unet is plain.unet


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
    assert mean_diff(other, sd_seed0) > 5


def test_prompts_steer_the_image(engine: AvatarEngine, sd_seed0: Image.Image):
    # so a batch that mixed up prompts would show
    request = make_request(seed=0)
    for changed in (
        dataclasses.replace(request, prompt="anime illustration of a person"),
        dataclasses.replace(request, negative_prompt=""),
    ):
        (other,) = engine.generate([changed])
        assert mean_diff(other, sd_seed0) > 2


def test_styles_change_the_prompt(engine: AvatarEngine):
    assert len(STYLES) >= 8
    # as the worker composes them
    prompts = {f"{style.prompt}, standing" for style in STYLES.values()}
    negatives = {style.negative_prompt for style in STYLES.values()}
    assert len(prompts) == len(STYLES) and len(negatives) > 1
    photo, anime = STYLES["realistic"], STYLES["anime"]
    requests = [
        dataclasses.replace(make_request(), prompt=f"{s.prompt}, standing", negative_prompt=s.negative_prompt)
        for s in (photo, anime)
    ]
    images = engine.generate(requests)
    assert mean_diff(*images) > 2


def test_identity_steers_the_image(engine: AvatarEngine, sd_seed0: Image.Image):
    (other,) = engine.generate([dataclasses.replace(make_request(), identity_images=(OTHER_FACE,))])
    assert mean_diff(other, sd_seed0) > 2


def test_several_photos_of_a_person_share_one_identity(engine: AvatarEngine, sd_seed0: Image.Image):
    request = make_request()
    both, reversed_, twice, with_coffee, five = (
        dataclasses.replace(request, identity_images=photos)
        for photos in (
            (ASTRONAUT, OTHER_FACE),
            (OTHER_FACE, ASTRONAUT),
            (ASTRONAUT, ASTRONAUT),
            (ASTRONAUT, COFFEE),
            (ASTRONAUT,) * 5,
        )
    )
    images = engine.generate([both, reversed_, twice, with_coffee])
    (other,) = engine.generate([dataclasses.replace(request, identity_images=(OTHER_FACE,))])
    # the mean of the two faces' encodings: unlike either alone, whatever their order
    assert mean_diff(images[0], sd_seed0) > 1 and mean_diff(images[0], other) > 1
    assert max_diff(images[0], images[1]) <= 2
    # the same photo twice is that photo; a photo without a face is left out
    assert max_diff(images[2], sd_seed0) <= 2
    assert max_diff(images[3], sd_seed0) <= 2
    with pytest.raises(ValueError, match="`identity_images` has to hold 1 to 4 photos but holds 5"):
        engine.generate([five])


def test_pose_steers_the_image(engine: AvatarEngine, sd_seed0: Image.Image):
    (other,) = engine.generate([flipped_pose(make_request())])
    assert mean_diff(other, sd_seed0) > 2


def test_strengths_zero_ignore_identity_and_pose(tiny_cache):
    engine = load_engine(
        EngineConfig(kind="tiny", cache_dir=tiny_cache, fast=False, identity_strength=0.0, pose_strength=0.0)
    )
    request = make_request()
    base, other_face, other_pose = engine.generate(
        [request, dataclasses.replace(request, identity_images=(OTHER_FACE,)), flipped_pose(request)]
    )
    assert max_diff(base, other_face) <= 2
    assert max_diff(base, other_pose) <= 2


def test_batch_equals_one_by_one(engine: AvatarEngine, sd_seed0: Image.Image):
    # a different seed, prompt, pose and face: any mix-up inside the batch would show
    first = make_request(seed=0)
    second = dataclasses.replace(
        flipped_pose(make_request(seed=7, prompt="anime illustration of a person, cel shading")),
        identity_images=(OTHER_FACE,),
    )
    batch = engine.generate([first, second])
    (alone,) = engine.generate([second])
    assert max_diff(batch[0], sd_seed0) <= 2
    assert max_diff(batch[1], alone) <= 2
    # and the right pose and face reached the second request
    for mixed_up in (
        dataclasses.replace(second, pose_image=first.pose_image),
        dataclasses.replace(second, identity_images=(ASTRONAUT,)),
    ):
        (wrong,) = engine.generate([mixed_up])
        assert mean_diff(wrong, alone) > 2


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
    assert max_diff(images[2], third) <= 2


def test_fast_mode_is_the_cpu_default_with_lcm(fast_engine: AvatarEngine, engine: AvatarEngine):
    from diffusers import LCMScheduler

    assert fast_engine.fast is True and engine.fast is False
    assert isinstance(fast_engine.pipeline.scheduler, LCMScheduler)
    assert fast_engine.has_identity_adapter
    # the LCM-LoRA is fused into the UNet's attention projections, and its LoRA layers are gone
    fused = fast_engine.pipeline.unet.down_blocks[2].attentions[0].transformer_blocks[0].attn1.to_q
    plain = engine.pipeline.unet.down_blocks[2].attentions[0].transformer_blocks[0].attn1.to_q
    assert type(fused) is type(plain)
    assert not fused.weight.allclose(plain.weight)


def test_fast_mode_runs_its_own_steps(fast_engine: AvatarEngine):
    request = make_request()
    assert fast_engine.plan(request) == Plan(steps=FAST_STEPS, guidance_scale=FAST_GUIDANCE_SCALE)
    assert SD.fast_steps == FAST_STEPS and 4 <= FAST_STEPS <= 8
    calls = []
    fast_engine.generate([request], progress=lambda *args: calls.append(args))
    assert calls == [(i, FAST_STEPS) for i in range(1, FAST_STEPS + 1)]

    calls.clear()
    fast_engine.generate([with_quality(request, fast_steps=4)], progress=lambda *args: calls.append(args))
    assert calls[-1] == (4, 4)


def test_fast_batch_equals_one_by_one(fast_engine: AvatarEngine):
    # LCM adds fresh noise at every step: each request's must come from its own generator
    first = make_request(seed=0)
    second = dataclasses.replace(
        flipped_pose(make_request(seed=5, prompt="oil painting")), identity_images=(OTHER_FACE,)
    )
    batch = fast_engine.generate([first, second])
    alone = [fast_engine.generate([r])[0] for r in (first, second)]
    assert max_diff(batch[0], alone[0]) <= 2
    assert max_diff(batch[1], alone[1]) <= 2
    assert mean_diff(alone[0], alone[1]) > 2
    (again,) = fast_engine.generate([first])
    assert np.array_equal(pixels(again), pixels(alone[0]))


def test_wrong_pose_size_raises(engine: AvatarEngine):
    request = dataclasses.replace(make_request(), pose_image=pose_image(512, 512))
    with pytest.raises(ValueError, match=r"`pose_image` has to be 512x768 \(width x height\) but is 512x512"):
        engine.generate([make_request(), request])


def test_empty_batch_raises(engine: AvatarEngine):
    with pytest.raises(ValueError, match="cannot be empty"):
        engine.generate([])


def test_size_not_multiple_of_8_raises(engine: AvatarEngine):
    request = dataclasses.replace(with_quality(make_request(), width=510), pose_image=pose_image(510, 768))
    with pytest.raises(ValueError, match="multiples of 8"):
        engine.generate([request])


def test_fast_steps_below_one_raises(engine: AvatarEngine):
    with pytest.raises(ValueError, match="`fast_steps` has to be at least 1 but is 0"):
        engine.generate([with_quality(make_request(), fast_steps=0)])


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


def test_a_folder_of_an_older_layout_is_rebuilt(tmp_path):
    folder = tmp_path / "tiny-pipeline"
    folder.mkdir()
    (folder / ".tiny-complete").write_text("tiny pipeline, seed 0\n")  # the first layout: no adapter, no LoRA
    save_tiny_pipeline(folder)
    assert (folder / ".tiny-complete").read_text() == _LAYOUT
    assert (folder / "ip-adapter" / "models" / "ip-adapter-plus-face_sd15.safetensors").is_file()
    assert (folder / "lcm-lora" / "pytorch_lora_weights.safetensors").is_file()


def test_diffusers_kind_loads_local_folders(engine: AvatarEngine, tiny_cache, sd_seed0: Image.Image):
    # the real-model loading code, pointed at the saved tiny stack instead of hub ids
    folder = tiny_cache / "tiny-pipeline"
    loaded = load_engine(
        EngineConfig(
            kind="diffusers",
            cache_dir=tiny_cache,
            base_model=str(folder),
            controlnet_model=str(folder / "controlnet"),
            ip_adapter_model=str(folder / "ip-adapter"),
            fast_lora_model=str(folder / "lcm-lora"),
            fast=False,
        )
    )
    assert loaded.placeholder is False
    assert loaded.name == str(folder)
    assert loaded.has_identity_adapter
    (image,) = loaded.generate([make_request()])
    assert max_diff(image, sd_seed0) <= 2  # same weights, same calls: same image


def test_diffusers_kind_raises_when_models_are_missing(tmp_path):
    with pytest.raises(OSError):
        load_engine(EngineConfig(kind="diffusers", cache_dir=tmp_path, base_model=str(tmp_path / "nothing")))


def test_auto_falls_back_to_tiny_offline(tiny_cache, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="avatargen.engine.loading"):
        engine = load_engine(EngineConfig(kind="auto", cache_dir=tiny_cache))
    assert engine.placeholder is True
    assert engine.name == "tiny"
    assert "using the tiny placeholder pipeline" in caplog.text


def test_unknown_kind_raises(tiny_cache):
    with pytest.raises(ValueError, match="`kind` has to be one of"):
        EngineConfig(kind="dall-e", cache_dir=tiny_cache)


def test_the_config_comes_from_the_settings(tmp_path):
    from avatargen.settings import Settings

    settings = Settings(data_dir=tmp_path, engine="tiny", pose_strength=1, ip_adapter_model="", batch_size=3)
    config = EngineConfig.from_settings(settings)
    assert config.kind == "tiny" and config.cache_dir == tmp_path / "cache" and config.batch_size == 3
    assert config.ip_adapter_model is None
    assert isinstance(config.pose_strength, float)


def test_warm_up_runs_each_size_and_batch_size(fast_engine: AvatarEngine, monkeypatch: pytest.MonkeyPatch):
    runs = []
    generate, detail_faces = fast_engine.generate, fast_engine.detail_faces

    def recording_generate(requests, progress=None):
        runs.append(("main", requests[0].width, requests[0].height, len(requests)))
        return generate(requests, progress)

    def recording_detail_faces(images, requests, progress=None, find_face=None):
        detailed = detail_faces(images, requests, progress, find_face=find_face)
        changed = all(mean_diff(a, b) > 0 for a, b in zip(images, detailed, strict=True))
        runs.append(("face", requests[0].width, requests[0].height, len(requests), changed))
        return detailed

    monkeypatch.setattr(fast_engine, "generate", recording_generate)
    monkeypatch.setattr(fast_engine, "detail_faces", recording_detail_faces)
    fast_engine.warm_up([(64, 64), (64, 96)], batch_size=2)
    assert runs == [
        run
        for width, height in ((64, 64), (64, 96))
        for batch in (1, 2)
        for run in (("main", width, height, batch), ("face", width, height, batch, True))
    ]


def test_low_memory_threshold():
    assert needs_low_memory(4 * 2**30)
    assert not needs_low_memory(40 * 2**30)


# The real-weights path: what the tiny stack alone did not show


def test_fp16_components_stay_fp16_when_the_engine_rewraps_the_pipeline(tiny_cache):
    # building is enough: the engine's `from_pipe` copy used to cast every shared model to float32
    import torch
    from diffusers import StableDiffusionControlNetPipeline

    folder = save_tiny_pipeline(tiny_cache / "tiny-pipeline")
    plain = StableDiffusionControlNetPipeline(**build_tiny_components(), requires_safety_checker=False)
    plain.to(dtype=torch.float16)
    plain.load_ip_adapter(
        str(folder / "ip-adapter"),
        subfolder="models",
        weight_name="ip-adapter-plus-face_sd15.safetensors",
        image_encoder_folder="image_encoder",
    )
    engine = AvatarEngine(plain, device="cpu", dtype=torch.float16, placeholder=True, name="tiny")
    assert engine.pipeline is not plain
    for name in ("unet", "controlnet", "vae", "text_encoder", "image_encoder"):
        assert getattr(engine.pipeline, name).dtype == torch.float16, name
        assert getattr(plain, name).dtype == torch.float16, name
    for name in ("unet", "vae", "text_encoder", "image_encoder"):
        assert getattr(engine.face_pipeline, name) is getattr(plain, name)  # shared, not copied


def fill_hub_cache(home: Path, repo_id: str, files: dict[str, Path]) -> None:
    """Lay `files` out in `home` as `hf download` leaves them: models--org--name/{refs/main,snapshots/<rev>/}."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    for name, source in files.items():
        target = repo / "snapshots" / revision / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)


def test_lcm_lora_loads_offline_by_hub_id_from_a_filled_cache(tiny_cache, tmp_path):
    folder = save_tiny_pipeline(tiny_cache / "tiny-pipeline")
    fill_hub_cache(
        tmp_path / "hf",
        "latent-consistency/lcm-lora-sdv1-5",
        {FAST_LORA_WEIGHT: folder / "lcm-lora" / FAST_LORA_WEIGHT},
    )
    code = f"""
from pathlib import Path
from avatargen.engine.config import EngineConfig
from avatargen.engine.loading import load_engine
folder = Path({str(folder)!r})
engine = load_engine(EngineConfig(
    kind="diffusers", cache_dir=Path({str(tmp_path)!r}), base_model=str(folder),
    controlnet_model=str(folder / "controlnet"), ip_adapter_model=str(folder / "ip-adapter"),
    fast_lora_model="latent-consistency/lcm-lora-sdv1-5", fast=True,
))
assert engine.fast and not engine.placeholder
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=300)


def test_whole_number_strengths_generate(tiny_cache):
    engine = load_engine(EngineConfig(kind="tiny", cache_dir=tiny_cache, identity_strength=1, pose_strength=1))
    (image,) = engine.generate([make_request()])
    assert image.size == (SD.width, SD.height)


def test_compile_wraps_the_models_and_warms_up_every_batch_size(tiny_cache, monkeypatch: pytest.MonkeyPatch):
    # torch.compile only wraps here; compiling happens on a first call, which the recording `generate` never makes
    from diffusers.utils.torch_utils import is_compiled_module

    runs = []

    def generate(self, requests, progress=None):
        runs.append((requests[0].width, len(requests)))
        return [Image.new("RGB", (r.width, r.height)) for r in requests]

    def detail_faces(self, images, requests, progress=None, find_face=None):
        runs.append(("face", len(requests)))
        return images

    monkeypatch.setattr(AvatarEngine, "generate", generate)
    monkeypatch.setattr(AvatarEngine, "detail_faces", detail_faces)
    engine = load_engine(EngineConfig(kind="tiny", cache_dir=tiny_cache, compile=True, batch_size=3))
    # diffusers marks each denoising step for CUDA graphs only when both models are compiled modules
    assert is_compiled_module(engine.pipeline.unet) and is_compiled_module(engine.pipeline.controlnet)
    # the face-detail pass too, after each main pass
    assert runs == [
        run for q in QUALITIES.values() for batch in (1, 2, 3) for run in ((q.width, batch), ("face", batch))
    ]

    runs.clear()
    load_engine(EngineConfig(kind="tiny", cache_dir=tiny_cache, batch_size=3))
    assert runs == []  # nothing to warm up without compiling


def test_compile_with_cpu_offload_is_refused(tiny_cache, monkeypatch: pytest.MonkeyPatch):
    import pydantic
    import torch

    from avatargen.settings import Settings

    with pytest.raises(pydantic.ValidationError, match="cannot go with AVATARGEN_LOW_MEMORY"):
        Settings(compile=True, low_memory=True)

    monkeypatch.setattr(loading, "pick_device", lambda: ("cuda", torch.float16))
    with pytest.raises(ValueError, match="without CPU offload"):
        load_engine(
            EngineConfig(kind="auto", cache_dir=tiny_cache, compile=True, low_memory=True)
        )  # refused, not a fallback


def test_long_prompts_are_read_to_the_end(engine: AvatarEngine, capfd: pytest.CaptureFixture):
    # past 77 tokens of the tiny character-level tokenizer: CLIP alone would drop the ending
    base = "photo of a person, natural light, sharp focus, detailed skin, 50mm, standing tall, arms at the sides, "
    first, second = engine.generate(
        [
            make_request(prompt=base + "anime illustration, cel shading, clean lineart, vibrant colours"),
            make_request(prompt=base + "oil painting, visible brush strokes, classical portrait, dark"),
        ]
    )
    assert mean_diff(first, second) > 0.2  # truncated, both would be the same image
    assert "truncated" not in capfd.readouterr().err


def test_every_style_and_pose_prompt_has_a_bounded_length(library):
    # a CLIP BPE token is at least one character and spaces are dropped: non-space characters bound the real
    # tokenizer's count whatever its vocabulary; the engine encodes past 75 in chunks, at most three here
    longest = max(len(compose_prompt(style, pose).replace(" ", "")) for style in STYLES.values() for pose in library)
    assert longest <= 3 * 75


def test_fast_lora_in_the_kohya_layout_is_fused_into_attention_and_convolutions(
    fast_engine: AvatarEngine, engine: AvatarEngine, tiny_cache
):
    import torch
    from safetensors.torch import load_file

    state = load_file(tiny_cache / "tiny-pipeline" / "lcm-lora" / FAST_LORA_WEIGHT)
    assert all(re.fullmatch(r"lora_unet_\w+\.(lora_down\.weight|lora_up\.weight|alpha)", key) for key in state)
    for module in (
        "down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_k",
        "down_blocks.2.attentions.0.proj_in",
        "mid_block.resnets.0.conv1",
        "up_blocks.1.resnets.0.conv_shortcut",
        "up_blocks.0.upsamplers.0.conv",
    ):
        key = "lora_unet_" + module.replace(".", "_")
        down, up, alpha = (state[f"{key}.{part}"] for part in ("lora_down.weight", "lora_up.weight", "alpha"))
        plain = engine.pipeline.unet.get_submodule(module).weight
        fused = fast_engine.pipeline.unet.get_submodule(module).weight
        expected = (up.flatten(1) @ down.flatten(1)).reshape(plain.shape) * alpha / down.shape[0]
        assert torch.allclose(fused - plain, expected, atol=1e-5), module


# The face-detail pass

FACE = FaceBox(left=232, top=300, right=280, bottom=356, score=0.9)  # where a full-body pose's face would be
FACE_WINDOW = (200, 272, 312, 384)  # FACE with context: 2 x 56 px square around its centre


def with_fixed_face(engine: AvatarEngine, face: FaceBox | None = FACE, mode: str = "auto") -> AvatarEngine:
    """`engine`'s pipeline with a face finder that always sees `face`: the tiny stack draws no real faces."""
    return AvatarEngine(
        engine.pipeline,
        device="cpu",
        dtype=engine.dtype,
        placeholder=True,
        name="tiny",
        config=dataclasses.replace(engine.config, face_detail=mode),
        cpu_threads=1,
        find_face=lambda image: face,
    )


def test_face_detail_is_for_small_faces_unless_set():
    assert [wants_face_detail("auto", framing) for framing in FRAMINGS] == [True, True, False, False]
    assert FRAMINGS[:2] == ("full-body", "three-quarter")
    assert wants_face_detail("on", "head-shoulders") and wants_face_detail("on", None)
    assert not any(wants_face_detail("off", framing) for framing in FRAMINGS)
    assert not wants_face_detail("auto", None)


def test_face_detail_repaints_the_face_and_nothing_else(engine: AvatarEngine):
    request = with_quality(make_request(), steps=5)
    (plain,) = engine.generate([request])
    (detailed,) = with_fixed_face(engine).generate([dataclasses.replace(request, framing="full-body")])
    difference = np.abs(pixels(detailed) - pixels(plain)).max(axis=2)
    assert difference[FACE.top : FACE.bottom, FACE.left : FACE.right].mean() > 5
    left, top, right, bottom = FACE_WINDOW
    difference[top:bottom, left:right] = 0
    assert difference.max() == 0


def test_face_detail_progress_counts_its_steps(engine: AvatarEngine):
    request = dataclasses.replace(with_quality(make_request(), steps=5), framing="three-quarter")
    calls = []
    with_fixed_face(engine).generate([request], progress=lambda *args: calls.append(args))
    assert face_detail_steps(5) == int(5 * FACE_DETAIL_STRENGTH) == 2
    assert calls == [(i, 7) for i in range(1, 8)]
    calls.clear()
    with_fixed_face(engine, face=None).generate([request], progress=lambda *args: calls.append(args))
    assert calls == [(i, 7) for i in range(1, 6)] + [(7, 7)]  # no face found: its steps count as done


def test_face_detail_off_and_on(engine: AvatarEngine, sd_seed0: Image.Image):
    off = with_fixed_face(engine, mode="off")
    assert off.face_pipeline is None
    (image,) = off.generate([dataclasses.replace(make_request(), framing="full-body")])
    assert np.array_equal(pixels(image), pixels(sd_seed0))
    # "on": even a head-and-shoulders framing
    request = dataclasses.replace(with_quality(make_request(), steps=5), framing="head-shoulders")
    (plain,) = engine.generate([request])
    (detailed,) = with_fixed_face(engine, mode="on").generate([request])
    assert mean_diff(plain, detailed) > 0.1


def test_face_detail_leaves_a_large_face_alone(engine: AvatarEngine, sd_seed0: Image.Image):
    big = FaceBox(left=100, top=100, right=400, bottom=420, score=0.9)  # its window would be 640 px: no upscaling
    (image,) = with_fixed_face(engine, face=big).detail_faces(
        [sd_seed0], [dataclasses.replace(make_request(), framing="full-body")]
    )
    assert np.array_equal(pixels(image), pixels(sd_seed0))


def test_face_detail_batch_equals_one_by_one(engine: AvatarEngine):
    detailer = with_fixed_face(engine)
    requests = [
        dataclasses.replace(
            with_quality(make_request(seed=seed), steps=5), framing="full-body", identity_images=(face,)
        )
        for seed, face in ((0, ASTRONAUT), (4, OTHER_FACE))
    ]
    batch = detailer.generate(requests)
    alone = [detailer.generate([r])[0] for r in requests]
    assert max_diff(batch[0], alone[0]) <= 2
    assert max_diff(batch[1], alone[1]) <= 2


def test_face_detail_finds_a_real_face(engine: AvatarEngine):
    # the real detector on a real photo: the astronaut's face (about 105 px) is found, repainted and blended back
    canvas = Image.new("RGB", (SD.width, SD.height), (90, 90, 90))
    canvas.paste(ASTRONAUT, (0, 128))
    request = dataclasses.replace(with_quality(make_request(), steps=5), framing="full-body")
    (detailed,) = engine.detail_faces([canvas], [request])
    difference = np.abs(pixels(detailed) - pixels(canvas)).max(axis=2)
    assert difference[128 + 90 : 128 + 150, 195:260].mean() > 5  # the face
    assert difference[: 128 + 20].max() == 0 and difference[128 + 300 :].max() == 0  # far from it: untouched


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AVATARGEN_SLOW_TESTS") != "1", reason="needs the real hub weights")
def test_real_models_generate(tmp_path):
    engine = load_engine(EngineConfig(kind="diffusers", cache_dir=tmp_path))
    assert engine.placeholder is False and engine.has_identity_adapter
    (image,) = engine.generate([make_request()])
    assert image.size == (512, 768)
