"""The GPU check (bench/gpu_check.sh → bench/gpu_check.py), run here as the GPU machine would run it, on the CPU with
the tiny stack: every row measured and written under $OUT, within its time budget; without a GPU it says so."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["bash", str(ROOT / "bench" / "gpu_check.sh")]
EAGER = ("diffusers + IP-Adapter", "avatargen", "avatargen + face pass")


def run_check(out: Path, *args: str) -> dict:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    subprocess.run([*COMMAND, "--dry-run", *args], cwd=ROOT, env=env, check=True, timeout=900, capture_output=True)
    return json.loads((out / "gpu_check.json").read_text())


def test_the_dry_run_measures_every_row_and_writes_them_under_out(tmp_path):
    # a budget a busy shared CPU cannot overrun: every row runs (the default, 480 s, is the GPU's plan)
    result = run_check(tmp_path, "--budget", "1800")
    assert result["complete"] and result["dtype"] == "float32" and result["versions"]["diffusers"]
    assert result["total_seconds"] <= result["budget_seconds"]
    rows = [(row["name"], row["size"].split()[0], row["batch"]) for row in result["rows"]]
    eager = [(name, size, batch) for size in ("512", "sd", "hd") for batch in (1, 4) for name in EAGER]
    compiled = [
        (f"avatargen, {mode}", size, batch)
        for mode in ("regional", "max-autotune-no-cudagraphs")
        for size, batch in (("512", 1), ("sd", 1), ("sd", 4))
    ]
    assert rows == eager + compiled  # eager first, compiled last, each compiled mode in its own process
    assert all(row["it_per_s"] > 0 and row["images_per_s"] > 0 for row in result["rows"])
    assert all(
        row["seconds_per_image"] == pytest.approx(row["seconds_call"] / row["batch"], abs=1e-3)
        for row in result["rows"]
    )
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # the header and one line per row
    assert "| avatargen + face pass | hd 96x144 | 4 |" in table and "Face pass at sd batch 1" in table


def test_a_short_budget_skips_rows_but_still_leaves_numbers(tmp_path):
    result = run_check(tmp_path, "--budget", "35")  # 15 s once the margin is kept: a row or two
    measured = [row for row in result["rows"] if "it_per_s" in row]
    skipped = [row for row in result["rows"] if "it_per_s" not in row]
    assert result["complete"] and measured and skipped
    assert all(row["note"].startswith("skipped:") for row in skipped)
    assert [row["name"] for row in skipped][-2:] == ["avatargen, regional", "avatargen, max-autotune-no-cudagraphs"]
    assert "skipped:" in (tmp_path / "gpu_check.md").read_text()


def test_without_a_gpu_it_says_so(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: `bash bench/gpu_check.sh` runs the real check")
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    run = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "no CUDA device" in run.stderr and "--dry-run" in run.stderr
