"""GPU check: the full-size engine in fp16 on one GPU, against plain diffusers, in under 8 minutes on an H100.

The SD 1.5 UNet, OpenPose ControlNet, VAE and text encoder, and the IP-Adapter plus-face with its ViT-H image encoder,
are built from their real configs with random weights (`bench/engine.py` holds the configs; nothing is downloaded),
cast to float16 and checked to stay so in every pipeline the engine builds. Rows, 512x512, 20 UniPC steps with
classifier-free guidance (guidance 7), batches 1 and 4, each timed after one untimed call of its shape:

- plain diffusers (`StableDiffusionControlNetPipeline`, as its docs set it up);
- avatargen without the face-detail pass, then with it (a fixed face box, so the pass always runs: its cost);
- avatargen with `torch.compile` (max-autotune: compiling takes minutes, so these rows come last).

Each row records denoising it/s, seconds per image, images/s and peak GPU memory; results are written after every
row (`bench/results/gpu_check.json` and the GPU check section of BENCHMARKS.md), so a run cut short keeps what it
measured. `--dry-run` runs the same code on the CPU with the tiny stack at 64x64 and 2 steps, and writes its
markdown elsewhere: a smoke test.

    bash bench/gpu_check.sh                   # on the GPU machine
    python bench/gpu_check.py --dry-run --markdown /tmp/x.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from diffusers import StableDiffusionControlNetPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from avatargen.engine.config import EngineConfig  # noqa: E402
from avatargen.engine.engine import AvatarEngine, GenerationRequest  # noqa: E402
from avatargen.engine.face_detail import FACE_DETAIL_STRENGTH, face_detail_steps  # noqa: E402
from avatargen.engine.identity import FaceBox  # noqa: E402
from avatargen.engine.pipelines import pipeline_class, prepare_pipeline  # noqa: E402
from avatargen.presets import Quality  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
bench_engine = sys.modules["bench_engine"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)

GUIDANCE = 7.0
PROMPT = "studio portrait of a person, softbox lighting, standing"
NEGATIVE = "lowres, blurry, deformed"
TARGET_IT_S = 60.0  # H100, 512x512, 20 steps with CFG, batch 1
TARGET_BATCH_GAIN = 1.5  # images/s at batch 4 over batch 1
TARGET_FACE_SHARE = 0.25  # the face-detail pass over a generation without it
MODELS = ("unet", "controlnet", "vae", "text_encoder", "image_encoder")
MARKERS = ("<!-- bench/gpu_check.py start -->", "<!-- bench/gpu_check.py end -->")


def check_dtype(pipe: Any, dtype: torch.dtype, models: tuple[str, ...] = MODELS) -> None:
    """Fail loudly if any model of `pipe` is not in `dtype` (diffusers' `from_pipe` used to cast to float32)."""
    for name in models:
        found = getattr(pipe, name).dtype
        assert found == dtype, f"{type(pipe).__name__}.{name} is {found}, not {dtype}"


def face_in_the_middle(image: Any) -> FaceBox:
    """A 64 px face box in the middle of the image: the face-detail pass always has a face to work on."""
    cx, cy = image.width // 2, image.height // 3
    return FaceBox(left=cx - 32, top=cy - 32, right=cx + 32, bottom=cy + 32, score=1.0)


class Check:
    """Builds the stack once, runs the rows, and writes the results after each one."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = args.device
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.clock = bench_engine.StepClock(self.device)
        self.rows: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.result: dict[str, Any] = {}

    def now(self) -> float:
        return time.perf_counter() - self.started

    def build(self) -> None:
        diffusers_logging.set_verbosity_error()  # casting random weights warns for every model
        components = bench_engine.full_size_components(self.dtype, tiny_stack=self.args.dry_run)
        self.plain = StableDiffusionControlNetPipeline(**components, requires_safety_checker=False)
        self.plain.to(self.device)
        self.plain.set_progress_bar_config(disable=True)
        check_dtype(self.plain, self.dtype, MODELS[:-1])
        self.clock.attach(self.plain.scheduler)
        self.pose = bench_engine.pose_image(self.args.size, self.args.size)
        self.photo = bench_engine.photo()
        self.build_s = self.now()
        print(f"built the {self.dtype} stack in {self.build_s:.0f} s", flush=True)

    def add_identity(self) -> None:
        # after the plain rows: the IP-Adapter goes into the UNet both pipelines share
        ours = pipeline_class().from_pipe(self.plain, dtype=self.dtype)
        bench_engine.add_identity_adapter(ours, self.dtype, tiny_stack=self.args.dry_run)
        ours.to(self.device)
        prepare_pipeline(ours, self.device)
        ours.set_progress_bar_config(disable=True)
        self.ours = ours
        self.engines = {
            mode: AvatarEngine(
                ours,
                device=self.device,
                dtype=self.dtype,
                placeholder=True,
                name="gpu-check",
                config=EngineConfig(fast=False, face_detail=mode),
                find_face=face_in_the_middle,
            )
            for mode in ("off", "on")
        }
        for engine in self.engines.values():
            check_dtype(engine.pipeline, self.dtype)
        check_dtype(self.engines["on"].face_pipeline, self.dtype, ("unet", "vae", "text_encoder", "image_encoder"))

    def requests(self, batch: int, framing: str | None) -> list[GenerationRequest]:
        size = self.args.size
        quality = Quality(size, size, steps=self.args.steps, guidance_scale=GUIDANCE)
        return [
            GenerationRequest(
                pose_image=self.pose,
                identity_images=(self.photo,),
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                quality=quality,
                seed=i,
                framing=framing,
            )
            for i in range(batch)
        ]

    def row(self, name: str, batch: int, run: Callable[[], Any], *, steps: int | None = None) -> dict[str, Any]:
        if not self.args.dry_run:
            run()  # untimed: cuDNN algorithm search, compilation, allocator growth
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        total, denoising = bench_engine.timed_call(run, self.clock)
        steps = steps or self.args.steps
        row = {
            "name": name,
            "batch": batch,
            "steps": steps,
            "seconds_call": round(total, 4),
            "it_per_s": round(steps / denoising, 2),
            "seconds_per_image": round(total / batch, 4),
            "images_per_s": round(batch / total, 3),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if self.device == "cuda" else None,
        }
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        self.write()
        return row

    def run(self) -> None:
        size = self.args.size
        steps = self.args.steps

        for batch in (1, 4):

            def plain(batch: int = batch) -> Any:
                return self.plain(
                    prompt=[PROMPT] * batch,
                    negative_prompt=[NEGATIVE] * batch,
                    image=[self.pose] * batch,
                    width=size,
                    height=size,
                    num_inference_steps=steps,
                    guidance_scale=GUIDANCE,
                    generator=[torch.Generator("cpu").manual_seed(i) for i in range(batch)],
                    callback_on_step_end=lambda pipe, i, t, tensors: self.clock.step_end() or tensors,
                )

            self.row("diffusers", batch, plain)

        self.add_identity()
        self.clock.attach(self.ours.scheduler)
        face_steps = face_detail_steps(steps)
        for batch in (1, 4):
            for mode, framing in (("off", None), ("on", "full-body")):
                requests = self.requests(batch, framing)
                engine = self.engines[mode]
                name = "avatargen" if mode == "off" else "avatargen + face detail"
                # the face pass's steps come after the main pass's: time the main loop's steps only
                self.row(
                    name,
                    batch,
                    lambda e=engine, r=requests: e.generate(r, progress=self._main_steps_only(steps)),
                    steps=steps,
                )
        if self.args.compile:
            compiled = pipeline_class().from_pipe(self.ours, dtype=self.dtype)
            prepare_pipeline(compiled, self.device, compile=True)
            engine = AvatarEngine(
                compiled,
                device=self.device,
                dtype=self.dtype,
                placeholder=True,
                name="gpu-check",
                config=EngineConfig(fast=False, face_detail="off", compile=True),
            )
            check_dtype(engine.pipeline, self.dtype)
            self.clock.attach(compiled.scheduler)
            for batch in (1, 4):
                requests = self.requests(batch, None)
                self.row("avatargen, compiled", batch, lambda r=requests: engine.generate(r, self.clock.step_end))
        self.result["face_steps"] = face_steps
        self.write(final=True)

    def _main_steps_only(self, steps: int) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            if done <= steps:
                self.clock.step_end()

        return progress

    def write(self, *, final: bool = False) -> None:
        self.result.update(
            {
                "device": self.device,
                "device_name": torch.cuda.get_device_name() if self.device == "cuda" else "cpu (dry run)",
                "torch": torch.__version__,
                "diffusers": __import__("diffusers").__version__,
                "dtype": str(self.dtype).removeprefix("torch."),
                "size": self.args.size,
                "steps": self.args.steps,
                "face_detail_strength": FACE_DETAIL_STRENGTH,
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "build_seconds": round(getattr(self, "build_s", 0.0), 1),
                "total_seconds": round(self.now(), 1),
                "complete": final,
                "rows": self.rows,
            }
        )
        self.args.json.parent.mkdir(parents=True, exist_ok=True)
        self.args.json.write_text(json.dumps(self.result, indent=2) + "\n")
        update_markdown(self.args.markdown, markdown(self.result))


def find(rows: list[dict[str, Any]], name: str, batch: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["name"] == name and r["batch"] == batch), None)


def markdown(result: dict[str, Any]) -> str:
    """The GPU check's section of BENCHMARKS.md."""
    rows = result["rows"]
    command = "`bash bench/gpu_check.sh`" if result["device"] == "cuda" else "`bench/gpu_check.py --dry-run`"
    lines = [
        f"### GPU check: {result['device_name']}",
        "",
        f"{result['date']}; {command}; torch {result['torch']}, diffusers {result['diffusers']}, "
        f"{result['dtype']} (asserted for every model of every pipeline); {result['size']}x{result['size']}, "
        f"{result['steps']} UniPC steps, guidance {GUIDANCE}; build {result['build_seconds']:.0f} s, whole run "
        f"{result['total_seconds']:.0f} s{'' if result['complete'] else ' (cut short: the rows it finished)'}.",
        "",
        "| engine | batch | denoising it/s | s/image | images/s | peak GPU memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.1f} GiB"
        lines.append(
            f"| {r['name']} | {r['batch']} | {r['it_per_s']:.3g} | {r['seconds_per_image']:.3g} | "
            f"{r['images_per_s']:.3g} | {peak} |"
        )
    lines.append("")
    for name in ("diffusers", "avatargen", "avatargen, compiled"):
        one, four = find(rows, name, 1), find(rows, name, 4)
        if one:
            line = f"- {name}: batch 1 at {one['it_per_s']:.3g} it/s (target {TARGET_IT_S:.0f})"
            if four:
                gain = four["images_per_s"] / one["images_per_s"]
                line += f"; batch 4 gives {gain:.2f}x the images/s of batch 1 (target {TARGET_BATCH_GAIN}x)"
            lines.append(line + ".")
    for batch in (1, 4):
        plain, detailed = find(rows, "avatargen", batch), find(rows, "avatargen + face detail", batch)
        if plain and detailed:
            share = detailed["seconds_call"] / plain["seconds_call"] - 1
            lines.append(
                f"- Face-detail pass at batch {batch}: +{share:.0%} of a generation "
                f"({detailed['seconds_per_image'] - plain['seconds_per_image']:.3g} s per image; "
                f"target at most {TARGET_FACE_SHARE:.0%})."
            )
    return "\n".join(lines) + "\n"


def update_markdown(path: Path, section: str) -> None:
    """Replace the text between the GPU check's markers in `path` (or add them at the end)."""
    start, end = MARKERS
    block = f"{start}\n{section}{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny stack, 64x64, 2 steps: a smoke test")
    parser.add_argument("--size", type=int, help="square output side (default: 512; 64 in a dry run)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: 20; 3 in a dry run)")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="leave out the compiled rows")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "gpu_check.json")
    parser.add_argument("--markdown", type=Path, help="default: BENCHMARKS.md (required in a dry run)")
    args = parser.parse_args(argv)
    if args.dry_run:
        if args.markdown is None:
            parser.error("--dry-run leaves BENCHMARKS.md alone: give --markdown")
        args.device = "cpu"
        args.compile = False  # compiling on a CPU takes longer than the whole check
        torch.set_num_threads(1)  # tiny operations: more threads only wait on each other
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA device: this check is for a GPU machine (--dry-run runs it on the CPU)")
        args.device = "cuda"
    args.size = args.size or (64 if args.dry_run else 512)
    args.steps = args.steps or (3 if args.dry_run else 20)
    args.markdown = args.markdown or ROOT / "BENCHMARKS.md"
    return args


def main(argv: list[str] | None = None) -> None:
    check = Check(parse_args(argv))
    check.build()
    check.run()
    print(markdown(check.result))


if __name__ == "__main__":
    main()
