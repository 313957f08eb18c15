"""GPU check: the full-size engine in fp16 on one GPU against a fair diffusers baseline, within one 15-minute loan.

The SD 1.5 UNet, OpenPose ControlNet, VAE and text encoder, and the IP-Adapter plus-face with its ViT-H image encoder,
are built from their real configs with random weights on the GPU (`bench/engine.py` holds the configs; nothing is
downloaded). Rows, each timed after one untimed call of its shape, eager first:

- `diffusers + IP-Adapter`: plain `StableDiffusionControlNetPipeline` with the same IP-Adapter (diffusers encodes
  the photo itself) and the same channels_last models: the fair baseline;
- `avatargen`: our engine (its own identity crop and encoding, one identity per request), face pass off;
- `avatargen + face pass`: the same with the face pass on a fixed face box, so it always runs: its cost;

for the 512x512, SD and HD sizes at batches 1 and 4, 20 UniPC steps with guidance 7. Then the compiled rows, each
in a child process given only the time left (a cold compile that overruns is killed, and says so): regional compile
(the transformer blocks of the UNet and the ControlNet) and `max-autotune-no-cudagraphs` on both models.

Each row reports seconds per image, images/s, it/s (denoising steps of the batch per second, CUDA events: no
synchronisation inside the loop) and peak GPU memory. `gpu_check.json` and `gpu_check.md` are written to `--out`
after every row, so a run cut short keeps what it measured. `--dry-run` runs the same code on the CPU with the tiny
stack at small sizes and 3 steps (the compiled rows as eager stand-ins): what tests/test_gpu_check.py runs.

    bash bench/gpu_check.sh                    # on the GPU machine: installs bench/wheels, then this
    bash bench/gpu_check.sh --dry-run          # here, on the CPU
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from diffusers import StableDiffusionControlNetPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from avatargen.engine.config import EngineConfig  # noqa: E402
from avatargen.engine.engine import AvatarEngine, GenerationRequest  # noqa: E402
from avatargen.engine.face_detail import face_detail_steps  # noqa: E402
from avatargen.engine.identity import FaceBox  # noqa: E402
from avatargen.engine.pipelines import pipeline_class  # noqa: E402
from avatargen.presets import QUALITIES, Quality  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
bench_engine = sys.modules["bench_engine"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)

GUIDANCE = 7.0
PROMPT = "studio portrait of a person, softbox lighting, standing"
NEGATIVE = "lowres, blurry, deformed"
SIZES = {"512": (512, 512), "sd": (QUALITIES["sd"].width, QUALITIES["sd"].height)}
SIZES["hd"] = (QUALITIES["hd"].width, QUALITIES["hd"].height)
DRY_SIZES = {"512": (64, 64), "sd": (64, 96), "hd": (96, 144)}
BATCHES = (1, 4)
EAGER = ("diffusers + IP-Adapter", "avatargen", "avatargen + face pass")
COMPILED = ("regional", "max-autotune-no-cudagraphs")  # in this order, each with the time left
COMPILED_SHAPES = (("512", 1), ("sd", 1), ("sd", 4))
TARGET_IT_S = 60.0  # H100/H200, 512x512, 20 steps with CFG, batch 1, compiled with CUDA graphs
TARGET_BATCH_GAIN = 2.5  # images/s at batch 4 over batch 1
TARGET_FACE_SHARE = 0.25  # the face pass over a generation without it
BUDGET_S = 480  # the whole check; bench/gpu_check.sh kills it at 540 s, inside the loan with its start
MARGIN_S = 20  # left for writing and exiting


def face_in_the_middle(image: Image.Image) -> FaceBox:
    """A face box an eighth of the image wide, high in the middle: the face pass always has a face to work on."""
    side = max(8, image.width // 8)
    cx, cy = image.width // 2, image.height // 4
    return FaceBox(left=cx - side // 2, top=cy - side // 2, right=cx + side // 2, bottom=cy + side // 2, score=1.0)


class EventClock:
    """Times the denoising loop with CUDA events (CPU: perf_counter): first step's start to last step's end."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        self.start: Any = None
        self.end: Any = None

    def mark(self) -> Any:
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def attach(self, scheduler: Any) -> None:
        scale = type(scheduler).scale_model_input

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.start is None:
                self.start = self.mark()
            return scale(scheduler, *args, **kwargs)

        scheduler.scale_model_input = timed

    def step_end(self, *_: Any) -> None:
        self.end = self.mark()

    def seconds(self) -> float:
        assert self.start is not None and self.end is not None, "the denoising loop was not timed"
        if not self.cuda:
            return self.end - self.start
        torch.cuda.synchronize()
        return self.start.elapsed_time(self.end) / 1000


