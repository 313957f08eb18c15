"""The generation engine: the person's photo, a pose and a prompt in, an avatar out.

Stable Diffusion 1.5 with an OpenPose ControlNet (the pose) and an IP-Adapter fed with the face in the photo (the
identity); optionally LCM-LoRA for a few-step fast mode. Knows nothing of users, credits or storage. Importing this
module imports no torch: the pipeline loads in `load_engine`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from avatargen.presets import QUALITIES, Quality

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline, StableDiffusionInpaintPipeline

    from avatargen.engine.identity import FaceBox
    from avatargen.settings import Settings

logger = logging.getLogger(__name__)

ENGINE_KINDS = ("auto", "diffusers", "tiny")
FACE_DETAIL_MODES = ("auto", "on", "off")
MAX_IDENTITY_IMAGES = 4  # photos of the person one request may carry
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
# The face-detail pass: where the face is small, it is cropped with some context, upscaled to FACE_DETAIL_SIZE,
# partly re-denoised (this share of the steps) with the identity adapter stronger, and blended back.
FACE_DETAIL_FRAMINGS = ("three-quarter", "full-body")  # under "auto": the framings where the face is small
FACE_DETAIL_SIZE = 512  # side of the upscaled face crop; a face whose crop is already larger is left as it is
FACE_DETAIL_STRENGTH = 0.4
FACE_DETAIL_CONTEXT = 2.0  # the crop's side over the face box's longer side
FACE_DETAIL_MASK = 1.2  # the repainted ellipse's size over the face box's
FACE_DETAIL_IDENTITY_GAIN = 1.3  # identity strength in the pass over the main pass's, capped at 1

# Finds the face in an output image (the largest one), or None
FaceFinder = Callable[[Image.Image], "FaceBox | None"]

# (denoising steps done so far, total steps of the call)
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class EngineConfig:
    """How the generation engine is built and runs: made once from the settings (`from_settings`), then read only."""

    kind: str = "auto"  # "diffusers" (the models below), "tiny" (offline random weights), "auto" (diffusers, else tiny)
    cache_dir: Path = Path("data/cache")  # the tiny stack is saved in its "tiny-pipeline" subfolder
    base_model: str = DEFAULT_BASE_MODEL  # hub ids or local folders in the hub repos' layouts
    controlnet_model: str = DEFAULT_CONTROLNET_MODEL
    ip_adapter_model: str | None = DEFAULT_IP_ADAPTER_MODEL  # None: no identity adapter (the photo is not used)
    ip_adapter_weight: str = DEFAULT_IP_ADAPTER_WEIGHT  # "subfolder/file" inside ip_adapter_model
    fast_lora_model: str = DEFAULT_FAST_LORA_MODEL  # its FAST_LORA_WEIGHT is fused in fast mode
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH  # IP-Adapter scale, 0 (ignore the face) to 1
    pose_strength: float = DEFAULT_POSE_STRENGTH  # ControlNet conditioning scale, 0 (ignore the pose) to about 2
    fast: bool | None = None  # few-step LCM-LoRA mode (see `AvatarEngine.plan`); None: on when the device is the CPU
    compile: bool = False  # torch.compile the UNet and ControlNet, warmed up for every size and batch size
    low_memory: bool | None = None  # CPU offload (CUDA); None: when free GPU memory is below LOW_MEMORY_BYTES
    face_detail: str = "auto"  # the face-detail pass: "auto" (framings in FACE_DETAIL_FRAMINGS), "on", "off"
    batch_size: int = 1  # the largest batch the worker gives `generate`: warm-up runs every batch size up to it
    # (width, height) run once after loading; None: the quality presets' sizes when compiling, none otherwise
    warm_up_sizes: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ENGINE_KINDS:
            raise ValueError(f"`kind` has to be one of {ENGINE_KINDS} but is {self.kind!r}.")
        if self.face_detail not in FACE_DETAIL_MODES:
            raise ValueError(f"`face_detail` has to be one of {FACE_DETAIL_MODES} but is {self.face_detail!r}.")
        if self.batch_size < 1:
            raise ValueError(f"`batch_size` has to be at least 1 but is {self.batch_size}.")
        # the pipeline's `check_inputs` refuses an integer conditioning scale
        for name in ("identity_strength", "pose_strength"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """The engine configuration the settings (`AVATARGEN_*`) describe."""
        return cls(
            kind=settings.engine,
            cache_dir=settings.cache_dir,
            base_model=settings.base_model,
            controlnet_model=settings.controlnet_model,
            ip_adapter_model=settings.ip_adapter_model or None,
            ip_adapter_weight=settings.ip_adapter_weight,
            fast_lora_model=settings.fast_lora_model,
            identity_strength=settings.identity_strength,
            pose_strength=settings.pose_strength,
            fast=settings.fast,
            compile=settings.compile,
            low_memory=settings.low_memory,
            face_detail=settings.face_detail,
            batch_size=settings.batch_size,
        )


@dataclass(frozen=True)
class GenerationRequest:
    pose_image: Image.Image  # OpenPose conditioning image, already width x height
    # photos of the person (1 to MAX_IDENTITY_IMAGES): the engine crops the face from each and averages them
    identity_images: tuple[Image.Image, ...]
    prompt: str
    negative_prompt: str
    quality: Quality  # output size and sampling: steps and guidance, and their fast-mode counterparts
    seed: int
    framing: str | None = None  # the pose's framing (poses.FRAMINGS): decides the face-detail pass under "auto"

    @property
    def width(self) -> int:
        """Output width in pixels, a multiple of 8."""
        return self.quality.width

    @property
    def height(self) -> int:
        """Output height in pixels, a multiple of 8."""
        return self.quality.height


@dataclass(frozen=True)
class Plan:
    """What the engine actually runs for a request: its own steps and guidance in fast mode."""

    steps: int
    guidance_scale: float


def _one_identity_per_prompt(base: type) -> type:
    # diffusers repeats `ip_adapter_image_embeds` for every prompt of a call (meant for one identity per call: given
    # one per prompt, the batch's identities would blend into each other); these use each tensor as it is given
    class OneIdentityPerPrompt(base):
        def prepare_ip_adapter_image_embeds(
            self, ip_adapter_image, ip_adapter_image_embeds, device, num_images_per_prompt, do_classifier_free_guidance
        ):
            if ip_adapter_image_embeds is None:
                return super().prepare_ip_adapter_image_embeds(
                    ip_adapter_image, None, device, num_images_per_prompt, do_classifier_free_guidance
                )
            return [embeds.to(device) for embeds in ip_adapter_image_embeds]

    OneIdentityPerPrompt.__name__ = OneIdentityPerPrompt.__qualname__ = f"Avatar{base.__name__}"
    return OneIdentityPerPrompt


@functools.cache
def pipeline_class() -> type[StableDiffusionControlNetPipeline]:
    """`StableDiffusionControlNetPipeline` taking one IP-Adapter embedding per prompt: each request keeps its identity.

    `ip_adapter_image_embeds` are used as given, one embedding per prompt, negatives first under classifier-free
    guidance (diffusers would repeat them for every prompt of the call).
    """
    from diffusers import StableDiffusionControlNetPipeline

    return _one_identity_per_prompt(StableDiffusionControlNetPipeline)


@functools.cache
def face_pipeline_class() -> type[StableDiffusionInpaintPipeline]:
    """`StableDiffusionInpaintPipeline` (the face-detail pass) with one IP-Adapter embedding per prompt, as above."""
    from diffusers import StableDiffusionInpaintPipeline

    return _one_identity_per_prompt(StableDiffusionInpaintPipeline)


def face_detail_steps(steps: int) -> int:
    """Denoising steps the face-detail pass runs for a generation of `steps`: the share `FACE_DETAIL_STRENGTH`."""
    # as diffusers' `get_timesteps` counts them
    return min(int(steps * FACE_DETAIL_STRENGTH), steps)


def wants_face_detail(mode: str, framing: str | None) -> bool:
    """Whether a request of `framing` gets the face-detail pass under `mode` ("auto", "on" or "off")."""
    return mode == "on" or (mode == "auto" and framing in FACE_DETAIL_FRAMINGS)


def check_request(request: GenerationRequest) -> None:
    """Raise `ValueError` if `request` cannot be generated as it is."""
    if request.width <= 0 or request.height <= 0 or request.width % 8 or request.height % 8:
        raise ValueError(
            f"`width` and `height` have to be positive multiples of 8 but are {request.width} and {request.height}."
        )
    if not 1 <= len(request.identity_images) <= MAX_IDENTITY_IMAGES:
        raise ValueError(
            f"`identity_images` has to hold 1 to {MAX_IDENTITY_IMAGES} photos but holds {len(request.identity_images)}."
        )
    if request.pose_image.size != (request.width, request.height):
        raise ValueError(
            f"`pose_image` has to be {request.width}x{request.height} (width x height) but is "
            f"{request.pose_image.width}x{request.pose_image.height}."
        )
    for name in ("steps", "fast_steps"):
        value = getattr(request.quality, name)
        if value < 1:
            raise ValueError(f"`{name}` has to be at least 1 but is {value}.")
    for name in ("guidance_scale", "fast_guidance_scale"):
        value = getattr(request.quality, name)
        if value < 0:
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
        config: what the engine runs with: its strengths, and `fast`, whether the pipeline is set up for few-step
            sampling (LCM-LoRA fused, LCM scheduler), so requests run with their fast steps and guidance (see `plan`).
        cpu_threads: torch threads for the calling thread while generating on CPU; None leaves torch's setting.
        find_face: finds the face in an output for the face-detail pass; None: `identity.find_face` (mediapipe).
    """

    def __init__(
        self,
        pipeline: StableDiffusionControlNetPipeline,
        *,
        device: str,
        dtype: torch.dtype,
        placeholder: bool,
        name: str,
        config: EngineConfig | None = None,
        cpu_threads: int | None = None,
        find_face: FaceFinder | None = None,
    ) -> None:
        if getattr(pipeline.unet, "encoder_hid_proj", None) is not None and not isinstance(pipeline, pipeline_class()):
            # same components, but one identity per request of a batch
            progress_bar = getattr(pipeline, "_progress_bar_config", {})
            pipeline = pipeline_class().from_pipe(pipeline, dtype=dtype)  # without a dtype: cast to float32
            pipeline.set_progress_bar_config(**progress_bar)
        self.pipeline = pipeline
        self.device = device
        self.dtype = dtype
        self.placeholder = placeholder
        self.name = name
        self.config = EngineConfig(fast=False) if config is None else config
        self.cpu_threads = cpu_threads
        if find_face is None:
            from avatargen.engine.identity import find_face
        self.find_face = find_face
        # the face-detail pass: an inpainting pipeline on the same components (no copy of any weights, no cast)
        self.face_pipeline = None
        if self.config.face_detail != "off":
            face_class = face_pipeline_class()
            names = inspect.signature(face_class.__init__).parameters
            components = {name: part for name, part in pipeline.components.items() if name in names}
            # its own scheduler: a scheduler holds a call's steps, and the inpainting pipeline rewrites old configs
            components["scheduler"] = type(pipeline.scheduler).from_config(pipeline.scheduler.config)
            self.face_pipeline = face_class(**components, requires_safety_checker=False)
            self.face_pipeline.set_progress_bar_config(**getattr(pipeline, "_progress_bar_config", {}))
        if self.has_identity_adapter:
            pipeline.set_ip_adapter_scale(self.identity_strength)
        # a pipeline (its scheduler above all) holds per-call state: one call at a time
        self._lock = threading.Lock()
        self._uncond: torch.Tensor | None = None  # the identity adapter's unconditional image encoding, once known

    @property
    def fast(self) -> bool:
        """Whether requests run with their quality's fast steps and guidance (LCM-LoRA)."""
        return bool(self.config.fast)

    @property
    def identity_strength(self) -> float:
        return self.config.identity_strength

    @property
    def pose_strength(self) -> float:
        return self.config.pose_strength

    @property
    def has_identity_adapter(self) -> bool:
        """Whether an IP-Adapter is loaded, so the person's photo steers the output."""
        return getattr(self.pipeline.unet, "encoder_hid_proj", None) is not None

    def plan(self, request: GenerationRequest) -> Plan:
        """The steps and guidance this engine runs `request` with.

        In fast mode they are its quality's `fast_steps` and `fast_guidance_scale` rather than `steps` and
        `guidance_scale`.
        """
        quality = request.quality
        if not self.fast:
            return Plan(steps=quality.steps, guidance_scale=quality.guidance_scale)
        return Plan(steps=quality.fast_steps, guidance_scale=quality.fast_guidance_scale)

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Image.Image]:
        """Generate one RGB image per request, in the order of `requests`.

        Requests that want it (see `wants_face_detail`) then get the face-detail pass (see `detail_faces`).

        Args:
            requests: what to generate; all are checked before any work starts.
            progress: called after every denoising step with (steps done, total steps), counted over all the
                pipeline calls this batch needs (face-detail passes included), with the steps `plan` gives.

        Raises:
            ValueError: if `requests` is empty or a request is invalid.
        """
        return self._generate(requests, progress, main=True)

    def detail_faces(
        self,
        images: Sequence[Image.Image],
        requests: Sequence[GenerationRequest],
        progress: ProgressCallback | None = None,
        *,
        find_face: FaceFinder | None = None,
    ) -> list[Image.Image]:
        """The face-detail pass alone, on `images` generated for `requests` (those that want it; others unchanged).

        The face `find_face` sees in each image is cropped with context, upscaled to `FACE_DETAIL_SIZE`, re-denoised
        by an inpainting pass (`FACE_DETAIL_STRENGTH` of the steps; same prompts and identity, the identity adapter
        `FACE_DETAIL_IDENTITY_GAIN` times stronger) and blended back through a feathered ellipse. Images without a
        face, or whose face already fills more than `FACE_DETAIL_SIZE`, stay as they are. Batched like `generate`.
        `find_face`, if given, replaces the engine's face finder for this call.
        """
        if len(images) != len(requests):
            raise ValueError(f"`images` and `requests` have to be as many, but are {len(images)} and {len(requests)}.")
        return self._generate(requests, progress, main=False, images=images, find_face=find_face)

    def _generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressCallback | None,
        *,
        main: bool,
        images: Sequence[Image.Image] | None = None,
        find_face: FaceFinder | None = None,
    ) -> list[Image.Image]:
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
        detailed = {
            key: [i for i in indices if self._wants_detail(requests[i])] if face_detail_steps(key[2].steps) else []
            for key, indices in groups.items()
        }

        total = sum(
            (steps if main else 0) + (face_detail_steps(steps) if detailed[key] else 0)
            for key in groups
            for steps in [key[2].steps]
        )
        done = 0

        def advance(steps: int) -> None:
            nonlocal done
            done += steps
            if steps and progress is not None:
                progress(done, total)

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            advance(1)
            return tensors

        crops = self._identity_crops(requests)
        results = dict(enumerate(images or ()))
        with self._lock, _cpu_threads(self.cpu_threads if self.device == "cpu" else None):
            for key, indices in groups.items():
                plan = key[2]
                group = [requests[i] for i in indices]
                group_crops = None if crops is None else [crops[i] for i in indices]
                if main:
                    results.update(zip(indices, self._run(group, group_crops, plan, on_step_end), strict=True))
                if not detailed[key]:
                    continue
                wanted = detailed[key]
                before = done
                refined = self._detail(
                    [requests[i] for i in wanted],
                    [results[i] for i in wanted],
                    None if crops is None else [crops[i] for i in wanted],
                    plan,
                    on_step_end,
                    find_face or self.find_face,
                )
                results.update(zip(wanted, refined, strict=True))
                advance(face_detail_steps(plan.steps) - (done - before))  # no face found: the steps count as done
        return [results[i] for i in range(len(requests))]

    def _wants_detail(self, request: GenerationRequest) -> bool:
        return self.face_pipeline is not None and wants_face_detail(self.config.face_detail, request.framing)

    def warm_up(self, sizes: Iterable[tuple[int, int]], batch_size: int = 1) -> None:
        """Run batches of 1 to `batch_size` requests of each (width, height) in `sizes`, face-detail pass included.

        Compiled models compile for each shape here rather than during someone's job.
        """
        from avatargen.engine.identity import FaceBox

        def central_face(image: Image.Image) -> FaceBox:  # so the face-detail pass runs too
            cx, cy = image.width // 2, image.height // 2
            return FaceBox(left=cx - 16, top=cy - 16, right=cx + 16, bottom=cy + 16, score=1.0)

        for (width, height), batch in itertools.product(sizes, range(1, batch_size + 1)):
            request = GenerationRequest(
                pose_image=Image.new("RGB", (width, height)),
                identity_images=(Image.new("RGB", (_WARM_UP_PHOTO, _WARM_UP_PHOTO), (128, 128, 128)),),
                prompt="a person",
                negative_prompt="",
                # 3 steps: the face-detail pass runs one
                quality=Quality(width, height, steps=3, guidance_scale=QUALITIES["sd"].guidance_scale, fast_steps=3),
                seed=0,
            )
            images = self.generate([request] * batch)
            if self.face_pipeline is not None:
                framed = [dataclasses.replace(request, framing="full-body")] * batch
                self.detail_faces(images, framed, find_face=central_face)

    def _identity_crops(self, requests: Sequence[GenerationRequest]) -> list[list[Image.Image]] | None:
        if not self.has_identity_adapter:
            return None
        from avatargen.engine.identity import identity_crops

        return [identity_crops(r.identity_images) for r in requests]

    def _identity_embeds(self, crops: list[list[Image.Image]], guided: bool) -> list[torch.Tensor]:
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

        # one by one, so a batch embeds each face exactly as a lone request does: (1, tokens, width) each; several
        # photos of one person: the mean of their encodings
        positive = [
            torch.stack(
                [encode(pipe.feature_extractor(crop, return_tensors="pt").pixel_values) for crop in faces]
            ).mean(0)
            for faces in crops
        ]
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

    def _conditioning(
        self, group: list[GenerationRequest], crops: list[list[Image.Image]] | None, plan: Plan
    ) -> dict[str, Any]:
        # the pipeline arguments that carry each request's prompts and identity; call under inference mode
        guided = plan.guidance_scale > 1 and self.pipeline.unet.config.time_cond_proj_dim is None
        texts = [r.prompt for r in group] + ([r.negative_prompt for r in group] if guided else [])
        embeds = self._encode_prompts(texts)
        arguments: dict[str, Any] = {"prompt_embeds": embeds[: len(group)]}
        if guided:
            arguments["negative_prompt_embeds"] = embeds[len(group) :]
        if crops is not None:
            arguments["ip_adapter_image_embeds"] = self._identity_embeds(crops, guided)
        return arguments

    def _run(
        self,
        group: list[GenerationRequest],
        crops: list[list[Image.Image]] | None,
        plan: Plan,
        on_step_end: Callable[..., Any],
    ) -> list[Image.Image]:
        import torch

        first = group[0]
        # CPU generators: a seed gives the same starting noise on every device
        generators = [torch.Generator("cpu").manual_seed(r.seed) for r in group]
        with torch.inference_mode():
            output = self.pipeline(
                image=[r.pose_image.convert("RGB") for r in group],
                width=first.width,
                height=first.height,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance_scale,
                controlnet_conditioning_scale=self.pose_strength,
                generator=generators,
                output_type="pil",
                callback_on_step_end=on_step_end,
                **self._conditioning(group, crops, plan),
            )
        return [image.convert("RGB") for image in output.images]

    def _detail(
        self,
        group: list[GenerationRequest],
        images: list[Image.Image],
        crops: list[list[Image.Image]] | None,
        plan: Plan,
        on_step_end: Callable[..., Any],
        find_face: FaceFinder,
    ) -> list[Image.Image]:
        import torch

        faces = [find_face(image) for image in images]
        boxes = [
            None if face is None else _face_window(face, image.size) for face, image in zip(faces, images, strict=True)
        ]
        todo = [i for i, box in enumerate(boxes) if box is not None]
        if not todo:
            return list(images)
        group_todo = [group[i] for i in todo]
        side = (FACE_DETAIL_SIZE, FACE_DETAIL_SIZE)
        windows = [images[i].crop(boxes[i]).resize(side, Image.Resampling.LANCZOS) for i in todo]
        masks = [_face_mask(faces[i], boxes[i]) for i in todo]
        generators = [torch.Generator("cpu").manual_seed(r.seed) for r in group_todo]
        pipe = self.face_pipeline
        if self.has_identity_adapter:
            pipe.set_ip_adapter_scale(
                max(self.identity_strength, min(1.0, self.identity_strength * FACE_DETAIL_IDENTITY_GAIN))
            )
        try:
            with torch.inference_mode():
                output = pipe(
                    image=windows,
                    mask_image=masks,
                    width=FACE_DETAIL_SIZE,
                    height=FACE_DETAIL_SIZE,
                    strength=FACE_DETAIL_STRENGTH,
                    num_inference_steps=plan.steps,
                    guidance_scale=plan.guidance_scale,
                    generator=generators,
                    output_type="pil",
                    callback_on_step_end=on_step_end,
                    **self._conditioning(group_todo, None if crops is None else [crops[i] for i in todo], plan),
                )
        finally:
            if self.has_identity_adapter:
                pipe.set_ip_adapter_scale(self.identity_strength)
        results = list(images)
        for i, window, mask in zip(todo, output.images, masks, strict=True):
            box = boxes[i]
            size = (box[2] - box[0], box[3] - box[1])
            result = results[i].copy()
            window = window.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            result.paste(window, box[:2], mask.resize(size, Image.Resampling.LANCZOS))
            results[i] = result
        return results


