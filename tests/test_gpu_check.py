"""The GPU check script (bench/gpu_check.py) runs end to end on the CPU with the tiny stack: ready for a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the script imports this checkout's package, whichever is installed


def test_dry_run_measures_every_row_and_writes_its_section(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text(
        "# Benchmarks\n\n<!-- bench/gpu_check.py start -->\nold\n<!-- bench/gpu_check.py end -->\n\nrest\n"
    )
    results = tmp_path / "gpu_check.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--markdown", str(markdown), "--json", str(results)],
        cwd=ROOT,
        env=ENV,
        check=True,
        timeout=600,
        capture_output=True,
    )
    result = json.loads(results.read_text())
    assert result["complete"] and result["dtype"] == "float32" and result["size"] == 64
    rows = [(row["name"], row["batch"]) for row in result["rows"]]
    assert rows == [
        ("diffusers", 1),
        ("diffusers", 4),
        ("avatargen", 1),
        ("avatargen + face detail", 1),
        ("avatargen", 4),
        ("avatargen + face detail", 4),
    ]
    assert all(row["it_per_s"] > 0 and row["images_per_s"] > 0 for row in result["rows"])
    text = markdown.read_text()
    assert "old" not in text and text.endswith("\n\nrest\n") and text.count("### GPU check") == 1
    assert "| avatargen + face detail | 4 |" in text and "Face-detail pass at batch 4" in text


def test_without_a_gpu_it_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: `bash bench/gpu_check.sh` runs the real check")
    run = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "no CUDA device" in run.stderr and "--dry-run" in run.stderr
