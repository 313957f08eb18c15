"""A tiny random-weight stack built in code: ControlNet pipeline, IP-Adapter and LCM-LoRA, saved in the hub layout.

It works offline and runs fast on CPU at real output sizes. The engine loads it through the same calls as the real
models (`from_pretrained`, `load_ip_adapter`, `load_lora_weights`), pointed at local folders. Imports torch,
diffusers and transformers, and of the engine only `engine.config` (the hub-layout file names).
"""

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    ControlNetModel,
    StableDiffusionControlNetPipeline,
    UNet2DConditionModel,
    UniPCMultistepScheduler,
)
from diffusers.models.embeddings import IPAdapterPlusImageProjection
from safetensors.torch import save_file
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from avatargen.engine.config import FAST_LORA_WEIGHT, IMAGE_ENCODER_FOLDER, IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT

# Written into a saved folder last: its content names the layout, so a folder from an older layout is rebuilt.
_COMPLETE_MARKER = ".tiny-complete"
_LAYOUT = "tiny pipeline v4: controlnet pipeline, ip-adapter plus-face, kohya-layout lcm-lora, taesd; seed 0\n"

# Where the extras sit inside the saved folder, standing in for the hub repos; inside each, the repo's own layout.
IP_ADAPTER_FOLDER = "ip-adapter"  # like h94/IP-Adapter
FAST_LORA_FOLDER = "lcm-lora"  # like latent-consistency/lcm-lora-sdv1-5
PREVIEW_FOLDER = "taesd"  # like madebyollin/taesd

_HIDDEN_SIZE = 32  # text encoder width == cross-attention dim of the UNet and ControlNet
_MAX_TOKENS = 77  # like CLIP in SD 1.5
# shared by the UNet and the ControlNet
_UNET_DOWN_BLOCKS = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
_UNET_CHANNELS = (8, 16, 32)
_IMAGE_SIZE = 32  # the tiny CLIP vision encoder's input: the identity crop is resized to this
_ZERO_CONV_STD = 0.3  # ControlNet output convs: random instead of zero, so the pose steers the tiny stack
_POSE_GAIN = 5.0  # on the ControlNet's pose embedding output: a flipped pose changes pixels by ~6/255 on average
_IP_STD = 0.5  # IP-Adapter key/value projections: strong enough that the identity steers the tiny stack
_LORA_STD = 0.05  # LoRA up-projections: small, but the fast mode visibly differs


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
    controlnet = ControlNetModel(
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
    # Fresh, the pose would not steer it: its output convs are zero, and PyTorch's default init shrinks the pose
    # image's signal ~3x per layer of the conditioning embedding. Trained ones do neither: He init (scaled up at the
    # embedding's output, as the pose lines are thin and most of the image is black) and random output convs.
    with torch.no_grad():
        for module in controlnet.controlnet_cond_embedding.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                module.bias.zero_()
        controlnet.controlnet_cond_embedding.conv_out.weight.mul_(_POSE_GAIN)
        for conv in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]:
            conv.weight.normal_(0.0, _ZERO_CONV_STD)
            conv.bias.zero_()
    return controlnet


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
        steps_offset=1,  # as in SD 1.5's scheduler config
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


def build_tiny_image_encoder(seed: int = 0) -> CLIPVisionModelWithProjection:
    """A tiny CLIP vision encoder (32 px input, 4x4 patches of 8 px, width 32), standing in for OpenCLIP ViT-H/14."""
    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        projection_dim=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=_IMAGE_SIZE,
        patch_size=8,
    )
    torch.manual_seed(seed)
    return CLIPVisionModelWithProjection(config)


