"""The generation engine: the person's photo, a pose and a prompt in, an avatar out.

Stable Diffusion 1.5 with an OpenPose ControlNet (the pose) and an IP-Adapter fed with the face in the photo (the
identity); optionally LCM-LoRA for a few-step fast mode. Knows nothing of users, credits or storage. Importing this
module imports no torch: the pipeline loads in `load_engine`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from avatargen.presets import FAST_GUIDANCE_SCALE, FAST_STEPS

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline

logger = logging.getLogger(__name__)

ENGINE_KINDS = ("auto", "diffusers", "tiny")
DEFAULT_BASE_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_CONTROLNET_MODEL = "lllyasviel/control_v11p_sd15_openpose"
DEFAULT_IP_ADAPTER_MODEL = "h94/IP-Adapter"
# inside DEFAULT_IP_ADAPTER_MODEL; its CLIP image encoder (ViT-H/14) is in "image_encoder" next to it
DEFAULT_IP_ADAPTER_WEIGHT = "models/ip-adapter-plus-face_sd15.safetensors"
DEFAULT_FAST_LORA_MODEL = "latent-consistency/lcm-lora-sdv1-5"
FAST_LORA_WEIGHT = "pytorch_lora_weights.safetensors"  # inside DEFAULT_FAST_LORA_MODEL
DEFAULT_IDENTITY_STRENGTH = 0.7  # IP-Adapter scale: resemblance against freedom of style and pose
DEFAULT_POSE_STRENGTH = 1.0  # ControlNet conditioning scale
# Below this much free GPU memory the pipeline is offloaded to the CPU between models, and the VAE decodes in slices
# and tiles. fp16 weights take ~4.2 GiB (UNet, ControlNet, VAE, text and image encoders); an HD batch needs headroom.
LOW_MEMORY_BYTES = 8 * 2**30
_IMAGE_ENCODER_FOLDER = "image_encoder"
_WARM_UP_PHOTO = 64  # side of the blank photo `warm_up` uses

# (denoising steps done so far, total steps of the call)
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    pose_image: Image.Image  # OpenPose conditioning image, already width x height
    identity_image: Image.Image  # the person's photo; the engine crops the face from it
    prompt: str
    negative_prompt: str
    width: int  # output width in pixels, a multiple of 8
    height: int  # output height in pixels, a multiple of 8
    steps: int  # denoising steps
    guidance_scale: float  # classifier-free guidance
    seed: int
    fast_steps: int | None = None  # steps in fast mode (LCM); None: presets.FAST_STEPS
    fast_guidance_scale: float | None = None  # guidance in fast mode; None: presets.FAST_GUIDANCE_SCALE


@dataclass(frozen=True)
class Plan:
    """What the engine actually runs for a request: its own steps and guidance in fast mode."""

    steps: int
    guidance_scale: float


@functools.cache
def pipeline_class() -> type[StableDiffusionControlNetPipeline]:
    """`StableDiffusionControlNetPipeline` taking one IP-Adapter embedding per prompt: each request keeps its identity.

    diffusers repeats `ip_adapter_image_embeds` for every prompt of a call (meant for one identity per call: given one
    per prompt, the batch's identities would blend into each other); this pipeline uses each tensor as it is given,
    one embedding per prompt, negatives first under classifier-free guidance.
    """
    from diffusers import StableDiffusionControlNetPipeline

    class AvatarControlNetPipeline(StableDiffusionControlNetPipeline):
        def prepare_ip_adapter_image_embeds(
            self, ip_adapter_image, ip_adapter_image_embeds, device, num_images_per_prompt, do_classifier_free_guidance
        ):
            if ip_adapter_image_embeds is None:
                return super().prepare_ip_adapter_image_embeds(
                    ip_adapter_image, None, device, num_images_per_prompt, do_classifier_free_guidance
                )
            return [embeds.to(device) for embeds in ip_adapter_image_embeds]

    return AvatarControlNetPipeline


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
    for name in ("steps", "fast_steps"):
        value = getattr(request, name)
        if value is not None and value < 1:
            raise ValueError(f"`{name}` has to be at least 1 but is {value}.")
    for name in ("guidance_scale", "fast_guidance_scale"):
        value = getattr(request, name)
        if value is not None and value < 0:
            raise ValueError(f"`{name}` cannot be negative but is {value}.")


def pick_device() -> tuple[str, torch.dtype]:
    """The best available device and its dtype: CUDA (fp16), then MPS, then CPU (fp32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    if torch.backends.mps.is_available():
        return "mps", torch.float32
    return "cpu", torch.float32


def needs_low_memory(free_bytes: int) -> bool:
    """Whether a GPU with `free_bytes` free should run the pipeline offloaded (see `LOW_MEMORY_BYTES`)."""
    return free_bytes < LOW_MEMORY_BYTES


@contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    # per calling thread with torch's OpenMP backend; restored after
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class AvatarEngine:
    """Wraps a loaded ControlNet pipeline, with its IP-Adapter when it has one.

    Batch-aware: `generate` runs the requests that share size, steps and guidance in one pipeline call, each with
    its own prompt, pose, identity and seed, so each output equals what its request gives alone.

    Args:
        pipeline: a `StableDiffusionControlNetPipeline`, already placed on `device`; with an IP-Adapter loaded
            (`load_ip_adapter`) the person's face steers the output, and the engine works on a `pipeline_class()`
            copy of it (same components) if it is not one.
        device: where the pipeline runs, e.g. "cuda" or "cpu".
        dtype: the pipeline's weights dtype.
        placeholder: True when outputs come from the tiny random-weight stack rather than a real model.
        name: what produced the outputs, e.g. "tiny" or the base model id.
        fast: whether the pipeline is set up for few-step sampling (LCM-LoRA fused, LCM scheduler): requests then
            run with their fast steps and guidance (see `plan`).
        identity_strength: IP-Adapter scale, 0 (ignore the face) to 1.
        pose_strength: ControlNet conditioning scale, 0 (ignore the pose) to about 2.
        cpu_threads: torch threads for the calling thread while generating on CPU; None leaves torch's setting.
    """

    def __init__(
        self,
        pipeline: StableDiffusionControlNetPipeline,
        *,
        device: str,
        dtype: torch.dtype,
        placeholder: bool,
        name: str,
        fast: bool = False,
        identity_strength: float = DEFAULT_IDENTITY_STRENGTH,
        pose_strength: float = DEFAULT_POSE_STRENGTH,
        cpu_threads: int | None = None,
    ) -> None:
        if getattr(pipeline.unet, "encoder_hid_proj", None) is not None and not isinstance(pipeline, pipeline_class()):
            # same components, but one identity per request of a batch
            progress_bar = getattr(pipeline, "_progress_bar_config", {})
            pipeline = pipeline_class().from_pipe(pipeline, dtype=dtype)  # without: cast to float32
            pipeline.set_progress_bar_config(**progress_bar)
        self.pipeline = pipeline
        self.device = device
        self.dtype = dtype
        self.placeholder = placeholder
        self.name = name
        self.fast = fast
        # the pipeline's `check_inputs` refuses an integer conditioning scale
        self.identity_strength = float(identity_strength)
        self.pose_strength = float(pose_strength)
        self.cpu_threads = cpu_threads
        if self.has_identity_adapter:
            pipeline.set_ip_adapter_scale(self.identity_strength)
        # a pipeline (its scheduler above all) holds per-call state: one call at a time
        self._lock = threading.Lock()
        self._uncond: torch.Tensor | None = None  # the identity adapter's unconditional image encoding, once known

    @property
    def has_identity_adapter(self) -> bool:
        """Whether an IP-Adapter is loaded, so the person's photo steers the output."""
        return getattr(self.pipeline.unet, "encoder_hid_proj", None) is not None

    def plan(self, request: GenerationRequest) -> Plan:
        """The steps and guidance this engine runs `request` with.

        In fast mode they are the request's `fast_steps` and `fast_guidance_scale` (by default `presets.FAST_STEPS`
        and `presets.FAST_GUIDANCE_SCALE`) rather than its `steps` and `guidance_scale`.
        """
        if not self.fast:
            return Plan(steps=request.steps, guidance_scale=request.guidance_scale)
        return Plan(
            steps=FAST_STEPS if request.fast_steps is None else request.fast_steps,
            guidance_scale=FAST_GUIDANCE_SCALE if request.fast_guidance_scale is None else request.fast_guidance_scale,
        )

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Image.Image]:
        """Generate one RGB image per request, in the order of `requests`.

        Args:
            requests: what to generate; all are checked before any work starts.
            progress: called after every denoising step with (steps done, total steps), counted over all the
                pipeline calls this batch needs, with the steps `plan` gives.

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

        plans = [self.plan(r) for r in requests]
        groups: dict[tuple[int, int, Plan], list[int]] = {}
        for i, (r, plan) in enumerate(zip(requests, plans, strict=True)):
            groups.setdefault((r.width, r.height, plan), []).append(i)

        total = sum(plan.steps for _, _, plan in groups)
        done = 0

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)
            return tensors

        crops = self._identity_crops(requests)
        images: dict[int, Image.Image] = {}
        with self._lock, _cpu_threads(self.cpu_threads if self.device == "cpu" else None):
            for (_, _, plan), indices in groups.items():
                group = [requests[i] for i in indices]
                group_crops = None if crops is None else [crops[i] for i in indices]
                images.update(zip(indices, self._run(group, group_crops, plan, on_step_end), strict=True))
        return [images[i] for i in range(len(requests))]

    def warm_up(self, sizes: Iterable[tuple[int, int]], batch_size: int = 1) -> None:
        """Run batches of 1 to `batch_size` requests of each (width, height) in `sizes`.

        Compiled models compile for each shape here rather than during someone's job.
        """
        for (width, height), batch in itertools.product(sizes, range(1, batch_size + 1)):
            request = GenerationRequest(
                pose_image=Image.new("RGB", (width, height)),
                identity_image=Image.new("RGB", (_WARM_UP_PHOTO, _WARM_UP_PHOTO), (128, 128, 128)),
                prompt="a person",
                negative_prompt="",
                width=width,
                height=height,
                steps=2,
                guidance_scale=7.0,
                seed=0,
            )
            self.generate([request] * batch)

    def _identity_crops(self, requests: Sequence[GenerationRequest]) -> list[Image.Image] | None:
        if not self.has_identity_adapter:
            return None
        from avatargen.identity import identity_crop

        return [identity_crop(r.identity_image) for r in requests]

    def _identity_embeds(self, crops: list[Image.Image], guided: bool) -> list[torch.Tensor]:
        import torch
        from diffusers.models.embeddings import ImageProjection

        pipe = self.pipeline
        device = pipe._execution_device
        dtype = next(pipe.image_encoder.parameters()).dtype
        # "plus" adapters (a Resampler) read the encoder's penultimate hidden states, plain ones its image embedding
        plus = not isinstance(pipe.unet.encoder_hid_proj.image_projection_layers[0], ImageProjection)

        def encode(pixels: torch.Tensor) -> torch.Tensor:
            output = pipe.image_encoder(pixels.to(device=device, dtype=dtype), output_hidden_states=plus)
            return output.hidden_states[-2] if plus else output.image_embeds

        # one by one, so a batch embeds each face exactly as a lone request does: (1, tokens, width) each
        positive = [encode(pipe.feature_extractor(crop, return_tensors="pt").pixel_values) for crop in crops]
        if not guided:
            return [torch.stack(positive)]  # (batch, images per request = 1, tokens, width)
        # the unconditional side, as diffusers' `encode_image` makes it: the encoding of an all-zero input for
        # "plus" adapters (the same for everyone: encoded once), zeros for plain ones
        if not plus:
            negative = torch.zeros_like(positive[0])
        else:
            if self._uncond is None:
                size = pipe.image_encoder.config.image_size
                self._uncond = encode(torch.zeros(1, 3, size, size))
            negative = self._uncond
        # negatives first, as the pipeline expects under classifier-free guidance
        return [torch.stack([negative] * len(crops) + positive)]

    def _encode_prompts(self, texts: list[str]) -> torch.Tensor:
        # CLIP reads 77 tokens; longer prompts are encoded in chunks of 75 (plus start and end) and the chunks'
        # embeddings concatenated, every text padded with empty chunks to the longest one's count
        import torch

        pipe = self.pipeline
        tokenizer = pipe.tokenizer
        width = tokenizer.model_max_length - 2
        ids = [tokenizer(text, add_special_tokens=False, verbose=False).input_ids for text in texts]
        count = max(1, *(-(-len(i) // width) for i in ids))
        rows = []
        for text_ids in ids:
            for start in range(0, count * width, width):
                piece = text_ids[start : start + width]
                rows.append(
                    [tokenizer.bos_token_id, *piece, tokenizer.eos_token_id]
                    + [tokenizer.pad_token_id] * (width - len(piece))
                )
        tokens = torch.tensor(rows, device=pipe._execution_device)
        embeds = pipe.text_encoder(tokens)[0].to(pipe.text_encoder.dtype)
        return embeds.reshape(len(texts), count * embeds.shape[1], embeds.shape[2])

    def _run(
        self,
        group: list[GenerationRequest],
        crops: list[Image.Image] | None,
        plan: Plan,
        on_step_end: Callable[..., Any],
    ) -> list[Image.Image]:
        import torch

        first = group[0]
        # CPU generators: a seed gives the same starting noise on every device
        generators = [torch.Generator("cpu").manual_seed(r.seed) for r in group]
        guided = plan.guidance_scale > 1 and self.pipeline.unet.config.time_cond_proj_dim is None
        extra: dict[str, Any] = {}
        with torch.inference_mode():
            if crops is not None:
                extra["ip_adapter_image_embeds"] = self._identity_embeds(crops, guided)
            texts = [r.prompt for r in group] + ([r.negative_prompt for r in group] if guided else [])
            embeds = self._encode_prompts(texts)
            if guided:
                extra["negative_prompt_embeds"] = embeds[len(group) :]
            output = self.pipeline(
                prompt_embeds=embeds[: len(group)],
                image=[r.pose_image.convert("RGB") for r in group],
                width=first.width,
                height=first.height,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance_scale,
                controlnet_conditioning_scale=self.pose_strength,
                generator=generators,
                output_type="pil",
                callback_on_step_end=on_step_end,
                **extra,
            )
        return [image.convert("RGB") for image in output.images]


@dataclass(frozen=True)
class _Sources:
    # where each part of the stack loads from: hub ids or local folders, in the hub repos' layouts
    base_model: str
    controlnet_model: str
    ip_adapter_model: str | None
    ip_adapter_weight: str  # "subfolder/file" inside ip_adapter_model
    fast_lora_model: str


def _tiny_sources(cache_dir: Path) -> _Sources:
    from avatargen import tiny

    folder = tiny.save_tiny_pipeline(Path(cache_dir) / "tiny-pipeline")
    return _Sources(
        base_model=str(folder),
        controlnet_model=str(folder / "controlnet"),
        ip_adapter_model=str(folder / tiny.IP_ADAPTER_FOLDER),
        ip_adapter_weight=f"{tiny.IP_ADAPTER_SUBFOLDER}/{tiny.IP_ADAPTER_WEIGHT}",
        fast_lora_model=str(folder / tiny.FAST_LORA_FOLDER),
    )


def _load_pipeline(sources: _Sources, dtype: torch.dtype, fast: bool) -> StableDiffusionControlNetPipeline:
    from diffusers import ControlNetModel, LCMScheduler, UniPCMultistepScheduler

    controlnet = ControlNetModel.from_pretrained(sources.controlnet_model, dtype=dtype)
    pipe = pipeline_class().from_pretrained(
        sources.base_model,
        controlnet=controlnet,
        dtype=dtype,
        safety_checker=None,
        requires_safety_checker=False,
    )
    if fast:
        # LCM-LoRA: fused into the UNet weights, then its LoRA layers dropped, so steps cost what they cost without
        # with `weight_name`, a filled hub cache is enough offline (without, the hub is asked for the file list)
        pipe.load_lora_weights(sources.fast_lora_model, weight_name=FAST_LORA_WEIGHT)
        pipe.fuse_lora()
        pipe.unload_lora_weights()
        pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    else:
        # UniPC gives good images in 20-30 steps
        pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    if sources.ip_adapter_model is not None:
        subfolder, _, weight_name = sources.ip_adapter_weight.rpartition("/")
        pipe.load_ip_adapter(
            sources.ip_adapter_model,
            subfolder=subfolder,
            weight_name=weight_name,
            image_encoder_folder=_IMAGE_ENCODER_FOLDER,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def prepare_pipeline(
    pipe: StableDiffusionControlNetPipeline, device: str, *, low_memory: bool = False, compile: bool = False
) -> None:
    """Place `pipe` on `device` and set it up for speed.

    CUDA: channels_last UNet, ControlNet and VAE (their convolutions run faster in that layout on tensor cores);
    attention stays on PyTorch's SDPA (diffusers' default processors, the IP-Adapter's included). `low_memory`
    (CUDA only) offloads each model to the CPU while another runs and decodes the VAE in slices and tiles; attention
    slicing is not used, as it would replace the IP-Adapter's attention processors. `compile` wraps the UNet and the
    ControlNet in `torch.compile` (max-autotune, CUDA graphs): slow on the first call of each size and batch (see
    `AvatarEngine.warm_up`), faster after. The wrappers replace the pipeline's models, so diffusers sees them as
    compiled and marks each denoising step for CUDA graphs.

    Raises:
        ValueError: for `compile` with `low_memory` on CUDA (offloading moves the compiled models' weights).
    """
    import torch

    _check_compile(compile, low_memory, device)
    if low_memory and device == "cuda":
        pipe.enable_model_cpu_offload()
        pipe.vae.enable_slicing()
        pipe.vae.enable_tiling()
    else:
        pipe.to(device)
    if device == "cuda":
        for model in (pipe.unet, pipe.controlnet, pipe.vae):
            model.to(memory_format=torch.channels_last)
    if compile:
        import torch._inductor.config as inductor

        # as in diffusers' "accelerate inference" guide
        inductor.conv_1x1_as_mm = True
        inductor.coordinate_descent_tuning = True
        inductor.epilogue_fusion = False
        inductor.coordinate_descent_check_all_directions = True
        pipe.unet = torch.compile(pipe.unet, mode="max-autotune")
        pipe.controlnet = torch.compile(pipe.controlnet, mode="max-autotune")


def _check_compile(compile: bool, low_memory: bool, device: str) -> None:
    if compile and low_memory and device == "cuda":
        raise ValueError(
            "torch.compile needs the whole pipeline on the GPU, without CPU offload: turn AVATARGEN_COMPILE off, or "
            "set AVATARGEN_LOW_MEMORY=false on a GPU with enough free memory."
        )


def load_engine(
    kind: str,
    *,
    cache_dir: Path,
    base_model: str = DEFAULT_BASE_MODEL,
    controlnet_model: str = DEFAULT_CONTROLNET_MODEL,
    ip_adapter_model: str | None = DEFAULT_IP_ADAPTER_MODEL,
    ip_adapter_weight: str = DEFAULT_IP_ADAPTER_WEIGHT,
    fast_lora_model: str = DEFAULT_FAST_LORA_MODEL,
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH,
    pose_strength: float = DEFAULT_POSE_STRENGTH,
    fast: bool | None = None,
    compile: bool = False,
    low_memory: bool | None = None,
    warm_up_sizes: Iterable[tuple[int, int]] | None = None,
    batch_size: int = 1,
) -> AvatarEngine:
    """Load the pipeline once, set it up for the device, and wrap it in an `AvatarEngine`.

    Args:
        kind: "diffusers" loads the models named below (hub ids or local folders in the same layout); "tiny"
            builds the tiny random-weight stack in `cache_dir` and loads it through the same calls; "auto" tries
            "diffusers" and falls back to "tiny" on any error, with a warning.
        cache_dir: where the tiny stack is saved (in its "tiny-pipeline" subfolder).
        base_model: Stable Diffusion 1.5 compatible base model.
        controlnet_model: OpenPose ControlNet for `base_model`.
        ip_adapter_model: repo or folder with the IP-Adapter and, in "image_encoder" next to its weights, its CLIP
            image encoder; None: no identity adapter (the photo is not used).
        ip_adapter_weight: the adapter's weights file inside `ip_adapter_model`, "subfolder/file".
        fast_lora_model: LCM-LoRA for `base_model` (its "pytorch_lora_weights.safetensors"), used in fast mode.
        identity_strength: IP-Adapter scale, 0 to 1.
        pose_strength: ControlNet conditioning scale.
        fast: few-step mode with LCM-LoRA (see `AvatarEngine.plan`); None: on when the device is the CPU.
        compile: compile the UNet and ControlNet with `torch.compile`, then warm up each size (see `warm_up_sizes`).
        low_memory: offload models to the CPU between uses (CUDA only); None: when free GPU memory is below
            `LOW_MEMORY_BYTES`.
        warm_up_sizes: (width, height) of the sizes to run once after loading; None: the quality presets' sizes when
            `compile` is on, none otherwise.
        batch_size: the largest batch the worker gives `generate`: warm-up runs each batch size up to it.

    Raises:
        ValueError: if `kind` is unknown, or `compile` meets `low_memory` on CUDA.
    """
    if kind not in ENGINE_KINDS:
        raise ValueError(f"`kind` has to be one of {ENGINE_KINDS} but is {kind!r}.")
    device, dtype = pick_device()
    if fast is None:
        fast = device == "cpu"
    if low_memory is None:
        low_memory = device == "cuda" and needs_low_memory(_free_gpu_memory())
    _check_compile(compile, low_memory, device)  # a setting to change, not a model to fall back from
    if warm_up_sizes is None:
        from avatargen.presets import QUALITIES

        warm_up_sizes = [(q.width, q.height) for q in QUALITIES.values()] if compile else []
    options = {
        "fast": fast,
        "identity_strength": identity_strength,
        "pose_strength": pose_strength,
        "compile": compile,
        "low_memory": low_memory,
    }

    if kind == "tiny":
        engine = _load_tiny(cache_dir, device, **options)
    else:
        sources = _Sources(base_model, controlnet_model, ip_adapter_model, ip_adapter_weight, fast_lora_model)
        try:
            engine = _load(sources, device, dtype, name=base_model, placeholder=False, **options)
        except Exception as e:
            if kind == "diffusers":
                raise
            logger.warning(
                "Could not load %s with %s (%s: %s); using the tiny placeholder pipeline instead.",
                base_model,
                controlnet_model,
                type(e).__name__,
                e,
            )
            engine = _load_tiny(cache_dir, device, **options)
    engine.warm_up(warm_up_sizes, batch_size)
    return engine


def _free_gpu_memory() -> int:
    import torch

    free, _total = torch.cuda.mem_get_info()
    return free


def _load_tiny(cache_dir: Path, device: str, **options: Any) -> AvatarEngine:
    import torch

    # fp32 everywhere: random weights are not meant for fp16 and the stack is tiny anyway; one CPU thread: its
    # operations are too small to share out, and OpenMP's waiting makes them 10-50x slower on a busy machine
    return _load(
        _tiny_sources(cache_dir), device, torch.float32, name="tiny", placeholder=True, cpu_threads=1, **options
    )


def _load(
    sources: _Sources,
    device: str,
    dtype: torch.dtype,
    *,
    name: str,
    placeholder: bool,
    fast: bool,
    identity_strength: float,
    pose_strength: float,
    compile: bool,
    low_memory: bool,
    cpu_threads: int | None = None,
) -> AvatarEngine:
    pipe = _load_pipeline(sources, dtype, fast)
    prepare_pipeline(pipe, device, low_memory=low_memory, compile=compile)
    return AvatarEngine(
        pipe,
        device=device,
        dtype=dtype,
        placeholder=placeholder,
        name=name,
        fast=fast,
        identity_strength=identity_strength,
        pose_strength=pose_strength,
        cpu_threads=cpu_threads,
    )
