"""The generation engine: the person's photos, a pose and a prompt in, an avatar out; batch-aware.

Stable Diffusion 1.5 with an OpenPose ControlNet (the pose) and an IP-Adapter fed with the face in the photos (the
identity); optionally LCM-LoRA for a few-step fast mode. Knows nothing of users, credits or storage. Imports
`engine.config`, `engine.pipelines`, `engine.face_detail`, `engine.identity` and `engine.faceid`; torch only inside its
methods.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from avatargen.engine.config import MAX_IDENTITY_IMAGES, PREVIEW_EVERY, EngineConfig
from avatargen.engine.face_detail import (
    FaceFinder,
    face_detail_steps,
    face_prompt,
    face_window,
    repaint_faces,
    wants_face_detail,
)
from avatargen.engine.faceid import faceid_embeds
from avatargen.engine.identity import FaceBox, identity_crops
from avatargen.engine.pipelines import encode_prompts, face_pipeline_class, pipeline_class
from avatargen.engine.zerogpu import gpu_call
from avatargen.presets import QUALITIES, Quality

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline

    from avatargen.engine.faceid import ArcFace

_WARM_UP_PHOTO = 64  # side of the blank photo `warm_up` uses

# (denoising steps done so far, total steps of the call)
ProgressCallback = Callable[[int, int], None]
# (index of the request, a preview of its image as it forms), every PREVIEW_EVERY steps of the main pass
PreviewCallback = Callable[[int, Image.Image], None]


@dataclass(frozen=True)
class GenerationRequest:
    pose_image: Image.Image  # OpenPose conditioning image, already width x height
    # photos of the person (1 to MAX_IDENTITY_IMAGES): the engine crops the face from each, one identity sequence
    identity_images: tuple[Image.Image, ...]
    prompt: str
    negative_prompt: str
    quality: Quality  # output size and sampling: steps and guidance, and their fast-mode counterparts
    seed: int
    framing: str | None = None  # the pose's framing (poses.template.FRAMINGS): picks the face pass under "auto"
    face_prompt: str | None = None  # the face pass's prompt (the style, not the pose); None: from `prompt`

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


def _check_requests(requests: Sequence[GenerationRequest]) -> None:
    if not requests:
        raise ValueError("`requests` cannot be empty.")
    for i, request in enumerate(requests):
        try:
            check_request(request)
        except ValueError as e:
            raise ValueError(f"Request {i}: {e}") from None


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


@dataclass
class _Group:
    # the requests of one pipeline call: same size and plan; `detailed` are those that get the face-detail pass
    plan: Plan
    indices: list[int] = field(default_factory=list)
    detailed: list[int] = field(default_factory=list)


class _StepCounter:
    # denoising steps done over the pipeline calls of one stage or one `generate`, reported to `progress`
    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.total = total
        self.done = 0
        self._progress = progress

    def advance(self, steps: int) -> None:
        self.done += steps
        if steps and self._progress is not None:
            self._progress(self.done, self.total)

    def finish(self) -> None:
        # steps planned but not run (no face found) count as done
        self.advance(self.total - self.done)

    def relative(self, start: int) -> ProgressCallback:
        # a stage's own (done, total) as steps of this whole count, from `start`
        return lambda done, total: self.advance(start + done - self.done)

    def on_step_end(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.advance(1)
        return tensors


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
        previewer: the live previews' decoder (TAESD, an `AutoencoderTiny` on `device`); None: no previews.
        arcface: with a FaceID adapter loaded, the ArcFace model whose embedding of the person's photos is the
            identity (`engine.faceid`); None: the adapter's CLIP image encoder encodes face crops.
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
        previewer: Any = None,
        arcface: ArcFace | None = None,
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
        self.arcface = arcface
        if find_face is None:
            from avatargen.engine.identity import find_face
        self.find_face = find_face
        self.previewer = previewer
        self.face_pipeline = None if self.config.face_detail == "off" else _face_pipeline(pipeline)
        if self.has_identity_adapter:
            pipeline.set_ip_adapter_scale(self.identity_strength)
        # a batch decodes one image at a time: the decoder's peak memory grows with the batch, its speed barely
        pipeline.vae.enable_slicing()
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
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressCallback | None = None,
        preview: PreviewCallback | None = None,
    ) -> list[Image.Image]:
        """Generate one RGB image per request, in the order of `requests`.

        Requests that want it (see `wants_face_detail`) then get the face-detail pass (see `detail_faces`). The
        GPU stages (`render`, `repaint`) go through `zerogpu.gpu_call`; faces are found here, outside them (on
        ZeroGPU they run in a forked process, where the face detector cannot run).

        Args:
            requests: what to generate; all are checked before any work starts.
            progress: called after every denoising step with (steps done, total steps), counted over all the
                pipeline calls this batch needs (face-detail passes included), with the steps `plan` gives.
            preview: called with (request index, image) every `PREVIEW_EVERY` steps of the main pass (not after its
                last) when the engine has a preview decoder: the image as it forms, at its final size.

        Raises:
            ValueError: if `requests` is empty or a request is invalid.
        """
        _check_requests(requests)
        counter = _StepCounter(self._main_steps(requests) + self._detail_steps(requests), progress)
        crops = self.identity_crops(requests)
        images = gpu_call(self.render, list(requests), crops, progress=counter.relative(0), preview=preview)
        return self._detail(images, requests, crops, counter, self.find_face)

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
        by the ControlNet inpainting pass (`FACE_DETAIL_STRENGTH` of the steps; the face prompt, the same pose and
        identity, the identity adapter `FACE_DETAIL_IDENTITY_GAIN` times stronger) and blended back through a
        feathered ellipse. Images without a face, or whose face already fills more than `FACE_DETAIL_SIZE`, stay as
        they are. Batched like `generate`. `find_face`, if given, replaces the engine's face finder for this call.
        """
        if len(images) != len(requests):
            raise ValueError(f"`images` and `requests` have to be as many, but are {len(images)} and {len(requests)}.")
        _check_requests(requests)
        counter = _StepCounter(self._detail_steps(requests), progress)
        crops = self.identity_crops(requests)
        return self._detail(list(images), requests, crops, counter, find_face or self.find_face)

    def identity_crops(self, requests: Sequence[GenerationRequest]) -> list[list[Any]] | None:
        """Each request's face crops for the identity adapter, or under FaceID its one ArcFace identity (None without
        an adapter). Runs the face detector and ArcFace (onnxruntime): in the calling process, never in the fork."""
        if not self.has_identity_adapter:
            return None
        if self.arcface is not None:
            return [[self.arcface.identity(r.identity_images)] for r in requests]
        return [identity_crops(r.identity_images) for r in requests]

    def render(
        self,
        requests: list[GenerationRequest],
        crops: list[list[Image.Image]] | None,
        progress: ProgressCallback | None = None,
        preview: PreviewCallback | None = None,
    ) -> list[Image.Image]:
        """The main pass: one image per request, from the identity crops `identity_crops` made. Torch only.

        `progress` gets (steps done, steps of this call) after every denoising step; `preview` as in `generate`.
        """
        _check_requests(requests)
        counter = _StepCounter(self._main_steps(requests), progress)
        results: dict[int, Image.Image] = {}
        with self._lock, _cpu_threads(self.cpu_threads if self.device == "cpu" else None):
            for group in self._groups(requests):
                group_requests = [requests[i] for i in group.indices]
                step_end = self._step_end(counter, group.indices, group.plan, preview)
                outputs = self._run(group_requests, _pick(crops, group.indices), group.plan, step_end)
                results.update(zip(group.indices, outputs, strict=True))
        return [results[i] for i in range(len(requests))]

    def repaint(
        self,
        images: list[Image.Image],
        requests: list[GenerationRequest],
        crops: list[list[Image.Image]] | None,
        faces: list[FaceBox | None],
        progress: ProgressCallback | None = None,
    ) -> list[Image.Image]:
        """The face-detail pass on `images` around the faces found in them (None: left as it is). Torch only.

        `progress` gets (steps done, steps of this call) after every denoising step.
        """
        results = list(images)
        wanted = [i for i, face in enumerate(faces) if face is not None and self._detailed(requests[i])]
        counter = _StepCounter(self._detail_steps([requests[i] for i in wanted]), progress)
        with self._lock, _cpu_threads(self.cpu_threads if self.device == "cpu" else None):
            for group in self._groups([requests[i] for i in wanted]):
                indices = [wanted[i] for i in group.indices]
                group_requests = [requests[i] for i in indices]
                refined = repaint_faces(
                    self.face_pipeline,
                    [images[i] for i in indices],
                    [r.pose_image for r in group_requests],
                    [faces[i] for i in indices],
                    seeds=[r.seed for r in group_requests],
                    conditioning=self._conditioning(group_requests, _pick(crops, indices), group.plan, face=True),
                    steps=group.plan.steps,
                    guidance_scale=group.plan.guidance_scale,
                    pose_strength=self.pose_strength,
                    on_step_end=counter.on_step_end,
                    identity_strength=self.identity_strength if self.has_identity_adapter else None,
                )
                for i, image in zip(indices, refined, strict=True):
                    results[i] = image
        return results

    def warm_up(self, sizes: Iterable[tuple[int, int]], batch_size: int = 1) -> None:
        """Run batches of 1 to `batch_size` requests of each (width, height) in `sizes`, face-detail pass included.

        Compiled models compile for each shape here rather than during someone's job.
        """

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

    def _detail(
        self,
        images: list[Image.Image],
        requests: Sequence[GenerationRequest],
        crops: list[list[Image.Image]] | None,
        counter: _StepCounter,
        find_face: FaceFinder,
    ) -> list[Image.Image]:
        # faces found here (the detector), repainted in a GPU stage; a pass without a face counts its steps as done
        faces = [find_face(image) if self._detailed(r) else None for image, r in zip(images, requests, strict=True)]
        # a face whose window would not need upscaling is left as it is
        faces = [
            None if f is None or face_window(f, image.size) is None else f
            for f, image in zip(faces, images, strict=True)
        ]
        if any(face is not None for face in faces):
            start = counter.done
            images = gpu_call(self.repaint, images, list(requests), crops, faces, progress=counter.relative(start))
        counter.finish()
        return images

    def _groups(self, requests: Sequence[GenerationRequest]) -> list[_Group]:
        # one pipeline call per size and plan, in order of first appearance
        groups: dict[tuple[int, int, Plan], _Group] = {}
        for i, request in enumerate(requests):
            plan = self.plan(request)
            groups.setdefault((request.width, request.height, plan), _Group(plan)).indices.append(i)
        return list(groups.values())

    def _detailed(self, request: GenerationRequest) -> bool:
        # whether `request` gets the face-detail pass (if a face is found)
        wanted = self.face_pipeline is not None and wants_face_detail(self.config.face_detail, request.framing)
        return wanted and face_detail_steps(self.plan(request).steps) > 0

    def _main_steps(self, requests: Sequence[GenerationRequest]) -> int:
        return sum(group.plan.steps for group in self._groups(requests))

    def _detail_steps(self, requests: Sequence[GenerationRequest]) -> int:
        detailed = [r for r in requests if self._detailed(r)]
        return sum(face_detail_steps(group.plan.steps) for group in self._groups(detailed))

    def _run(
        self,
        group: list[GenerationRequest],
        crops: list[list[Image.Image]] | None,
        plan: Plan,
        step_end: Callable[..., Any],
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
                output_type="latent" if self._tiny_decode else "pil",
                callback_on_step_end=step_end,
                **self._conditioning(group, crops, plan),
            )
        if self._tiny_decode:
            return self._previews(output.images)
        return [image.convert("RGB") for image in output.images]

    @property
    def _tiny_decode(self) -> bool:
        # fast mode's final decode by the preview decoder (`EngineConfig.fast_decode`)
        return self.fast and self.config.fast_decode and self.previewer is not None

    def _step_end(
        self, counter: _StepCounter, indices: list[int], plan: Plan, preview: PreviewCallback | None
    ) -> Callable[..., Any]:
        # the main pass's step callback: progress, and every PREVIEW_EVERY steps the latents decoded by TAESD
        if preview is None or self.previewer is None:
            return counter.on_step_end

        def step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            counter.advance(1)
            if (step + 1) % PREVIEW_EVERY == 0 and step + 1 < plan.steps:
                for index, image in zip(indices, self._previews(tensors["latents"]), strict=True):
                    preview(index, image)
            return tensors

        return step_end

    def _previews(self, latents: torch.Tensor) -> list[Image.Image]:
        import torch

        decoder = self.previewer
        with torch.inference_mode():
            pixels = decoder.decode(latents.to(decoder.dtype), return_dict=False)[0].clamp(-1, 1)
        return self.pipeline.image_processor.postprocess(pixels.float(), output_type="pil")

    def conditioning(self, requests: Sequence[Any], plan: Plan) -> dict[str, Any]:
        """The pipeline arguments that carry each request's prompts and identity (anything with `prompt`,
        `negative_prompt` and `identity_images`): what the video engine gives every frame. Call under inference mode."""
        return self._conditioning(list(requests), self.identity_crops(requests), plan)

    def _conditioning(
        self, group: list[GenerationRequest], crops: list[list[Image.Image]] | None, plan: Plan, face: bool = False
    ) -> dict[str, Any]:
        # the pipeline arguments that carry each request's prompts (`face`: the face pass's) and identity
        import torch

        guided = plan.guidance_scale > 1 and self.pipeline.unet.config.time_cond_proj_dim is None
        prompts = [face_prompt(r.prompt, r.face_prompt) if face else r.prompt for r in group]
        texts = prompts + ([r.negative_prompt for r in group] if guided else [])
        with torch.inference_mode():
            embeds = encode_prompts(self.pipeline, texts)
            arguments: dict[str, Any] = {"prompt_embeds": embeds[: len(group)]}
            if guided:
                arguments["negative_prompt_embeds"] = embeds[len(group) :]
            if crops is not None:
                arguments["ip_adapter_image_embeds"] = self._identity_embeds(crops, guided)
        return arguments

    def _identity_embeds(self, crops: list[list[Image.Image]], guided: bool) -> list[torch.Tensor]:
        import torch
        from diffusers.models.embeddings import ImageProjection

        pipe = self.pipeline
        device = pipe._execution_device
        if self.arcface is not None:
            return faceid_embeds([faces[0] for faces in crops], guided=guided, device=device, dtype=pipe.unet.dtype)
        dtype = next(pipe.image_encoder.parameters()).dtype
        # "plus" adapters (a Resampler) read the encoder's penultimate hidden states, plain ones its image embedding
        plus = not isinstance(pipe.unet.encoder_hid_proj.image_projection_layers[0], ImageProjection)

        def encode(pixels: torch.Tensor) -> torch.Tensor:
            output = pipe.image_encoder(pixels.to(device=device, dtype=dtype), output_hidden_states=plus)
            return output.hidden_states[-2] if plus else output.image_embeds

        # one by one, so a batch embeds each face exactly as a lone request does. Several photos of one person are
        # one sequence of images (diffusers' (batch, images, ...) layout): the adapter projects each to its tokens
        # and the UNet attends to them all, N x 16 tokens. In a batch every request repeats its photos to the
        # batch's least common multiple of photo counts: attention over keys each repeated k times is unchanged.
        count = math.lcm(*(len(faces) for faces in crops))
        positive = [
            torch.cat(
                [encode(pipe.feature_extractor(crop, return_tensors="pt").pixel_values) for crop in faces]
                * (count // len(faces))
            )
            for faces in crops
        ]
        if not guided:
            return [torch.stack(positive)]  # (batch, images, tokens, width)
        # the unconditional side, as diffusers' `encode_image` makes it: the encoding of an all-zero input for
        # "plus" adapters (the same for everyone: encoded once), zeros for plain ones; one per image
        if not plus:
            negative = torch.zeros_like(positive[0])
        else:
            if self._uncond is None:
                size = pipe.image_encoder.config.image_size
                self._uncond = encode(torch.zeros(1, 3, size, size))
            negative = self._uncond.expand(count, *self._uncond.shape[1:])
        # negatives first, as the pipeline expects under classifier-free guidance
        return [torch.stack([negative] * len(crops) + positive)]


def _pick(crops: list[list[Image.Image]] | None, indices: list[int]) -> list[list[Image.Image]] | None:
    return None if crops is None else [crops[i] for i in indices]


def _face_pipeline(pipeline: StableDiffusionControlNetPipeline) -> Any:
    # the face-detail pass: an inpainting pipeline on the same components (no copy of any weights, no cast)
    face_class = face_pipeline_class()
    names = inspect.signature(face_class.__init__).parameters
    components = {name: part for name, part in pipeline.components.items() if name in names}
    # its own scheduler: a scheduler holds a call's steps, and the inpainting pipeline rewrites old configs
    components["scheduler"] = type(pipeline.scheduler).from_config(pipeline.scheduler.config)
    face_pipeline = face_class(**components, requires_safety_checker=False)
    face_pipeline.set_progress_bar_config(**getattr(pipeline, "_progress_bar_config", {}))
    return face_pipeline
