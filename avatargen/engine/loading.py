"""Loading the engine: the real models or the tiny stack (`load_engine`), once, on first use (`LazyEngine`).

Imports `engine.config`, `engine.engine` and `engine.pipelines`; torch and `engine.tiny` only while loading.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlsplit

from avatargen.engine.config import (
    ARCFACE_WEIGHT,
    DEFAULT_IP_ADAPTER_WEIGHT,
    FACEID_WEIGHT,
    LOW_MEMORY_BYTES,
    EngineConfig,
)
from avatargen.engine.engine import AvatarEngine
from avatargen.engine.pipelines import ModelSources, check_compile, load_pipeline, pick_device, prepare_pipeline
from avatargen.engine.zerogpu import zero_gpu
from avatargen.presets import QUALITIES

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)
HUB_CHECK_SECONDS = 3  # a reachable Hub answers a TCP connect in well under a second
# diffusers, transformers and peft patch torch process-wide while they load (peft's empty-weights context swaps
# `register_parameter`): two loads at once in one process break each other, so models load one at a time
MODEL_LOADING = threading.Lock()

# ZeroGPU lends a GPU only inside `spaces.GPU` calls, each in a fresh fork: a warm-up here has no GPU, and what a
# fork compiles dies with it
ZERO_GPU_COMPILE = (
    "AVATARGEN_COMPILE cannot be used on ZeroGPU: compiled models would be compiled again in every GPU call. Turn "
    "AVATARGEN_COMPILE off in the Space's settings."
)
EngineT = TypeVar("EngineT")


def needs_low_memory(free_bytes: int) -> bool:
    """Whether a GPU with `free_bytes` free should run the pipeline offloaded (see `LOW_MEMORY_BYTES`)."""
    return free_bytes < LOW_MEMORY_BYTES


def load_engine(config: EngineConfig) -> AvatarEngine:
    """Load the pipeline `config` names once, set it up for the device, wrap it in an `AvatarEngine`, warm it up.

    "diffusers" loads the models named in `config` (hub ids, or local folders in the same layout); "tiny" builds the
    tiny random-weight stack in `config.cache_dir` and loads it through the same calls; "auto" tries "diffusers" and
    falls back to "tiny" on any error, with a warning. The engine's config has `fast` and `low_memory` decided.

    Raises:
        ValueError: if `compile` meets `low_memory` on CUDA, or ZeroGPU (settings to change, not a model to fall
            back from).
    """
    if config.compile and zero_gpu():
        raise ValueError(ZERO_GPU_COMPILE)
    device, dtype = pick_device()
    config = _decided(config, device)
    check_compile(config.compile, bool(config.low_memory), device)
    with MODEL_LOADING:
        engine = _load_tiny(config, device) if config.kind == "tiny" else _load_real_or_tiny(config, device, dtype)
    engine.warm_up(_warm_up_sizes(config), config.batch_size)
    return engine


def _decided(config: EngineConfig, device: str) -> EngineConfig:
    # `fast` and `low_memory` as the device decides them where the settings leave them open
    fast = device == "cpu" if config.fast is None else config.fast
    low_memory = config.low_memory
    if low_memory is None:
        low_memory = device == "cuda" and needs_low_memory(_free_gpu_memory())
    return dataclasses.replace(config, fast=fast, low_memory=low_memory)


def _warm_up_sizes(config: EngineConfig) -> tuple[tuple[int, int], ...]:
    if config.warm_up_sizes is not None:
        return config.warm_up_sizes
    # compiled models compile per shape: every preset's size, before anyone's job
    return tuple((q.width, q.height) for q in QUALITIES.values()) if config.compile else ()


def _real_sources(config: EngineConfig) -> ModelSources:
    sources = ModelSources(
        base_model=config.base_model,
        controlnet_model=config.controlnet_model,
        ip_adapter_model=config.ip_adapter_model,
        ip_adapter_weight=config.ip_adapter_weight,
        fast_lora_model=config.fast_lora_model,
    )
    if config.identity != "faceid":
        return sources
    arcface = Path(config.arcface_model) / ARCFACE_WEIGHT
    if not arcface.is_file():  # a hub repo, not a local folder
        from huggingface_hub import hf_hub_download

        arcface = Path(hf_hub_download(config.arcface_model, ARCFACE_WEIGHT))
    return dataclasses.replace(
        sources,
        ip_adapter_model=config.faceid_model,
        ip_adapter_weight=FACEID_WEIGHT,
        image_encoder_folder=None,
        arcface_model=str(arcface),
    )


def _tiny_sources(config: EngineConfig) -> ModelSources:
    from avatargen.engine import tiny

    folder = tiny.save_tiny_pipeline(Path(config.cache_dir) / "tiny-pipeline")
    sources = ModelSources(
        base_model=str(folder),
        controlnet_model=str(folder / "controlnet"),
        ip_adapter_model=str(folder / tiny.IP_ADAPTER_FOLDER),
        ip_adapter_weight=DEFAULT_IP_ADAPTER_WEIGHT,  # the tiny folders mirror the hub repos' layouts
        fast_lora_model=str(folder / tiny.FAST_LORA_FOLDER),
    )
    if config.identity != "faceid":
        return sources
    from avatargen.engine import tiny_faceid

    extras = tiny_faceid.save_tiny_faceid(Path(config.cache_dir) / "tiny-faceid", folder / "unet")
    return dataclasses.replace(
        sources,
        ip_adapter_model=str(extras / tiny_faceid.FACEID_FOLDER),
        ip_adapter_weight=FACEID_WEIGHT,
        image_encoder_folder=None,
        arcface_model=str(extras / tiny_faceid.ARCFACE_FOLDER / ARCFACE_WEIGHT),
    )


def go_offline_unless_hub_reachable() -> None:
    """Without a network every hub request retries for ~25 s, printing each try: look once, and when the Hub cannot
    be reached, load from the local cache only for the rest of this process, saying so once."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return
    address = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((address.hostname, address.port or 443), timeout=HUB_CHECK_SECONDS).close()
    except OSError as error:
        logger.warning(
            "The Hugging Face Hub (%s) cannot be reached (%s): models load from the local cache only. "
            "HF_HUB_OFFLINE=1 skips this check.",
            address.hostname,
            error,
        )
        os.environ["HF_HUB_OFFLINE"] = "1"  # for libraries that read it later
        constants.HF_HUB_OFFLINE = True  # huggingface_hub's requests consult this at each call


