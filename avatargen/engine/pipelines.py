"""The diffusers pipelines: classes with one identity per prompt, loading and device set-up, prompt encoding.

Imports `engine.config` only; torch and diffusers are imported inside the functions that use them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avatargen.engine.config import FAST_LORA_WEIGHT, IMAGE_ENCODER_FOLDER

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetInpaintPipeline, StableDiffusionControlNetPipeline


@dataclass(frozen=True)
class ModelSources:
    """Where each part of the stack loads from: hub ids or local folders, in the hub repos' layouts."""

    base_model: str
    controlnet_model: str
    ip_adapter_model: str | None  # None: no identity adapter
    ip_adapter_weight: str  # "subfolder/file" inside ip_adapter_model
    fast_lora_model: str
    # the CLIP image encoder's folder next to the adapter's weights; None for FaceID (ArcFace embeds the face)
    image_encoder_folder: str | None = IMAGE_ENCODER_FOLDER
    arcface_model: str | None = None  # FaceID: the ArcFace ONNX file that embeds the face


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
def face_pipeline_class() -> type[StableDiffusionControlNetInpaintPipeline]:
    """`StableDiffusionControlNetInpaintPipeline` (the face-detail pass): one IP-Adapter embedding per prompt, as
    above; a feathered mask kept soft; no VAE encode of the masked image where the UNet does not read it.

    diffusers binarises the mask, so the repainted latents would meet the kept ones at a hard edge; and it encodes
    the masked image for a 9-channel inpainting UNet even when the UNet has 4 channels and never reads it.
    """
    from diffusers import StableDiffusionControlNetInpaintPipeline
    from diffusers.image_processor import VaeImageProcessor

    base = _one_identity_per_prompt(StableDiffusionControlNetInpaintPipeline)

    class FacePass(base):
        @functools.wraps(base.__init__)  # diffusers reads the components from `__init__`'s signature
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.mask_processor = VaeImageProcessor(
                vae_scale_factor=self.vae_scale_factor, do_normalize=False, do_binarize=False, do_convert_grayscale=True
            )

        def prepare_mask_latents(self, mask, masked_image, batch_size, height, width, dtype, device, generator, cfg):
            if self.unet.config.in_channels != 4:
                return super().prepare_mask_latents(
                    mask, masked_image, batch_size, height, width, dtype, device, generator, cfg
                )
            import torch

            size = (height // self.vae_scale_factor, width // self.vae_scale_factor)
            mask = torch.nn.functional.interpolate(mask, size=size).to(device=device, dtype=dtype)
            mask = mask.repeat(batch_size // mask.shape[0], 1, 1, 1)
            return (torch.cat([mask] * 2) if cfg else mask), None

    FacePass.__name__ = FacePass.__qualname__ = base.__name__
    return FacePass


def pick_device() -> tuple[str, torch.dtype]:
    """The best available device and its dtype: CUDA (fp16), then MPS, then CPU (fp32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    if torch.backends.mps.is_available():
        return "mps", torch.float32
    return "cpu", torch.float32


def load_pipeline(sources: ModelSources, dtype: torch.dtype, fast: bool) -> StableDiffusionControlNetPipeline:
    """The ControlNet pipeline from `sources`, with LCM-LoRA fused (`fast`) or UniPC, and the IP-Adapter if any."""
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
            subfolder=subfolder or None,
            weight_name=weight_name,
            image_encoder_folder=sources.image_encoder_folder,
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

    check_compile(compile, low_memory, device)
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


def check_compile(compile: bool, low_memory: bool, device: str) -> None:
    """Raise `ValueError` if `compile` meets `low_memory` on CUDA: offloading would move the compiled weights."""
    if compile and low_memory and device == "cuda":
        raise ValueError(
            "torch.compile needs the whole pipeline on the GPU, without CPU offload: turn AVATARGEN_COMPILE off, or "
            "set AVATARGEN_LOW_MEMORY=false on a GPU with enough free memory."
        )


def encode_prompts(pipe: StableDiffusionControlNetPipeline, texts: list[str]) -> torch.Tensor:
    """The text encoder's embeddings of `texts`, (len(texts), tokens, width), read past CLIP's 77 tokens.

    Longer prompts are encoded in chunks of 75 tokens (plus start and end) and the chunks' embeddings concatenated,
    every text padded with empty chunks to the longest one's count. Call under inference mode.
    """
    import torch

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
