"""Video avatars below the app: the AnimateDiff engine on the tiny stack (loaded through the real calls), the clip
files, pricing, and video jobs through the real runtime (charged, queued, completed or failed and refunded once)."""

import dataclasses
import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from avatargen.credits.pricing import video_cost
from avatargen.db.tables import Kind
from avatargen.engine.config import EngineConfig
from avatargen.engine.loading import load_engine
from avatargen.engine.video import VideoRequest, load_video_engine
from avatargen.errors import InsufficientCredits, UnknownMotion, UserError
from avatargen.generations.options import GenerationOptions
from avatargen.poses.motions import MotionLibrary
from avatargen.poses.render import render_openpose
from avatargen.presets import QUALITIES, Quality
from avatargen.storage import clips
from tests.conftest import make_runtime

TINY = Quality(64, 96, steps=2, guidance_scale=7.0, fast_steps=2)  # tiny frames: the engine's logic, not its pixels


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny-video")


@pytest.fixture(scope="module")
def video(tiny_cache):
    config = EngineConfig(kind="tiny", cache_dir=tiny_cache, fast=False, face_detail="off")
    return load_video_engine(load_engine(config), config)


def video_request(frames: int = 8, *, seed: int = 3, motion: str = "turn-around", face=(150, 110, 90)) -> VideoRequest:
    poses = MotionLibrary.load().get(motion).frames(frames)
    return VideoRequest(
        pose_frames=tuple(render_openpose(p, TINY.width, TINY.height) for p in poses),
        identity_images=(Image.new("RGB", (96, 96), face),),
        prompt="photo of a person, turning around",
        negative_prompt="blurry",
        quality=TINY,
        seed=seed,
    )


def pixels(frames) -> np.ndarray:
    return np.stack([np.asarray(f, dtype=np.float32) for f in frames])


def test_the_motion_adapter_loads_through_from_pretrained_onto_the_image_parts(video, tiny_cache):
    from diffusers import MotionAdapter, UNetMotionModel

    folder = tiny_cache / "tiny-motion" / "motion-adapter"
    assert {"config.json", "diffusion_pytorch_model.safetensors"} <= {p.name for p in folder.iterdir()}
    assert isinstance(MotionAdapter.from_pretrained(folder), MotionAdapter)
    pipe, image = video.pipeline, video.engine.pipeline
    assert isinstance(pipe.unet, UNetMotionModel)
    # the same parts, not copies: one text encoder, VAE, ControlNet and image encoder in memory
    for name in ("vae", "text_encoder", "controlnet", "image_encoder"):
        assert getattr(pipe, name) is getattr(image, name)
    # the identity adapter came along: its Resampler and its key/value projections, weight for weight
    assert pipe.unet.encoder_hid_proj is image.unet.encoder_hid_proj
    ours = {k: v for k, v in pipe.unet.state_dict().items() if "to_k_ip" in k}
    theirs = {k: v for k, v in image.unet.state_dict().items() if "to_k_ip" in k}
    assert ours and set(ours) == set(theirs) and all(ours[k].equal(theirs[k]) for k in ours)
    assert video.name == "tiny + AnimateDiff" and video.placeholder


def test_a_clip_is_seeded_moves_and_counts_frames_times_steps(video):
    progress = []
    [frames] = video.generate([video_request()], progress=lambda done, total: progress.append((done, total)))
    assert len(frames) == 8 and {f.size for f in frames} == {(64, 96)} and frames[0].mode == "RGB"
    assert progress == [(8, 16), (16, 16)]  # 2 steps of 8 frames each
    [again] = video.generate([video_request()])
    assert np.array_equal(pixels(frames), pixels(again))  # seeded and repeatable
    [other] = video.generate([video_request(seed=4)])
    assert not np.array_equal(pixels(frames), pixels(other))
    moving = pixels(frames)
    assert min(np.abs(moving[i] - moving[i + 1]).mean() for i in range(7)) > 0.5  # every frame differs from the next


