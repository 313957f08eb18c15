"""Decode-memory burst: resident memory of the app before, during and after N concurrent huge-photo uploads.

Launches the app in its own process (auth off, tiny engine, no worker), then sends N concurrent `/generate` calls,
each with a small single-colour PNG of 6320×6320 (just under the 40 MP cap; a few hundred kB that decode to
120 MB each). The photos show no face, so each is refused after decoding and nothing is charged. Samples the
server's RSS from /proc during the bursts and 3 s after each. Prints the figures and writes
bench/results/decode_burst.json.

    python bench/decode_burst.py [--uploads 8] [--side 6320] [--rounds 3]
"""

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client, handle_file
from PIL import Image
from served import launch

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--side", type=int, default=6320)
    parser.add_argument("--rounds", type=int, default=3, help="bursts one after another")
    parser.add_argument("--port", type=int, default=7872)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        photos = []
        for index in range(args.uploads):  # distinct files, so Gradio's upload cache cannot share them
            path = Path(folder) / f"flat-{index}.png"
            Image.new("RGB", (args.side, args.side), (40 + index, 90, 160)).save(path, optimize=True)
            photos.append(path)
        upload_bytes = photos[0].stat().st_size
        server = launch(Path(folder) / "data", args.port)
        try:
            url = f"http://127.0.0.1:{args.port}/"
            client = Client(url, verbose=False)
            pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
            warm = Path(folder) / "warm.png"  # loads the face detector: every code path has run once
            Image.new("RGB", (2048, 2048), (200, 90, 60)).save(warm)
            try:
                client.predict(handle_file(str(warm)), pose_id, "sd", False, "realistic", None, api_name="/generate")
            except Exception:  # no face: refused, as expected
                pass
            time.sleep(2)
            before = rss_mb(server.pid)
            samples: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    samples.append(rss_mb(server.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            answers: list[str] = []

            uploaders = [Client(url, verbose=False) for _ in photos]  # one session each, kept across rounds

            def upload(uploader: Client, path: Path) -> None:
                try:
                    uploader.predict(
                        handle_file(str(path)), pose_id, "sd", False, "realistic", None, api_name="/generate"
                    )
                    answers.append("accepted")
                except Exception as error:  # the expected refusal: no face in a flat colour
                    answers.append(str(error)[:80])

            after, burst_seconds = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                workers = [threading.Thread(target=upload, args=pair) for pair in zip(uploaders, photos, strict=True)]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                burst_seconds.append(round(time.perf_counter() - started, 2))
                time.sleep(3)
                after.append(round(rss_mb(server.pid), 1))
            done.set()
            sampler.join()
            balance = client.predict(api_name="/credits")["data"]["balance"]
        finally:
            server.terminate()
            server.wait(30)

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "uploads": args.uploads,
        "side": args.side,
        "upload_bytes": upload_bytes,
        "burst_seconds": burst_seconds,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(max(samples), 1),
        "rss_after_each_burst_mb": after,
        "answers": sorted(set(answers)),
        "balance_after": balance,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "decode_burst.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
