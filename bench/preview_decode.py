"""Bench: decoding one SD image (512x768) on the CPU with the full VAE against TAESD (the preview decoder).

Both are built from their real configs with random weights (SD 1.5's `vae/config.json`, `AutoencoderTiny`'s
defaults: madebyollin/taesd's), fp32; speed does not depend on the weights. This is what `AVATARGEN_FAST_DECODE`
trades per image in fast mode, and what each live preview costs.

    python bench/preview_decode.py        # prints the table, writes bench/results/preview_decode.json
"""

import importlib.util
import json
import platform
import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_timing", ROOT / "bench" / "timing.py")
timing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timing)
_spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
bench_engine = sys.modules["bench_engine"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)

WIDTH, HEIGHT = 512, 768
REPEAT = 2  # the full VAE takes tens of seconds a decode on a small CPU


def main() -> None:
    torch.manual_seed(0)
    latents = torch.randn(1, 4, HEIGHT // 8, WIDTH // 8)
    decoders = {"full VAE (AutoencoderKL)": AutoencoderKL(**bench_engine.VAE_CONFIG), "TAESD": AutoencoderTiny()}
    rows = {}
    with torch.inference_mode():
        for name, decoder in decoders.items():
            decoder.eval()
            decoder.decode(latents)  # untimed: allocator growth, oneDNN set-up
            rows[name] = timing.summary(timing.timings(lambda d=decoder: d.decode(latents), REPEAT))
    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "size": f"{WIDTH}x{HEIGHT}",
        "rows": rows,
        "speedup": rows["full VAE (AutoencoderKL)"]["median_ms"] / rows["TAESD"]["median_ms"],
    }
    out = ROOT / "bench" / "results" / "preview_decode.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in rows.items():
        print(f"{name}: median {row['median_ms']:.0f} ms, max {row['max_ms']:.0f} ms over {row['runs']} runs")
    print(f"TAESD decodes {result['speedup']:.1f}x faster")


if __name__ == "__main__":
    main()
