"""Sign-in flood: how fast `/credits` answers a signed-in person while others hammer the login with wrong passwords.

Launches the app in its own process (password auth, tiny engine, no worker), signs `alice` in, measures `/credits`
latency alone, then again while N threads send wrong passwords for `bob` (from one address, or with --spread from
one address per thread via X-Forwarded-For, which uvicorn trusts from loopback). Prints p50/p95 and what the flood
got back, and writes bench/results/login_flood.json.

    python bench/login_flood.py [--threads 40] [--attempts 400] [--spread]
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from served import launch

ROOT = Path(__file__).resolve().parents[1]


def credits_latency(http: httpx.Client) -> float:
    started = time.perf_counter()
    event_id = http.post("gradio_api/call/credits", json={"data": []}).json()["event_id"]
    body = http.get(f"gradio_api/call/credits/{event_id}").text
    assert "event: complete" in body, body
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
    }


def flood(url: str, threads: int, attempts: int, spread: bool) -> tuple[Counter, float]:
    answers: Counter = Counter()
    lock = threading.Lock()
    per_thread = attempts // threads

    def attack(index: int) -> None:
        headers = {"X-Forwarded-For": f"203.0.113.{index + 1}" if spread else "203.0.113.250"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for _ in range(per_thread):
                code = http.post("login", data={"username": "bob", "password": "wrong-guess"}).status_code
                with lock:
                    answers[code] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=attack, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=40)
    parser.add_argument("--attempts", type=int, default=400)
    parser.add_argument("--samples", type=int, default=40, help="/credits calls in the quiet baseline")
    parser.add_argument("--spread", action="store_true", help="one client address per attacking thread")
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()

    url = f"http://127.0.0.1:{args.port}/"
    with tempfile.TemporaryDirectory() as folder:
        server = launch(Path(folder) / "data", args.port, auth="password", users=("alice", "bob"))
        try:
            http = httpx.Client(base_url=url, timeout=60)
            assert http.post("login", data={"username": "alice", "password": "alice-password"}).status_code == 200
            quiet = [credits_latency(http) for _ in range(args.samples)]

            during: list[float] = []
            done = threading.Event()

            def measure() -> None:
                while not done.is_set():
                    during.append(credits_latency(http))

            measuring = threading.Thread(target=measure)
            measuring.start()
            answers, seconds = flood(url, args.threads, args.attempts, args.spread)
            done.set()
            measuring.join()
            owner = httpx.Client(base_url=url, headers={"X-Forwarded-For": "198.51.100.9"}, timeout=60)
            owner_ok = owner.post("login", data={"username": "bob", "password": "bob-password"}).status_code == 200
        finally:
            server.terminate()
            server.wait(30)

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "threads": args.threads,
        "attempts": args.attempts,
        "spread": args.spread,
        "flood_seconds": round(seconds, 2),
        "flood_answers": {str(code): count for code, count in sorted(answers.items())},
        "credits_quiet": percentiles(quiet),
        "credits_during_flood": percentiles(during),
        "owner_signs_in_from_another_address": owner_ok,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"login_flood{'_spread' if args.spread else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