def cells(picture: np.ndarray) -> np.ndarray:
    grey = picture.mean(axis=2)
    return grey.reshape(grey.shape[0] // 8, 8, grey.shape[1] // 8, 8).mean(axis=(1, 3))  # the latent grid


def test_every_frame_follows_its_pose_and_carries_the_identity(video):
    turning_request, waving_request = video_request(), video_request(motion="wave")
    [turning] = video.generate([turning_request])
    [waving] = video.generate([waving_request])
    [other_face] = video.generate([video_request(face=(30, 60, 200))])
    base = pixels(turning)
    assert np.abs(base - pixels(other_face)).mean(axis=(1, 2, 3)).min() > 0.5  # the identity, in every frame
    # The same seed, two motions: each frame changes where its own two poses differ (and little elsewhere)
    for i, (a, b) in enumerate(zip(turning_request.pose_frames, waving_request.pose_frames, strict=True)):
        moved = cells(np.abs(base[i] - pixels(waving)[i]))
        posed = cells(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))
        assert np.corrcoef(moved.ravel(), posed.ravel())[0, 1] > 0.2, f"frame {i}"


def test_clips_longer_than_the_adapters_window_use_context_windows(video):
    [frames] = video.generate([video_request(32)])
    assert len(frames) == 32
    assert not video.pipeline.free_noise_enabled  # only for that call


def test_bad_requests_are_refused_before_any_work(video):
    with pytest.raises(ValueError, match="8 to 32"):
        video.generate([dataclasses.replace(video_request(), pose_frames=video_request().pose_frames[:4])])
    wrong = dataclasses.replace(video_request(), quality=dataclasses.replace(TINY, width=72))
    with pytest.raises(ValueError, match="has to be 72x96"):
        video.generate([wrong])


def test_animatelcm_is_an_optional_few_step_mode(tiny_cache):
    from diffusers import LCMScheduler

    config = EngineConfig(kind="tiny", cache_dir=tiny_cache, fast=False, face_detail="off", video_lcm=True)
    lcm = load_video_engine(load_engine(config), config)
    assert lcm.lcm and isinstance(lcm.pipeline.scheduler, LCMScheduler)
    assert lcm.plan(video_request()).steps == TINY.fast_steps
    [frames] = lcm.generate([video_request()])
    assert len(frames) == 8


def test_mp4_is_h264_yuv420p_even_sized_with_the_index_first():
    frames = [Image.new("RGB", (65, 97), (i * 20, 100, 50)) for i in range(10)]
    data = clips.mp4_bytes(frames, fps=8)
    assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"mdat")  # faststart
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 96)
        assert stream.average_rate == 8
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == 10
    assert [round(float(f[..., 0].mean()) / 20) for f in decoded] == list(range(10))
    preview = Image.open(io.BytesIO(clips.webp_bytes(frames, fps=8, width=32)))
    assert preview.is_animated and preview.n_frames == 10 and preview.width == 32


def test_video_prices():
    assert video_cost("sd", False) == 20 and video_cost("hd", False) == 30 and video_cost("hd", True) == 33
    assert video_cost("sd", False, frames=32) == 40 and video_cost("sd", True, frames=17) == 43


class FakeVideo:
    """Stands in for the video engine: each frame a flat colour that follows the frame number."""

    name, placeholder = "fake video", False

    def __init__(self):
        self.requests = []
        self.fail_with = None

    def generate(self, requests, progress=None):
        if self.fail_with is not None:
            raise self.fail_with
        self.requests += requests
        [request] = requests
        if progress:
            progress(request.frames * 2, request.frames * 2)
        size = (request.quality.width, request.quality.height)
        return [[Image.new("RGB", size, (i * 8, 90, 200 - i * 6)) for i in range(request.frames)]]


@pytest.fixture
def videos(settings, fake_engine):
    fake = FakeVideo()
    runtime = make_runtime(settings, fake_engine, load_video=lambda image: fake)
    yield runtime, fake
    runtime.close()


