"""Video avatars: the person moving through a pose sequence, with AnimateDiff on the image engine's own SD 1.5 parts.

`AnimateDiffControlNetPipeline` is built from the loaded image pipeline's components (no second copy of the text
encoder, VAE, ControlNet or identity adapter) and a motion adapter: the OpenPose ControlNet steers every frame, the
identity adapter's per-request embeddings (the same as an image's) every frame, and the motion adapter's temporal
layers tie the frames together. Clips longer than `CONTEXT_FRAMES` are denoised in overlapping windows (FreeNoise).
Knows nothing of users, credits or storage. Imports `engine.config`, `engine.engine` and `presets`; torch and
diffusers inside functions only.

No face pass per frame: repainting each frame's face on its own would flicker, since nothing ties one frame's face
to the next. A full-body clip's face is small (about 40 px at SD), so the likeness there rests on the identity
adapter; half-body and three-quarter motions, and HD, show it better.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from avatargen.engine.config import CONTEXT_FRAMES, MAX_IDENTITY_IMAGES, VIDEO_LCM_LORA_WEIGHT, EngineConfig
from avatargen.engine.engine import AvatarEngine, Plan, ProgressCallback, _cpu_threads
from avatargen.engine.loading import MODEL_LOADING
from avatargen.presets import Quality

if TYPE_CHECKING:
    from diffusers import AnimateDiffControlNetPipeline

log = logging.getLogger(__name__)

MIN_FRAMES, MAX_FRAMES = 8, 32
DECODE_CHUNK = 8  # frames the VAE decodes at once: bounds the decoder's memory


@dataclass(frozen=True)
class VideoRequest:
    pose_frames: tuple[Image.Image, ...]  # one OpenPose conditioning image per frame, each width x height
    identity_images: tuple[Image.Image, ...]  # photos of the person, as for an image
    prompt: str
    negative_prompt: str
    quality: Quality  # frame size and sampling
    seed: int

    @property
    def frames(self) -> int:
        return len(self.pose_frames)


def check_video_request(request: VideoRequest) -> None:
    """Raise `ValueError` if `request` cannot be generated as it is."""
    width, height = request.quality.width, request.quality.height
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise ValueError(f"`width` and `height` have to be positive multiples of 8 but are {width} and {height}.")
    if not MIN_FRAMES <= request.frames <= MAX_FRAMES:
        raise ValueError(f"A clip has {MIN_FRAMES} to {MAX_FRAMES} frames, not {request.frames}.")
    if not 1 <= len(request.identity_images) <= MAX_IDENTITY_IMAGES:
        raise ValueError(f"`identity_images` has to hold 1 to {MAX_IDENTITY_IMAGES} photos.")
    for i, frame in enumerate(request.pose_frames):
        if frame.size != (width, height):
            raise ValueError(f"Pose frame {i} has to be {width}x{height} but is {frame.width}x{frame.height}.")


class VideoEngine:
    """Makes clips on an `AvatarEngine`'s components: `generate` gives each request's frames as RGB images.

    Args:
        engine: the loaded image engine whose parts (and prompt and identity encoding) the clips share.
        pipeline: an `AnimateDiffControlNetPipeline` built on them (`build_video_pipeline`).
        lcm: AnimateLCM is loaded, so clips run with their quality's fast steps and guidance.
    """

    def __init__(self, engine: AvatarEngine, pipeline: AnimateDiffControlNetPipeline, *, lcm: bool = False):
        self.engine = engine
        self.pipeline = pipeline
        self.lcm = lcm
        self._lock = threading.Lock()  # the pipeline's scheduler holds a call's state

    @property
    def placeholder(self) -> bool:
        return self.engine.placeholder

    @property
    def name(self) -> str:
        return f"{self.engine.name} + {'AnimateLCM' if self.lcm else 'AnimateDiff'}"

    def plan(self, request: VideoRequest) -> Plan:
        """Steps and guidance: the image engine's (its fast mode too), or AnimateLCM's few steps."""
        if self.lcm:
            return Plan(steps=request.quality.fast_steps, guidance_scale=request.quality.fast_guidance_scale)
        return self.engine.plan(request)  # type: ignore[arg-type]  # reads only `quality`

    def generate(self, requests: Sequence[VideoRequest], progress: ProgressCallback | None = None) -> list[list]:
        """Each request's frames (PIL images, `width` x `height`), in order; one pipeline call per request.

        `progress` is called with (units done, total units) where a unit is one frame through one denoising step,
        over all the requests. Seeded: the same request gives the same frames.
        """
        import torch

        if not requests:
            raise ValueError("`requests` cannot be empty.")
        for request in requests:
            check_video_request(request)
        plans = [self.plan(r) for r in requests]
        total, done = sum(p.steps * r.frames for p, r in zip(plans, requests, strict=True)), 0
        results = []
        threads = self.engine.cpu_threads if self.engine.device == "cpu" else None  # the tiny stack: one thread
        with self._lock, _cpu_threads(threads):
            for request, plan in zip(requests, plans, strict=True):

                def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict, frames: int = request.frames):
                    nonlocal done
                    done += frames
                    if progress is not None:
                        progress(done, total)
                    return tensors

                with torch.inference_mode(), _context_windows(self.pipeline, request.frames):
                    output = self.pipeline(
                        num_frames=request.frames,
                        conditioning_frames=[frame.convert("RGB") for frame in request.pose_frames],
                        width=request.quality.width,
                        height=request.quality.height,
                        num_inference_steps=plan.steps,
                        guidance_scale=plan.guidance_scale,
                        controlnet_conditioning_scale=self.engine.pose_strength,
                        generator=torch.Generator("cpu").manual_seed(request.seed),
                        output_type="pil",
                        decode_chunk_size=DECODE_CHUNK,
                        callback_on_step_end=on_step_end,
                        **self._prompts(request, plan),
                    )
                results.append([image.convert("RGB") for image in output.frames[0]])
        return results

    def _prompts(self, request: VideoRequest, plan: Plan) -> dict[str, Any]:
        arguments = self.engine.conditioning([request], plan)
        if request.frames > CONTEXT_FRAMES:
            # FreeNoise encodes the prompts itself (one per window), from text: CLIP's first 77 tokens
            arguments.pop("prompt_embeds")
            arguments.pop("negative_prompt_embeds", None)
            arguments["prompt"] = request.prompt
            arguments["negative_prompt"] = request.negative_prompt if plan.guidance_scale > 1 else None
        return arguments


class _context_windows:
    # FreeNoise (overlapping windows of CONTEXT_FRAMES in the temporal layers) for the length of one long call
    def __init__(self, pipeline: Any, frames: int):
        self.pipeline, self.on = pipeline, frames > CONTEXT_FRAMES

    def __enter__(self) -> None:
        if self.on:
            self.pipeline.enable_free_noise(context_length=CONTEXT_FRAMES, context_stride=4)

    def __exit__(self, *exc: object) -> None:
        if self.on:
            self.pipeline.disable_free_noise()


def build_video_pipeline(engine: AvatarEngine, motion_adapter: Any, *, lcm_lora: str | None = None) -> Any:
    """`AnimateDiffControlNetPipeline` on the image engine's components and `motion_adapter`, on its device.

    The motion UNet is a copy of the image UNet (its IP-Adapter included) with the temporal layers added; with
    `lcm_lora` (a folder or hub id holding `VIDEO_LCM_LORA_WEIGHT`), AnimateLCM's LoRA is fused into it and the
    scheduler is LCM's.
    """
    from diffusers import AnimateDiffControlNetPipeline, LCMScheduler

    image = engine.pipeline
    unet = _motion_unet(getattr(image.unet, "_orig_mod", image.unet), motion_adapter)  # a compiled UNet's own
    controlnet = getattr(image.controlnet, "_orig_mod", image.controlnet)
    scheduler = type(image.scheduler).from_config(image.scheduler.config)  # its own: it holds a call's steps
    pipe = AnimateDiffControlNetPipeline(
        vae=image.vae,
        text_encoder=image.text_encoder,
        tokenizer=image.tokenizer,
        unet=unet,
        motion_adapter=motion_adapter.to(dtype=engine.dtype),
        controlnet=controlnet,
        scheduler=scheduler,
        feature_extractor=image.feature_extractor,
        image_encoder=image.image_encoder,
    )
    pipe.unet.to(device=engine.device, dtype=engine.dtype)
    if lcm_lora is not None:
        pipe.load_lora_weights(lcm_lora, weight_name=VIDEO_LCM_LORA_WEIGHT, adapter_name="animatelcm")
        pipe.fuse_lora()
        pipe.unload_lora_weights()
        pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config, beta_schedule="linear")
    if engine.config.low_memory and engine.device == "cuda":
        pipe.enable_model_cpu_offload()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _motion_unet(unet: Any, motion_adapter: Any) -> Any:
    # `UNetMotionModel.from_unet2d` takes every attention processor but the self-attention ones for an IP-Adapter's,
    # the "plus" Resampler's own included, and fails on those: convert a view of the UNet without the Resampler
    # (the original is left alone: another thread may be generating with it), then hand the Resampler over.
    import copy

    from diffusers import UNetMotionModel

    view = copy.copy(unet)
    view._modules = dict(unet._modules)
    projection = view._modules.pop("encoder_hid_proj", None)
    view._modules["encoder_hid_proj"] = None
    motion = UNetMotionModel.from_unet2d(view, motion_adapter)
    if projection is not None:
        motion.encoder_hid_proj = projection
        motion.config.encoder_hid_dim_type = "ip_image_proj"
    return motion


def load_video_engine(engine: AvatarEngine, config: EngineConfig) -> VideoEngine:
    """The video engine for a loaded image engine: the tiny motion adapter for the tiny stack, else the one `config`
    names (AnimateLCM's with `video_lcm`, unless the image engine already runs the few-step LCM-LoRA)."""
    from diffusers import MotionAdapter

    lcm = config.video_lcm and not engine.fast
    if config.video_lcm and engine.fast:
        log.warning("AVATARGEN_VIDEO_LCM is left off: the image engine already runs the few-step LCM-LoRA")
    if engine.placeholder:
        from avatargen.engine import tiny_motion

        folder = tiny_motion.save_tiny_motion_adapters(Path(config.cache_dir) / "tiny-motion")
        source = str(folder / (tiny_motion.VIDEO_LCM_FOLDER if lcm else tiny_motion.MOTION_ADAPTER_FOLDER))
    else:
        source = config.video_lcm_model if lcm else config.motion_adapter_model
    with MODEL_LOADING:  # never beside another model load in this process
        adapter = MotionAdapter.from_pretrained(source, dtype=engine.dtype)
        pipeline = build_video_pipeline(engine, adapter, lcm_lora=source if lcm else None)
    return VideoEngine(engine, pipeline, lcm=lcm)
