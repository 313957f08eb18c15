"""How the engine is built: `EngineConfig`, the model ids and the hub-layout file names (their one home), limits.

Imports nothing heavy (no torch, no diffusers) and nothing else of the engine: every engine module may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avatargen.settings import Settings

ENGINE_KINDS = ("auto", "diffusers", "tiny")
FACE_DETAIL_MODES = ("auto", "on", "off")
MAX_IDENTITY_IMAGES = 4  # photos of the person one request may carry

DEFAULT_BASE_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_CONTROLNET_MODEL = "lllyasviel/control_v11p_sd15_openpose"
DEFAULT_IP_ADAPTER_MODEL = "h94/IP-Adapter"
DEFAULT_FAST_LORA_MODEL = "latent-consistency/lcm-lora-sdv1-5"
DEFAULT_PREVIEW_MODEL = "madebyollin/taesd"  # TAESD (MIT): a tiny VAE decoder for SD 1.5 latents, for live previews
PREVIEW_EVERY = 3  # denoising steps between two live previews
IDENTITY_ADAPTERS = ("plus-face", "faceid")  # CLIP image encoder + plus-face, or ArcFace + FaceID
DEFAULT_FACEID_MODEL = "h94/IP-Adapter-FaceID"
DEFAULT_ARCFACE_MODEL = "public-data/insightface"  # insightface's models (non-commercial), as the hub mirrors them
DEFAULT_MOTION_ADAPTER_MODEL = "guoyww/animatediff-motion-adapter-v1-5-3"  # AnimateDiff for SD 1.5 (video)
DEFAULT_VIDEO_LCM_MODEL = "wangfuyun/AnimateLCM"  # a few-step motion adapter and its LoRA (AVATARGEN_VIDEO_LCM)
VIDEO_LCM_LORA_WEIGHT = "AnimateLCM_sd15_t2v_lora.safetensors"  # inside DEFAULT_VIDEO_LCM_MODEL
CONTEXT_FRAMES = 16  # the frames the motion adapter was trained on: longer clips denoise in overlapping windows

# The hub repos' layouts, which local folders (the tiny stack's included) follow too
IP_ADAPTER_SUBFOLDER = "models"  # inside DEFAULT_IP_ADAPTER_MODEL: the SD 1.5 adapters
IP_ADAPTER_WEIGHT = "ip-adapter-plus-face_sd15.safetensors"  # inside IP_ADAPTER_SUBFOLDER
DEFAULT_IP_ADAPTER_WEIGHT = f"{IP_ADAPTER_SUBFOLDER}/{IP_ADAPTER_WEIGHT}"
IMAGE_ENCODER_FOLDER = "image_encoder"  # the adapters' CLIP image encoder (ViT-H/14), next to their weights
FAST_LORA_WEIGHT = "pytorch_lora_weights.safetensors"  # inside DEFAULT_FAST_LORA_MODEL
FACEID_WEIGHT = "ip-adapter-faceid_sd15.bin"  # at the top of DEFAULT_FACEID_MODEL
ARCFACE_WEIGHT = "models/buffalo_l/w600k_r50.onnx"  # inside DEFAULT_ARCFACE_MODEL: ArcFace ResNet-50 (WebFace600K)

DEFAULT_IDENTITY_STRENGTH = 0.7  # IP-Adapter scale: resemblance against freedom of style and pose
DEFAULT_POSE_STRENGTH = 1.0  # ControlNet conditioning scale
# Below this much free GPU memory the pipeline is offloaded to the CPU between models, and the VAE decodes in slices
# and tiles. fp16 weights take ~4.2 GiB (UNet, ControlNet, VAE, text and image encoders); an HD batch needs headroom.
LOW_MEMORY_BYTES = 8 * 2**30


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
    preview_model: str | None = DEFAULT_PREVIEW_MODEL  # the live previews' decoder (AutoencoderTiny); None: none
    fast_decode: bool = False  # in fast mode the final image is decoded by the preview decoder too (cheaper, softer)
    identity: str = "plus-face"  # IDENTITY_ADAPTERS: "faceid" loads faceid_model's FACEID_WEIGHT instead
    faceid_model: str = DEFAULT_FACEID_MODEL
    arcface_model: str = DEFAULT_ARCFACE_MODEL  # its ARCFACE_WEIGHT embeds the face for FaceID
    motion_adapter_model: str = DEFAULT_MOTION_ADAPTER_MODEL  # video: the AnimateDiff motion adapter
    video_lcm: bool = False  # video: AnimateLCM (its motion adapter and LoRA, few steps) instead of the adapter above
    video_lcm_model: str = DEFAULT_VIDEO_LCM_MODEL
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH  # IP-Adapter scale, 0 (ignore the face) to 1
    pose_strength: float = DEFAULT_POSE_STRENGTH  # ControlNet conditioning scale, 0 (ignore the pose) to about 2
    fast: bool | None = None  # few-step LCM-LoRA mode (see `AvatarEngine.plan`); None: on when the device is the CPU
    compile: bool = False  # torch.compile the UNet and ControlNet, warmed up for every size and batch size
    low_memory: bool | None = None  # CPU offload (CUDA); None: when free GPU memory is below LOW_MEMORY_BYTES
    face_detail: str = "auto"  # the face-detail pass: "auto" (face_detail.FACE_DETAIL_FRAMINGS), "on", "off"
    batch_size: int = 1  # the largest batch the worker gives `generate`: warm-up runs every batch size up to it
    # (width, height) run once after loading; None: the quality presets' sizes when compiling, none otherwise
    warm_up_sizes: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ENGINE_KINDS:
            raise ValueError(f"`kind` has to be one of {ENGINE_KINDS} but is {self.kind!r}.")
        if self.identity not in IDENTITY_ADAPTERS:
            raise ValueError(f"`identity` has to be one of {IDENTITY_ADAPTERS} but is {self.identity!r}.")
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
            preview_model=settings.preview_model or None,
            fast_decode=settings.fast_decode,
            identity=settings.identity,
            faceid_model=settings.faceid_model,
            arcface_model=settings.arcface_model,
            motion_adapter_model=settings.motion_adapter_model,
            video_lcm=settings.video_lcm,
            video_lcm_model=settings.video_lcm_model,
            identity_strength=settings.identity_strength,
            pose_strength=settings.pose_strength,
            fast=settings.fast,
            compile=settings.compile,
            low_memory=settings.low_memory,
            face_detail=settings.face_detail,
            batch_size=settings.batch_size,
        )