def _face_window(face: FaceBox, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    # the square around the face with context, inside the image; None when it needs no upscaling
    from avatargen.engine.identity import square_around

    side = FACE_DETAIL_CONTEXT * max(face.width, face.height)
    if side > FACE_DETAIL_SIZE:
        return None
    return square_around((face.left + face.right) / 2, (face.top + face.bottom) / 2, side, *size)


def _face_mask(face: FaceBox, window: tuple[int, int, int, int]) -> Image.Image:
    # the face's ellipse, enlarged and feathered, on the upscaled window: white is repainted
    from PIL import ImageDraw, ImageFilter

    scale = FACE_DETAIL_SIZE / (window[2] - window[0])
    cx = ((face.left + face.right) / 2 - window[0]) * scale
    cy = ((face.top + face.bottom) / 2 - window[1]) * scale
    rx, ry = face.width * FACE_DETAIL_MASK * scale / 2, face.height * FACE_DETAIL_MASK * scale / 2
    mask = Image.new("L", (FACE_DETAIL_SIZE, FACE_DETAIL_SIZE), 0)
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(FACE_DETAIL_SIZE / 32))


@dataclass(frozen=True)
class _Sources:
    # where each part of the stack loads from: hub ids or local folders, in the hub repos' layouts
    base_model: str
    controlnet_model: str
    ip_adapter_model: str | None
    ip_adapter_weight: str  # "subfolder/file" inside ip_adapter_model
    fast_lora_model: str


