"""ZeroGPU: on a ZeroGPU Space the engine call runs inside `spaces.GPU`; elsewhere it goes straight through.

A ZeroGPU Space has a GPU only while a `spaces.GPU` function runs. `spaces` runs that function in a process forked
from this one (so it sees the engine already loaded here), sends it the arguments pickled, bills the GPU time to
the person whose Gradio request is current (it reads it from Gradio's request context variable), and sends the
result back. So on ZeroGPU: the job runs in the thread of the person's own request (`Runtime.run_queued`, called
by the API after queueing), only picklable requests cross into the GPU process, and progress stays at 0 until the
images come back. Claims, heartbeats, the ledger and recovery are the same code as everywhere. Imports nothing of
avatargen; `spaces` only on ZeroGPU.
"""

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence

BASE_SECONDS = 30  # model warm-up on a freshly attached GPU
SECONDS_PER_IMAGE = 20  # an HD image with the face pass, with room to spare

_generate: Callable | None = None  # the engine's generate, as the forked GPU process finds it


def zero_gpu() -> bool:
    """True on a ZeroGPU Space (`SPACES_ZERO_GPU`) with the `spaces` package importable."""
    flag = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
    return flag and importlib.util.find_spec("spaces") is not None


def on_gpu(generate: Callable, requests: Sequence, *, progress: Callable | None = None) -> list:
    """`generate(requests, progress=…)`, inside `spaces.GPU` with a duration that fits the batch on ZeroGPU."""
    if not zero_gpu():
        return generate(requests, progress=progress)
    global _generate
    _generate = generate
    return _gpu_function()(list(requests))


def gpu_seconds(requests: Sequence) -> int:
    return BASE_SECONDS + SECONDS_PER_IMAGE * len(requests)


def _run(requests: list) -> list:
    return _generate(requests)


@functools.cache
def _gpu_function() -> Callable:
    import spaces

    return spaces.GPU(duration=gpu_seconds)(_run)