def run_queued(runtime) -> None:
    while runtime.queue.run_next():
        pass


def test_a_video_job_is_charged_once_made_and_stored(videos, photo):
    runtime, fake = videos
    services = runtime.services
    user = services.users.user_for("local")
    options = GenerationOptions(quality="sd", priority=True, seed=9, mirror=True)
    generation = services.generations.create_video(user, photo=photo, motion_id="wave", options=options)
    assert generation.kind == Kind.video and generation.credit_used == 23 and generation.frames == 16
    assert services.ledger.statement(user)["balance"] == 77
    run_queued(runtime)
    done = services.generations.get(user, generation.id)
    assert done.status == "completed", done.error_message
    [request] = fake.requests
    assert request.frames == 16 and request.seed == 9 and "wave hello" in request.prompt
    assert request.pose_frames[0].size == (384, 576)
    record = done.to_public()
    assert record["kind"] == "video" and record["motionId"] == "wave" and record["durationSeconds"] == 2.0
    assert record["posterUrl"] == record["outputImageUrl"] and record["frames"] == 16 and record["fps"] == 8
    path, name = services.generations.download(user, generation.id)
    assert name.endswith(".mp4") and path.read_bytes()[4:8] == b"ftyp"
    assert Image.open(services.storage.path(record["animationUrl"])).is_animated
    files = [services.storage.path(record[k]) for k in ("videoUrl", "animationUrl", "posterUrl")]
    services.generations.delete(user, generation.id)
    assert not any(f.exists() for f in files)


def test_a_failed_video_is_refunded_once(videos, photo):
    runtime, fake = videos
    services = runtime.services
    user = services.users.user_for("local")
    fake.fail_with = RuntimeError("out of memory")
    generation = services.generations.create_video(user, photo=photo, motion_id="jump", options=GenerationOptions())
    run_queued(runtime)
    failed = services.generations.get(user, generation.id)
    assert failed.status == "failed" and "The video could not be generated" in failed.error_message
    assert not services.jobs.fail(generation.id, "again")  # a second failure refunds nothing
    entries = [(e["reason"], e["delta"]) for e in services.ledger.statement(user)["transactions"]]
    assert entries.count(("refund", 20)) == 1 and services.ledger.statement(user)["balance"] == 100


def test_video_refusals_charge_nothing(videos, photo):
    runtime, _ = videos
    services = runtime.services
    user = services.users.user_for("local")
    with pytest.raises(UnknownMotion):
        services.generations.create_video(user, photo=photo, motion_id="moonwalk", options=GenerationOptions())
    with pytest.raises(UserError, match="8 to 32 frames"):
        services.generations.create_video(user, photo=photo, motion_id="wave", options=GenerationOptions(), frames=64)
    expensive = GenerationOptions(quality="hd", priority=True)
    for _ in range(3):
        services.generations.create_video(user, photo=photo, motion_id="wave", options=expensive)
    with pytest.raises(InsufficientCredits, match="costs 33 credits and you have 1"):
        services.generations.create_video(user, photo=photo, motion_id="wave", options=expensive)
    assert services.ledger.statement(user)["balance"] == 1


def test_videos_are_never_batched_with_images(videos, photo, pose_id):
    runtime, fake = videos
    services = runtime.services
    user = services.users.user_for("local")
    options = GenerationOptions(quality="hd")  # an HD clip is as large as an SD image
    assert (QUALITIES["sd"].width, QUALITIES["sd"].height) == (512, 768)
    clip = services.generations.create_video(user, photo=photo, motion_id="wave", options=options)
    image = services.generations.create(user, photo=photo, pose_ids=[pose_id], options=GenerationOptions())[0]
    run_queued(runtime)
    assert services.generations.get(user, clip.id).status == "completed"
    assert services.generations.get(user, image.id).status == "completed"
    assert len(fake.requests) == 1 and runtime.engine.get().calls == [1]