def _tiny_sources(cache_dir: Path) -> _Sources:
    from avatargen.engine import tiny

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


def load_engine(config: EngineConfig) -> AvatarEngine:
    """Load the pipeline `config` names once, set it up for the device, wrap it in an `AvatarEngine`, warm it up.

    "diffusers" loads the models named in `config` (hub ids, or local folders in the same layout); "tiny" builds the
    tiny random-weight stack in `config.cache_dir` and loads it through the same calls; "auto" tries "diffusers" and
    falls back to "tiny" on any error, with a warning. The engine's config has `fast` and `low_memory` decided.

    Raises:
        ValueError: if `compile` meets `low_memory` on CUDA (a setting to change, not a model to fall back from).
    """
    device, dtype = pick_device()
    config = dataclasses.replace(
        config,
        fast=device == "cpu" if config.fast is None else config.fast,
        low_memory=(device == "cuda" and needs_low_memory(_free_gpu_memory()))
        if config.low_memory is None
        else config.low_memory,
    )
    _check_compile(config.compile, config.low_memory, device)
    warm_up_sizes = config.warm_up_sizes
    if warm_up_sizes is None:
        warm_up_sizes = tuple((q.width, q.height) for q in QUALITIES.values()) if config.compile else ()

    if config.kind == "tiny":
        engine = _load_tiny(config, device)
    else:
        sources = _Sources(
            config.base_model,
            config.controlnet_model,
            config.ip_adapter_model,
            config.ip_adapter_weight,
            config.fast_lora_model,
        )
        try:
            engine = _load(config, sources, device, dtype, name=config.base_model, placeholder=False)
        except Exception as e:
            if config.kind == "diffusers":
                raise
            logger.warning(
                "Could not load %s with %s (%s: %s); using the tiny placeholder pipeline instead.",
                config.base_model,
                config.controlnet_model,
                type(e).__name__,
                e,
            )
            engine = _load_tiny(config, device)
    engine.warm_up(warm_up_sizes, config.batch_size)
    return engine


def _free_gpu_memory() -> int:
    import torch

    free, _total = torch.cuda.mem_get_info()
    return free


def _load_tiny(config: EngineConfig, device: str) -> AvatarEngine:
    import torch

    # fp32 everywhere: random weights are not meant for fp16 and the stack is tiny anyway; one CPU thread: its
    # operations are too small to share out, and OpenMP's waiting makes them 10-50x slower on a busy machine
    sources = _tiny_sources(config.cache_dir)
    return _load(config, sources, device, torch.float32, name="tiny", placeholder=True, cpu_threads=1)


def _load(
    config: EngineConfig,
    sources: _Sources,
    device: str,
    dtype: torch.dtype,
    *,
    name: str,
    placeholder: bool,
    cpu_threads: int | None = None,
) -> AvatarEngine:
    pipe = _load_pipeline(sources, dtype, bool(config.fast))
    prepare_pipeline(pipe, device, low_memory=bool(config.low_memory), compile=config.compile)
    return AvatarEngine(
        pipe, device=device, dtype=dtype, placeholder=placeholder, name=name, config=config, cpu_threads=cpu_threads
    )
