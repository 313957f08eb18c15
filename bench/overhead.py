"""What the app adds around the engine: a client's /generate call → completed, against the engine's own time.

Launches the real app (tiny engine, auth off, a temporary data dir) and, from a separate client process, sends N
requests one after another through gradio_client; compares each request's time from the call to `completedAt`
with the time the engine spent on it (recorded inside the server).
Prints a table and writes bench/results/overhead.json.

    python bench/overhead.py [--requests 20] [--quality sd]
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SEED = 10_000  # the first request warms every code path and is left out
POLL_S = 0.25  # how often the client asks for the status

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


def client(url: str, photo: str, pose_id: str, quality: str, requests: int) -> None:
    """The client side, in its own process: one request at a time, polling like a script would."""
    client = Client(url, verbose=False)
    for _ in range(requests):  # Gradio's own round trip, for reference: a call that does nothing
        sent = time.time()
        client.predict("sd", False, api_name="/price")
        print(json.dumps({"noop_ms": 1000 * (time.time() - sent)}), flush=True)
    for seed in [WARM_UP_SEED, *range(requests)]:
        sent = time.time()
        record = client.predict(handle_file(photo), pose_id, quality, False, "realistic", seed, api_name="/generate")
        record = record["data"]
        while record["status"] not in ("completed", "failed"):
            time.sleep(POLL_S)
            record = client.predict(record["id"], api_name="/generation")["data"]
        assert record["status"] == "completed", record["errorMessage"]
        print(json.dumps({"seed": seed, "sent": sent} | record), flush=True)


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--quality", choices=["sd", "hd"], default="sd")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run as the client of this URL
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    parser.add_argument("--pose", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client, args.photo, args.pose, args.quality, args.requests)
        return

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", engine="tiny", port=free_port(), starting_credits=10_000)
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
        photo = Path(scratch) / "astronaut.jpg"
        Image.fromarray(np.asarray(data.astronaut())).save(photo)
        url = f"http://127.0.0.1:{settings.port}/"
        pose_id = Client(url, verbose=False).predict(limit=1, api_name="/poses")["data"][0]["id"]
        spent = timed_engine(runtime)

        client_run = subprocess.run(
            [sys.executable, __file__, "--client", url, "--photo", str(photo), "--pose", pose_id]
            + ["--quality", args.quality, "--requests", str(args.requests)],
            capture_output=True,
            text=True,
            check=True,
        )
        demo.close()
        runtime.close()

    rows, noop_ms = [], []
    for line in client_run.stdout.splitlines():
        sent = json.loads(line)
        if "noop_ms" in sent:
            noop_ms.append(sent["noop_ms"])
            continue
        if sent["seed"] == WARM_UP_SEED:
            continue
        created, claimed, completed = (moment(sent[key]) for key in ("createdAt", "startedAt", "completedAt"))
        engine_start, engine_end = spent[sent["seed"]]
        rows.append(
            {
                "seed": sent["seed"],
                "total_s": completed - sent["sent"],
                "engine_s": engine_end - engine_start,
                "overhead_s": (completed - sent["sent"]) - (engine_end - engine_start),
                "upload_and_record_ms": 1000 * (created - sent["sent"]),
                "queue_wait_ms": 1000 * (claimed - created),
                "before_engine_ms": 1000 * (engine_start - claimed),
                "after_engine_ms": 1000 * (completed - engine_end),
            }
        )

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
        "gradio_noop_call_median_ms": statistics.median(noop_ms),
        "server_side_median_ms": statistics.median(
            row["queue_wait_ms"] + row["before_engine_ms"] + row["after_engine_ms"] for row in rows
        ),
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
        f"targets < 50 ms and < 20%: {'met' if summary['meets_targets'] else 'NOT met'}\n"
        f"for reference: a no-op Gradio call takes {summary['gradio_noop_call_median_ms']:.1f} ms from this client; "
        f"claim → engine and engine → completed take {summary['server_side_median_ms']:.1f} ms\nwrote {out}"
    )


if __name__ == "__main__":
    main()
