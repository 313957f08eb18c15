"""Loading the engine: the real models or the tiny stack (`load_engine`), once, on first use (`LazyEngine`).

Imports `engine.config`, `engine.engine` and `engine.pipelines`; torch and `engine.tiny` only while loading.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from avatargen.engine.config import DEFAULT_IP_ADAPTER_WEIGHT, LOW_MEMORY_BYTES, EngineConfig
from avatargen.engine.engine import AvatarEngine
from avatargen.engine.pipelines import ModelSources, check_compile, load_pipeline, pick_device, prepare_pipeline
from avatargen.presets import QUALITIES

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)
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
        ValueError: if `compile` meets `low_memory` on CUDA (a setting to change, not a model to fall back from).
    """
    device, dtype = pick_device()
    config = _decided(config, device)
    check_compile(config.compile, bool(config.low_memory), device)
    if config.kind == "tiny":
        engine = _load_tiny(config, device)
    else:
        engine = _load_real_or_tiny(config, device, dtype)
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
    return ModelSources(
        base_model=config.base_model,
        controlnet_model=config.controlnet_model,
        ip_adapter_model=config.ip_adapter_model,
        ip_adapter_weight=config.ip_adapter_weight,
        fast_lora_model=config.fast_lora_model,
    )


def _tiny_sources(cache_dir: Path) -> ModelSources:
    from avatargen.engine import tiny

    folder = tiny.save_tiny_pipeline(Path(cache_dir) / "tiny-pipeline")
    return ModelSources(
        base_model=str(folder),
        controlnet_model=str(folder / "controlnet"),
        ip_adapter_model=str(folder / tiny.IP_ADAPTER_FOLDER),
        ip_adapter_weight=DEFAULT_IP_ADAPTER_WEIGHT,  # the tiny folders mirror the hub repos' layouts
        fast_lora_model=str(folder / tiny.FAST_LORA_FOLDER),
    )


def _load_real_or_tiny(config: EngineConfig, device: str, dtype: torch.dtype) -> AvatarEngine:
    try:
        return _load(config, _real_sources(config), device, dtype, name=config.base_model, placeholder=False)
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
    sources = _tiny_sources(config.cache_dir)
    return _load(config, sources, device, torch.float32, name="tiny", placeholder=True, cpu_threads=1)


def _load(
    config: EngineConfig,
    sources: ModelSources,
    device: str,
    dtype: torch.dtype,
    *,
    name: str,
    placeholder: bool,
    cpu_threads: int | None = None,
) -> AvatarEngine:
    pipe = load_pipeline(sources, dtype, bool(config.fast))
    prepare_pipeline(pipe, device, low_memory=bool(config.low_memory), compile=config.compile)
    return AvatarEngine(
        pipe, device=device, dtype=dtype, placeholder=placeholder, name=name, config=config, cpu_threads=cpu_threads
    )


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
