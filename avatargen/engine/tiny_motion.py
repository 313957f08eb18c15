"""The tiny stack's video parts, built in code: a random-weight AnimateDiff `MotionAdapter` matching the tiny UNet, and
a tiny AnimateLCM (its adapter and LoRA), saved in the hub repos' layouts and loaded back through `from_pretrained`.

Imports torch, diffusers and safetensors, and of the engine `engine.config` and `engine.tiny` (the UNet's shape).
"""

import os
import shutil
import uuid
from pathlib import Path

import torch
from diffusers import MotionAdapter
from safetensors.torch import save_file

from avatargen.engine import tiny
from avatargen.engine.config import VIDEO_LCM_LORA_WEIGHT

_COMPLETE_MARKER = ".tiny-complete"
_LAYOUT = "tiny motion adapter v1: matches tiny pipeline v3, 32 positions, random output projections; seed 0\n"
_MOTION_STD = 0.05  # the temporal layers' output projections: random instead of zero, so frames influence each other
MOTION_ADAPTER_FOLDER = "motion-adapter"  # like guoyww/animatediff-motion-adapter-v1-5-3
VIDEO_LCM_FOLDER = "animatelcm"  # like wangfuyun/AnimateLCM: an adapter and its LoRA side by side


def build_tiny_motion_adapter(channels: tuple[int, ...], seed: int = 0) -> MotionAdapter:
    """A `MotionAdapter` for a tiny UNet of these block channels (one layer per block), 32 frame positions."""
    torch.manual_seed(seed)
    adapter = MotionAdapter(
        block_out_channels=channels,
        motion_layers_per_block=1,
        motion_norm_num_groups=8,
        motion_num_attention_heads=2,
        motion_max_seq_length=32,
        use_motion_mid_block=True,
    )
    # fresh, AnimateDiff's temporal layers add nothing (their output projections are zero); trained ones do
    with torch.no_grad():
        for name, parameter in adapter.named_parameters():
            if name.endswith("proj_out.weight"):
                parameter.normal_(0.0, _MOTION_STD)
    return adapter


def save_tiny_motion_adapters(folder: Path) -> Path:
    """Save the tiny motion adapter and the tiny AnimateLCM under `folder` (nothing if already complete).

    Written to a temporary sibling renamed into place, so concurrent callers never see half a folder.
    """
    folder = Path(folder)
    marker = folder / _COMPLETE_MARKER
    if marker.is_file() and marker.read_text() == _LAYOUT:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        unet = tiny.build_tiny_components()["unet"]
        channels = tuple(unet.config.block_out_channels)
        build_tiny_motion_adapter(channels).save_pretrained(tmp / MOTION_ADAPTER_FOLDER)
        build_tiny_motion_adapter(channels, seed=1).save_pretrained(tmp / VIDEO_LCM_FOLDER)
        # AnimateLCM's LoRA acts on the image UNet's layers: the Kohya layout the tiny LCM-LoRA already uses
        save_file(tiny.lcm_lora_weights(unet, seed=1), tmp / VIDEO_LCM_FOLDER / VIDEO_LCM_LORA_WEIGHT)
        (tmp / _COMPLETE_MARKER).write_text(_LAYOUT)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)  # an older layout, or an interrupted write
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (marker.is_file() and marker.read_text() == _LAYOUT):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
