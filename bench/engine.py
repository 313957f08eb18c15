"""Benchmark: plain diffusers against avatargen's engine, full-size SD 1.5 + OpenPose ControlNet, random weights.

The UNet, ControlNet, VAE and text encoder are built from the real configs of stable-diffusion-v1-5 and
control_v11p_sd15_openpose (and, for our engine, the IP-Adapter plus-face with its ViT-H image encoder) with random
weights: speed does not depend on the weights, and nothing is downloaded. The tokenizer is the tiny byte-level one
(prompts are padded to 77 tokens either way, so the text encoder does the same work).

Each row times one pipeline call: seconds per image (the whole call: prompt encoding, identity, denoising, VAE
decoding, divided by the batch) and denoising iterations per second (one iteration = UNet + ControlNet on the batch,
doubled under classifier-free guidance). On a slow device, `--steps` and `--fast-steps` below the real counts (20
and 6) time fewer steps, and seconds per image are extrapolated to the real counts from the measured step time.

    python bench/engine.py                       # CPU: a reduced matrix, 2 steps, a few minutes
    python bench/engine.py --device cuda --compile   # GPU: the full matrix at 20 and 6 steps
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    ControlNetModel,
    LCMScheduler,
    StableDiffusionControlNetPipeline,
    UNet2DConditionModel,
    UniPCMultistepScheduler,
)
from diffusers.utils import logging as diffusers_logging  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection  # noqa: E402

from avatargen.engine import tiny  # noqa: E402
from avatargen.engine.config import EngineConfig  # noqa: E402
from avatargen.engine.engine import AvatarEngine, GenerationRequest  # noqa: E402
from avatargen.engine.pipelines import pipeline_class, prepare_pipeline  # noqa: E402
from avatargen.poses.library import PoseLibrary  # noqa: E402
from avatargen.poses.render import render_openpose  # noqa: E402
from avatargen.presets import FAST_GUIDANCE_SCALE, FAST_STEPS, QUALITIES, Quality  # noqa: E402

# stable-diffusion-v1-5/stable-diffusion-v1-5: unet/config.json
UNET_CONFIG = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
# lllyasviel/control_v11p_sd15_openpose: config.json
CONTROLNET_CONFIG = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "class_embed_type": None,
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
    "controlnet_conditioning_channel_order": "rgb",
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "only_cross_attention": False,
    "projection_class_embeddings_input_dim": None,
    "resnet_time_scale_shift": "default",
    "upcast_attention": False,
    "use_linear_projection": False,
}
# stable-diffusion-v1-5/stable-diffusion-v1-5: vae/config.json
VAE_CONFIG = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
# stable-diffusion-v1-5/stable-diffusion-v1-5: text_encoder/config.json (CLIP ViT-L/14 text tower)
TEXT_ENCODER_CONFIG = {
    "attention_dropout": 0.0,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "vocab_size": 49408,
}
# stable-diffusion-v1-5/stable-diffusion-v1-5: scheduler/scheduler_config.json (PNDM; UniPC and LCM start from it)
SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
# h94/IP-Adapter: models/image_encoder/config.json (OpenCLIP ViT-H/14 vision tower)
IMAGE_ENCODER_CONFIG = {
    "hidden_act": "gelu",
    "hidden_size": 1280,
    "image_size": 224,
    "intermediate_size": 5120,
    "layer_norm_eps": 1e-05,
    "num_attention_heads": 16,
    "num_channels": 3,
    "num_hidden_layers": 32,
    "patch_size": 14,
    "projection_dim": 1024,
}
# h94/IP-Adapter: models/ip-adapter-plus-face_sd15.safetensors: a Resampler of 16 queries, 768 wide, 12 heads
IP_ADAPTER_PLUS = {"hidden_dims": 768, "num_queries": 16}

SIZES = {"512x512": (512, 512), "sd": (QUALITIES["sd"].width, QUALITIES["sd"].height)}
SIZES["hd"] = (QUALITIES["hd"].width, QUALITIES["hd"].height)
REAL_STEPS = {"cfg": 20, "fast": FAST_STEPS}
GUIDANCE = {"cfg": 7.0, "fast": FAST_GUIDANCE_SCALE}
ENGINES = ("diffusers", "avatargen")
# On a CPU, a full matrix takes hours: the rows that answer "how fast is each mode, what does batching give".
CPU_MATRIX = [
    ("diffusers", "cfg", "512x512", 1),
    ("avatargen", "cfg", "512x512", 1),
    ("diffusers", "fast", "512x512", 1),
    ("avatargen", "fast", "512x512", 1),
    ("avatargen", "fast", "512x512", 4),
    ("diffusers", "cfg", "sd", 1),
    ("avatargen", "fast", "sd", 1),
    ("avatargen", "fast", "hd", 1),
]
TARGET_IT_S = 60.0  # H100, 512x512, 20 steps with CFG, batch 1, UNet + ControlNet
TARGET_BATCH_GAIN = 1.5  # images/s at batch 4 over batch 1


@dataclass
class Row:
    engine: str  # "diffusers" (the plain pipeline) or "avatargen" (our engine: IP-Adapter, per-request batching)
    mode: str  # "cfg" (UniPC, guidance 7) or "fast" (LCM scheduler, guidance 1: no CFG)
    size: str
    width: int
    height: int
    batch: int
    steps: int  # steps timed
    real_steps: int  # steps of the mode in production
    seconds_call: float  # the whole timed call
    seconds_denoising: float  # first step's start to last step's end
    it_per_s: float  # denoising steps per second
    seconds_per_image: float  # at real_steps: measured when steps == real_steps, else extrapolated
    images_per_s: float
    extrapolated: bool


def full_size_components(dtype: torch.dtype, *, tiny_stack: bool) -> dict[str, Any]:
    """The pipeline's components with random weights: full size, or the tiny test stack (`tiny_stack`)."""
    if tiny_stack:
        components = tiny.build_tiny_components()
        components["scheduler"] = UniPCMultistepScheduler.from_config(SCHEDULER_CONFIG)
        return components
    tokenizer = tiny.build_tiny_tokenizer()
    torch.manual_seed(0)
    text_config = CLIPTextConfig(
        **TEXT_ENCODER_CONFIG,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return {
        "unet": UNet2DConditionModel(**UNET_CONFIG).to(dtype),
        "controlnet": ControlNetModel(**CONTROLNET_CONFIG).to(dtype),
        "vae": AutoencoderKL(**VAE_CONFIG).to(dtype),
        "text_encoder": CLIPTextModel(text_config).to(dtype),
        "tokenizer": tokenizer,
        "scheduler": UniPCMultistepScheduler.from_config(SCHEDULER_CONFIG),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def add_identity_adapter(pipe: StableDiffusionControlNetPipeline, dtype: torch.dtype, *, tiny_stack: bool) -> None:
    """Load random IP-Adapter plus-face weights (real shapes) with their image encoder, as `load_ip_adapter` does."""
    torch.manual_seed(0)
    if tiny_stack:
        encoder = tiny.build_tiny_image_encoder()
        shape = {"hidden_dims": 64, "num_queries": 4}
    else:
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**IMAGE_ENCODER_CONFIG))
        shape = IP_ADAPTER_PLUS
    pipe.register_modules(image_encoder=encoder.to(dtype))
    flat = tiny.ip_adapter_plus_weights(pipe.unet, image_embed_dim=encoder.config.hidden_size, **shape)
    state = {"image_proj": {}, "ip_adapter": {}}
    for key, value in flat.items():
        part, _, name = key.partition(".")
        state[part][name] = value.to(dtype)
    pipe.load_ip_adapter(state, subfolder="", weight_name="", image_encoder_folder=None)


