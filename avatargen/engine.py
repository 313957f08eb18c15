"""The generation engine: pose image and prompt in, avatar out. Knows nothing of users, credits or storage."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline

logger = logging.getLogger(__name__)

ENGINE_KINDS = ("auto", "diffusers", "tiny")
DEFAULT_BASE_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_CONTROLNET_MODEL = "lllyasviel/control_v11p_sd15_openpose"

# (denoising steps done so far, total steps of the call)
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    pose_image: Image.Image  # OpenPose conditioning image, already width x height
    identity_image: Image.Image  # the person's photo (used once the identity adapter lands)
    prompt: str
    negative_prompt: str
    width: int  # output width in pixels, a multiple of 8
    height: int  # output height in pixels, a multiple of 8
    steps: int  # denoising steps
    guidance_scale: float  # classifier-free guidance
    seed: int


def check_request(request: GenerationRequest) -> None:
    """Raise `ValueError` if `request` cannot be generated as it is."""
    if request.width <= 0 or request.height <= 0 or request.width % 8 or request.height % 8:
        raise ValueError(
            f"`width` and `height` have to be positive multiples of 8 but are {request.width} and {request.height}."
        )
    if request.pose_image.size != (request.width, request.height):
        raise ValueError(
            f"`pose_image` has to be {request.width}x{request.height} (width x height) but is "
            f"{request.pose_image.width}x{request.pose_image.height}."
        )
    if request.steps < 1:
        raise ValueError(f"`steps` has to be at least 1 but is {request.steps}.")
    if request.guidance_scale < 0:
        raise ValueError(f"`guidance_scale` cannot be negative but is {request.guidance_scale}.")


def pick_device() -> tuple[str, torch.dtype]:
    """The best available device and its dtype: CUDA (fp16), then MPS, then CPU (fp32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    if torch.backends.mps.is_available():
        return "mps", torch.float32
    return "cpu", torch.float32


class AvatarEngine:
    """Wraps a loaded ControlNet pipeline.

    Batch-aware: `generate` runs the requests that share size, steps and guidance in one pipeline call, each
    with its own prompt, pose and seed, so each output equals what its request gives alone.

    Args:
        pipeline: a `StableDiffusionControlNetPipeline` (or compatible), already on `device`.
        device: where the pipeline runs, e.g. "cuda" or "cpu".
        dtype: the pipeline's weights dtype.
        placeholder: True when outputs come from the tiny random-weight stack rather than a real model.
        name: what produced the outputs, e.g. "tiny" or the base model id.
    """

    def __init__(
        self,
        pipeline: StableDiffusionControlNetPipeline,
        *,
        device: str,
        dtype: torch.dtype,
        placeholder: bool,
        name: str,
    ) -> None:
        self.pipeline = pipeline
        self.device = device
        self.dtype = dtype
        self.placeholder = placeholder
        self.name = name
        # a pipeline (its scheduler above all) holds per-call state: one call at a time
        self._lock = threading.Lock()

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Image.Image]:
        """Generate one RGB image per request, in the order of `requests`.

        Args:
            requests: what to generate; all are checked before any work starts.
            progress: called after every denoising step with (steps done, total steps), counted over all the
                pipeline calls this batch needs.

        Raises:
            ValueError: if `requests` is empty or a request is invalid.
        """
        if not requests:
            raise ValueError("`requests` cannot be empty.")
        for i, request in enumerate(requests):
            try:
                check_request(request)
            except ValueError as e:
                raise ValueError(f"Request {i}: {e}") from None

        groups: dict[tuple[int, int, int, float], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.width, r.height, r.steps, r.guidance_scale), []).append(i)

        total = sum(requests[indices[0]].steps for indices in groups.values())
        done = 0

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)
            return tensors

        images: dict[int, Image.Image] = {}
        with self._lock:
            for indices in groups.values():
                group = [requests[i] for i in indices]
                images.update(zip(indices, self._run(group, on_step_end), strict=True))
        return [images[i] for i in range(len(requests))]

    def _run(self, group: list[GenerationRequest], on_step_end: Callable[..., Any]) -> list[Image.Image]:
        import torch

        first = group[0]
        # CPU generators: a seed gives the same starting noise on every device
        generators = [torch.Generator("cpu").manual_seed(r.seed) for r in group]
        with torch.inference_mode():
            output = self.pipeline(
                prompt=[r.prompt for r in group],
                negative_prompt=[r.negative_prompt for r in group],
                image=[r.pose_image.convert("RGB") for r in group],
                width=first.width,
                height=first.height,
                num_inference_steps=first.steps,
                guidance_scale=first.guidance_scale,
                generator=generators,
                output_type="pil",
                callback_on_step_end=on_step_end,
            )
        return [image.convert("RGB") for image in output.images]


def _load_tiny(cache_dir: Path, device: str) -> AvatarEngine:
    import torch
    from diffusers import StableDiffusionControlNetPipeline

    from avatargen.tiny import save_tiny_pipeline

    folder = save_tiny_pipeline(Path(cache_dir) / "tiny-pipeline")
    # fp32 everywhere: random weights are not meant for fp16 and the stack is tiny anyway
    pipe = StableDiffusionControlNetPipeline.from_pretrained(str(folder), dtype=torch.float32)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return AvatarEngine(pipe, device=device, dtype=torch.float32, placeholder=True, name="tiny")


def _load_diffusers(base_model: str, controlnet_model: str, device: str, dtype: torch.dtype) -> AvatarEngine:
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, UniPCMultistepScheduler

    controlnet = ControlNetModel.from_pretrained(controlnet_model, dtype=dtype)
    pipe = StableDiffusionControlNetPipeline.from_pretrained(
        base_model,
        controlnet=controlnet,
        dtype=dtype,
        safety_checker=None,
        requires_safety_checker=False,
    )
    # UniPC gives good images in 20-30 steps
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.to(device)
    if device == "cuda":
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.controlnet.to(memory_format=torch.channels_last)
    pipe.set_progress_bar_config(disable=True)
    return AvatarEngine(pipe, device=device, dtype=dtype, placeholder=False, name=base_model)


def load_engine(
    kind: str,
    *,
    cache_dir: Path,
    base_model: str = DEFAULT_BASE_MODEL,
    controlnet_model: str = DEFAULT_CONTROLNET_MODEL,
) -> AvatarEngine:
    """Load the pipeline and wrap it in an `AvatarEngine`.

    Args:
        kind: "diffusers" loads `base_model` and `controlnet_model` (hub ids or local folders); "tiny"
            builds the tiny random-weight pipeline in `cache_dir`; "auto" tries "diffusers" and falls back to
            "tiny" on any error, with a warning.
        cache_dir: where the tiny pipeline is saved (in its "tiny-pipeline" subfolder).
        base_model: Stable Diffusion 1.5 compatible base model.
        controlnet_model: OpenPose ControlNet for `base_model`.

    Raises:
        ValueError: if `kind` is unknown.
    """
    if kind not in ENGINE_KINDS:
        raise ValueError(f"`kind` has to be one of {ENGINE_KINDS} but is {kind!r}.")
    device, dtype = pick_device()
    if kind == "tiny":
        return _load_tiny(cache_dir, device)
    if kind == "diffusers":
        return _load_diffusers(base_model, controlnet_model, device, dtype)
    try:
        return _load_diffusers(base_model, controlnet_model, device, dtype)
    except Exception as e:
        logger.warning(
            "Could not load %s with %s (%s: %s); using the tiny placeholder pipeline instead.",
            base_model,
            controlnet_model,
            type(e).__name__,
            e,
        )
        return _load_tiny(cache_dir, device)