def _load_real_or_tiny(config: EngineConfig, device: str, dtype: torch.dtype) -> AvatarEngine:
    go_offline_unless_hub_reachable()
    try:
        sources = _real_sources(config)
        return _load(
            config, sources, device, dtype, name=config.base_model, placeholder=False, preview=config.preview_model
        )
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
        return _load_tiny(config, device)


def _load_tiny(config: EngineConfig, device: str) -> AvatarEngine:
    import torch

    # fp32 everywhere: random weights are not meant for fp16 and the stack is tiny anyway; one CPU thread: its
    # operations are too small to share out, and OpenMP's waiting makes them 10-50x slower on a busy machine
    from avatargen.engine import tiny

    sources = _tiny_sources(config)
    preview = None if config.preview_model is None else str(Path(sources.base_model) / tiny.PREVIEW_FOLDER)
    return _load(config, sources, device, torch.float32, name="tiny", placeholder=True, cpu_threads=1, preview=preview)


def _load(
    config: EngineConfig,
    sources: ModelSources,
    device: str,
    dtype: torch.dtype,
    *,
    name: str,
    placeholder: bool,
    cpu_threads: int | None = None,
    preview: str | None = None,
) -> AvatarEngine:
    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub.utils import are_progress_bars_disabled

    if are_progress_bars_disabled():  # HF_HUB_DISABLE_PROGRESS_BARS: diffusers has no variable of its own
        diffusers_logging.disable_progress_bar()
    pipe = load_pipeline(sources, dtype, bool(config.fast))
    prepare_pipeline(pipe, device, low_memory=bool(config.low_memory), compile=config.compile)
    arcface = None
    if sources.arcface_model is not None:
        from avatargen.engine.faceid import ArcFace

        arcface = ArcFace(sources.arcface_model)
    return AvatarEngine(
        pipe,
        device=device,
        dtype=dtype,
        placeholder=placeholder,
        name=name,
        config=config,
        cpu_threads=cpu_threads,
        previewer=_load_previewer(preview, device, dtype),
        arcface=arcface,
    )


def _load_previewer(source: str | None, device: str, dtype: torch.dtype) -> object | None:
    # live previews are a nicety: without their decoder the engine generates as before, and says why in the log
    if source is None:
        return None
    try:
        from diffusers import AutoencoderTiny

        return AutoencoderTiny.from_pretrained(source, dtype=dtype).to(device)
    except Exception as e:
        logger.warning("No live previews: could not load %s (%s: %s).", source, type(e).__name__, e)
        return None


def _free_gpu_memory() -> int:
    import torch

    free, _total = torch.cuda.mem_get_info()
    return free


class LazyEngine(Generic[EngineT]):
    """Loads an engine (the image engine, or the video engine on it) on first use, once, whichever thread asks first."""

    def __init__(self, load: Callable[[], EngineT]):
        self._load = load
        self._lock = threading.Lock()
        self._engine: EngineT | None = None
        self.error: str | None = None

    @property
    def loaded(self) -> EngineT | None:
        return self._engine

    def get(self) -> EngineT:
        with self._lock:
            if self._engine is None:
                started = time.perf_counter()
                try:
                    self._engine = self._load()
                except Exception as error:
                    self.error = f"{type(error).__name__}: {error}"
                    raise
                self.error = None
                name = getattr(self._engine, "name", type(self._engine).__name__)
                logger.info("engine %s ready in %.1f s", name, time.perf_counter() - started)
            return self._engine