def pose_image(width: int, height: int) -> Image.Image:
    """A real conditioning image: the first library template in the standard OpenPose colours."""
    return render_openpose(next(iter(PoseLibrary.load())), width, height)


def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


class StepClock:
    """Times the denoising loop: its first step's start (the scheduler's first `scale_model_input`) to the last end."""

    def __init__(self, device: str):
        self.device = device
        self.start: float | None = None
        self.end: float | None = None

    def _now(self) -> float:
        if self.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def attach(self, scheduler: Any) -> None:
        scale = type(scheduler).scale_model_input

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.start is None:
                self.start = self._now()
            return scale(scheduler, *args, **kwargs)

        scheduler.scale_model_input = timed

    def step_end(self, *_: Any) -> None:
        self.end = self._now()

    def reset(self) -> None:
        self.start = self.end = None


def timed_call(run: Callable[[], Any], clock: StepClock) -> tuple[float, float]:
    clock.reset()
    started = clock._now()
    run()
    total = clock._now() - started
    assert clock.start is not None and clock.end is not None, "the denoising loop was not timed"
    return total, clock.end - clock.start


class Recorder:
    """Times each cell of the matrix (after a warm-up call, if asked) and keeps its row."""

    def __init__(self, args: argparse.Namespace, clock: StepClock):
        self.args = args
        self.clock = clock
        self.steps = {"cfg": args.steps, "fast": args.fast_steps}
        self.rows: list[Row] = []

    def record(self, engine: str, mode: str, size: str, batch: int, run: Callable[[], Any]) -> None:
        width, height = SIZES[size]
        if self.args.warm_up:
            run()  # first call of a shape: cuDNN algorithm search, compilation, allocator growth
        total, denoising = timed_call(run, self.clock)
        n, real = self.steps[mode], REAL_STEPS[mode]
        per_step = denoising / n
        seconds = (total + (real - n) * per_step) / batch
        row = Row(
            engine=engine,
            mode=mode,
            size=size,
            width=width,
            height=height,
            batch=batch,
            steps=n,
            real_steps=real,
            seconds_call=round(total, 3),
            seconds_denoising=round(denoising, 3),
            it_per_s=round(n / denoising, 3),
            seconds_per_image=round(seconds, 3),
            images_per_s=round(1 / seconds, 4),
            extrapolated=n != real,
        )
        self.rows.append(row)
        print(json.dumps(asdict(row)), flush=True)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    diffusers_logging.set_verbosity_error()  # casting random weights to a dtype warns for every model
    device = args.device
    dtype = torch.float16 if device == "cuda" else torch.float32
    started = time.perf_counter()
    components = full_size_components(dtype, tiny_stack=args.tiny)
    plain = StableDiffusionControlNetPipeline(**components, requires_safety_checker=False)
    plain.to(device)
    plain.set_progress_bar_config(disable=True)
    built_s = time.perf_counter() - started
    print(f"built the pipeline in {built_s:.0f} s", flush=True)

    recorder = Recorder(args, StepClock(device))
    schedulers = {
        "cfg": plain.scheduler,
        "fast": LCMScheduler.from_config(SCHEDULER_CONFIG),  # the LCM-LoRA's fused weights cost the same
    }
    for scheduler in schedulers.values():
        recorder.clock.attach(scheduler)
    bench_plain(plain, schedulers, recorder)
    plain.scheduler = schedulers["cfg"]
    bench_ours(our_engines(plain, schedulers["fast"], args, dtype), recorder)
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg()[0],
        "torch": torch.__version__,
        "diffusers": __import__("diffusers").__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "compile": args.compile,
        "tiny_stack": args.tiny,
        "warm_up": args.warm_up,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "build_seconds": round(built_s, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "rows": [asdict(row) for row in recorder.rows],
    }


