"""ZeroGPU: the engine's GPU stages run as `spaces` runs them, in a real forked process, after this process has used
the face detector; faces are found here, never in the fork (mediapipe hangs there). Compile is refused on ZeroGPU."""

import multiprocessing
import os
import pickle
import sys
import traceback
import types

import numpy as np
import pytest
from PIL import Image
from skimage import data

from avatargen.engine import identity, zerogpu
from avatargen.engine.config import EngineConfig
from avatargen.engine.engine import GenerationRequest
from avatargen.engine.identity import FaceBox, find_face
from avatargen.engine.loading import ZERO_GPU_COMPILE, load_engine
from avatargen.presets import QUALITIES

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")  # mediapipe's protobuf

ASTRONAUT = Image.fromarray(data.astronaut())
FACE = FaceBox(left=232, top=300, right=280, bottom=356, score=0.9)  # the tiny stack draws no face to find
GUARD_S = 240  # a hung fork is killed after this: a guard against hanging the suite, not a timing assertion


def forking_gpu(calls: list):
    """`spaces.GPU` as ZeroGPU runs it: the function in a process forked from this one, arguments and result
    pickled across. In the fork the face detector raises rather than hangs, so a call that reached it fails fast."""

    def gpu(duration):
        def wrap(function):
            def run(*args):
                calls.append(duration(*args))
                payload = pickle.dumps(args)
                context = multiprocessing.get_context("fork")
                receiver, sender = context.Pipe(duplex=False)

                def child() -> None:
                    def no_detector(*_):
                        raise RuntimeError("the face detector ran in the forked GPU process")

                    identity._detect = no_detector
                    try:
                        sender.send(("ok", function(*pickle.loads(payload)), os.getpid()))
                    except BaseException:
                        sender.send(("error", traceback.format_exc(), os.getpid()))

                process = context.Process(target=child, daemon=True)
                process.start()
                try:
                    if not receiver.poll(GUARD_S):
                        raise TimeoutError(f"the forked GPU process gave nothing back in {GUARD_S} s")
                    status, result, pid = receiver.recv()
                finally:
                    process.kill()
                    process.join()
                assert pid != os.getpid()
                assert status == "ok", result
                return result

            return run

        return wrap

    return gpu


@pytest.fixture
def on_zero_gpu(monkeypatch: pytest.MonkeyPatch):
    """A ZeroGPU Space: `spaces` importable (its GPU forks), `SPACES_ZERO_GPU` set. Yields the GPU calls' durations."""
    calls: list[int] = []
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=forking_gpu(calls)))
    find_spec = zerogpu.importlib.util.find_spec  # every other import (torchvision, lazily) still finds its own
    only_spaces = lambda name, *rest: object() if name == "spaces" else find_spec(name, *rest)  # noqa: E731
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", only_spaces)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    zerogpu._gpu_function.cache_clear()
    yield calls
    zerogpu._gpu_function.cache_clear()


def test_the_gpu_stages_run_in_a_fork_after_the_detector_ran_here(tmp_path, on_zero_gpu, monkeypatch):
    engine = load_engine(EngineConfig(kind="tiny", cache_dir=tmp_path, face_detail="on"))
    assert find_face(ASTRONAUT) is not None  # the detector's graphs (and their threads) live in this process now
    seen = []

    def finder(image: Image.Image) -> FaceBox:
        seen.append(os.getpid())
        find_face(image)  # the real detector, in this process
        return FACE

    engine.find_face = finder
    request = GenerationRequest(
        pose_image=Image.new("RGB", (QUALITIES["sd"].width, QUALITIES["sd"].height)),
        identity_images=(ASTRONAUT,),
        prompt="photo of a person",
        negative_prompt="blurry",
        quality=QUALITIES["sd"],
        seed=3,
        framing="full-body",
    )
    progress = []
    images = engine.generate([request, request], progress=lambda *step: progress.append(step))
    # two GPU calls, the main pass and the face pass, the faces found here between them
    assert on_zero_gpu == [zerogpu.BASE_SECONDS + 2 * zerogpu.SECONDS_PER_IMAGE] * 2
    assert seen == [os.getpid()] * 2
    assert progress[-1][0] == progress[-1][1]  # the stages' progress stays behind, the whole still completes

    monkeypatch.delenv("SPACES_ZERO_GPU")  # the same work in this process: the same images
    here = engine.generate([request], progress=None)
    assert [image.size for image in images] == [here[0].size] * 2
    assert np.abs(np.asarray(images[0], np.int16) - np.asarray(here[0], np.int16)).max() <= 2


def test_compile_is_refused_on_zero_gpu(tmp_path, on_zero_gpu):
    with pytest.raises(ValueError, match="cannot be used on ZeroGPU") as refused:
        load_engine(EngineConfig(kind="tiny", cache_dir=tmp_path, compile=True))
    assert str(refused.value) == ZERO_GPU_COMPILE and "Turn AVATARGEN_COMPILE off" in ZERO_GPU_COMPILE
    assert on_zero_gpu == []  # refused before any warm-up
