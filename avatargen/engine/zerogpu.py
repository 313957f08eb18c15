"""ZeroGPU: on a ZeroGPU Space the engine's GPU stages run inside `spaces.GPU`; elsewhere they run straight through.

A ZeroGPU Space has a GPU only while a `spaces.GPU` function runs. `spaces` runs that function in a process forked
from this one (so it sees the engine already loaded here), sends it the arguments pickled, bills the GPU time to
the person whose Gradio request is current (it reads it from Gradio's request context variable), and sends the
result back. A forked process must not touch native state the parent set up with threads (mediapipe's graphs hang
there, and a fresh detector aborts it): so only torch runs in the fork, and the engine finds faces here, between
its GPU stages (`AvatarEngine.generate`). Only picklable data crosses: requests, images, face boxes. On ZeroGPU the
job runs in the thread of the person's own request (`Runtime.run_queued`, called by the API after queueing), and
progress and previews stay still until each stage's images come back. Claims, heartbeats, the ledger and recovery
are the same code as everywhere. Imports nothing of avatargen; `spaces` only on ZeroGPU.
"""

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any

BASE_SECONDS = 30  # model warm-up on a freshly attached GPU
SECONDS_PER_IMAGE = 20  # an HD image with the face pass, with room to spare

# the GPU stages by name, as the forked GPU process finds them (set here before each call, so before each fork)
_stages: dict[str, Callable] = {}


def zero_gpu() -> bool:
    """True on a ZeroGPU Space (`SPACES_ZERO_GPU`) with the `spaces` package importable."""
    flag = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
    return flag and importlib.util.find_spec("spaces") is not None


def gpu_call(stage: Callable, images: Sequence, *args: Any, **callbacks: Callable | None) -> Any:
    """`stage(images, *args, **callbacks)`; on ZeroGPU inside `spaces.GPU`, in the forked GPU process.

    `images` (requests or images: one per output) sizes the GPU duration asked for. On ZeroGPU the `callbacks`
    (progress, previews) stay behind: a callback cannot cross into the fork.
    """
    if not zero_gpu():
        return stage(images, *args, **callbacks)
    name = getattr(stage, "__qualname__", repr(stage))
    _stages[name] = stage
    return _gpu_function()(name, list(images), *args)


def gpu_seconds(name: str, images: Sequence, *args: Any) -> int:
    """The GPU duration asked of ZeroGPU for a stage over `images`."""
    return BASE_SECONDS + SECONDS_PER_IMAGE * len(images)


def _run(name: str, images: list, *args: Any) -> Any:
    return _stages[name](images, *args)


@functools.cache
def _gpu_function() -> Callable:
    import spaces

    return spaces.GPU(duration=gpu_seconds)(_run)