def bench_plain(plain: StableDiffusionControlNetPipeline, schedulers: dict[str, Any], recorder: Recorder) -> None:
    """1. plain diffusers: the pipeline as its docs set it up (fp16 on CUDA, default SDPA attention), no extras."""
    steps, clock = recorder.steps, recorder.clock
    for engine, mode, size, batch in recorder.args.matrix:
        if engine != "diffusers":
            continue
        width, height = SIZES[size]
        plain.scheduler = schedulers[mode]

        def run_plain(width=width, height=height, batch=batch, mode=mode) -> Any:
            return plain(
                prompt=["studio portrait of a person, softbox lighting, standing"] * batch,
                negative_prompt=["lowres, blurry, deformed"] * batch,
                image=[pose_image(width, height)] * batch,
                width=width,
                height=height,
                num_inference_steps=steps[mode],
                guidance_scale=GUIDANCE[mode],
                generator=[torch.Generator("cpu").manual_seed(i) for i in range(batch)],
                callback_on_step_end=lambda pipe, i, t, tensors: clock.step_end() or tensors,
            )

        recorder.record(engine, mode, size, batch, run_plain)


def our_engines(
    plain: StableDiffusionControlNetPipeline, fast_scheduler: Any, args: argparse.Namespace, dtype: torch.dtype
) -> dict[str, AvatarEngine]:
    """Our engine on the plain pipeline's weights, per mode: IP-Adapter plus-face, `prepare_pipeline`."""
    ours = pipeline_class().from_pipe(plain, dtype=dtype)  # without a dtype, from_pipe casts to float32
    add_identity_adapter(ours, dtype, tiny_stack=args.tiny)
    prepare_pipeline(ours, args.device, compile=args.compile)
    fast = pipeline_class().from_pipe(ours, scheduler=fast_scheduler, dtype=dtype)
    for model in ("unet", "controlnet", "vae", "text_encoder", "image_encoder"):
        assert getattr(fast, model).dtype == dtype, f"{model} is {getattr(fast, model).dtype}, not {dtype}"
    for pipe in (ours, fast):
        pipe.set_progress_bar_config(disable=True)
    return {
        mode: AvatarEngine(
            pipe,
            device=args.device,
            dtype=dtype,
            placeholder=True,
            name="bench",
            config=EngineConfig(fast=mode == "fast"),
        )
        for mode, pipe in (("cfg", ours), ("fast", fast))
    }


