"""REST against the named endpoint: the time one read takes through `GET /api/apps/avatar-generator/generations`
(one request, a bearer key checked against its hash) and through Gradio's two-step call (`POST
gradio_api/call/generations`, then the event stream), both signed in as the same person.

Launches the app in its own process (password auth, tiny engine, no worker), makes an API key with the command
line, signs in to Gradio with the password, then times `--requests` sequential calls of each. Prints the median
and 95th percentile and writes bench/results/rest.json.

    python bench/rest.py [--requests 50]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from served import launch

ROOT = Path(__file__).resolve().parents[1]


def timed(call, count: int) -> dict:
    took = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return {"median_ms": round(statistics.median(took), 2), "p95_ms": round(took[int(0.95 * (count - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--port", type=int, default=7874)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-rest-")) / "data"
    server = launch(data_dir, args.port, auth="password", users=("alice",))
    env = os.environ | {"AVATARGEN_DATA_DIR": str(data_dir), "AVATARGEN_AUTH": "password", "HF_HUB_OFFLINE": "1"}
    make_key = [sys.executable, "-m", "avatargen", "user", "key", "alice"]
    key = subprocess.run(make_key, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()
    url = f"http://127.0.0.1:{args.port}"
    try:
        rest = httpx.Client(base_url=f"{url}/api/apps/avatar-generator", headers={"Authorization": f"Bearer {key}"})
        gradio = httpx.Client(base_url=url, timeout=30)
        gradio.post("/login", data={"username": "alice", "password": "alice-password"}).raise_for_status()

        def rest_read():
            rest.get("/generations", params={"limit": 20, "offset": 0}).raise_for_status()

        def gradio_read():
            event = gradio.post("/gradio_api/call/generations", json={"data": [20, 0]}).json()["event_id"]
            assert "event: complete" in gradio.get(f"/gradio_api/call/generations/{event}").text

        rest_read(), gradio_read()  # warm both paths
        results = {"rest": timed(rest_read, args.requests), "gradio_two_step": timed(gradio_read, args.requests)}
    finally:
        server.terminate()
        server.wait(30)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "requests": args.requests, **results}
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results" / "rest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