class Check:
    """Builds the stack once, runs the rows, writes the results after each one."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = args.device
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.sizes = DRY_SIZES if args.dry_run else SIZES
        self.started = time.perf_counter()
        self.rows: list[dict[str, Any]] = []
        self.result: dict[str, Any] = {"versions": versions(), "notes": []}

    def left(self) -> float:
        return self.args.budget - (time.perf_counter() - self.started) - MARGIN_S

    def build(self, compiled: str | None = None) -> None:
        diffusers_logging.set_verbosity_error()  # casting random weights warns for every model
        with torch.device(self.device):  # random weights initialised on the GPU: seconds, not minutes
            components = bench_engine.full_size_components(self.dtype, tiny_stack=self.args.dry_run)
            self.plain = StableDiffusionControlNetPipeline(**components, requires_safety_checker=False)
            bench_engine.add_identity_adapter(self.plain, self.dtype, tiny_stack=self.args.dry_run)
        self.plain.to(self.device)
        self.plain.set_progress_bar_config(disable=True)
        if self.device == "cuda":  # ours and the baseline share these models: the same memory format for both
            for model in (self.plain.unet, self.plain.controlnet, self.plain.vae):
                model.to(memory_format=torch.channels_last)
        ours = pipeline_class().from_pipe(self.plain, dtype=self.dtype)
        if compiled is not None and not self.args.dry_run:
            compile_models(ours, compiled)
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
        self.photo = bench_engine.photo()
        self.crop_note = identity_crops_or_centre(self.engines.values())
        self.poses = {size: pose_image(*wh) for size, wh in self.sizes.items()}
        self.result["build_seconds"] = round(time.perf_counter() - self.started, 1)
        print(f"built the {self.dtype} stack in {self.result['build_seconds']} s", flush=True)

    def requests(self, size: str, batch: int, framing: str | None) -> list[GenerationRequest]:
        width, height = self.sizes[size]
        quality = Quality(width, height, steps=self.args.steps, guidance_scale=GUIDANCE)
        return [
            GenerationRequest(
                pose_image=self.poses[size],
                identity_images=(self.photo,),
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                quality=quality,
                seed=i,
                framing=framing,
            )
            for i in range(batch)
        ]

    def call(self, name: str, size: str, batch: int, clock: EventClock) -> Callable[[], Any]:
        width, height = self.sizes[size]
        steps = self.args.steps
        if name.startswith("diffusers"):
            clock.attach(self.plain.scheduler)
            return lambda: self.plain(
                prompt=[PROMPT] * batch,
                negative_prompt=[NEGATIVE] * batch,
                image=[self.poses[size]] * batch,
                ip_adapter_image=self.photo,
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=GUIDANCE,
                generator=[torch.Generator("cpu").manual_seed(i) for i in range(batch)],
                callback_on_step_end=lambda pipe, i, t, tensors: clock.step_end() or tensors,
            )
        engine = self.engines["on" if name.endswith("face pass") else "off"]
        clock.attach(engine.pipeline.scheduler)
        requests = self.requests(size, batch, "full-body" if name.endswith("face pass") else None)

        def main_steps_only(done: int, total: int) -> None:  # the face pass's steps come after the main pass's
            if done <= steps:
                clock.step_end()

        return lambda: engine.generate(requests, progress=main_steps_only)

    def row(self, name: str, size: str, batch: int, **extra: Any) -> dict[str, Any]:
        clock = EventClock(self.device)
        run = self.call(name, size, batch, clock)
        first = time.perf_counter()
        if not self.args.dry_run:
            run()  # untimed: cuDNN algorithm search, compilation, allocator growth
        first = time.perf_counter() - first
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        clock.start = clock.end = None
        started = time.perf_counter()
        run()
        if self.device == "cuda":
            torch.cuda.synchronize()
        total = time.perf_counter() - started
        denoising = clock.seconds()
        width, height = self.sizes[size]
        row = {
            "name": name,
            "size": f"{size} {width}x{height}",
            "batch": batch,
            "steps": self.args.steps,
            "seconds_call": round(total, 4),
            "seconds_per_image": round(total / batch, 4),
            "images_per_s": round(batch / total, 3),
            "it_per_s": round(self.args.steps / denoising, 2),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if self.device == "cuda" else None,
            "first_call_s": round(first, 1),
            **extra,
        }
        self.add(row)
        return row

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        self.write()

    def eager(self) -> None:
        longest = 0.0
        for size in self.sizes:
            for batch in BATCHES:
                for name in EAGER:
                    if longest and self.left() < 2 * longest:  # the first row always runs: some numbers
                        self.add(skipped(name, size, batch, f"skipped: {self.left():.0f} s left"))
                        continue
                    started = time.perf_counter()
                    self.row(name, size, batch)
                    longest = max(longest, time.perf_counter() - started)

    def compiled(self) -> None:
        for position, mode in enumerate(COMPILED):
            # the first mode leaves the second a share; the last takes all that is left
            left = self.left() if position == len(COMPILED) - 1 else self.left() / 2
            if left < 30:
                self.add(skipped(f"avatargen, {mode}", "-", 1, f"skipped: {self.left():.0f} s left"))
                continue
            self.child(mode, left)

    def child(self, mode: str, seconds: float) -> None:
        # a cold compile cannot be stopped in-process: the child is killed when its time is up; its rows stay
        rows_file = self.args.out / f"compiled-{mode}.json"
        rows_file.unlink(missing_ok=True)
        command = [sys.executable, str(Path(__file__)), "--compiled", mode, "--out", str(self.args.out)]
        command += ["--dry-run"] if self.args.dry_run else []
        command += ["--steps", str(self.args.steps)]
        note = None
        try:
            subprocess.run(command, timeout=seconds, check=True)
        except subprocess.TimeoutExpired:
            note = f"stopped after {seconds:.0f} s (the time left)"
        except subprocess.CalledProcessError as error:
            note = f"failed ({error.returncode}): see the log"
        done = json.loads(rows_file.read_text()) if rows_file.exists() else []
        for row in done:
            self.add(row)
        if note is not None:
            shapes = COMPILED_SHAPES[len(done) :]
            for size, batch in shapes[:1] or [("-", 1)]:
                self.add(skipped(f"avatargen, {mode}", size, batch, note))

    def run_compiled_child(self, mode: str) -> None:
        # in the child: our engine compiled, its rows written to compiled-<mode>.json after each one
        rows_file = self.args.out / f"compiled-{mode}.json"
        rows = []
        self.build(compiled=mode)
        for size, batch in COMPILED_SHAPES:
            note = "eager stand-in (dry run)" if self.args.dry_run else None
            row = self.row("avatargen", size, batch, compiled=mode, **({"note": note} if note else {}))
            row["name"] = f"avatargen, {mode}"
            rows.append(row)
            rows_file.write_text(json.dumps(rows, indent=2) + "\n")

    def write(self, *, final: bool = False) -> None:
        self.result.update(
            {
                "device": self.device,
                "device_name": torch.cuda.get_device_name() if self.device == "cuda" else "cpu (dry run)",
                "dtype": str(self.dtype).removeprefix("torch."),
                "steps": self.args.steps,
                "guidance": GUIDANCE,
                "identity_crops": getattr(self, "crop_note", None),
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "budget_seconds": self.args.budget,
                "total_seconds": round(time.perf_counter() - self.started, 1),
                "complete": final,
                "rows": self.rows,
            }
        )
        self.args.out.mkdir(parents=True, exist_ok=True)
        if self.args.compiled is None:
            (self.args.out / "gpu_check.json").write_text(json.dumps(self.result, indent=2) + "\n")
            (self.args.out / "gpu_check.md").write_text(markdown(self.result))


def skipped(name: str, size: str, batch: int, note: str) -> dict[str, Any]:
    return {"name": name, "size": size, "batch": batch, "note": note}


def compile_models(pipe: Any, mode: str) -> None:
    """Compile the UNet and the ControlNet: their transformer blocks alone ("regional"), or whole (`mode`)."""
    for name in ("unet", "controlnet"):
        model = getattr(pipe, name)
        if mode == "regional":
            # the repeated blocks compile once and are reused: a cold compile of seconds, not minutes
            for block in model.modules():
                if type(block).__name__ == "BasicTransformerBlock":
                    block.compile(fullgraph=True)
        else:
            setattr(pipe, name, torch.compile(model, mode=mode))


def identity_crops_or_centre(engines: Any) -> str:
    """The real face detector when mediapipe imports; else the photo's centre square for every request."""
    try:
        import mediapipe  # noqa: F401

        return "mediapipe"
    except Exception as error:  # a machine without it still measures the GPU
        for engine in engines:
            engine.identity_crops = lambda requests: [[r.identity_images[0].resize((224, 224))] for r in requests]
        return f"centre square (mediapipe: {type(error).__name__}: {error})"


