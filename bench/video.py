"""Benchmark: seconds per video clip (AnimateDiff + OpenPose ControlNet + identity adapter), the tiny stack measured and
the full-size SD 1.5 stack timed per denoising step with random weights and extrapolated to a whole clip.

Tiny: the app's own tiny stack (engine="tiny") and tiny motion adapter, whole clips at the SD video size (384x576),
in fast mode (6 steps) as on the CPU. Full (`--full`): the real configs of SD 1.5's UNet, the OpenPose ControlNet and
AnimateDiff v1-5-3's motion adapter (bench/engine.py's builders; random weights, nothing downloaded), `--steps`
denoising steps of a 16-frame SD clip timed and the clip extrapolated to 6 (fast) and 20 steps, plus the VAE.

    python bench/video.py                 # the tiny stack, 8 and 16 frames (a few minutes on 2 CPU cores)
    python bench/video.py --full --steps 1 --device cuda   # full size on a GPU: 16 frames at 6 and 20 steps

Writes bench/results/video.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PIL import Image  # noqa: E402

from avatargen.engine.config import EngineConfig  # noqa: E402
from avatargen.engine.loading import load_engine  # noqa: E402
from avatargen.engine.video import VideoRequest, load_video_engine  # noqa: E402
from avatargen.poses.motions import MotionLibrary  # noqa: E402
from avatargen.poses.render import render_openpose  # noqa: E402
from avatargen.presets import VIDEO_QUALITIES  # noqa: E402
from avatargen.storage import clips  # noqa: E402


def request(frames: int, quality) -> VideoRequest:
    poses = MotionLibrary.load().get("turn-around").frames(frames)
    return VideoRequest(
        pose_frames=tuple(render_openpose(p, quality.width, quality.height) for p in poses),
        identity_images=(Image.new("RGB", (256, 256), (150, 110, 90)),),
        prompt="photo of a person, natural light",
        negative_prompt="blurry",
        quality=quality,
        seed=0,
    )


def bench_tiny(counts: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        config = EngineConfig(kind="tiny", cache_dir=Path(cache), face_detail="off")
        started = time.perf_counter()
        video = load_video_engine(load_engine(config), config)
        loaded = time.perf_counter() - started
        quality = VIDEO_QUALITIES["sd"]
        for frames in counts:
            clip = request(frames, quality)
            steps = video.plan(clip).steps
            started = time.perf_counter()
            [images] = video.generate([clip])
            made = time.perf_counter() - started
            started = time.perf_counter()
            clips.mp4_bytes(images, 8), clips.webp_bytes(images, 8)
            encoded = time.perf_counter() - started
            rows.append(
                {"stack": "tiny", "frames": frames, "size": f"{quality.width}x{quality.height}", "steps": steps,
                 "seconds_per_clip": round(made, 2), "encode_seconds": round(encoded, 3),
                 "load_seconds": round(loaded, 1), "extrapolated": False}
            )  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def bench_full(device: str, timed_steps: int) -> list[dict]:
    import torch
    from diffusers import AnimateDiffControlNetPipeline, LCMScheduler, MotionAdapter

    sys.path.insert(0, str(ROOT / "bench"))
    from engine import full_size_components  # the real SD 1.5 configs, random weights

    dtype = torch.float16 if device == "cuda" else torch.float32
    parts = full_size_components(dtype, tiny_stack=False)
    adapter = MotionAdapter().to(dtype)  # AnimateDiff v1-5's shape (its default config)
    scheduler = LCMScheduler.from_config(parts["scheduler"].config)
    pipe = AnimateDiffControlNetPipeline(
        vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=parts["tokenizer"], unet=parts["unet"],
        motion_adapter=adapter, controlnet=parts["controlnet"], scheduler=scheduler,
    ).to(device, dtype)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    quality = VIDEO_QUALITIES["sd"]
    clip = request(16, quality)
    marks: list[float] = []

    def on_step(pipe, step, timestep, tensors):
        if device == "cuda":
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return tensors

    started = time.perf_counter()
    with torch.inference_mode():
        pipe(
            prompt=clip.prompt, num_frames=16, conditioning_frames=list(clip.pose_frames), width=quality.width,
            height=quality.height, num_inference_steps=timed_steps, guidance_scale=1.0, output_type="pil",
            decode_chunk_size=8, callback_on_step_end=on_step,
        )  # fmt: skip
    total = time.perf_counter() - started
    step = (marks[-1] - started) / len(marks)  # the first step carries the prompt encoding
    rest = total - (marks[-1] - started)  # decoding the 16 frames
    rows = []
    for steps, guidance in ((6, 1), (20, 2)):  # fast (no guidance) and full steps (guidance doubles each step)
        seconds = steps * step * guidance + rest
        rows.append({"stack": "full", "frames": 16, "size": f"{quality.width}x{quality.height}", "steps": steps,
                     "guided": guidance == 2, "seconds_per_clip": round(seconds, 1), "seconds_per_step": round(step, 2),
                     "decode_seconds": round(rest, 1), "extrapolated": True, "timed_steps": timed_steps})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--full", action="store_true", help="also time the full-size stack (needs ~10 GB of memory)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1, help="full-size steps to time")
    args = parser.parse_args()
    rows = bench_tiny(args.frames)
    if args.full:
        rows += bench_full(args.device, args.steps)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}", "rows": rows}
    out = ROOT / "bench" / "results" / "video.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
