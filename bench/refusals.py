"""How fast the app refuses oversized parameters: a 1 MB pose search through gradio_client, against a small one.

Launches the real app (tiny engine, password auth, a temporary data dir), signs one person in, and sends each
request N times. The refusal must cost about what a small request costs: the text is measured, never searched.
Prints the seconds per call and writes bench/results/refusals.json. (tests/test_hardening.py checks the refusal.)

    python -m bench.refusals [--calls 10]    (from the repository root: it uses tests/helpers.py)
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
from avatargen.settings import Settings  # noqa: E402
from tests.helpers import free_port  # noqa: E402

HUGE_SEARCH = "a " * 500_000  # 1 MB of search text


def seconds_per_call(call, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        try:
            call()
        except AppError:
            pass
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", engine="tiny", auth="password", port=free_port())
        runtime, demo = app.launch(settings, prevent_thread_lock=True, quiet=True)
        try:
            runtime.services.users.add("bench", password="bench-password")
            client = Client(f"http://127.0.0.1:{settings.port}/", auth=("bench", "bench-password"), verbose=False)
            small = seconds_per_call(lambda: client.predict(search="hands on hips", api_name="/poses"), args.calls)
            huge = seconds_per_call(lambda: client.predict(search=HUGE_SEARCH, api_name="/poses"), args.calls)
        finally:
            demo.close()
            runtime.close()

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "calls": args.calls,
        "small_search_s": {"median": round(statistics.median(small), 3), "max": round(max(small), 3)},
        "huge_search_refused_s": {"median": round(statistics.median(huge), 3), "max": round(max(huge), 3)},
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "refusals.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
