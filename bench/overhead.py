"""What the app adds around the engine: a client's /generate call → completed, against the engine's own time.

Launches the real app (tiny engine, auth off, a temporary data dir), sends N requests one after another through
gradio_client, and compares each request's end-to-end time with the time the engine spent on it.
Prints a table and writes bench/results/overhead.json.

    python bench/overhead.py [--requests 20] [--quality sd]
"""

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

import app  # noqa: E402
from avatargen.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed_engine(runtime) -> dict[int, tuple[float, float]]:
    """Wrap the loaded engine's generate() to record its wall-clock (start, end) per request, keyed by seed."""
    engine = runtime.engine.get()
    spent: dict[int, tuple[float, float]] = {}
    generate = engine.generate

    def generate_timed(requests, progress=None):
        started = time.time()
        images = generate(requests, progress)
        for request in requests:
            spent[request.seed] = (started, time.time())
        return images

    engine.generate = generate_timed
    return spent


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--quality", choices=["sd", "hd"], default="sd")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", engine="tiny", port=free_port(), starting_credits=10_000)
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
        photo = Path(scratch) / "astronaut.jpg"
        Image.fromarray(np.asarray(data.astronaut())).save(photo)
        client = Client(f"http://127.0.0.1:{settings.port}/", verbose=False)
        pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
        spent = timed_engine(runtime)

        def run(seed: int) -> dict:
            started = time.time()
            record = client.predict(
                handle_file(str(photo)), pose_id, args.quality, False, "realistic", seed, api_name="/generate"
            )["data"]
            while record["status"] not in ("completed", "failed"):
                time.sleep(0.02)
                record = client.predict(record["id"], api_name="/generation")["data"]
            assert record["status"] == "completed", record["errorMessage"]
            created, claimed, completed = (moment(record[key]) for key in ("createdAt", "startedAt", "completedAt"))
            engine_start, engine_end = spent[seed]
            return {
                "seed": seed,
                "total_s": completed - started,
                "engine_s": engine_end - engine_start,
                "overhead_s": (completed - started) - (engine_end - engine_start),
                "upload_and_record_ms": 1000 * (created - started),
                "queue_wait_ms": 1000 * (claimed - created),
                "before_engine_ms": 1000 * (engine_start - claimed),
                "after_engine_ms": 1000 * (completed - engine_end),
            }

        run(10_000)  # warm-up: first use of every code path
        rows = [run(seed) for seed in range(args.requests)]
        demo.close()
        runtime.close()

    overheads = [row["overhead_s"] for row in rows]
    engine_times = [row["engine_s"] for row in rows]
    summary = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}",
        "engine": "tiny (CPU)",
        "quality": args.quality,
        "requests": len(rows),
        "engine_median_s": statistics.median(engine_times),
        "overhead_median_ms": 1000 * statistics.median(overheads),
        "overhead_p90_ms": 1000 * sorted(overheads)[int(0.9 * (len(overheads) - 1))],
        "overhead_max_ms": 1000 * max(overheads),
        "overhead_share_median": statistics.median(o / e for o, e in zip(overheads, engine_times, strict=True)),
        "targets": {"overhead_ms_per_job": 50, "overhead_share": 0.20},
        "rows": rows,
    }
    summary["meets_targets"] = summary["overhead_median_ms"] < 50 and summary["overhead_share_median"] < 0.20
    out = ROOT / "bench" / "results" / "overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))

    parts = ("upload_and_record_ms", "queue_wait_ms", "before_engine_ms", "after_engine_ms")
    print(f"{'seed':>5} {'total s':>8} {'engine s':>9} {'overhead ms':>12}  " + " ".join(f"{p:>20}" for p in parts))
    for row in rows:
        print(
            f"{row['seed']:>5} {row['total_s']:>8.3f} {row['engine_s']:>9.3f} {1000 * row['overhead_s']:>12.1f}  "
            + " ".join(f"{row[p]:>20.1f}" for p in parts)
        )
    print(
        f"\n{summary['requests']} requests, {args.quality}: engine median {summary['engine_median_s']:.3f} s, "
        f"overhead median {summary['overhead_median_ms']:.1f} ms (p90 {summary['overhead_p90_ms']:.1f}, "
        f"max {summary['overhead_max_ms']:.1f}), {100 * summary['overhead_share_median']:.1f}% of the engine time; "
        f"targets < 50 ms and < 20%: {'met' if summary['meets_targets'] else 'NOT met'}\nwrote {out}"
    )


if __name__ == "__main__":
    main()