def pose_image(width: int, height: int) -> Image.Image:
    """The first library template, rendered; a drawn stick figure where the library cannot load (no `datasets`)."""
    try:
        return bench_engine.pose_image(width, height)
    except Exception:
        image = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(image)
        cx = width // 2
        for (x0, y0, x1, y1), colour in (
            ((cx, height // 6, cx, height // 2), (255, 0, 0)),
            ((width // 4, height // 4, 3 * width // 4, height // 4), (0, 255, 0)),
            ((cx, height // 2, width // 3, 5 * height // 6), (0, 0, 255)),
            ((cx, height // 2, 2 * width // 3, 5 * height // 6), (255, 255, 0)),
        ):
            draw.line((x0, y0, x1, y1), fill=colour, width=max(2, width // 64))
        return image


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("torch", "diffusers", "transformers", "numpy", "mediapipe", "datasets", "google.protobuf"):
        try:
            found[name] = __import__(name, fromlist=["__version__"]).__version__
        except Exception as error:
            found[name] = f"missing ({type(error).__name__})"
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
        found["gpu"] = torch.cuda.get_device_name()
    return found


def find(rows: list[dict[str, Any]], name: str, size: str, batch: int) -> dict[str, Any] | None:
    measured = (r for r in rows if "it_per_s" in r and r["name"] == name and r["batch"] == batch)
    return next((r for r in measured if r["size"].split()[0] == size), None)


def markdown(result: dict[str, Any]) -> str:
    """The results as a markdown section: the table, then each target against what was measured."""
    rows = result["rows"]
    v = result["versions"]
    lines = [
        f"### GPU check: {result['device_name']}",
        "",
        f"{result['date']}; torch {v['torch']}, diffusers {v['diffusers']}, transformers {v['transformers']}, "
        f"{result['dtype']}; {result['steps']} UniPC steps, guidance {result['guidance']}; identity crops: "
        f"{result['identity_crops']}; build {result.get('build_seconds', 0):.0f} s, whole run "
        f"{result['total_seconds']:.0f} s of {result['budget_seconds']} s"
        f"{'' if result['complete'] else ' (cut short: the rows it finished)'}.",
        "",
        "| engine | size | batch | s/image | images/s | it/s (steps of the batch) | peak GPU memory | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "it_per_s" not in r:
            lines.append(f"| {r['name']} | {r['size']} | {r['batch']} | - | - | - | - | {r['note']} |")
            continue
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.1f} GiB"
        note = f"; {r['note']}" if "note" in r else ""
        lines.append(
            f"| {r['name']} | {r['size']} | {r['batch']} | {r['seconds_per_image']:.3g} | {r['images_per_s']:.3g} | "
            f"{r['it_per_s']:.3g} | {peak} | first call {r['first_call_s']} s{note} |"
        )
    lines.append("")
    for name in ("diffusers + IP-Adapter", "avatargen", *(f"avatargen, {mode}" for mode in COMPILED)):
        one = find(rows, name, "512", 1)
        if one:
            lines.append(
                f"- {name}: 512x512 batch 1 at {one['it_per_s']:.3g} it/s (target {TARGET_IT_S:.0f} compiled)."
            )
        one, four = find(rows, name, "sd", 1), find(rows, name, "sd", 4)
        if one and four:
            gain = four["images_per_s"] / one["images_per_s"]
            lines.append(
                f"- {name}: SD batch 4 gives {gain:.2f}x the images/s of batch 1 (target {TARGET_BATCH_GAIN}x)"
            )
    for size in ("sd", "hd"):
        plain, detailed = find(rows, "avatargen", size, 1), find(rows, "avatargen + face pass", size, 1)
        if plain and detailed:
            share = detailed["seconds_call"] / plain["seconds_call"] - 1
            lines.append(f"- Face pass at {size} batch 1: +{share:.0%} of a generation (target at most 25%).")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny stack, small sizes, 3 steps")
    parser.add_argument("--steps", type=int, help="denoising steps (default: 20; 3 in a dry run)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "bench" / "results"))
    parser.add_argument("--compiled", choices=COMPILED, help=argparse.SUPPRESS)  # the child of one compiled mode
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device = "cpu"
        torch.set_num_threads(1)  # tiny operations: more threads only wait on each other
    elif torch.cuda.is_available():
        args.device = "cuda"
    else:
        parser.error("no CUDA device: this check is for a GPU machine (--dry-run runs it on the CPU)")
    # 3: the face pass runs int(3 x 0.4) = 1 step of them
    args.steps = args.steps or (3 if args.dry_run else 20)
    assert face_detail_steps(args.steps) > 0
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check = Check(args)
    if args.compiled is not None:
        check.run_compiled_child(args.compiled)
        return
    print(json.dumps(check.result["versions"]), flush=True)
    check.build()
    check.eager()
    check.compiled()
    check.write(final=True)
    print(markdown(check.result), flush=True)


if __name__ == "__main__":
    main()
