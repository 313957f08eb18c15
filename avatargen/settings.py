"""Settings read once from the environment (prefix AVATARGEN_) and validated."""

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from avatargen.engine import config as engine_config

ENV_PREFIX = "AVATARGEN_"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SPACE_STORAGE = Path("/data")  # a Space's persistent storage, when it has some


def on_space() -> bool:
    """Running on a Hugging Face Space (the Hub sets SPACE_ID there)."""
    return bool(os.environ.get("SPACE_ID"))


def default_data_dir() -> Path:
    """`/data/avatargen` on a Space with persistent storage (it survives restarts), else `./data`."""
    return SPACE_STORAGE / "avatargen" if SPACE_STORAGE.is_dir() else Path("./data")


def default_auth() -> str:
    """`hf` on a Space (sign in with Hugging Face), else `none`; never `hf` on a laptop by itself."""
    return "hf" if on_space() else "none"


def use_space_storage() -> None:
    """Keep the Hugging Face cache (model weights) on a Space's persistent storage too, unless told otherwise.

    Must run before huggingface_hub is imported: it reads HF_HOME once, at import.
    """
    if SPACE_STORAGE.is_dir() and "HF_HOME" not in os.environ and os.access(SPACE_STORAGE, os.W_OK):
        os.environ["HF_HOME"] = str(SPACE_STORAGE / ".huggingface")