# diffusers' IPAdapterPlusImageProjection names → the original IP-Adapter "plus" (Resampler) names that
# `UNet2DConditionModel._convert_ip_adapter_image_proj_to_diffusers` converts back
_RESAMPLER_NAMES = {
    "ln0.": "0.norm1.",
    "ln1.": "0.norm2.",
    "attn.to_q.": "0.to_q.",
    "attn.to_out.0.": "0.to_out.",
    "ff.0.": "1.0.",
    "ff.1.net.0.proj.": "1.1.",
    "ff.1.net.2.": "1.3.",
}


def _resampler_state_dict(resampler: IPAdapterPlusImageProjection) -> dict[str, torch.Tensor]:
    diffusers_state = resampler.state_dict()
    state = {}
    for key, value in diffusers_state.items():
        match = re.fullmatch(r"layers\.(\d+)\.(.+)", key)
        if match is None:
            state[key] = value
            continue
        layer, rest = match.groups()
        if rest == "attn.to_k.weight":
            # the original fuses keys and values in one projection
            state[f"layers.{layer}.0.to_kv.weight"] = torch.cat(
                [value, diffusers_state[f"layers.{layer}.attn.to_v.weight"]]
            )
        elif rest != "attn.to_v.weight":
            old, new = next((old, new) for old, new in _RESAMPLER_NAMES.items() if rest.startswith(old))
            state[f"layers.{layer}.{new}{rest.removeprefix(old)}"] = value
    return state