def bench_ours(engines: dict[str, AvatarEngine], recorder: Recorder) -> None:
    """2. our engine on the same weights, per-request identities."""
    steps, identity = recorder.steps, photo()
    for engine, mode, size, batch in recorder.args.matrix:
        if engine != "avatargen":
            continue
        width, height = SIZES[size]
        requests = [
            GenerationRequest(
                pose_image=pose_image(width, height),
                identity_images=(identity,),
                prompt="studio portrait of a person, softbox lighting, standing",
                negative_prompt="lowres, blurry, deformed",
                quality=Quality(
                    width, height, steps=steps["cfg"], guidance_scale=GUIDANCE["cfg"], fast_steps=steps["fast"]
                ),
                seed=i,
            )
            for i in range(batch)
        ]
        recorder.record(
            engine,
            mode,
            size,
            batch,
            lambda requests=requests, mode=mode: engines[mode].generate(requests, recorder.clock.step_end),
        )
        gc.collect()


def find(rows: list[dict[str, Any]], engine: str, mode: str, size: str, batch: int) -> dict[str, Any] | None:
    return next(
        (r for r in rows if (r["engine"], r["mode"], r["size"], r["batch"]) == (engine, mode, size, batch)), None
    )


def markdown(result: dict[str, Any]) -> str:
    """The device's section of BENCHMARKS.md."""
    rows = result["rows"]
    lines = [
        f"### {result['device'].upper()}{' with torch.compile' if result['compile'] else ''}: {result['device_name']}",
        "",
        f"{result['date']}; torch {result['torch']}, diffusers {result['diffusers']}, {result['dtype']}, "
        f"{result['torch_threads']} torch threads on {result['cpu_count']} cores (load average "
        f"{result['load_average_at_start']:.1f} at the start), torch.compile {'on' if result['compile'] else 'off'}, "
        f"{'a warm-up call before each timed one' if result['warm_up'] else 'no warm-up call'}; "
        f"whole run {result['total_seconds']:.0f} s.",
        "",
        "| engine | mode | size | batch | steps timed | denoising it/s | s/image at 20 (cfg) / 6 (fast) steps | "
        "images/s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        star = "*" if r["extrapolated"] else ""
        lines.append(
            f"| {r['engine']} | {r['mode']} | {r['width']}x{r['height']} | {r['batch']} | {r['steps']} | "
            f"{r['it_per_s']:.3g} | {r['seconds_per_image']:.3g}{star} | {r['images_per_s']:.3g}{star} |"
        )
    if any(r["extrapolated"] for r in rows):
        lines += ["", "\\* extrapolated from the timed steps to the production step count."]
    ours_b1 = find(rows, "avatargen", "cfg", "512x512", 1)
    plain_b1 = find(rows, "diffusers", "cfg", "512x512", 1)
    fast_b1, fast_b4 = find(rows, "avatargen", "fast", "512x512", 1), find(rows, "avatargen", "fast", "512x512", 4)
    cfg_b4 = find(rows, "avatargen", "cfg", "512x512", 4)
    lines.append("")
    if ours_b1 and plain_b1:
        lines.append(
            f"- 512x512, CFG, batch 1: avatargen {ours_b1['it_per_s']:.3g} it/s, plain diffusers "
            f"{plain_b1['it_per_s']:.3g} it/s"
            + (f" (H100 target: {TARGET_IT_S:.0f} it/s)." if result["device"] == "cuda" else ".")
        )
    for b1, b4 in ((ours_b1, cfg_b4), (fast_b1, fast_b4)):
        if b1 and b4:
            gain = b4["images_per_s"] / b1["images_per_s"]
            lines.append(
                f"- Batching ({b1['mode']}, 512x512): batch 4 gives {gain:.2f}x the images/s of batch 1"
                + (f" (H100 target: {TARGET_BATCH_GAIN}x)." if result["device"] == "cuda" else ".")
            )
    if plain_b1 and fast_b1:
        lines.append(
            f"- Seconds per 512x512 image: plain diffusers at 20 steps with CFG {plain_b1['seconds_per_image']:.3g} s, "
            f"avatargen fast mode ({FAST_STEPS} LCM steps) {fast_b1['seconds_per_image']:.3g} s "
            f"({plain_b1['seconds_per_image'] / fast_b1['seconds_per_image']:.1f}x faster)."
        )
    return "\n".join(lines) + "\n"


def run_key(result: dict[str, Any]) -> str:
    """What a run's results are filed under: the device, and whether compiled or tiny."""
    return result["device"] + ("-compile" if result["compile"] else "") + ("-tiny" if result["tiny_stack"] else "")


def update_markdown(path: Path, result: dict[str, Any]) -> None:
    """Replace (or add) this run's section (see `run_key`) between its markers in `path`, keeping the rest."""
    key = run_key(result)
    start, end = f"<!-- bench/engine.py {key} start -->", f"<!-- bench/engine.py {key} end -->"
    section = f"{start}\n{markdown(result)}{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="steps timed with CFG (default: 20 on CUDA, 2 on CPU)")
    parser.add_argument("--fast-steps", type=int, help=f"steps timed in fast mode (default: {FAST_STEPS} / 2)")
    parser.add_argument("--matrix", choices=("full", "cpu"), help="default: full on CUDA, cpu on CPU")
    parser.add_argument("--sizes", nargs="+", choices=tuple(SIZES), help="only these sizes")
    parser.add_argument("--batches", nargs="+", type=int, help="only these batch sizes")
    parser.add_argument("--compile", action="store_true", help="torch.compile our engine's UNet and ControlNet")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false", help="(default: warm up on CUDA)")
    parser.add_argument("--tiny", action="store_true", help="the tiny test stack instead of full size: a smoke test")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "engine.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.set_defaults(warm_up=None)
    args = parser.parse_args(argv)
    gpu = args.device == "cuda"
    args.steps = args.steps or (20 if gpu else 2)
    args.fast_steps = args.fast_steps or (FAST_STEPS if gpu else 2)
    if args.warm_up is None:
        args.warm_up = gpu
    if (args.matrix or ("full" if gpu else "cpu")) == "full":
        batches = args.batches or (1, 4)
        args.matrix = list(itertools.product(ENGINES, ("cfg", "fast"), SIZES, batches))
    else:
        args.matrix = CPU_MATRIX
    args.matrix = [
        (e, m, s, b)
        for e, m, s, b in args.matrix
        if (not args.sizes or s in args.sizes) and (not args.batches or b in args.batches)
    ]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = bench(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    everything = json.loads(args.json.read_text()) if args.json.exists() else {}
    everything[run_key(result)] = result
    args.json.write_text(json.dumps(everything, indent=2) + "\n")
    if not args.tiny:  # the smoke test leaves BENCHMARKS.md alone
        update_markdown(args.markdown, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