SPACE_OAUTH_VARIABLES = ("SPACE_ID", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES")


def missing_space_oauth() -> list[str]:
    """What a Space with OAuth enabled (`hf_oauth: true`) sets and this process lacks; empty on such a Space.

    Gradio runs the real Hugging Face sign-in only with SYSTEM=spaces, and signs its session cookie with the
    OAuth client secret: without one, anybody can sign a cookie for any name.
    """
    missing = [] if os.environ.get("SYSTEM") == "spaces" else ["SYSTEM=spaces"]
    return missing + [name for name in SPACE_OAUTH_VARIABLES if not os.environ.get(name)]


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)  # uploads, outputs, SQLite files, caches
    database_url: str = ""  # any SQLAlchemy URL; empty means SQLite in the data dir
    queue_url: str = ""  # huey storage: sqlite:///… or redis://…; empty means SQLite in the data dir
    db_pool_size: int = Field(5, ge=1, le=100)  # connections each process keeps open to a database server
    db_max_overflow: int = Field(10, ge=0, le=100)  # extra connections it may open at peaks
    engine: Literal["auto", "diffusers", "tiny"] = "auto"
    auth: Literal["none", "password", "hf"] = Field(default_factory=default_auth)
    starting_credits: int = Field(100, ge=0)  # granted once to each new user
    daily_credits: int = Field(0, ge=0)  # once per UTC day a balance below this is topped up to it; 0 = off

    log_level: Literal["debug", "info", "warning", "error"] = "info"  # the app's own lines; libraries say warnings
    log_json: bool = False  # one JSON object per line (time, level, logger, message) for log collectors

    host: str = Field(default_factory=lambda: "0.0.0.0" if on_space() else "127.0.0.1")
    port: int = Field(7860, ge=1, le=65535)
    share: bool = False
    worker_threads: int = Field(1, ge=0, le=8)  # in-app queue consumers; 0 = only standalone workers
    batch_size: int = Field(4, ge=1, le=16)  # same-size queued jobs one pipeline call may take

    rate_per_minute: dict[str, int] = {"user": 30}  # generation requests per minute by tier (role); 0 or absent: none
    jobs_in_flight: dict[str, int] = {"user": 10}  # pending + processing jobs at once by tier; 0 or absent: none
    webhook_secret: str = ""  # HMAC-SHA256 key signing completion webhooks; empty: no webhooks are sent
    webhook_attempts: int = Field(5, ge=1, le=20)  # deliveries tried, with back-off doubling from 1 s
    webhook_private_ok: bool = False  # allow webhook URLs that resolve to loopback or private addresses

    max_upload_bytes: int = Field(20_000_000, ge=1024)  # refused at the door (Gradio) and again at decode
    max_upload_pixels: int = Field(40_000_000, ge=4096)
    max_custom_poses: int = Field(100, ge=0)  # private poses one person may keep
    max_job_attempts: int = Field(2, ge=1)  # runs a job may start before a crash fails and refunds it
    stale_job_seconds: float = Field(120, gt=0)  # a processing row silent this long is taken as crashed

    base_model: str = engine_config.DEFAULT_BASE_MODEL
    controlnet_model: str = engine_config.DEFAULT_CONTROLNET_MODEL
    ip_adapter_model: str = engine_config.DEFAULT_IP_ADAPTER_MODEL  # empty: no identity adapter
    ip_adapter_weight: str = engine_config.DEFAULT_IP_ADAPTER_WEIGHT
    fast_lora_model: str = engine_config.DEFAULT_FAST_LORA_MODEL
    preview_model: str = engine_config.DEFAULT_PREVIEW_MODEL  # live previews' tiny decoder; "" turns them off
    fast_decode: bool = False  # fast mode decodes the final image with the preview decoder (TAESD) too
    # plus-face (CLIP; commercially usable) or faceid (ArcFace; insightface's models are non-commercial)
    identity: Literal["plus-face", "faceid"] = "plus-face"
    faceid_model: str = engine_config.DEFAULT_FACEID_MODEL  # with identity=faceid
    arcface_model: str = engine_config.DEFAULT_ARCFACE_MODEL  # "hub repo" or a local folder, with ARCFACE_WEIGHT
    motion_adapter_model: str = engine_config.DEFAULT_MOTION_ADAPTER_MODEL  # video avatars (AnimateDiff)
    video_lcm: bool = False  # video avatars in few steps with AnimateLCM (when the image engine is not in fast mode)
    video_lcm_model: str = engine_config.DEFAULT_VIDEO_LCM_MODEL
    identity_strength: float = Field(engine_config.DEFAULT_IDENTITY_STRENGTH, ge=0, le=2)  # IP-Adapter scale
    pose_strength: float = Field(engine_config.DEFAULT_POSE_STRENGTH, ge=0, le=2)  # ControlNet conditioning scale
    fast: bool | None = None  # LCM-LoRA few-step mode; unset: on when the device is the CPU
    compile: bool = False  # torch.compile the UNet and ControlNet, warmed up per size and batch size
    low_memory: bool | None = None  # CPU offload + sliced VAE; unset: on when free GPU memory is short
    face_detail: Literal["auto", "on", "off"] = "auto"  # face re-denoised at higher resolution; auto: small faces

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> "Settings":
        if self.auth == "none" and (self.share or not is_loopback(self.host)):
            raise ValueError(
                "AVATARGEN_AUTH=none serves one local user and only on a loopback address without share; "
                "set AVATARGEN_AUTH=password to serve others."
            )
        if self.auth == "hf" and (missing := missing_space_oauth()) and (self.share or not is_loopback(self.host)):
            raise ValueError(
                "AVATARGEN_AUTH=hf signs people in with Hugging Face only on a Space with OAuth enabled "
                f"(hf_oauth: true; this process lacks {', '.join(missing)}); anywhere else Gradio hands every "
                "visitor the machine's own Hub account, so off a Space hf serves only a loopback address without "
                "share, for development. Set AVATARGEN_AUTH=password to serve others."
            )
        if self.compile and self.low_memory:
            raise ValueError(
                "AVATARGEN_COMPILE needs the whole pipeline on the GPU: it cannot go with AVATARGEN_LOW_MEMORY."
            )
        return self

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'avatargen.db'}"

    @property
    def queue_location(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir.resolve() / 'queue.db'}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def settings_problem(error: ValidationError) -> str:
    """What is wrong with the settings, as one paragraph naming each variable (for a person, not a traceback)."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["loc"]:
            problems.append(f"{ENV_PREFIX}{str(item['loc'][0]).upper()}={item['input']!r}: {message}.")
        else:
            problems.append(message)
    return " ".join(problems)


@lru_cache
def get_settings() -> Settings:
    return Settings()