def ip_adapter_plus_weights(
    unet: UNet2DConditionModel,
    *,
    image_embed_dim: int,
    hidden_dims: int,
    num_queries: int,
    ip_std: float | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Random IP-Adapter "plus" weights for `unet`, in the layout of h94/IP-Adapter's `ip-adapter-plus*.safetensors`.

    Keys are `image_proj.*` (the Resampler: `num_queries` tokens of `hidden_dims`, 64-wide heads, fed with the
    image encoder's penultimate hidden states of width `image_embed_dim`) and `ip_adapter.{i}.to_{k,v}_ip.weight`
    (one pair per cross-attention layer of `unet`, odd `i` as in the original). `ip_std` is the standard deviation
    of the key/value projections (default: 1 / sqrt(cross-attention dim)).
    """
    cross_attention_dim = unet.config.cross_attention_dim
    torch.manual_seed(seed)
    resampler = IPAdapterPlusImageProjection(
        embed_dims=image_embed_dim,
        output_dims=cross_attention_dim,
        hidden_dims=hidden_dims,
        heads=hidden_dims // 64,
        num_queries=num_queries,
    )
    weights = {f"image_proj.{key}": value for key, value in _resampler_state_dict(resampler).items()}
    std = cross_attention_dim**-0.5 if ip_std is None else ip_std
    weights |= {f"ip_adapter.{key}": value for key, value in ip_attention_weights(unet, std).items()}
    return {key: value.contiguous() for key, value in weights.items()}


def ip_attention_weights(unet: UNet2DConditionModel, std: float) -> dict[str, torch.Tensor]:
    """Random IP-Adapter key/value projections `{i}.to_{k,v}_ip.weight`, one pair per cross-attention layer of
    `unet` (odd `i` as in the original), drawn with standard deviation `std`."""
    cross_attention_dim = unet.config.cross_attention_dim
    channels = list(unet.config.block_out_channels)
    weights = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        # the attention width of the block, as the loader computes it
        if name.startswith("mid_block"):
            hidden_size = channels[-1]
        elif name.startswith("up_blocks"):
            hidden_size = channels[::-1][int(name[len("up_blocks.")])]
        else:
            hidden_size = channels[int(name[len("down_blocks.")])]
        for projection in ("to_k_ip", "to_v_ip"):
            weights[f"{key_id}.{projection}.weight"] = torch.randn(hidden_size, cross_attention_dim) * std
        key_id += 2
    return weights


def lcm_lora_weights(
    unet: UNet2DConditionModel, *, rank: int = 4, alpha: float = 2.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random LoRA on every linear and convolution layer of `unet`'s blocks, in the Kohya layout of the real one.

    It stands in for latent-consistency/lcm-lora-sdv1-5, whose `pytorch_lora_weights.safetensors` has keys
    `lora_unet_<module path with "_">.lora_down.weight`, `.lora_up.weight` and `.alpha` on the attention
    projections, feed-forwards, `proj_in/out` and the resnets' and samplers' convolutions (3x3 down, 1x1 up):
    `load_lora_weights` converts them through diffusers' Kohya path, scaled by alpha / rank. Random effect.
    """
    torch.manual_seed(seed)
    weights = {}
    for name, module in unet.named_modules():
        if not name.startswith(("down_blocks.", "mid_block.", "up_blocks.")):
            continue
        key = "lora_unet_" + name.replace(".", "_")
        if isinstance(module, torch.nn.Linear):
            down = torch.randn(rank, module.in_features) / module.in_features**0.5
            up = torch.randn(module.out_features, rank) * _LORA_STD
        elif isinstance(module, torch.nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            down = torch.randn(rank, module.in_channels, *module.kernel_size) / fan_in**0.5
            up = torch.randn(module.out_channels, rank, 1, 1) * _LORA_STD
        else:
            continue
        weights[f"{key}.lora_down.weight"] = down.contiguous()
        weights[f"{key}.lora_up.weight"] = up.contiguous()
        weights[f"{key}.alpha"] = torch.tensor(alpha)
    return weights


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds the current layout, fully written by `save_tiny_pipeline`."""
    marker = Path(folder) / _COMPLETE_MARKER
    return marker.is_file() and marker.read_text() == _LAYOUT


def _write(folder: Path) -> None:
    components = build_tiny_components()
    pipe = StableDiffusionControlNetPipeline(**components, requires_safety_checker=False)
    pipe.save_pretrained(folder)

    adapter = folder / IP_ADAPTER_FOLDER / IP_ADAPTER_SUBFOLDER
    encoder = build_tiny_image_encoder()
    encoder.save_pretrained(adapter / IMAGE_ENCODER_FOLDER)
    # like the hub folder: lets the encoder be used on its own (the pipeline builds its own processor)
    CLIPImageProcessor(size=_IMAGE_SIZE, crop_size=_IMAGE_SIZE).save_pretrained(adapter / IMAGE_ENCODER_FOLDER)
    weights = ip_adapter_plus_weights(
        components["unet"], image_embed_dim=encoder.config.hidden_size, hidden_dims=64, num_queries=4, ip_std=_IP_STD
    )
    save_file(weights, adapter / IP_ADAPTER_WEIGHT)

    lora = folder / FAST_LORA_FOLDER
    lora.mkdir()
    save_file(lcm_lora_weights(components["unet"]), lora / FAST_LORA_WEIGHT)

    build_tiny_preview_decoder().save_pretrained(folder / PREVIEW_FOLDER)


def build_tiny_preview_decoder(seed: int = 0) -> AutoencoderTiny:
    """A tiny `AutoencoderTiny` (TAESD's architecture: 4 latent channels, 8x upsampling), random weights."""
    torch.manual_seed(seed)
    return AutoencoderTiny(
        encoder_block_out_channels=(4, 4, 4, 4),
        decoder_block_out_channels=(4, 4, 4, 4),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
    )


def save_tiny_pipeline(folder: Path) -> Path:
    """Save the tiny stack to `folder`: a `StableDiffusionControlNetPipeline` plus its IP-Adapter and LCM-LoRA.

    Does nothing if `folder` is already complete. The stack is written to a temporary sibling folder that is renamed
    into place, so concurrent callers never see a half-written folder.
    """
    folder = Path(folder)
    if is_complete(folder):
        return folder

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        _write(tmp)
        (tmp / _COMPLETE_MARKER).write_text(_LAYOUT)
        if folder.exists() and not is_complete(folder):
            # left over from an interrupted write, or an older layout: replace it
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
