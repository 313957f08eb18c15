"""A tiny random-weight ControlNet pipeline built in code: works offline, fast on CPU at real output sizes."""

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    StableDiffusionControlNetPipeline,
    UNet2DConditionModel,
    UniPCMultistepScheduler,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# Written into a saved folder last: its presence means the folder is complete.
_COMPLETE_MARKER = ".tiny-complete"

_HIDDEN_SIZE = 32  # text encoder width == cross-attention dim of the UNet and ControlNet
_MAX_TOKENS = 77  # like CLIP in SD 1.5
# shared by the UNet and the ControlNet
_UNET_DOWN_BLOCKS = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
_UNET_CHANNELS = (8, 16, 32)


def _byte_level_chars() -> list[str]:
    # GPT-2/CLIP byte-level alphabet: printable bytes map to themselves, the rest to code points from 256 up
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def build_tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer whose vocabulary is every byte-level character (with and without `</w>`), no merges.

    Any text tokenises without unknown tokens, one token per byte.
    """
    chars = _byte_level_chars()
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=_MAX_TOKENS)


def _tiny_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=_HIDDEN_SIZE,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=_MAX_TOKENS,
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config)


def _tiny_unet() -> UNet2DConditionModel:
    # Attention only after two downsamples (16x24 tokens for SD, 24x36 for HD) and in the mid block.
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        down_block_types=_UNET_DOWN_BLOCKS,
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        block_out_channels=_UNET_CHANNELS,
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=_HIDDEN_SIZE,
        attention_head_dim=8,
    )


def _tiny_controlnet() -> ControlNetModel:
    # Its output convs start at zero, like any fresh ControlNet: the pose does not steer the tiny stack.
    return ControlNetModel(
        in_channels=4,
        down_block_types=_UNET_DOWN_BLOCKS,
        block_out_channels=_UNET_CHANNELS,
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=_HIDDEN_SIZE,
        attention_head_dim=8,
        # 3 stride-2 convs: the pose image is downsampled 8x, like the VAE
        conditioning_embedding_out_channels=(4, 8, 8, 16),
    )


def _tiny_vae() -> AutoencoderKL:
    # 4 blocks = 8x downsampling, like SD; no attention so full-size decoding stays cheap.
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=512,
        mid_block_add_attention=False,
    )


def _tiny_scheduler() -> UniPCMultistepScheduler:
    return UniPCMultistepScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
    )


def build_tiny_components(seed: int = 0) -> dict[str, Any]:
    """Components of a `StableDiffusionControlNetPipeline` with tiny random weights, fixed by `seed`."""
    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    unet = _tiny_unet()
    torch.manual_seed(seed)
    controlnet = _tiny_controlnet()
    torch.manual_seed(seed)
    vae = _tiny_vae()
    torch.manual_seed(seed)
    text_encoder = _tiny_text_encoder(tokenizer)
    return {
        "unet": unet,
        "controlnet": controlnet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": _tiny_scheduler(),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds a pipeline fully written by `save_tiny_pipeline`."""
    return (folder / _COMPLETE_MARKER).is_file()


def save_tiny_pipeline(folder: Path) -> Path:
    """Save the tiny pipeline to `folder` for `StableDiffusionControlNetPipeline.from_pretrained`.

    Does nothing if `folder` is already complete. The pipeline is written to a temporary sibling folder that
    is renamed into place, so concurrent callers never see a half-written folder.
    """
    folder = Path(folder)
    if is_complete(folder):
        return folder

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        pipe = StableDiffusionControlNetPipeline(**build_tiny_components(), requires_safety_checker=False)
        pipe.save_pretrained(tmp)
        (tmp / _COMPLETE_MARKER).write_text("tiny pipeline, seed 0\n")
        if folder.exists() and not is_complete(folder):
            # left over from an interrupted write by something else: replace it
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(tmp, folder)
        except OSError:
            # another process renamed its copy first
            if not is_complete(folder):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
